"""Ticket lifecycle: creation, the status workflow, priority/escalation, messages and CSAT."""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking
from dumuwaks.core import events
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from payments.models import Payment
from support.errors import (
    InternalNoteStaffOnly,
    RelatedBookingNotFound,
    RelatedPaymentNotFound,
    ResolutionRequired,
    TicketAlreadyRated,
    TicketClosed,
    TicketCreatorOnly,
    TicketNotFinished,
)
from support.models import (
    FINISHED_STATUSES,
    PRIORITY_BUMP,
    TICKET_MACHINE,
    AgentAvailability,
    SupportTicket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from support.numbering import next_ticket_number
from support.services.assignment import queued_tickets_assign_after_commit, ticket_assign_or_alert
from support.services.common import (
    history_actor,
    require_staff_member,
    ticket_reload,
)
from support.sla import sla_deadlines


def ticket_create(
    *,
    created_by: User,
    subject: str,
    description: str,
    category: str,
    priority: str = TicketPriority.MEDIUM,
    related_booking_id: int | None = None,
    related_payment_id: int | None = None,
    related_transaction_ref: str = "",
    attachments: list | None = None,
) -> SupportTicket:
    if related_booking_id is not None:
        bookings = Booking.objects.filter(pk=related_booking_id)
        if not is_staff_member(created_by):
            bookings = bookings.filter(Q(customer=created_by) | Q(technician=created_by))
        if not bookings.exists():
            raise RelatedBookingNotFound(
                fields={"related_booking_id": [RelatedBookingNotFound.message]}
            )
    if related_payment_id is not None:
        payments = Payment.objects.filter(pk=related_payment_id)
        if not is_staff_member(created_by):
            payments = payments.filter(Q(payer=created_by) | Q(booking__customer=created_by))
        if not payments.exists():
            raise RelatedPaymentNotFound(
                fields={"related_payment_id": [RelatedPaymentNotFound.message]}
            )
    now = timezone.now()
    first_due, resolution_due = sla_deadlines(priority=priority, started_at=now)
    with transaction.atomic():
        ticket = SupportTicket.objects.create(
            number=next_ticket_number(now),
            subject=subject,
            description=description,
            category=category,
            priority=priority,
            created_by=created_by,
            related_booking_id=related_booking_id,
            related_payment_id=related_payment_id,
            related_transaction_ref=related_transaction_ref,
            sla_started_at=now,
            first_response_due_at=first_due,
            resolution_due_at=resolution_due,
        )
        status_history_append(
            machine=TICKET_MACHINE,
            instance=ticket,
            from_status="",
            to_status=TicketStatus.OPEN,
            actor=history_actor(created_by),
        )
        if attachments:
            TicketMessage.objects.create(
                ticket=ticket, author=created_by, body=description, attachments=attachments
            )
        ticket_assign_or_alert(ticket=ticket)
    return ticket_reload(ticket)


def ticket_transition(
    *,
    ticket: SupportTicket,
    to: str,
    actor: User | None,
    note: str = "",
    resolution: str = "",
    extra_updates: dict | None = None,
) -> SupportTicket:
    """The one place a ticket's status changes: guarded on the current status, with a history row.

    Resolving/closing stamps `resolved_at`/`closed_at` and records whether the resolution SLA was met. A ticket
    only finishes with a resolution: moving it from a working status to resolved/closed needs `resolution`
    (ResolutionRequired otherwise); resolved -> closed keeps the recorded one unless a new one is given. The
    history row's note carries the resolution given, so a later one (after a reopen) does not erase it.
    """
    current = ticket.status
    if not TICKET_MACHINE.allows(current, to):  # refused before a resolution is asked for
        raise InvalidTransition(f"A ticket cannot go from {current} to {to}.")
    resolution = resolution.strip()
    now = timezone.now()
    updates: dict = dict(extra_updates or {})
    if to in FINISHED_STATUSES:
        if resolution:
            updates["resolution"] = resolution
            note = "\n".join(part for part in (note.strip(), f"Resolution: {resolution}") if part)
        elif current not in FINISHED_STATUSES or not ticket.resolution.strip():
            raise ResolutionRequired()
        if ticket.resolved_at is None:
            updates["resolved_at"] = now
            if ticket.sla_resolution_met is None:
                updates["sla_resolution_met"] = now <= ticket.resolution_due_at
    if to == TicketStatus.CLOSED:
        updates["closed_at"] = now
    with transaction.atomic():
        transition(
            machine=TICKET_MACHINE,
            instance=ticket,
            to=to,
            actor=history_actor(actor),
            note=note,
            fields=updates,
        )
        if current not in FINISHED_STATUSES and to in FINISHED_STATUSES and ticket.assigned_to_id:
            queued_tickets_assign_after_commit()
    return ticket_reload(ticket)


def ticket_change_status(
    *, ticket: SupportTicket, to: str, actor: User, note: str = "", resolution: str = ""
):
    """Staff moving a ticket along the workflow (reopen has its own service); resolving needs a resolution."""
    require_staff_member(actor)
    if to == TicketStatus.REOPENED:
        return ticket_reopen(ticket=ticket, actor=actor, note=note)
    return ticket_transition(ticket=ticket, to=to, actor=actor, note=note, resolution=resolution)


def ticket_close(*, ticket: SupportTicket, actor: User, resolution: str) -> SupportTicket:
    if not (is_staff_member(actor) or ticket.created_by_id == actor.pk):
        raise TicketCreatorOnly()
    return ticket_transition(
        ticket=ticket, to=TicketStatus.CLOSED, actor=actor, resolution=resolution
    )


def ticket_reopen(*, ticket: SupportTicket, actor: User, note: str = "") -> SupportTicket:
    """Restart the SLA clock: new deadlines from now, resolution outcome cleared, agent kept if present."""
    if not (is_staff_member(actor) or ticket.created_by_id == actor.pk):
        raise TicketCreatorOnly()
    now = timezone.now()
    _, resolution_due = sla_deadlines(priority=ticket.priority, started_at=now)
    updates = {
        "sla_started_at": now,
        "resolution_due_at": resolution_due,
        "resolved_at": None,
        "closed_at": None,
        "sla_resolution_met": None,
    }
    with transaction.atomic():
        ticket = ticket_transition(
            ticket=ticket,
            to=TicketStatus.REOPENED,
            actor=actor,
            note=note,
            extra_updates=updates,
        )
        if ticket.assigned_to_id is None:
            ticket_assign_or_alert(ticket=ticket)
    return ticket_reload(ticket)


def ticket_change_priority(*, ticket: SupportTicket, priority: str, actor: User) -> SupportTicket:
    require_staff_member(actor)
    _set_priority(ticket=ticket, priority=priority)
    return ticket_reload(ticket)


def _set_priority(*, ticket: SupportTicket, priority: str, **extra) -> int:
    """Deadlines follow the priority: recomputed from the SLA start whenever it changes."""
    first_due, resolution_due = sla_deadlines(priority=priority, started_at=ticket.sla_started_at)
    return SupportTicket.objects.filter(pk=ticket.pk).update(
        priority=priority,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
        updated_at=timezone.now(),
        **extra,
    )


def ticket_escalate(
    *, ticket: SupportTicket, actor: User | None, reason: str = ""
) -> SupportTicket:
    """Raise the escalation level and the priority; hand the ticket to an agent who can take it.

    `actor` None means the SLA monitor. A ticket with no agent, or whose agent has gone away, is reassigned to
    the least-loaded available agent (another one than the current).
    """
    if actor is not None:
        require_staff_member(actor)
    if ticket.status in FINISHED_STATUSES:
        raise InvalidTransition("Finished tickets cannot be escalated.")
    now = timezone.now()
    with transaction.atomic():
        ticket = SupportTicket.objects.select_for_update().get(pk=ticket.pk)
        _set_priority(
            ticket=ticket,
            priority=PRIORITY_BUMP[ticket.priority],
            escalation_level=F("escalation_level") + 1,
            last_escalated_at=now,
        )
        ticket.refresh_from_db()
        agent = ticket.assigned_to
        agent_away = agent is not None and (
            not agent.is_active
            or AgentAvailability.objects.filter(agent=agent, is_available=False).exists()
        )
        if agent is None or agent_away:
            exclude = (agent.pk,) if agent is not None else ()
            ticket_assign_or_alert(ticket=ticket, exclude_ids=exclude)
        TicketMessage.objects.create(
            ticket=ticket,
            author=actor,
            body=f"Escalated to level {ticket.escalation_level}. {reason}".strip(),
            is_internal=True,
        )
        publish_after_commit(
            events.SupportTicketEscalated(ticket_id=ticket.pk, level=ticket.escalation_level)
        )
    return ticket_reload(ticket)


def ticket_message_create(
    *,
    ticket: SupportTicket,
    author: User,
    body: str,
    is_internal: bool = False,
    attachments: list | None = None,
) -> TicketMessage:
    """A reply or an internal note. The first public staff reply stops the first-response SLA clock; a
    customer's reply to a ticket waiting on them puts it back in progress."""
    staff = is_staff_member(author)
    if is_internal and not staff:
        raise InternalNoteStaffOnly()
    if ticket.status == TicketStatus.CLOSED:
        raise TicketClosed()
    now = timezone.now()
    with transaction.atomic():
        message = TicketMessage.objects.create(
            ticket=ticket,
            author=author,
            body=body,
            is_internal=is_internal,
            attachments=attachments or [],
        )
        if staff and not is_internal and ticket.created_by_id != author.pk:
            SupportTicket.objects.filter(pk=ticket.pk, first_responded_at__isnull=True).update(
                first_responded_at=now,
                sla_first_response_met=Coalesce(
                    F("sla_first_response_met"), Value(now <= ticket.first_response_due_at)
                ),
                updated_at=now,
            )
        elif not staff and ticket.status == TicketStatus.WAITING_CUSTOMER:
            # If someone moved the ticket meanwhile, the reply still stands.
            with contextlib.suppress(InvalidTransition):
                ticket_transition(
                    ticket=ticket,
                    to=TicketStatus.IN_PROGRESS,
                    actor=author,
                    note="customer replied",
                )
        if not is_internal:
            publish_after_commit(
                events.SupportTicketReplied(ticket_id=ticket.pk, message_id=message.pk)
            )
    return message


def ticket_rate(*, ticket: SupportTicket, actor: User, rating: int, comment: str = ""):
    if ticket.created_by_id != actor.pk:
        raise TicketCreatorOnly()
    if ticket.status not in FINISHED_STATUSES:
        raise TicketNotFinished()
    updated = SupportTicket.objects.filter(
        pk=ticket.pk, csat_rating__isnull=True, status__in=FINISHED_STATUSES
    ).update(
        csat_rating=rating,
        csat_comment=comment,
        rated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if updated == 0:
        raise TicketAlreadyRated()
    return ticket_reload(ticket)
