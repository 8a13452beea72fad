"""The one WebSocket endpoint (`ws/`, alias `ws/chat/`). A thin transport: every write goes through the same
services as the REST API (database_sync_to_async), and server events arrive as `realtime.event` group
messages whose payload is forwarded as is. The protocol is docs/realtime.md (checked by
notifications/tests/test_realtime_doc.py).

Client → server (JSON, `action` plus fields, optional `requestId` echoed in the reply):
  join {conversationId} · leave {conversationId} · message.send {conversationId, body, attachments?,
  replyToId?, clientId?} · message.edit {messageId, body} · message.delete {messageId} ·
  typing.start / typing.stop {conversationId} · read {conversationId, messageId?} · ping ·
  tracking.subscribe / tracking.unsubscribe {bookingId} (the customer and staff follow a booking's
  technician) · location.update {bookingId, lat, lng, accuracy?, heading?, speed?, recordedAt} (the assigned
  technician, while en route or arrived; bookings/services/tracking.py)
Server → client: `{"type", "requestId"?, "data"}` (notifications.realtime.server_event), `type` one of
  realtime.SERVER_EVENTS.
Close codes: 4401 (CLOSE_UNAUTHENTICATED) — the access token is missing, invalid or expired, or REST no
  longer accepts it. The last case is pushed, not polled: after a logout, a password change or reset, or the
  deactivation or deletion of the account commits, the service sends `auth.revalidate` to the user's group
  (through the channel layer, so it reaches the sockets on every web instance); each socket re-runs the REST
  check (`JWTAuthentication.get_user`) on the access token it was opened with and closes with 4401 if that
  token is refused. A socket whose token still passes stays open (the fresh token a password change returns).
  One code for all of these because the client's answer is the same as to a 401 on REST: refresh the token
  and reconnect, and sign in again if the refresh is refused too (after a logout on another device the
  refresh token still works; after a password change, reset or deactivation it does not).
More than RATE_BURST actions at once → `error` code `throttled`.
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from djangorestframework_camel_case.parser import CamelCaseJSONParser
from djangorestframework_camel_case.util import underscoreize
from rest_framework import serializers

from bookings.selectors.tracking import booking_tracking_snapshot
from bookings.serializers import BookingLocationInputSerializer, BookingTrackingInputSerializer
from bookings.services.tracking import MIN_UPDATE_INTERVAL_SECONDS, booking_location_record
from dumuwaks.core.errors import ApplicationError, validation_error_fields
from dumuwaks.ws_auth import access_token_still_accepted
from notifications import presence, selectors
from notifications.models import ConversationParticipant
from notifications.realtime import (
    booking_tracking_group,
    conversation_group,
    envelope,
    server_event,
    user_group,
)
from notifications.serializers import (
    ChatMessageOutputSerializer,
    ConversationReadOutputSerializer,
    MessageCreateInputSerializer,
    MessageUpdateInputSerializer,
)
from notifications.services import chat as chat_services

CLOSE_UNAUTHENTICATED = 4401
MAX_JOINED = 100
MAX_TRACKED = 20  # bookings one socket follows at once (a staff dashboard watching several jobs)
# Per socket: bursts of up to 30 actions, refilled at 10 per second (a person types far slower; a
# misbehaving client is told `throttled` instead of hammering the database).
RATE_BURST = 30
RATE_PER_SECOND = 10.0


class _TokenBucket:
    def __init__(self, burst: int, rate: float):
        self.capacity, self.rate = burst, rate
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def parse_action(content: dict) -> dict:
    """An action's fields as REST's parser reads a request body (camelCase → snake_case with the same
    function and options as `CamelCaseJSONParser`), so the same input serializers apply and a nested
    key such as an attachment's `publicId` means the same on both transports."""
    return underscoreize(content, **CamelCaseJSONParser.json_underscoreize)


# --- sync helpers, run in a thread pool ---------------------------------------------------------------------------
# thread_sensitive=False: each call is self-contained (its own transaction and connection), so sockets do not
# queue behind one another's database work in a single shared thread.
def db_call(func):
    return database_sync_to_async(func, thread_sensitive=False)


