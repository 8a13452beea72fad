"""The chat WebSocket under abuse: outsiders aiming at someone else's conversation and messages, and
frames no client should send (not JSON, binary, deeply nested, huge, wrong types). The socket answers with
an `error` event (or closes with a 4xxx code); it never crashes, and nothing is stored or delivered."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack
from notifications.models import Message

pytestmark = [
    pytest.mark.usefixtures("fresh_channel_layer"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 5


async def _connect(user):
    app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, f"/ws/?token={AccessToken.for_user(user)}")
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "ready"
    return communicator


async def _next_reply(communicator) -> dict:
    """The next event that is not presence chatter; {"closed": code} if the server closed the socket."""

    async def _loop():
        while True:
            message = await communicator.receive_output(timeout=TIMEOUT)
            if message["type"] == "websocket.close":
                return {"closed": message.get("code")}
            event = json.loads(message["text"])
            if event.get("type") not in {"presence"}:
                return event

    return await asyncio.wait_for(_loop(), TIMEOUT + 1)


async def _still_alive(communicator):
    await communicator.send_json_to({"action": "ping"})
    return (await _next_reply(communicator)).get("type") == "pong"


@pytest.fixture
def chat_world(world):
    """Build the customer's conversation and message synchronously (outside the event loop)."""
    world.message  # noqa: B018
    return world


async def test_outsider_cannot_join_post_to_edit_or_read_someone_elses_conversation(chat_world):
    world = chat_world
    outsider = await _connect(world.users["other_customer"])
    conversation_id, message_id = world.conversation.pk, world.message.pk
    attempts = [
        {"action": "join", "conversationId": conversation_id},
        {"action": "message.send", "conversationId": conversation_id, "body": "spam"},
        {"action": "message.edit", "messageId": message_id, "body": "defaced"},
        {"action": "message.delete", "messageId": message_id},
        {"action": "typing.start", "conversationId": conversation_id},
        {"action": "read", "conversationId": conversation_id, "messageId": message_id},
    ]
    for attempt in attempts:
        await outsider.send_json_to({**attempt, "requestId": attempt["action"]})
        reply = await _next_reply(outsider)
        assert reply.get("type") == "error", (attempt, reply)
    assert await _still_alive(outsider)
    await outsider.disconnect()

    @database_sync_to_async
    def stored():
        return list(
            Message.objects.filter(conversation_id=conversation_id).values_list("body", flat=True)
        )

    assert await stored() == ["Habari, are you coming?"]


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        "null",
        '"join"',
        "1e999",
        '{"action": 5}',
        '{"action": "join", "conversationId": "1 OR 1=1"}',
        '{"action": "join", "conversationId": 99999999999999999999999}',
        '{"action": "message.send", "conversationId": {"$gt": 0}, "body": []}',
        '{"action": "no.such.action"}',
        "[" * 10_000 + "]" * 10_000,
        json.dumps({"action": "ping", "padding": "x" * 1_000_000}),
    ],
    ids=lambda f: f[:30] if isinstance(f, str) else None,
)
async def test_garbage_frames_get_an_error_not_a_crash(chat_world, frame):
    communicator = await _connect(chat_world.customer)
    await communicator.send_to(text_data=frame)
    reply = await _next_reply(communicator)
    assert reply.get("type") in {"error", "pong"} or str(reply.get("closed", "")).startswith("4"), (
        reply
    )
    if reply.get("type") in {"error", "pong"}:
        assert await _still_alive(communicator)
    await communicator.disconnect()


async def test_binary_frames_are_refused_without_a_crash(chat_world):
    communicator = await _connect(chat_world.customer)
    await communicator.send_to(bytes_data=b"\x00\xff" * 100)
    reply = await _next_reply(communicator)
    assert reply.get("type") == "error" or str(reply.get("closed", "")).startswith("4"), reply
    await communicator.disconnect()
