"""Chat writes: conversations, messages and read state. The REST views and the WebSocket consumer both
call these, so a message is always stored (and counted unread) before anyone is told about it.

Who may talk to whom:
- booking conversations: the booking's customer and its assigned technician (added when assigned), and
  staff (support/admin), who join when they open it;
- direct conversations: between two users who already have one; between anyone and staff; between a
  customer and a technician who share at least one booking. Customer↔customer, technician↔technician
  and strangers cannot start one (403 `messaging_not_allowed`);
- support conversations: the customer and the assigned agent (the support app adds agents).
A user who is not a participant never learns that a conversation or message exists (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.side_effects import enqueue_after_commit
from notifications import tasks
from notifications.errors import (
    BookingNotFound,
    ConversationNotFound,
    InvalidMessage,
    MessageDeleted,
    MessageNotFound,
    MessagingNotAllowed,
    NotMessageSender,
    UserNotFound,
)
from notifications.models import (
    Conversation,
    ConversationKind,
    ConversationParticipant,
    Message,
)
from notifications.presence import online_user_ids
from notifications.realtime import send_to_conversation_after_commit
from notifications.serializers import ChatMessageOutputSerializer, ConversationReadOutputSerializer
from social.services.media import media_resolve_refs

MAX_BODY_LENGTH = 4000
MAX_ATTACHMENTS = 10
MAX_RECEIPT_IDS = 200


def _ensure_participants(conversation: Conversation, user_ids: Iterable[int]) -> None:
    rows = [
        ConversationParticipant(conversation=conversation, user_id=uid)
        for uid in {uid for uid in user_ids if uid}
    ]
    ConversationParticipant.objects.bulk_create(rows, ignore_conflicts=True)


def conversation_add_participant(*, conversation: Conversation, user: User) -> None:
    """Idempotent (used by the support app when an agent takes a live chat)."""
    _ensure_participants(conversation, [user.pk])


def is_participant(*, conversation_id: int, user_id: int) -> bool:
    return ConversationParticipant.objects.filter(
        conversation_id=conversation_id, user_id=user_id
    ).exists()


def conversation_for_participant(*, conversation_id: int, user: User) -> Conversation:
    """The conversation if `user` takes part in it, else ConversationNotFound (never 403)."""
    conversation = Conversation.objects.filter(
        pk=conversation_id, participants__user_id=user.pk
    ).first()
    if conversation is None:
        raise ConversationNotFound()
    return conversation


def conversation_get_or_create_for_booking(
    *, booking: Booking, user: User
) -> tuple[Conversation, bool]:
    """The booking's conversation, created on first use. Only the booking's parties and staff may open it
    (others get BookingNotFound). The assigned technician is (re)added on every call, so a technician
    assigned after the conversation started joins it."""
    is_party = user.pk in (booking.customer_id, booking.technician_id)
    if not is_party and not is_staff_member(user):
        raise BookingNotFound()
    created = False
    conversation = Conversation.objects.filter(
        kind=ConversationKind.BOOKING, booking_id=booking.pk
    ).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    kind=ConversationKind.BOOKING,
                    booking=booking,
                    subject=booking.title[:200],
                    created_by=user,
                )
                created = True
        except IntegrityError:  # a concurrent request created it first
            conversation = Conversation.objects.get(
                kind=ConversationKind.BOOKING, booking_id=booking.pk
            )
    _ensure_participants(conversation, [booking.customer_id, booking.technician_id, user.pk])
    return conversation, created


def _share_a_booking(a: User, b: User) -> bool:
    return Booking.objects.filter(
        Q(customer_id=a.pk, technician_id=b.pk) | Q(customer_id=b.pk, technician_id=a.pk)
    ).exists()


def _direct_allowed(user: User, other: User) -> bool:
    if is_staff_member(user) or is_staff_member(other):
        return True
    customer_and_technician = (user.is_customer and other.is_technician) or (
        user.is_technician and other.is_customer
    )
    return customer_and_technician and _share_a_booking(user, other)


def conversation_get_or_create_direct(*, user: User, other: User) -> tuple[Conversation, bool]:
    if other is None or not other.is_active or other.pk == user.pk:
        raise UserNotFound()
    low, high = sorted((user.pk, other.pk))
    key = f"{low}:{high}"
    conversation = Conversation.objects.filter(kind=ConversationKind.DIRECT, direct_key=key).first()
    if conversation is not None:
        _ensure_participants(conversation, [low, high])
        return conversation, False
    if not _direct_allowed(user, other):
        raise MessagingNotAllowed()
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=ConversationKind.DIRECT, direct_key=key, created_by=user
            )
            _ensure_participants(conversation, [low, high])
            return conversation, True
    except IntegrityError:
        conversation = Conversation.objects.get(kind=ConversationKind.DIRECT, direct_key=key)
        return conversation, False


def conversation_create_support(
    *, customer: User, agent: User | None = None, subject: str
) -> Conversation:
    """A live-chat thread between a customer and support; the agent may be added later with
    `conversation_add_participant`."""
    with transaction.atomic():
        conversation = Conversation.objects.create(
            kind=ConversationKind.SUPPORT, subject=subject[:200], created_by=customer
        )
        _ensure_participants(conversation, [customer.pk, agent.pk if agent else None])
    return conversation


def _attachments_from_uploads(sender: User, refs: Sequence[Mapping]) -> list[dict]:
    """The sender's own live uploads named by `refs` ({"public_id": ...}), as stored on the message.
    A bare link, another person's, a deleted or an unknown upload: InvalidMediaRefs, the rule of posts
    and reviews."""
    assets = media_resolve_refs(owner=sender, refs=refs, limit=MAX_ATTACHMENTS, field="attachments")
    return [
        {
            "url": asset.delivery_url,
            "publicId": asset.public_id,
            "type": asset.resource_type,
            "size": asset.bytes,
        }
        for asset in assets
    ]


def message_payload(message: Message) -> dict:
    return dict(ChatMessageOutputSerializer(message).data)


def message_send(
    *,
    conversation: Conversation,
    sender: User,
    body: str,
    attachments: Sequence[Mapping] = (),
    reply_to: Message | int | None = None,
) -> Message:
    """Store a message, count it unread for everyone else (the sender's own read marker does not move),
    then (after commit) push `message.new` to the conversation's subscribers and notify offline
    recipients."""
    body = (body or "").strip()
    if len(body) > MAX_BODY_LENGTH:
        raise InvalidMessage(f"A message has at most {MAX_BODY_LENGTH} characters.")
    if not body and not attachments:
        raise InvalidMessage("A message needs a body or an attachment.")
    if not is_participant(conversation_id=conversation.pk, user_id=sender.pk):
        raise ConversationNotFound()
    attachments = _attachments_from_uploads(sender, list(attachments or ()))
    reply_to_id = reply_to.pk if isinstance(reply_to, Message) else reply_to
    if (
        reply_to_id is not None
        and not Message.objects.filter(pk=reply_to_id, conversation_id=conversation.pk).exists()
    ):
        raise MessageNotFound("The message you reply to is not in this conversation.")

    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation,
            sender=sender,
            body=body,
            attachments=attachments,
            reply_to_id=reply_to_id,
        )
        # Never move the activity time backwards when sends race.
        Conversation.objects.filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__lt=message.created_at),
            pk=conversation.pk,
        ).update(last_message_at=message.created_at)
        # The sender's read marker stays where it is: replying is not reading, and moving it past
        # messages they have not read would mark those read without a receipt (only reading moves it,
        # conversation_mark_read). Their own messages never count as unread for them.
        ConversationParticipant.objects.filter(conversation_id=conversation.pk).exclude(
            user_id=sender.pk
        ).update(unread_count=F("unread_count") + 1, updated_at=now)
        send_to_conversation_after_commit(
            conversation.pk, "message.new", {"message": message_payload(message)}
        )
        recipient_ids = list(
            ConversationParticipant.objects.filter(conversation_id=conversation.pk)
            .exclude(user_id=sender.pk)
            .values_list("user_id", flat=True)
        )
        transaction.on_commit(lambda: _notify_if_offline(message.pk, recipient_ids))
    conversation.last_message_at = message.created_at
    return message


def _notify_if_offline(message_id: int, recipient_ids: list[int]) -> None:
    """Queue the offline-notification task only when someone may be offline: in a live chat everyone is
    online and a Celery round trip per message would be wasted (the task re-checks presence anyway)."""

    try:
        everyone_online = set(recipient_ids) <= online_user_ids(recipient_ids)
    except Exception:  # presence is an optimisation; without Redis, let the task decide
        everyone_online = False
    if not everyone_online:
        enqueue_after_commit(tasks.notify_offline_recipients, message_id)


def _own_message(*, message_id: int, user: User) -> Message:
    message = (
        Message.objects.select_related("sender")
        .filter(pk=message_id, conversation__participants__user_id=user.pk)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    if message.sender_id != user.pk:
        raise NotMessageSender()
    return message


def message_edit(*, message: Message | int, user: User, body: str) -> Message:
    message_id = message.pk if isinstance(message, Message) else message
    body = (body or "").strip()
    if not body or len(body) > MAX_BODY_LENGTH:
        raise InvalidMessage(f"A message needs 1 to {MAX_BODY_LENGTH} characters.")
    with transaction.atomic():
        message = _own_message(message_id=message_id, user=user)
        now = timezone.now()
        updated = Message.objects.filter(pk=message.pk, is_deleted=False).update(
            body=body, is_edited=True, edited_at=now, updated_at=now
        )
        if not updated:
            raise MessageDeleted()
        message.body, message.is_edited, message.edited_at = body, True, now
        send_to_conversation_after_commit(
            message.conversation_id, "message.edited", {"message": message_payload(message)}
        )
    return message


def message_delete(*, message: Message | int, user: User) -> Message:
    """Soft delete: the row stays for replies and receipts; its body and attachments are never shown.
    Deleting twice is a no-op."""
    message_id = message.pk if isinstance(message, Message) else message
    with transaction.atomic():
        message = _own_message(message_id=message_id, user=user)
        if message.is_deleted:
            return message
        now = timezone.now()
        Message.objects.filter(pk=message.pk).update(
            is_deleted=True, deleted_at=now, body="", attachments=[], updated_at=now
        )
        message.is_deleted, message.deleted_at, message.body, message.attachments = (
            True,
            now,
            "",
            [],
        )
        send_to_conversation_after_commit(
            message.conversation_id, "message.deleted", {"message": message_payload(message)}
        )
    return message


def _receipt(result: dict) -> dict:
    """A `read_receipt` as the read endpoint renders the result, less the reader's own unread count."""
    receipt = dict(ConversationReadOutputSerializer(result).data)
    del receipt["unread_count"]
    return receipt


def conversation_mark_read(
    *, conversation: Conversation, user: User, up_to_message: Message | int | None = None
) -> dict:
    """Mark messages up to `up_to_message` (default: the latest) as read by `user` and broadcast a
    `read_receipt` listing the other participants' message ids that became read (none when the marker
    only passed the reader's own messages). Never moves the read marker backwards; the only place that
    moves it forwards."""
    with transaction.atomic():
        participant = (
            ConversationParticipant.objects.select_for_update()
            .filter(conversation_id=conversation.pk, user_id=user.pk)
            .first()
        )
        if participant is None:
            raise ConversationNotFound()
        messages = Message.objects.filter(conversation_id=conversation.pk)
        if up_to_message is None:
            target = messages.order_by("-id").values_list("id", flat=True).first()
        else:
            target_id = up_to_message.pk if isinstance(up_to_message, Message) else up_to_message
            target = messages.filter(pk=target_id).values_list("id", flat=True).first()
            if target is None:
                raise MessageNotFound()
        previous = participant.last_read_message_id
        now = timezone.now()
        newly_read: list[int] = []
        if target is not None and (previous is None or target > previous):
            newly_read = list(
                messages.filter(pk__lte=target, **({"pk__gt": previous} if previous else {}))
                .exclude(sender_id=user.pk)
                .order_by("-id")
                .values_list("id", flat=True)[:MAX_RECEIPT_IDS]
            )
            unread_after = messages.filter(pk__gt=target).exclude(sender_id=user.pk).count()
            ConversationParticipant.objects.filter(pk=participant.pk).update(
                last_read_message_id=target,
                last_read_at=now,
                unread_count=unread_after,
                updated_at=now,
            )
            participant.last_read_message_id = target
            participant.last_read_at = now
            participant.unread_count = unread_after
        result = {
            "conversation_id": conversation.pk,
            "user_id": user.pk,
            "last_read_message_id": participant.last_read_message_id,
            "last_read_at": participant.last_read_at,
            "unread_count": participant.unread_count,
            "message_ids": sorted(newly_read),
        }
        if newly_read:
            send_to_conversation_after_commit(conversation.pk, "read_receipt", _receipt(result))
    return result
