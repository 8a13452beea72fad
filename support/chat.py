"""Live chat for a ticket through the notifications app's conversations."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from support.errors import ChatUnavailable
from support.models import SupportTicket


def _conversation_create_support():
    try:
        from notifications.services.chat import conversation_create_support
    except ImportError:  # the chat service is not deployed in this build
        return None
    return conversation_create_support


def ticket_chat_open(*, ticket: SupportTicket, actor: User) -> int:
    """Return the ticket's support conversation id, creating it on first use.

    The ticket row is locked so two clients opening chat at once get the same conversation.
    """
    if ticket.chat_conversation_id is not None:
        return ticket.chat_conversation_id
    create = _conversation_create_support()
    if create is None:
        raise ChatUnavailable()
    with transaction.atomic():
        locked = SupportTicket.objects.select_for_update().get(pk=ticket.pk)
        if locked.chat_conversation_id is not None:
            return locked.chat_conversation_id
        conversation = create(
            customer=locked.created_by,
            agent=locked.assigned_to,
            subject=f"{locked.number}: {locked.subject}",
        )
        conversation_id = getattr(conversation, "pk", conversation)
        SupportTicket.objects.filter(pk=locked.pk).update(chat_conversation_id=conversation_id)
    return conversation_id
