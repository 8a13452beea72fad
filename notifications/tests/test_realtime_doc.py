"""docs/realtime.md is the WebSocket protocol, and this test keeps it true.

Every ```json block of the document is an example: a client action (it has `action`) or a server event
(it has `type`). A session over the real Redis channel layer sends each client example as written (only
the ids are replaced by the session's own) and captures every event the consumer sends; then

- the documented actions are exactly the consumer's, the documented event types exactly
  `realtime.SERVER_EVENTS`, and the session saw every one of them;
- every event sent is `{"type", "requestId"?, "data"}`;
- every documented event has the same keys, nested, as an event the session captured (and numbers,
  strings, booleans, objects and lists where the capture has them; `null` stands for any value), and every
  captured event fits one of the documented examples of its type.

So a field added, renamed or dropped on either side fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from bookings.services import booking_transition, guarantee_claim_open, reschedule_propose
from dumuwaks.core import events
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack
from notifications.consumers import RealtimeConsumer
from notifications.realtime import SERVER_EVENTS
from notifications.services import chat
from social.tests.factories import MediaAssetFactory

DOC = Path(settings.BASE_DIR) / "docs" / "realtime.md"
TIMEOUT = 5
_JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.S | re.M)

pytestmark = pytest.mark.usefixtures("fresh_channel_layer")


def _doc_examples() -> tuple[dict[str, dict], list[dict]]:
    """({action: example}, [server event examples]) from the document's ```json blocks."""
    actions: dict[str, dict] = {}
    events: list[dict] = []
    for block in _JSON_BLOCK.findall(DOC.read_text()):
        example = json.loads(block)
        assert isinstance(example, dict) and ("action" in example) != ("type" in example), block
        if "action" in example:
            assert example["action"] not in actions, f"two examples of {example['action']}"
            actions[example["action"]] = example
        else:
            events.append(example)
    return actions, events


def _fits(example, actual, *, lenient_lists: bool) -> bool:
    """Same keys (nested) and the same kind of JSON value; null on either side fits anything. A
    non-empty documented list needs a non-empty actual list whose items fit its first item, unless
    `lenient_lists` (an empty actual list then fits)."""
    if example is None or actual is None:
        return True
    if isinstance(example, dict):
        return (
            isinstance(actual, dict)
            and example.keys() == actual.keys()
            and all(_fits(example[k], actual[k], lenient_lists=lenient_lists) for k in example)
        )
    if isinstance(example, list):
        if not isinstance(actual, list):
            return False
        if not example or not actual:
            return not example or lenient_lists
        return all(_fits(example[0], item, lenient_lists=lenient_lists) for item in actual)
    if isinstance(example, bool) or isinstance(actual, bool):
        return type(example) is type(actual)
    if isinstance(example, int | float):
        return isinstance(actual, int | float)
    return type(example) is type(actual)


