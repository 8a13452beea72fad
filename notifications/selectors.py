"""Reads for the chat and notification endpoints (constant query counts for lists)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery

from accounts.models import User
from dumuwaks.core.filtering import filter_queryset
from notifications.filters import ConversationFilter, NotificationFilter
from notifications.models import (
    Conversation,
    ConversationParticipant,
    Message,
    Notification,
)


def _participants_prefetch() -> Prefetch:
    return Prefetch(
        "participants",
        queryset=ConversationParticipant.objects.select_related("user").order_by("id"),
    )


def conversation_list(*, user: User, filters: Mapping | None = None) -> QuerySet[Conversation]:
    """The user's conversations, most recently active first, with their own unread count annotated and
    participants prefetched. Attach last messages per page with `conversations_attach_last_messages`.
    `filters`: the query parameters of ConversationFilter (a 400 if invalid)."""
    mine = ConversationParticipant.objects.filter(conversation=OuterRef("pk"), user_id=user.pk)
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    qs = filter_queryset(
        ConversationFilter,
        data=filters,
        queryset=Conversation.objects.filter(participants__user_id=user.pk),
    )
    return (
        qs.select_related("booking")
        .annotate(
            my_unread_count=Subquery(mine.values("unread_count")[:1]),
            last_message_id=Subquery(last.values("id")[:1]),
        )
        .prefetch_related(_participants_prefetch())
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def conversations_attach_last_messages(conversations: list[Conversation]) -> list[Conversation]:
    """One query for the last message of every conversation on the page."""
    ids = [c.last_message_id for c in conversations if getattr(c, "last_message_id", None)]
    by_id = {m.pk: m for m in Message.objects.filter(pk__in=ids)} if ids else {}
    for conversation in conversations:
        conversation.last_message = by_id.get(getattr(conversation, "last_message_id", None))
    return conversations


def conversation_detail(*, user: User, conversation_id: int) -> Conversation | None:
    conversation = conversation_list(user=user).filter(pk=conversation_id).first()
    if conversation is not None:
        conversations_attach_last_messages([conversation])
    return conversation


def message_list(*, conversation_id: int) -> QuerySet[Message]:
    """Caller has checked that the requester takes part in the conversation."""
    return Message.objects.filter(conversation_id=conversation_id).select_related("sender")


def notification_list(*, user: User, filters: Mapping | None = None) -> QuerySet[Notification]:
    """`filters`: the query parameters of NotificationFilter (a 400 if invalid)."""
    qs = filter_queryset(
        NotificationFilter,
        data=filters,
        queryset=Notification.objects.filter(user=user, is_in_app=True),
    )
    return qs.order_by("-created_at", "-id")


def contact_ids_for_user(*, user_id: int, limit: int = 500) -> list[int]:
    """Everyone who shares a conversation with the user (receivers of their presence changes)."""
    return list(
        ConversationParticipant.objects.filter(conversation__participants__user_id=user_id)
        .exclude(user_id=user_id)
        .values_list("user_id", flat=True)
        .distinct()[:limit]
    )
