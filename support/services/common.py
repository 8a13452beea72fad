"""Helpers shared by the support services."""

from __future__ import annotations

import logging

from accounts.models import Role
from dumuwaks.core.permissions import is_staff_member
from support.errors import (
    TicketStaffOnly,
)
from support.models import (
    SupportTicket,
    TicketPriority,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_OPEN_TICKETS = 20
# pg_advisory_xact_lock key serialising auto-assignment (arbitrary constant, "SUPP").
ASSIGNMENT_LOCK_KEY = 0x53555050
AGENT_ROLES = (Role.SUPPORT, Role.ADMIN)
# Unassigned tickets of these priorities are handed out as soon as an agent has room, in this order (oldest
# first within a priority); lower priorities stay in the shared unassigned list for agents to pick.
QUEUED_PRIORITIES = (TicketPriority.URGENT, TicketPriority.HIGH)
# Tickets one drain of the queue assigns at most (the next capacity change or beat run takes the rest).
QUEUE_BATCH_SIZE = 200


def require_staff_member(user) -> None:
    """Refuse (`TicketStaffOnly`) a desk action by anyone but a support agent or an admin."""
    if not is_staff_member(user):
        raise TicketStaffOnly()


def history_actor(actor):
    """Who a history row names: None for the system (and for an anonymous caller)."""
    return actor if actor is not None and actor.is_authenticated else None


def ticket_reload(ticket: SupportTicket) -> SupportTicket:
    """The ticket read again with the relations its output renders: what every ticket service returns."""
    return SupportTicket.objects.select_related("created_by", "assigned_to", "related_booking").get(
        pk=ticket.pk
    )
