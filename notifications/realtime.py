"""Group names and the one envelope of every server → client WebSocket event (docs/realtime.md).

Every event a client receives is `{"type": <one of SERVER_EVENTS>, "requestId"?: <echoed>, "data": {...}}`
with camelCase keys, built by `server_event` (direct replies, in the consumer) or `envelope` (group messages).
`notifications/tests/test_realtime_doc.py` checks docs/realtime.md against what the consumer sends.

Every group message has `type: "realtime.event"` (handled by `RealtimeConsumer.realtime_event`) and carries
the event the client receives in `payload`; `exclude_channel` skips the socket that caused it (typing
indicators are not echoed to their author).

`type: "tracking.ended"` (bookings/services/tracking.py) carries a `payload` too, forwarded the same way, and
also makes the socket leave that booking's tracking group.

The one other group message, `type: "auth.revalidate"` (no payload, never forwarded to the client), asks every
socket of a user, on every web instance, to re-run the REST token check on its own access token; services
send it after the commit of anything that ends access tokens (`user_sockets_revalidate_after_commit`).
"""

from __future__ import annotations

from djangorestframework_camel_case.util import camelize

from dumuwaks.core.side_effects import group_send_after_commit


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def booking_tracking_group(booking_id: int) -> str:
    """The sockets following one booking's live position: its customer and staff only
    (bookings/selectors/tracking.py decides who may join)."""
    return f"booking_tracking.{booking_id}"


# Every `type` a client may receive; docs/realtime.md documents each with an example.
SERVER_EVENTS = (
    "ready",
    "pong",
    "joined",
    "left",
    "message.ack",
    "message.new",
    "message.edited",
    "message.deleted",
    "typing",
    "read.ack",
    "read_receipt",
    "presence",
    "booking.status_changed",
    "booking.proposal_changed",
    "booking.guarantee_claim_changed",
    "tracking.subscribed",
    "tracking.unsubscribed",
    "location.ack",
    "location.updated",
    "tracking.ended",
    "notification.new",
    "error",
)


def server_event(event_type: str, data: dict, *, request_id=None) -> dict:
    """The JSON object a client receives. `request_id` is the client's `requestId`, echoed on direct
    replies (never on broadcasts)."""
    event = {"type": event_type}
    if request_id is not None:
        event["requestId"] = request_id
    event["data"] = camelize(data)
    return event


def envelope(event_type: str, data: dict, *, exclude_channel: str | None = None) -> dict:
    """A channel-layer group message carrying `server_event(event_type, data)` to every socket of the
    group."""
    message = {"type": "realtime.event", "payload": server_event(event_type, data)}
    if exclude_channel:
        message["exclude_channel"] = exclude_channel
    return message


def user_sockets_revalidate_after_commit(user_id: int) -> None:
    """After commit, make each open socket of the user re-check its access token as REST would, and close
    (4401) if it is no longer accepted. Call it from every service that ends access tokens: logout, password
    change and reset, deactivation or deletion. Sockets whose token still passes (another device's newer
    token, the token a password change just issued) stay open."""
    group_send_after_commit(user_group(user_id), {"type": "auth.revalidate"})


def send_to_user_after_commit(user_id: int, event_type: str, data: dict) -> None:
    group_send_after_commit(user_group(user_id), envelope(event_type, data))


def send_to_conversation_after_commit(conversation_id: int, event_type: str, data: dict) -> None:
    group_send_after_commit(conversation_group(conversation_id), envelope(event_type, data))
