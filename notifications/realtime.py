"""Group names and the envelope of every server → client WebSocket event.

Every group message has `type: "realtime.event"` (handled by `RealtimeConsumer.realtime_event`) and carries
the camelCase JSON the client receives in `payload`; `exclude_channel` skips the socket that caused it
(typing indicators are not echoed to their author).

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


def envelope(event_type: str, data: dict, *, exclude_channel: str | None = None) -> dict:
    message = {"type": "realtime.event", "payload": {"type": event_type, **camelize(data)}}
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
