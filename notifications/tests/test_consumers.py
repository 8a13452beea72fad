"""The WebSocket endpoint end to end over the real Redis channel layer (settings.CHANNEL_LAYERS, with a
per-worker prefix), through the same JWT middleware and URL router as production."""

import asyncio
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.tokens import AccessToken

from dumuwaks.asgi import application
from dumuwaks.core import events
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack
from notifications import consumers
from notifications.consumers import RealtimeConsumer
from notifications.models import Message, Notification
from notifications.services import chat
from notifications.services.notifications import notify
from social.tests.factories import MediaAssetFactory

pytestmark = [
    pytest.mark.usefixtures("fresh_channel_layer"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 5


def _app():
    return JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))


def _token(user) -> str:
    return str(AccessToken.for_user(user))


async def _connect(user, *, path="/ws/", via="query"):
    if via == "query":
        communicator = WebsocketCommunicator(_app(), f"{path}?token={_token(user)}")
    else:
        communicator = WebsocketCommunicator(_app(), path, subprotocols=["bearer", _token(user)])
    connected, subprotocol = await communicator.connect(timeout=TIMEOUT)
    assert connected
    ready = await communicator.receive_json_from(timeout=TIMEOUT)
    assert ready == {"type": "ready", "data": {"userId": user.pk}}
    return communicator, subprotocol


async def _receive(communicator, wanted: str, *, timeout=TIMEOUT) -> dict:
    """Next event of type `wanted`, skipping others (presence changes may interleave)."""

    async def _loop():
        while True:
            event = await communicator.receive_json_from(timeout=timeout)
            if event.get("type") == wanted:
                return event

    return await asyncio.wait_for(_loop(), timeout)


async def _join(communicator, conversation_id):
    await communicator.send_json_to({"action": "join", "conversationId": conversation_id})
    return await _receive(communicator, "joined")


async def test_unauthenticated_socket_is_closed_with_4401(customer):
    for path in ("/ws/", "/ws/chat/?token=not-a-jwt", "/ws/?token="):
        communicator = WebsocketCommunicator(_app(), path)
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert connected  # accepted first so that browsers can read the close code
        closing = await communicator.receive_output(timeout=TIMEOUT)
        assert closing == {"type": "websocket.close", "code": 4401}
        await communicator.wait()


async def test_inactive_user_token_is_refused(customer):
    token = _token(customer)
    customer.is_active = False
    await database_sync_to_async(customer.save)(update_fields=["is_active"])
    communicator = WebsocketCommunicator(_app(), f"/ws/?token={token}")
    await communicator.connect(timeout=TIMEOUT)
    assert (await communicator.receive_output(timeout=TIMEOUT))["code"] == 4401


async def test_bearer_subprotocol_is_accepted_and_echoed(customer):
    communicator, subprotocol = await _connect(customer, via="subprotocol")
    assert subprotocol == "bearer"
    await communicator.send_json_to({"action": "ping", "requestId": "p1"})
    assert await communicator.receive_json_from(timeout=TIMEOUT) == {
        "type": "pong",
        "requestId": "p1",
        "data": {},
    }
    await communicator.disconnect()


async def test_message_round_trip_between_two_users(booking_conversation, customer, technician):
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician, path="/ws/chat/", via="subprotocol")
    joined = await _join(alice, booking_conversation.pk)
    assert joined["data"]["conversationId"] == booking_conversation.pk
    await _join(bob, booking_conversation.pk)

    await alice.send_json_to(
        {
            "action": "message.send",
            "conversationId": booking_conversation.pk,
            "body": "Habari, uko njiani?",
            "clientId": "c-1",
            "requestId": 7,
        }
    )
    ack = await _receive(alice, "message.ack")
    assert ack["requestId"] == 7
    assert ack["data"]["clientId"] == "c-1" and ack["data"]["action"] == "message.send"
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["data"]["message"]["id"])
    assert stored.body == "Habari, uko njiani?" and stored.sender_id == customer.pk

    received = (await _receive(bob, "message.new"))["data"]["message"]
    assert received == ack["data"]["message"]  # the ack and the broadcast show the same message
    assert received["id"] == stored.pk
    assert received["conversationId"] == booking_conversation.pk
    assert received["body"] == "Habari, uko njiani?"
    assert received["sender"]["id"] == customer.pk
    echoed = await _receive(alice, "message.new")  # the author's other tabs see it too
    assert echoed["data"]["message"]["id"] == stored.pk

    # Edit and delete travel the same way, and carry the whole message too.
    await alice.send_json_to({"action": "message.edit", "messageId": stored.pk, "body": "Edited"})
    edited = (await _receive(bob, "message.edited"))["data"]["message"]
    assert edited["body"] == "Edited" and edited["isEdited"] is True
    assert (await _receive(alice, "message.ack"))["data"]["message"] == edited
    await alice.send_json_to({"action": "message.delete", "messageId": stored.pk})
    deleted = (await _receive(bob, "message.deleted"))["data"]["message"]
    assert deleted["id"] == stored.pk and deleted["isDeleted"] is True and deleted["body"] == ""
    assert set(deleted) == set(received)
    delete_ack = await _receive(alice, "message.ack")
    assert delete_ack["data"]["action"] == "message.delete"
    assert delete_ack["data"]["message"] == deleted

    await alice.disconnect()
    await bob.disconnect()


