"""SLA monitor: breaches flagged once, escalated, with frozen time."""

from datetime import timedelta

import pytest
import time_machine

from dumuwaks.celery import collect_beat_schedule
from support import services
from support.models import AgentAvailability, SupportTicket, TicketPriority, TicketStatus
from support.tasks import sla_monitor

pytestmark = pytest.mark.django_db

START = "2026-11-25 09:00:00+03:00"
NONE = {"queued_assigned": 0, "waiting_alerted": 0}


def _ticket(customer, priority):
    return services.ticket_create(
        created_by=customer,
        subject="Card charged twice",
        description="Two charges for one booking.",
        category="billing",
        priority=priority,
    )


def test_nothing_is_flagged_before_the_deadline(customer):
    with time_machine.travel(START, tick=False) as traveller:
        ticket = _ticket(customer, TicketPriority.URGENT)
        traveller.shift(timedelta(minutes=14, seconds=59))
        assert sla_monitor() == {
            "first_response_breached": 0,
            "resolution_breached": 0,
            "escalated": 0,
            "queued_assigned": 0,
            "waiting_alerted": 0,  # announced when it was opened with no agent at all
        }
    ticket.refresh_from_db()
    assert ticket.sla_first_response_met is None
    assert ticket.escalation_level == 0


def test_first_response_breach_is_flagged_and_escalated_once(customer, support_agent, other_agent):
    with time_machine.travel(START, tick=False) as traveller:
        ticket = _ticket(customer, TicketPriority.HIGH)
        assert ticket.assigned_to == support_agent
        AgentAvailability.objects.create(agent=support_agent, is_available=False)
        traveller.shift(timedelta(minutes=31))
        first = sla_monitor()
        second = sla_monitor()
    assert first == {"first_response_breached": 1, "resolution_breached": 0, "escalated": 1, **NONE}
    assert second == {
        "first_response_breached": 0,
        "resolution_breached": 0,
        "escalated": 0,
        **NONE,
    }
    ticket.refresh_from_db()
    assert ticket.sla_first_response_met is False
    assert ticket.sla_resolution_met is None
    assert ticket.escalation_level == 1
    assert ticket.priority == TicketPriority.URGENT
    assert ticket.assigned_to == other_agent  # the away agent's ticket moved
    # A late reply afterwards does not turn a recorded miss into a hit.
    services.ticket_message_create(ticket=ticket, author=other_agent, body="Sorry for the wait")
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert ticket.sla_first_response_met is False


def test_resolution_breach_after_timely_response(customer, support_agent):
    with time_machine.travel(START, tick=False) as traveller:
        ticket = _ticket(customer, TicketPriority.URGENT)
        traveller.shift(timedelta(minutes=5))
        services.ticket_message_create(ticket=ticket, author=support_agent, body="Looking")
        traveller.shift(timedelta(minutes=116))
        result = sla_monitor()
    assert result == {
        "first_response_breached": 0,
        "resolution_breached": 1,
        "escalated": 1,
        **NONE,
    }
    ticket.refresh_from_db()
    assert ticket.sla_first_response_met is True
    assert ticket.sla_resolution_met is False
    assert ticket.escalation_level == 1
    assert ticket.priority == TicketPriority.URGENT  # already at the top


def test_finished_tickets_are_never_flagged(customer, support_agent):
    with time_machine.travel(START, tick=False) as traveller:
        ticket = _ticket(customer, TicketPriority.URGENT)
        services.ticket_close(ticket=ticket, actor=customer, resolution="never mind")
        traveller.shift(timedelta(days=2))
        sla_monitor()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.escalation_level == 0
    assert ticket.sla_first_response_met is None
    assert SupportTicket.objects.filter(escalation_level__gt=0).count() == 0


def test_beat_schedule_registers_the_monitor():
    assert collect_beat_schedule()["support-sla-monitor"]["task"] == "support.sla_monitor"
