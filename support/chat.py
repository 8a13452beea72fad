"""Live chat for a ticket through the notifications app's support conversations."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from dumuwaks.core.permissions import is_staff_member
from notifications.models import Conversation
from notifications.services.chat import conversation_add_participant, conversation_create_support
from support.models import SupportTicket


def _add_participant(*, conversation_id: int, user: User) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is not None:
        conversation_add_participant(conversation=conversation, user=user)


def ticket_chat_open(*, ticket: SupportTicket, actor: User) -> int:
    """Return the ticket's support conversation id, creating it on first use.

    The ticket row is locked so two clients opening chat at once get the same conversation. A staff member
    who opens the chat joins it.
    """
    with transaction.atomic():
        locked = SupportTicket.objects.select_for_update().get(pk=ticket.pk)
        conversation_id = locked.chat_conversation_id
        if conversation_id is None:
            conversation = conversation_create_support(
                customer=locked.created_by,
                agent=locked.assigned_to,
                subject=f"{locked.number}: {locked.subject}",
            )
            conversation_id = conversation.pk
            SupportTicket.objects.filter(pk=locked.pk).update(chat_conversation_id=conversation_id)
        if is_staff_member(actor) and actor.pk != locked.assigned_to_id:
            _add_participant(conversation_id=conversation_id, user=actor)
    return conversation_id


def ticket_chat_add_agent(*, ticket: SupportTicket, agent: User) -> None:
    """A newly assigned agent joins the ticket's live chat, if one is open. Caller is in a transaction."""
    if ticket.chat_conversation_id is not None:
        _add_participant(conversation_id=ticket.chat_conversation_id, user=agent)
