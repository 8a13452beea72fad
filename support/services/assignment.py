"""Who works a ticket: least-loaded available agent, serialised by an advisory lock.

When nobody has room, urgent and high tickets wait in a queue that is drained as soon as capacity frees (a
ticket of an agent resolved, closed or reassigned, an agent back or given more room) and by the SLA beat job:
oldest urgent first, then oldest high. An urgent ticket that waits alerts every support agent and admin once.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, User
from dumuwaks.core import events
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.side_effects import enqueue_after_commit, publish_after_commit
from dumuwaks.core.state_machine import transition
from support.chat import ticket_chat_add_agent
from support.errors import (
    InvalidAssignee,
)
from support.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    TICKET_MACHINE,
    AgentAvailability,
    SupportTicket,
    TicketPriority,
    TicketStatus,
)
from support.services.common import (
    AGENT_ROLES,
    ASSIGNMENT_LOCK_KEY,
    DEFAULT_MAX_OPEN_TICKETS,
    QUEUE_BATCH_SIZE,
    QUEUED_PRIORITIES,
    history_actor,
    require_staff_member,
    ticket_reload,
)


def agent_workloads():
    """Active support agents annotated with `open_tickets`, `capacity` (their `max_open_tickets`, None without
    an availability row, or the default) and `available` (missing row = available)."""
    return (
        User.objects.filter(role=Role.SUPPORT, is_active=True)
        .annotate(
            # Grouped by the bare column so `capacity` (COALESCE with a bound default) may appear in HAVING:
            # with server-side binding each COALESCE gets its own $n, which PostgreSQL cannot match to the
            # GROUP BY expression, but it accepts any expression of a grouped column.
            max_open_tickets=F("support_availability__max_open_tickets"),
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


def _apply_assignment(
    *, ticket: SupportTicket, agent: User, actor, note: str, only_if_unassigned: bool = False
) -> None:
    now = timezone.now()
    current = ticket.status
    updates = {"assigned_to": agent, "assigned_at": now}
    expect = {"assigned_to_id": None} if only_if_unassigned else {}
    if current in (TicketStatus.OPEN, TicketStatus.REOPENED):
        # Assigning an open ticket moves it to `assigned`: a status change like any other.
        transition(
            machine=TICKET_MACHINE,
            instance=ticket,
            to=TicketStatus.ASSIGNED,
            actor=history_actor(actor),
            note=note,
            fields=updates,
            expect=expect,
        )
    else:
        guard = SupportTicket.objects.filter(pk=ticket.pk, status=current, **expect)
        if guard.update(updated_at=now, **updates) == 0:
            raise InvalidTransition("The ticket changed meanwhile; reload and retry.")
    ticket.assigned_to = agent
    ticket.assigned_at = now
    ticket_chat_add_agent(ticket=ticket, agent=agent)
    publish_after_commit(events.SupportTicketAssigned(ticket_id=ticket.pk, agent_id=agent.pk))


def ticket_assign_or_alert(
    *, ticket: SupportTicket, exclude_ids: tuple[int, ...] = ()
) -> User | None:
    """Auto-assign `ticket`; an urgent ticket nobody can take alerts the staff. Caller is in a transaction."""
    agent = _auto_assign(ticket=ticket, exclude_ids=exclude_ids)
    if agent is None:
        _waiting_alert(ticket_id=ticket.pk)
    return agent


def _waiting_alert(*, ticket_id: int) -> bool:
    """Flag an urgent, open, unassigned ticket as announced and tell the staff, once per ticket.

    The guarded UPDATE (`waiting_alert_sent_at IS NULL`) makes repeated or concurrent calls announce it once.
    """
    flagged = SupportTicket.objects.filter(
        pk=ticket_id,
        priority=TicketPriority.URGENT,
        status__in=OPEN_STATUSES,
        assigned_to__isnull=True,
        waiting_alert_sent_at__isnull=True,
    ).update(waiting_alert_sent_at=timezone.now())
    if flagged:
        publish_after_commit(events.SupportTicketWaiting(ticket_id=ticket_id))
    return bool(flagged)


def queued_tickets_assign_after_commit() -> None:
    """An agent may have room now: drain the queue once the caller's transaction commits."""
    from support.tasks import assign_queued_tickets  # cycle: support.tasks imports these services

    enqueue_after_commit(assign_queued_tickets)