@db_call
def _join_allowed(conversation_id: int, user_id: int) -> list[int] | None:
    """Participant ids of the conversation if the user takes part, else None."""
    ids = list(
        ConversationParticipant.objects.filter(conversation_id=conversation_id).values_list(
            "user_id", flat=True
        )
    )
    return ids if user_id in ids else None


@db_call
def _send_message(user, data: dict) -> dict:
    """`data`: the parsed action, as the REST view gets `request.data`."""
    serializer = MessageCreateInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = serializer.validated_data
    conversation = chat_services.conversation_for_participant(
        conversation_id=values["conversation_id"], user=user
    )
    message = chat_services.message_send(
        conversation=conversation,
        sender=user,
        body=values["body"],
        attachments=values["attachments"],
        reply_to=values.get("reply_to_id"),
    )
    return dict(ChatMessageOutputSerializer(message).data)


@db_call
def _edit_message(user, data: dict) -> dict:
    message_id = _int(data.get("message_id"), "message_id")
    serializer = MessageUpdateInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    message = chat_services.message_edit(
        message=message_id, user=user, body=serializer.validated_data["body"]
    )
    return dict(ChatMessageOutputSerializer(message).data)


@db_call
def _delete_message(user, message_id) -> dict:
    message = chat_services.message_delete(message=_int(message_id, "message_id"), user=user)
    return dict(ChatMessageOutputSerializer(message).data)


@db_call
def _mark_read(user, conversation_id, message_id) -> dict:
    conversation = chat_services.conversation_for_participant(
        conversation_id=conversation_id, user=user
    )
    result = chat_services.conversation_mark_read(
        conversation=conversation,
        user=user,
        up_to_message=_int(message_id, "message_id") if message_id is not None else None,
    )
    return dict(ConversationReadOutputSerializer(result).data)  # as POST conversations/<id>/read


@db_call
def _tracking_snapshot(user, data: dict) -> dict:
    serializer = BookingTrackingInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return booking_tracking_snapshot(booking_id=serializer.validated_data["booking_id"], user=user)


@db_call
def _record_location(user, data: dict) -> dict:
    serializer = BookingLocationInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = serializer.validated_data
    return booking_location_record(
        booking_id=values["booking_id"], technician=user, position=values
    )


_access_token_still_accepted = db_call(access_token_still_accepted)