async def test_cannot_edit_others_message_over_socket(booking_conversation, customer, technician):
    message = await database_sync_to_async(chat.message_send)(
        conversation=booking_conversation, sender=customer, body="mine"
    )
    bob, _ = await _connect(technician)
    await bob.send_json_to(
        {"action": "message.edit", "messageId": message.pk, "body": "x", "requestId": "e"}
    )
    error = await _receive(bob, "error")
    assert error["data"]["code"] == "not_message_sender" and error["requestId"] == "e"
    await database_sync_to_async(message.refresh_from_db)()
    assert message.body == "mine"
    await bob.disconnect()


async def test_typing_is_broadcast_to_others_only(booking_conversation, customer, technician):
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    await _join(alice, booking_conversation.pk)
    await _join(bob, booking_conversation.pk)

    await alice.send_json_to({"action": "typing.start", "conversationId": booking_conversation.pk})
    typing = await _receive(bob, "typing")
    assert typing == {
        "type": "typing",
        "data": {
            "conversationId": booking_conversation.pk,
            "userId": customer.pk,
            "isTyping": True,
        },
    }
    await alice.send_json_to({"action": "typing.stop", "conversationId": booking_conversation.pk})
    assert (await _receive(bob, "typing"))["data"]["isTyping"] is False
    # Not echoed to the typist and not stored.
    await asyncio.sleep(0.2)
    while not await alice.receive_nothing(timeout=0.1):
        assert (await alice.receive_json_from())["type"] != "typing"
    assert await database_sync_to_async(Message.objects.count)() == 0
    await alice.disconnect()
    await bob.disconnect()


async def test_read_receipts(booking_conversation, customer, technician):
    first = await database_sync_to_async(chat.message_send)(
        conversation=booking_conversation, sender=customer, body="one"
    )
    second = await database_sync_to_async(chat.message_send)(
        conversation=booking_conversation, sender=customer, body="two"
    )
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    await _join(alice, booking_conversation.pk)
    await _join(bob, booking_conversation.pk)

    await bob.send_json_to({"action": "read", "conversationId": booking_conversation.pk})
    ack = (await _receive(bob, "read.ack"))["data"]
    assert ack["unreadCount"] == 0
    receipt = (await _receive(alice, "read_receipt"))["data"]
    assert receipt["userId"] == technician.pk
    assert receipt["messageIds"] == [first.pk, second.pk]
    assert receipt["lastReadMessageId"] == second.pk
    assert "unreadCount" not in receipt  # the reader's own business
    await alice.disconnect()
    await bob.disconnect()


async def test_read_receipt_reaches_the_sender_when_the_reader_replied_first(
    booking_conversation, customer, technician
):
    """Issue 19: replying used to move the replier's read marker past the messages they had not read,
    so reading them later sent no receipt."""
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    await _join(alice, booking_conversation.pk)
    await _join(bob, booking_conversation.pk)

    async def send(socket, body):
        await socket.send_json_to(
            {"action": "message.send", "conversationId": booking_conversation.pk, "body": body}
        )
        return (await _receive(socket, "message.ack"))["data"]["message"]["id"]

    first = await send(bob, "Nimefika.")
    second = await send(bob, "Niko langoni.")
    reply = await send(alice, "Nakuja sasa hivi.")  # replies from the notification, unread
    await alice.send_json_to({"action": "read", "conversationId": booking_conversation.pk})
    ack = (await _receive(alice, "read.ack"))["data"]
    assert ack["messageIds"] == [first, second] and ack["lastReadMessageId"] == reply
    receipt = (await _receive(bob, "read_receipt"))["data"]
    assert receipt["userId"] == customer.pk and receipt["messageIds"] == [first, second]

    # And again after more back and forth: every message of bob's that alice reads is receipted.
    third = await send(bob, "Sawa.")
    await send(alice, "Asante.")
    await alice.send_json_to({"action": "read", "conversationId": booking_conversation.pk})
    receipt = (await _receive(bob, "read_receipt"))["data"]
    assert receipt["messageIds"] == [third]
    await alice.disconnect()
    await bob.disconnect()