def queued_tickets_assign(*, limit: int = QUEUE_BATCH_SIZE) -> int:
    """Hand waiting urgent, then high, tickets (oldest first in each) to the least-loaded agents with room.

    Runs under the assignment advisory lock, so its counts include every committed assignment; tickets are
    locked with SKIP LOCKED and assigned only while still unassigned. Returns how many were assigned.
    """
    assigned = 0
    with transaction.atomic():
        _lock_assignment()
        waiting = (
            SupportTicket.objects.filter(
                assigned_to__isnull=True,
                status__in=OPEN_STATUSES,
                priority__in=QUEUED_PRIORITIES,
            )
            .annotate(
                queue_rank=Case(
                    *(When(priority=p, then=Value(i)) for i, p in enumerate(QUEUED_PRIORITIES)),
                    output_field=IntegerField(),
                )
            )
            .order_by("queue_rank", "created_at", "id")
            .select_for_update(skip_locked=True)[:limit]
        )
        for ticket in waiting:
            agent = _pick_agent()
            if agent is None:
                break
            try:
                _apply_assignment(
                    ticket=ticket,
                    agent=agent,
                    actor=None,
                    note="auto-assigned from the queue",
                    only_if_unassigned=True,
                )
            except InvalidTransition:
                continue
            assigned += 1
    return assigned


def waiting_urgent_tickets_alert() -> int:
    """Alert the staff about every urgent ticket still waiting for an agent that was not announced yet."""
    ids = list(
        SupportTicket.objects.filter(
            priority=TicketPriority.URGENT,
            status__in=OPEN_STATUSES,
            assigned_to__isnull=True,
            waiting_alert_sent_at__isnull=True,
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    alerted = 0
    for ticket_id in ids:
        with transaction.atomic():
            alerted += _waiting_alert(ticket_id=ticket_id)
    return alerted


def ticket_assign(*, ticket: SupportTicket, agent: User | None, actor: User) -> SupportTicket:
    """Assign to `agent`, or to the least-loaded available agent when `agent` is None.

    Taking a ticket away from another agent gives that agent room for a queued ticket.
    """
    require_staff_member(actor)
    if ticket.status in FINISHED_STATUSES:
        raise InvalidTransition("Finished tickets cannot be reassigned; reopen first.")
    if agent is not None and not (agent.is_active and agent.role in AGENT_ROLES):
        raise InvalidAssignee()
    previous_agent_id = ticket.assigned_to_id
    with transaction.atomic():
        if agent is None:
            agent = _auto_assign(ticket=ticket)
            if agent is None:
                raise InvalidAssignee("No support agent is available right now.")
        else:
            _apply_assignment(ticket=ticket, agent=agent, actor=actor, note="assigned")
        if previous_agent_id is not None and previous_agent_id != agent.pk:
            queued_tickets_assign_after_commit()
    return ticket_reload(ticket)


def agent_availability_update(
    *, agent: User, is_available: bool | None = None, max_open_tickets: int | None = None
) -> AgentAvailability:
    require_staff_member(agent)
    defaults = {}
    if is_available is not None:
        defaults["is_available"] = is_available
    if max_open_tickets is not None:
        defaults["max_open_tickets"] = max_open_tickets
    with transaction.atomic():
        availability, _ = AgentAvailability.objects.update_or_create(agent=agent, defaults=defaults)
        if availability.is_available:
            queued_tickets_assign_after_commit()
    return availability