@db_call
def _contacts(user_id: int) -> list[int]:
    return selectors.contact_ids_for_user(user_id=user_id)


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise serializers.ValidationError({name: ["A whole number is required."]})
    try:
        number = int(value)
    except ValueError:
        raise serializers.ValidationError({name: ["A whole number is required."]}) from None
    if number < 1:
        raise serializers.ValidationError({name: ["Must be positive."]})
    return number


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.joined: set[int] = set()
        self.tracking: set[int] = set()
        self.counted_online = False
        self.bucket = _TokenBucket(RATE_BURST, RATE_PER_SECOND)
        subprotocols = self.scope.get("subprotocols") or []
        # Browsers fail the handshake unless we echo the subprotocol they offered.
        await self.accept(subprotocol="bearer" if "bearer" in subprotocols else None)
        if not getattr(self.user, "is_authenticated", False):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = self.user.pk
        await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
        # A logout committed after the handshake checked the token but before this socket joined its group
        # was announced to nobody; check once more now that announcements reach this socket.
        token = self.scope.get("access_token")
        if token is not None and not await _access_token_still_accepted(token):
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        came_online = await sync_to_async(presence.presence_connect)(self.user_id)
        self.counted_online = True
        if came_online:
            await self._broadcast_presence(online=True)
        await self.send_json(server_event("ready", {"user_id": self.user_id}))

    async def disconnect(self, code):
        if not getattr(self, "counted_online", False):
            return
        for conversation_id in list(self.joined):
            await self.channel_layer.group_discard(
                conversation_group(conversation_id), self.channel_name
            )
        for booking_id in list(self.tracking):
            await self.channel_layer.group_discard(
                booking_tracking_group(booking_id), self.channel_name
            )
        await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
        went_offline = await sync_to_async(presence.presence_disconnect)(self.user_id)
        self.counted_online = False
        if went_offline:
            await self._broadcast_presence(online=False)

    async def _broadcast_presence(self, *, online: bool):
        event = envelope(
            "presence", {"user_id": self.user_id, "status": "online" if online else "offline"}
        )
        for contact_id in await _contacts(self.user_id):
            await self.channel_layer.group_send(user_group(contact_id), event)

    def _token_expired(self) -> bool:
        exp = self.scope.get("token_exp")
        return bool(exp and exp < time.time())

    # --- client → server ---------------------------------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        if not getattr(self, "counted_online", False):
            return
        if self._token_expired():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not isinstance(content, dict):
            await self._error(None, "bad_request", "Send a JSON object with an action.")
            return
        action = content.get("action") or content.get("type")
        request_id = content.get("requestId")
        handler = self.ACTIONS.get(action) if isinstance(action, str) else None
        if handler is None:
            await self._error(request_id, "unknown_action", f"Unknown action {action!r}.")
            return
        if not self.bucket.take():
            await self._error(request_id, "throttled", "Too many actions; slow down.")
            return
        try:
            data = parse_action(content)
        except RecursionError:  # nested deeper than the key conversion goes
            await self._error(request_id, "bad_request", "The action is nested too deeply.")
            return
        data["client_id"] = content.get("clientId")  # the client's own value, echoed as sent
        try:
            await handler(self, data, request_id)
        except ApplicationError as exc:
            await self._error(request_id, exc.code, exc.message, exc.fields)
        except serializers.ValidationError as exc:
            await self._error(
                request_id,
                "validation_error",
                "Some fields are invalid.",
                validation_error_fields(exc.detail),
            )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self._error(None, "bad_request", "Send JSON in text frames.")
            return
        await super().receive(text_data=text_data, **kwargs)

    async def decode_json(self, text_data):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return None

    async def _error(self, request_id, code: str, message: str, fields: dict | None = None):
        """`data` is the REST error body: {code, message, fields?}."""
        data = {"code": code, "message": message}
        if fields:
            data["fields"] = fields
        await self._reply(request_id, "error", data)

    async def _reply(self, request_id, event_type: str, data: dict):
        await self.send_json(server_event(event_type, data, request_id=request_id))

    async def _do_join(self, data, request_id):
        conversation_id = _int(data.get("conversation_id"), "conversation_id")
        participant_ids = await _join_allowed(conversation_id, self.user_id)
        if participant_ids is None:
            await self._error(request_id, "conversation_not_found", "Conversation not found.")
            return
        if conversation_id not in self.joined and len(self.joined) >= MAX_JOINED:
            await self._error(request_id, "too_many_conversations", "Leave a conversation first.")
            return
        await self.channel_layer.group_add(conversation_group(conversation_id), self.channel_name)
        self.joined.add(conversation_id)
        online = await sync_to_async(presence.online_user_ids)(participant_ids)
        await self._reply(
            request_id,
            "joined",
            {
                "conversation_id": conversation_id,
                "online": sorted(uid for uid in online if uid != self.user_id),
            },
        )

    async def _do_leave(self, data, request_id):
        conversation_id = _int(data.get("conversation_id"), "conversation_id")
        if conversation_id in self.joined:
            self.joined.discard(conversation_id)
            await self.channel_layer.group_discard(
                conversation_group(conversation_id), self.channel_name
            )
        await self._reply(request_id, "left", {"conversation_id": conversation_id})

    async def _do_send(self, data, request_id):
        message = await _send_message(self.user, data)
        await self._ack(request_id, "message.send", message, client_id=data.get("client_id"))

    async def _do_edit(self, data, request_id):
        message = await _edit_message(self.user, data)
        await self._ack(request_id, "message.edit", message)

    async def _do_delete(self, data, request_id):
        message = await _delete_message(self.user, data.get("message_id"))
        await self._ack(request_id, "message.delete", message)

    async def _ack(self, request_id, action: str, message: dict, *, client_id=None):
        """One shape for every message action: which action, the client's `clientId` (null when it sent
        none) and the message as stored (as REST shows it)."""
        await self._reply(
            request_id,
            "message.ack",
            {"action": action, "client_id": client_id, "message": message},
        )

    async def _do_typing(self, data, request_id):
        conversation_id = _int(data.get("conversation_id"), "conversation_id")
        if conversation_id not in self.joined:
            await self._error(request_id, "not_joined", "Join the conversation first.")
            return
        is_typing = (data.get("action") or data.get("type")) == "typing.start"
        await self.channel_layer.group_send(
            conversation_group(conversation_id),
            envelope(
                "typing",
                {
                    "conversation_id": conversation_id,
                    "user_id": self.user_id,
                    "is_typing": is_typing,
                },
                exclude_channel=self.channel_name,
            ),
        )

    async def _do_read(self, data, request_id):
        conversation_id = _int(data.get("conversation_id"), "conversation_id")
        result = await _mark_read(self.user, conversation_id, data.get("message_id"))
        await self._reply(request_id, "read.ack", result)

    async def _do_ping(self, data, request_id):
        await sync_to_async(presence.presence_touch)(self.user_id)
        await self._reply(request_id, "pong", {})

    async def _do_track(self, data, request_id):
        snapshot = await _tracking_snapshot(self.user, data)
        booking_id = snapshot["booking_id"]
        if booking_id not in self.tracking and len(self.tracking) >= MAX_TRACKED:
            await self._error(request_id, "too_many_tracked", "Unsubscribe from a booking first.")
            return
        await self.channel_layer.group_add(booking_tracking_group(booking_id), self.channel_name)
        self.tracking.add(booking_id)
        await self._reply(request_id, "tracking.subscribed", snapshot)

    async def _do_untrack(self, data, request_id):
        booking_id = _int(data.get("booking_id"), "booking_id")
        if booking_id in self.tracking:
            self.tracking.discard(booking_id)
            await self.channel_layer.group_discard(
                booking_tracking_group(booking_id), self.channel_name
            )
        await self._reply(request_id, "tracking.unsubscribed", {"booking_id": booking_id})

    async def _do_location(self, data, request_id):
        position = await _record_location(self.user, data)
        booking_id = position["booking_id"]
        # Through the Redis channel layer: the customer's socket may be on another web instance.
        await self.channel_layer.group_send(
            booking_tracking_group(booking_id), envelope("location.updated", position)
        )
        await self._reply(
            request_id,
            "location.ack",
            {
                "booking_id": booking_id,
                "recorded_at": position["recorded_at"],
                "eta_seconds": position["eta_seconds"],
                "min_interval_seconds": MIN_UPDATE_INTERVAL_SECONDS,
            },
        )

    # Every action a client may send, with its handler; docs/realtime.md documents each (checked by
    # notifications/tests/test_realtime_doc.py).
    ACTIONS = {
        "join": _do_join,
        "leave": _do_leave,
        "message.send": _do_send,
        "message.edit": _do_edit,
        "message.delete": _do_delete,
        "typing.start": _do_typing,
        "typing.stop": _do_typing,
        "read": _do_read,
        "ping": _do_ping,
        "tracking.subscribe": _do_track,
        "tracking.unsubscribe": _do_untrack,
        "location.update": _do_location,
    }

    # --- server → client ---------------------------------------------------------------------------------------

    async def websocket_disconnect(self, message):
        self.closing = True
        await super().websocket_disconnect(message)

    async def auth_revalidate(self, event):
        """Something that ends access tokens committed for this user (see the module docstring)."""
        if not getattr(self, "counted_online", False) or getattr(self, "closing", False):
            return
        token = self.scope.get("access_token")
        if token is None or self._token_expired() or not await _access_token_still_accepted(token):
            self.closing = True  # drop events that arrive before the client completes the close
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def tracking_ended(self, event):
        """The booking left en_route/arrived (bookings/services/tracking.py): tell the client, stop
        following it."""
        booking_id = event.get("booking_id")
        if booking_id in self.tracking:
            self.tracking.discard(booking_id)
            await self.channel_layer.group_discard(
                booking_tracking_group(booking_id), self.channel_name
            )
        await self.realtime_event(event)

    async def realtime_event(self, event):
        if event.get("exclude_channel") == self.channel_name or getattr(self, "closing", False):
            return
        try:
            await self.send_json(event["payload"])
        except RuntimeError:
            # The client closed while this event was in flight (ASGI refuses sends after close).
            self.closing = True