@pytest.fixture
def uploads(customer, technician):
    """An upload of each party's, made outside the event loop."""

    return MediaAssetFactory(owner=customer), MediaAssetFactory(owner=technician)


async def test_an_attachment_sent_over_the_socket_keeps_its_public_id(
    booking_conversation, customer, technician, uploads
):
    """Issue 19: the socket passed camelCase keys to a snake_case serializer, so `publicId` was lost."""
    photo, _ = uploads
    expected = {
        "url": photo.delivery_url,
        "publicId": photo.public_id,
        "type": photo.resource_type,
        "size": photo.bytes,
    }
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    await _join(bob, booking_conversation.pk)
    await alice.send_json_to(
        {
            "action": "message.send",
            "conversationId": booking_conversation.pk,
            "attachments": [{"publicId": photo.public_id}],
            "requestId": "a",
        }
    )
    ack = (await _receive(alice, "message.ack"))["data"]["message"]
    assert ack["attachments"] == [expected]
    assert (await _receive(bob, "message.new"))["data"]["message"]["attachments"] == [expected]
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.attachments == [expected]
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    ("attachment", "code"),
    [
        ({"url": "https://evil.example/x.exe", "type": "document", "size": 1}, "validation_error"),
        ("theirs", "invalid_media"),
    ],
    ids=["a bare link", "the other party's upload"],
)
async def test_the_socket_refuses_attachments_that_are_not_the_senders_uploads(
    booking_conversation, customer, technician, uploads, attachment, code
):
    _, theirs = uploads
    if attachment == "theirs":
        attachment = {"publicId": theirs.public_id}
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    await _join(bob, booking_conversation.pk)
    await alice.send_json_to(
        {
            "action": "message.send",
            "conversationId": booking_conversation.pk,
            "body": "angalia",
            "attachments": [attachment],
            "requestId": "x",
        }
    )
    error = await _receive(alice, "error")
    assert error["requestId"] == "x" and error["data"]["code"] == code
    assert any(name.startswith("attachments") for name in error["data"]["fields"])
    assert await bob.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(Message.objects.exists)() is False
    await alice.disconnect()
    await bob.disconnect()


async def test_non_participant_cannot_join_or_send(booking_conversation, customer, other_customer):
    mallory, _ = await _connect(other_customer)
    await mallory.send_json_to(
        {"action": "join", "conversationId": booking_conversation.pk, "requestId": "j"}
    )
    error = await _receive(mallory, "error")
    assert error == {
        "type": "error",
        "requestId": "j",
        "data": {"code": "conversation_not_found", "message": "Conversation not found."},
    }
    await mallory.send_json_to(
        {"action": "message.send", "conversationId": booking_conversation.pk, "body": "spam"}
    )
    assert (await _receive(mallory, "error"))["data"]["code"] == "conversation_not_found"
    await mallory.send_json_to(
        {"action": "typing.start", "conversationId": booking_conversation.pk}
    )
    assert (await _receive(mallory, "error"))["data"]["code"] == "not_joined"

    # Messages in that conversation never reach the outsider.
    alice, _ = await _connect(customer)
    await _join(alice, booking_conversation.pk)
    await alice.send_json_to(
        {"action": "message.send", "conversationId": booking_conversation.pk, "body": "private"}
    )
    await _receive(alice, "message.new")
    assert await mallory.receive_nothing(timeout=0.3)
    assert await database_sync_to_async(Message.objects.filter(body="spam").exists)() is False
    await alice.disconnect()
    await mallory.disconnect()


async def test_bad_input_gets_error_events_not_a_crash(customer):
    alice, _ = await _connect(customer)
    await alice.send_to(text_data="not json")
    assert (await _receive(alice, "error"))["data"]["code"] == "bad_request"
    await alice.send_json_to({"action": "launch.missiles"})
    assert (await _receive(alice, "error"))["data"]["code"] == "unknown_action"
    await alice.send_json_to({"action": ["join"]})
    assert (await _receive(alice, "error"))["data"]["code"] == "unknown_action"
    await alice.send_json_to(["join"])
    assert (await _receive(alice, "error"))["data"]["code"] == "bad_request"
    await alice.send_json_to({"action": "join", "conversationId": "abc"})
    error = (await _receive(alice, "error"))["data"]
    assert error["code"] == "validation_error" and "conversationId" in error["fields"]
    await alice.send_json_to({"action": "message.send", "conversationId": 1})
    assert (await _receive(alice, "error"))["data"]["code"] == "validation_error"
    await alice.disconnect()