def _with_ids(example: dict, ids: dict) -> dict:
    """The example with every key named in `ids` (at any depth) given the session's value."""

    def walk(value):
        if isinstance(value, dict):
            return {k: ids[k] if k in ids else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(example)


class _Socket:
    """A communicator that records every event it receives."""

    def __init__(self, user, captured: list):
        app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        self.communicator = WebsocketCommunicator(app, f"/ws/?token={AccessToken.for_user(user)}")
        self.captured = captured

    async def connect(self):
        assert (await self.communicator.connect(timeout=TIMEOUT))[0]
        return await self.expect("ready")

    async def send(self, frame: dict):
        await self.communicator.send_json_to(frame)

    async def expect(self, wanted: str) -> dict:
        async def _loop():
            while True:
                event = await self.communicator.receive_json_from(timeout=TIMEOUT)
                self.captured.append(event)
                if event.get("type") == wanted:
                    return event

        return await asyncio.wait_for(_loop(), TIMEOUT)

    async def drain(self):
        while not await self.communicator.receive_nothing(timeout=0.2):
            self.captured.append(await self.communicator.receive_json_from(timeout=TIMEOUT))


def test_the_document_names_every_action_and_event_once():
    actions, events = _doc_examples()
    assert set(actions) == set(RealtimeConsumer.ACTIONS)
    assert {event["type"] for event in events} == set(SERVER_EVENTS)
    for event in events:
        assert set(event) in ({"type", "data"}, {"type", "requestId", "data"}), event


@pytest.fixture
def session_world(booking_conversation, customer, technician):
    """Built synchronously, outside the event loop: a message from the technician to reply to and an
    upload of the customer's to attach."""
    earlier = chat.message_send(
        conversation=booking_conversation, sender=technician, body="Nimefika langoni."
    )
    asset = MediaAssetFactory(owner=customer)
    return booking_conversation, earlier, asset


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_what_the_consumer_sends_is_what_the_document_shows(
    session_world, booking, customer, technician
):
    conversation, earlier, asset = session_world
    actions, documented = _doc_examples()
    captured: list[dict] = []
    alice, bob = _Socket(customer, captured), _Socket(technician, captured)
    ids = {"conversationId": conversation.pk, "replyToId": earlier.pk, "publicId": asset.public_id}

    await alice.connect()
    await bob.connect()
    await alice.expect("presence")  # bob came online
    await alice.send(_with_ids(actions["ping"], ids))
    await alice.expect("pong")
    for socket in (alice, bob):
        await socket.send(_with_ids(actions["join"], ids))
        await socket.expect("joined")
    await alice.send(_with_ids(actions["typing.start"], ids))
    await bob.expect("typing")
    await alice.send(_with_ids(actions["typing.stop"], ids))
    await bob.expect("typing")

    await alice.send(_with_ids(actions["message.send"], ids))
    sent = (await alice.expect("message.ack"))["data"]["message"]
    await bob.expect("message.new")
    ids["messageId"] = sent["id"]
    await alice.send(_with_ids(actions["message.edit"], ids))
    await alice.expect("message.ack")
    await bob.expect("message.edited")
    await bob.send(_with_ids(actions["read"], ids))
    await bob.expect("read.ack")
    await alice.expect("read_receipt")
    await alice.send(_with_ids(actions["message.delete"], ids))
    await alice.expect("message.ack")
    await bob.expect("message.deleted")
    await alice.send(_with_ids(actions["leave"], ids))
    await alice.expect("left")

    await alice.send({"action": "launch.missiles", "requestId": "r-9"})
    await alice.expect("error")
    await alice.send({"action": "join", "conversationId": "abc", "requestId": "r-10"})
    await alice.expect("error")

    def _publish():
        publish_after_commit(
            events.BookingStatusChanged(
                booking_id=booking.pk,
                from_status="pending",
                to_status="accepted",
                actor_id=technician.pk,
            )
        )

    await database_sync_to_async(_publish)()  # the live event to both, a notification to alice
    await bob.expect("booking.status_changed")
    await alice.expect("notification.new")

    # Live tracking: the technician on the way, the customer following.
    def _set_off():
        type(booking).objects.filter(pk=booking.pk).update(status="en_route")

    await database_sync_to_async(_set_off)()
    ids.update(bookingId=booking.pk, recordedAt=timezone.now().isoformat())
    await alice.send(_with_ids(actions["tracking.subscribe"], ids))
    await alice.expect("tracking.subscribed")
    await bob.send(_with_ids(actions["location.update"], ids))
    await bob.expect("location.ack")
    await alice.expect("location.updated")

    def _start_work():
        fresh = type(booking).objects.get(pk=booking.pk)
        booking_transition(booking=fresh, to="in_progress", actor=technician)

    await database_sync_to_async(_start_work)()
    await alice.expect("tracking.ended")
    await alice.send(_with_ids(actions["tracking.unsubscribe"], ids))
    await alice.expect("tracking.unsubscribed")

    def _propose():
        # Reschedules are for accepted bookings (setup only: no status event).
        type(booking).objects.filter(pk=booking.pk).update(status="accepted")
        booking.status = "accepted"
        reschedule_propose(  # publishes booking.proposal_changed after commit
            booking=booking,
            actor=customer,
            scheduled_start=booking.scheduled_start + timedelta(days=1),
            reason="Travelling",
        )

    await database_sync_to_async(_propose)()  # the live event to both parties
    await bob.expect("booking.proposal_changed")

    def _claim():
        # The guarantee covers a confirmed job (setup only: no status event).
        type(booking).objects.filter(pk=booking.pk).update(
            status="confirmed", confirmed_at=timezone.now()
        )
        guarantee_claim_open(  # publishes booking.guarantee_claim_changed after commit
            booking=booking, customer=customer, description="Bomba linavuja tena."
        )

    await database_sync_to_async(_claim)()  # the live event to both, a notification to bob
    await alice.expect("booking.guarantee_claim_changed")

    await bob.communicator.disconnect()
    await alice.expect("presence")  # bob went offline
    await alice.drain()
    await alice.communicator.disconnect()

    assert {event["type"] for event in captured} == set(SERVER_EVENTS)
    for event in captured:
        assert set(event) in ({"type", "data"}, {"type", "requestId", "data"}), event
        assert isinstance(event["data"], dict), event
    for example in documented:
        same_type = [event for event in captured if event["type"] == example["type"]]
        assert any(_fits(example, event, lenient_lists=False) for event in same_type), (
            "docs/realtime.md shows an event the consumer does not send",
            example,
            same_type,
        )
    for event in captured:
        examples = [example for example in documented if example["type"] == event["type"]]
        assert any(_fits(example, event, lenient_lists=True) for example in examples), (
            "the consumer sent an event docs/realtime.md does not show",
            event,
        )
