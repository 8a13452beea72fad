import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.tests.factories import BookingFactory
from dumuwaks.core.errors import InvalidTransition
from support import services
from support.errors import (
    InternalNoteStaffOnly,
    RelatedBookingNotFound,
    TicketAlreadyRated,
    TicketClosed,
    TicketCreatorOnly,
    TicketNotFinished,
    TicketStaffOnly,
)
from support.models import (
    AgentAvailability,
    SupportTicket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketStatusHistory,
)

pytestmark = pytest.mark.django_db


def _create(user, **kwargs):
    defaults = {
        "subject": "Technician never arrived",
        "description": "Booked for 10am, nobody came.",
        "category": "booking",
    }
    return services.ticket_create(created_by=user, **{**defaults, **kwargs})


def test_create_numbers_from_sequence_and_stores_sla_deadlines(customer):
    with time_machine.travel("2026-11-25 09:00:00+03:00", tick=False):
        first = _create(customer, priority=TicketPriority.URGENT)
        second = _create(customer, priority=TicketPriority.LOW)
    assert re.fullmatch(r"TKT-2611-\d{6}", first.number)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1
    assert first.first_response_due_at - first.created_at == timedelta(minutes=15)
    assert first.resolution_due_at - first.created_at == timedelta(minutes=120)
    assert second.first_response_due_at - second.created_at == timedelta(minutes=120)
    assert second.resolution_due_at - second.created_at == timedelta(minutes=1440)
    assert first.status == TicketStatus.OPEN
    assert first.assigned_to is None  # no agents exist
    history = list(TicketStatusHistory.objects.filter(ticket=first).values_list("to_status"))
    assert history == [(TicketStatus.OPEN,)]


def test_create_auto_assigns_to_least_loaded_available_agent(customer, support_agent, other_agent):
    busy = _create(customer)
    assert busy.assigned_to == support_agent  # tie on zero load → lowest id
    assert busy.status == TicketStatus.ASSIGNED
    nxt = _create(customer)
    assert nxt.assigned_to == other_agent
    AgentAvailability.objects.create(agent=other_agent, is_available=False)
    third = _create(customer)
    assert third.assigned_to == support_agent
    assert list(
        TicketStatusHistory.objects.filter(ticket=busy).values_list("from_status", "to_status")
    ) == [("", "open"), ("open", "assigned")]


def test_agent_at_capacity_gets_no_more_tickets(customer, support_agent):
    AgentAvailability.objects.create(agent=support_agent, max_open_tickets=1)
    assert _create(customer).assigned_to == support_agent
    second = _create(customer)
    assert second.assigned_to is None
    assert second.status == TicketStatus.OPEN


def test_related_booking_must_belong_to_the_customer(customer, other_customer):
    booking = BookingFactory(customer=customer)
    ticket = _create(customer, related_booking_id=booking.pk)
    assert ticket.related_booking == booking

    with pytest.raises(RelatedBookingNotFound):
        _create(other_customer, related_booking_id=booking.pk)
    assert SupportTicket.objects.filter(created_by=other_customer).count() == 0


def test_transition_guard_rejects_disallowed_and_stale_moves(customer, support_agent):
    ticket = _create(customer)
    with pytest.raises(InvalidTransition):
        services.ticket_transition(ticket=ticket, to=TicketStatus.REOPENED, actor=support_agent)
    stale = SupportTicket.objects.get(pk=ticket.pk)
    services.ticket_transition(ticket=ticket, to=TicketStatus.IN_PROGRESS, actor=support_agent)
    with pytest.raises(InvalidTransition):  # stale copy still thinks it is assigned
        services.ticket_transition(ticket=stale, to=TicketStatus.IN_PROGRESS, actor=support_agent)
    assert TicketStatusHistory.objects.filter(ticket=ticket, to_status="in_progress").count() == 1


def test_first_public_staff_reply_records_first_response_sla(customer, support_agent):
    with time_machine.travel("2026-11-25 09:00:00+03:00", tick=False) as traveller:
        ticket = _create(customer, priority=TicketPriority.HIGH)
        services.ticket_message_create(
            ticket=ticket, author=support_agent, body="checking", is_internal=True
        )
        ticket.refresh_from_db()
        assert ticket.first_responded_at is None  # internal notes are not a response
        traveller.shift(timedelta(minutes=20))
        services.ticket_message_create(ticket=ticket, author=support_agent, body="On it")
        traveller.shift(timedelta(minutes=30))
        services.ticket_message_create(ticket=ticket, author=support_agent, body="Still on it")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == ticket.created_at + timedelta(minutes=20)
    assert ticket.sla_first_response_met is True


def test_late_first_reply_marks_sla_missed(customer, support_agent):
    with time_machine.travel("2026-11-25 09:00:00+03:00", tick=False) as traveller:
        ticket = _create(customer, priority=TicketPriority.URGENT)
        traveller.shift(timedelta(minutes=16))
        services.ticket_message_create(ticket=ticket, author=support_agent, body="Sorry")
    ticket.refresh_from_db()
    assert ticket.sla_first_response_met is False


