"""Who works a ticket: least-loaded available agent, serialised by an advisory lock."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, User
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.side_effects import publish_after_commit
from support.chat import ticket_chat_add_agent
from support.errors import (
    InvalidAssignee,
)
from support.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    AgentAvailability,
    SupportTicket,
    TicketStatus,
)
from support.services._common import (
    AGENT_ROLES,
    ASSIGNMENT_LOCK_KEY,
    DEFAULT_MAX_OPEN_TICKETS,
    _record_history,
    _reload,
    _require_staff,
)


def agent_workloads():
    """Active support agents annotated with `open_tickets`, `capacity` and `available` (missing row = available)."""
    return (
        User.objects.filter(role=Role.SUPPORT, is_active=True)
        .annotate(
            open_tickets=Count(
                "assigned_support_tickets",
                filter=Q(assigned_support_tickets__status__in=OPEN_STATUSES),
            ),
            capacity=Coalesce(
                F("support_availability__max_open_tickets"),
                Value(DEFAULT_MAX_OPEN_TICKETS),
                output_field=IntegerField(),
            ),
        )
        .filter(Q(support_availability__isnull=True) | Q(support_availability__is_available=True))
    )


def _pick_agent(*, exclude_ids: tuple[int, ...] = ()) -> User | None:
    """The available agent with the fewest open tickets and spare capacity.

    Caller holds the assignment advisory lock inside its transaction, so the counts it reads include every
    assignment committed before it and no concurrent assignment can read the same counts.
    """
    return (
        agent_workloads()
        .exclude(pk__in=exclude_ids)
        .filter(open_tickets__lt=F("capacity"))
        .order_by("open_tickets", "id")
        .first()
    )


def _lock_assignment() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ASSIGNMENT_LOCK_KEY])


def _auto_assign(*, ticket: SupportTicket, exclude_ids: tuple[int, ...] = ()) -> User | None:
    """Assign `ticket` to the least-loaded available agent. Caller is inside a transaction."""
    _lock_assignment()
    agent = _pick_agent(exclude_ids=exclude_ids)
    if agent is None:
        return None
    _apply_assignment(ticket=ticket, agent=agent, actor=None, note="auto-assigned")
    return agent


def _apply_assignment(*, ticket: SupportTicket, agent: User, actor, note: str) -> None:
    now = timezone.now()
    current = ticket.status
    updates = {"assigned_to": agent, "assigned_at": now, "updated_at": now}
    moves_status = current in (TicketStatus.OPEN, TicketStatus.REOPENED)
    if moves_status:
        updates["status"] = TicketStatus.ASSIGNED
    if SupportTicket.objects.filter(pk=ticket.pk, status=current).update(**updates) == 0:
        raise InvalidTransition("The ticket changed meanwhile; reload and retry.")
    if moves_status:
        _record_history(
            ticket_id=ticket.pk,
            actor=actor,
            from_status=current,
            to_status=TicketStatus.ASSIGNED,
            note=note,
        )
        ticket.status = TicketStatus.ASSIGNED
    ticket.assigned_to = agent
    ticket.assigned_at = now
    ticket_chat_add_agent(ticket=ticket, agent=agent)
    publish_after_commit("support.ticket_assigned", ticket_id=ticket.pk, agent_id=agent.pk)


def ticket_assign(*, ticket: SupportTicket, agent: User | None, actor: User) -> SupportTicket:
    """Assign to `agent`, or to the least-loaded available agent when `agent` is None."""
    _require_staff(actor)
    if ticket.status in FINISHED_STATUSES:
        raise InvalidTransition("Finished tickets cannot be reassigned; reopen first.")
    if agent is not None and not (agent.is_active and agent.role in AGENT_ROLES):
        raise InvalidAssignee()
    with transaction.atomic():
        if agent is None:
            if _auto_assign(ticket=ticket) is None:
                raise InvalidAssignee("No support agent is available right now.")
        else:
            _apply_assignment(ticket=ticket, agent=agent, actor=actor, note="assigned")
    return _reload(ticket)


def agent_availability_update(
    *, agent: User, is_available: bool | None = None, max_open_tickets: int | None = None
) -> AgentAvailability:
    _require_staff(agent)
    defaults = {}
    if is_available is not None:
        defaults["is_available"] = is_available
    if max_open_tickets is not None:
        defaults["max_open_tickets"] = max_open_tickets
    availability, _ = AgentAvailability.objects.update_or_create(agent=agent, defaults=defaults)
    return availability