async def test_presence_online_and_offline(booking_conversation, customer, technician):
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)
    online = await _receive(alice, "presence")
    assert online == {"type": "presence", "data": {"userId": technician.pk, "status": "online"}}
    joined = await _join(alice, booking_conversation.pk)
    assert joined["data"]["online"] == [technician.pk]

    # A second socket of the same user does not flap presence; closing the last one does.
    bob2, _ = await _connect(technician)
    await bob.disconnect()
    assert await alice.receive_nothing(timeout=0.3)
    await bob2.disconnect()
    offline = await _receive(alice, "presence")
    assert offline == {"type": "presence", "data": {"userId": technician.pk, "status": "offline"}}
    await alice.disconnect()


async def test_notification_and_booking_status_reach_the_users_sockets(
    booking, customer, technician
):
    alice, _ = await _connect(customer)
    bob, _ = await _connect(technician)

    notification = await database_sync_to_async(notify)(
        user_id=customer.pk, type="booking.accepted", context={"booking_number": booking.number}
    )
    event = (await _receive(alice, "notification.new"))["data"]
    assert event["notification"]["id"] == notification.pk
    assert event["notification"]["title"] == "Booking accepted"

    def _publish():
        publish_after_commit(
            events.BookingStatusChanged(
                booking_id=booking.pk,
                from_status="pending",
                to_status="accepted",
                actor_id=technician.pk,
            )
        )

    await database_sync_to_async(_publish)()
    for communicator in (alice, bob):
        changed = (await _receive(communicator, "booking.status_changed"))["data"]
        assert changed["bookingId"] == booking.pk and changed["toStatus"] == "accepted"
    # The actor is not notified of their own action; the customer is.
    types = await database_sync_to_async(
        lambda: list(Notification.objects.values_list("user_id", "type"))
    )()
    assert (customer.pk, "booking.accepted") in types
    assert all(user_id != technician.pk for user_id, _ in types)
    await alice.disconnect()
    await bob.disconnect()


async def test_offline_recipient_gets_a_message_notification(
    booking_conversation, customer, technician
):
    alice, _ = await _connect(customer)
    await _join(alice, booking_conversation.pk)
    await alice.send_json_to(
        {"action": "message.send", "conversationId": booking_conversation.pk, "body": "Uko wapi?"}
    )
    await _receive(alice, "message.ack")
    notifications = await database_sync_to_async(
        lambda: list(Notification.objects.values_list("user_id", "type", "body"))
    )()
    assert notifications == [(technician.pk, "message.received", "Uko wapi?")]

    # Online now: no more message notifications.
    bob, _ = await _connect(technician)
    await alice.send_json_to(
        {"action": "message.send", "conversationId": booking_conversation.pk, "body": "Sawa"}
    )
    await _receive(alice, "message.ack")
    assert await database_sync_to_async(Notification.objects.count)() == 1
    await alice.disconnect()
    await bob.disconnect()


async def test_anonymous_scope_without_middleware_is_refused():
    communicator = WebsocketCommunicator(RealtimeConsumer.as_asgi(), "/ws/")
    communicator.scope["user"] = AnonymousUser()
    await communicator.connect(timeout=TIMEOUT)
    assert (await communicator.receive_output(timeout=TIMEOUT))["code"] == 4401


async def test_socket_closes_once_its_token_expires(customer):
    token = AccessToken.for_user(customer)
    token.set_exp(lifetime=timedelta(minutes=1))
    communicator = WebsocketCommunicator(_app(), f"/ws/?token={token}")
    assert (await communicator.connect(timeout=TIMEOUT))[0]
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "ready"
    await communicator.send_json_to({"action": "ping"})
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "pong"
    with time_machine.travel(token["exp"] + 1):
        await communicator.send_json_to({"action": "ping"})
        assert await communicator.receive_output(timeout=TIMEOUT) == {
            "type": "websocket.close",
            "code": 4401,
        }


async def test_production_asgi_application_routes_websockets(customer):
    communicator = WebsocketCommunicator(
        application,
        f"/ws/?token={_token(customer)}",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")],
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "ready"
    await communicator.disconnect()


async def test_flooding_client_is_throttled(customer, monkeypatch):
    monkeypatch.setattr(consumers, "RATE_BURST", 3)
    monkeypatch.setattr(consumers, "RATE_PER_SECOND", 0.001)
    communicator, _ = await _connect(customer)
    replies = []
    for _ in range(5):
        await communicator.send_json_to({"action": "ping"})
        replies.append(await communicator.receive_json_from(timeout=TIMEOUT))
    assert [r["type"] for r in replies] == ["pong", "pong", "pong", "error", "error"]
    assert replies[-1]["data"]["code"] == "throttled"
    await communicator.disconnect()