def test_customer_cannot_write_internal_notes_or_post_on_closed(customer, support_agent):
    ticket = _create(customer)
    with pytest.raises(InternalNoteStaffOnly):
        services.ticket_message_create(ticket=ticket, author=customer, body="x", is_internal=True)
    services.ticket_close(ticket=ticket, actor=support_agent, resolution="Refunded")
    ticket.refresh_from_db()
    with pytest.raises(TicketClosed):
        services.ticket_message_create(ticket=ticket, author=customer, body="hello?")
    assert TicketMessage.objects.filter(ticket=ticket).count() == 0


def test_customer_reply_moves_waiting_ticket_back_in_progress(customer, support_agent):
    ticket = _create(customer)
    ticket = services.ticket_change_status(
        ticket=ticket, to=TicketStatus.WAITING_CUSTOMER, actor=support_agent
    )
    services.ticket_message_create(ticket=ticket, author=customer, body="Here is the receipt")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS


def test_resolution_sla_and_reopen_restart_the_clock(customer, support_agent):
    with time_machine.travel("2026-11-25 09:00:00+03:00", tick=False) as traveller:
        ticket = _create(customer, priority=TicketPriority.URGENT)
        traveller.shift(timedelta(minutes=100))
        ticket = services.ticket_change_status(
            ticket=ticket, to=TicketStatus.RESOLVED, actor=support_agent, resolution="Pipe fixed"
        )
        assert ticket.sla_resolution_met is True
        assert ticket.resolved_at is not None
        traveller.shift(timedelta(hours=1))
        ticket = services.ticket_reopen(ticket=ticket, actor=customer, note="Leak is back")
        assert ticket.status == TicketStatus.REOPENED
        assert ticket.resolved_at is None
        assert ticket.sla_resolution_met is None
        assert ticket.resolution_due_at == timezone.now() + timedelta(minutes=120)
        assert ticket.assigned_to == support_agent
        traveller.shift(timedelta(minutes=121))
        ticket = services.ticket_close(ticket=ticket, actor=support_agent, resolution="Fixed")
    assert ticket.sla_resolution_met is False
    assert ticket.resolution == "Fixed"
    assert ticket.closed_at is not None


def test_priority_change_recomputes_deadlines_from_sla_start(customer, support_agent):
    ticket = _create(customer, priority=TicketPriority.LOW)
    ticket = services.ticket_change_priority(
        ticket=ticket, priority=TicketPriority.URGENT, actor=support_agent
    )
    assert ticket.first_response_due_at == ticket.sla_started_at + timedelta(minutes=15)
    assert ticket.resolution_due_at == ticket.sla_started_at + timedelta(minutes=120)
    with pytest.raises(TicketStaffOnly):
        services.ticket_change_priority(ticket=ticket, priority="low", actor=customer)


def test_escalate_bumps_level_and_priority_and_reassigns_away_agent(
    customer, support_agent, other_agent
):
    ticket = _create(customer, priority=TicketPriority.MEDIUM)
    assert ticket.assigned_to == support_agent
    AgentAvailability.objects.create(agent=support_agent, is_available=False)
    ticket = services.ticket_escalate(ticket=ticket, actor=other_agent, reason="VIP")
    assert ticket.escalation_level == 1
    assert ticket.priority == TicketPriority.HIGH
    assert ticket.assigned_to == other_agent
    assert TicketMessage.objects.get(ticket=ticket, is_internal=True).body.startswith(
        "Escalated to level 1"
    )


def test_rate_only_creator_after_finish_once(customer, other_customer, support_agent):
    ticket = _create(customer)
    with pytest.raises(TicketNotFinished):
        services.ticket_rate(ticket=ticket, actor=customer, rating=5)
    ticket = services.ticket_close(ticket=ticket, actor=customer, resolution="Sorted myself")
    with pytest.raises(TicketCreatorOnly):
        services.ticket_rate(ticket=ticket, actor=other_customer, rating=1)
    with pytest.raises(TicketCreatorOnly):
        services.ticket_rate(ticket=ticket, actor=support_agent, rating=5)
    ticket = services.ticket_rate(ticket=ticket, actor=customer, rating=4, comment="Quick")
    assert (ticket.csat_rating, ticket.csat_comment) == (4, "Quick")
    with pytest.raises(TicketAlreadyRated):
        services.ticket_rate(ticket=ticket, actor=customer, rating=1)
    ticket.refresh_from_db()
    assert ticket.csat_rating == 4


def test_reply_publishes_event_after_commit(
    customer, support_agent, django_capture_on_commit_callbacks, domain_events
):
    ticket = _create(customer)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.ticket_message_create(ticket=ticket, author=support_agent, body="Hi")
        services.ticket_message_create(
            ticket=ticket, author=support_agent, body="note", is_internal=True
        )
    replies = [payload for name, payload in domain_events if name == "support.ticket_replied"]
    assert replies == [{"ticket_id": ticket.pk, "message_id": message.pk}]


def test_lifecycle_events_are_published_after_commit(
    customer, support_agent, django_capture_on_commit_callbacks, domain_events
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _create(customer)
        services.ticket_escalate(ticket=ticket, actor=support_agent)
    assert domain_events == [
        ("support.ticket_assigned", {"ticket_id": ticket.pk, "agent_id": support_agent.pk}),
        ("support.ticket_escalated", {"ticket_id": ticket.pk, "level": 1}),
    ]
