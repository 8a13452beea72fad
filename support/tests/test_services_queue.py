"""Tickets nobody has room for: urgent ones alert the staff once, and the queue (oldest urgent first, then
high) is handed out as soon as an agent has capacity again."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from accounts.models import Role
from accounts.tests.factories import UserFactory
from notifications.models import Notification
from notifications.producers import support_ticket_waiting_notify
from support import services
from support.models import (
    AgentAvailability,
    SupportTicket,
    TicketPriority,
    TicketStatus,
    TicketStatusHistory,
)
from support.tasks import sla_monitor

pytestmark = pytest.mark.django_db

START = "2026-11-25 09:00:00+03:00"
WAITING = "support.ticket_waiting"


def _open(customer, priority=TicketPriority.MEDIUM, subject="Help"):
    return services.ticket_create(
        created_by=customer,
        subject=subject,
        description="Fundi hakufika",
        category="booking",
        priority=priority,
    )


def _waiting_alerts():
    return sorted(
        Notification.objects.filter(type=WAITING).values_list("user_id", "data__ticket_id")
    )


@pytest.fixture
def full_desk(customer, support_agent, other_agent):
    """`support_agent` carries one ticket with room for one; `other_agent` is away."""
    AgentAvailability.objects.create(agent=support_agent, max_open_tickets=1)
    AgentAvailability.objects.create(agent=other_agent, is_available=False)
    held = _open(customer, subject="Held")
    assert held.assigned_to == support_agent
    return held


def test_urgent_ticket_nobody_can_take_alerts_every_agent_and_admin_once(
    customer, support_agent, other_agent, admin_user, technician, full_desk,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        urgent = _open(customer, TicketPriority.URGENT)
    assert (urgent.assigned_to, urgent.status) == (None, TicketStatus.OPEN)
    assert urgent.waiting_alert_sent_at is not None
    assert _waiting_alerts() == sorted(
        (user.pk, urgent.pk) for user in (support_agent, other_agent, admin_user)
    )
    alert = Notification.objects.get(type=WAITING, user=support_agent)
    assert alert.title == "Urgent ticket waiting" and urgent.number in alert.body

    # Neither the sweep nor an escalation or another failed assignment announces it again.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.waiting_urgent_tickets_alert() == 0
        services.ticket_escalate(ticket=urgent, actor=support_agent, reason="VIP")
        result = sla_monitor()
    assert (result["queued_assigned"], result["waiting_alerted"]) == (0, 0)
    assert Notification.objects.filter(type=WAITING).count() == 3


def test_only_urgent_tickets_alert(customer, full_desk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        high = _open(customer, TicketPriority.HIGH)
        assert services.waiting_urgent_tickets_alert() == 0
    high.refresh_from_db()
    assert (high.assigned_to, high.waiting_alert_sent_at) == (None, None)
    assert not Notification.objects.filter(type=WAITING).exists()


def test_a_ticket_made_urgent_later_is_announced_by_the_sweep(
    customer, support_agent, other_agent, full_desk, django_capture_on_commit_callbacks
):
    ticket = _open(customer, TicketPriority.LOW)
    services.ticket_change_priority(
        ticket=ticket, priority=TicketPriority.URGENT, actor=support_agent
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_monitor()["waiting_alerted"] == 1
        assert sla_monitor()["waiting_alerted"] == 0
    # Agents who are away hear it too: one of them may come back for it.
    assert _waiting_alerts() == [(support_agent.pk, ticket.pk), (other_agent.pk, ticket.pk)]


def test_an_alert_queued_for_a_ticket_taken_meanwhile_tells_nobody(
    customer, support_agent, full_desk, django_capture_on_commit_callbacks
):
    urgent = _open(customer, TicketPriority.URGENT)  # the alert's task has not run (no commit)
    services.ticket_assign(ticket=urgent, agent=support_agent, actor=support_agent)
    assert support_ticket_waiting_notify(ticket_id=urgent.pk) == []
    assert not Notification.objects.filter(type=WAITING).exists()


def test_resolving_an_agents_ticket_hands_out_oldest_urgent_first_then_high(
    customer, support_agent, full_desk, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False) as traveller:
        medium = _open(customer, TicketPriority.MEDIUM)
        traveller.shift(timedelta(minutes=1))
        high = _open(customer, TicketPriority.HIGH)
        traveller.shift(timedelta(minutes=1))
        first_urgent = _open(customer, TicketPriority.URGENT)
        traveller.shift(timedelta(minutes=1))
        second_urgent = _open(customer, TicketPriority.URGENT)
    assert not SupportTicket.objects.filter(
        pk__in=[medium.pk, high.pk, first_urgent.pk, second_urgent.pk], assigned_to__isnull=False
    ).exists()

    order = []
    current = full_desk
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            services.ticket_change_status(
                ticket=current, to=TicketStatus.RESOLVED, actor=support_agent, resolution="Done"
            )
        current = SupportTicket.objects.get(assigned_to=support_agent, status="assigned")
        order.append(current.pk)
    assert order == [first_urgent.pk, second_urgent.pk, high.pk]
    assert TicketStatusHistory.objects.get(ticket=high, to_status="assigned").note == (
        "auto-assigned from the queue"
    )

    # Medium and low tickets stay in the shared list for agents to pick.
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_close(ticket=current, actor=support_agent, resolution="Refunded")
    medium.refresh_from_db()
    assert (medium.assigned_to, medium.status) == (None, TicketStatus.OPEN)


def test_reassigning_an_agents_ticket_gives_them_the_queued_urgent_ticket(
    customer, support_agent, other_agent, admin_user, full_desk, django_capture_on_commit_callbacks
):
    urgent = _open(customer, TicketPriority.URGENT)
    AgentAvailability.objects.filter(agent=other_agent).update(is_available=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_assign(ticket=full_desk, agent=other_agent, actor=admin_user)
    urgent.refresh_from_db()
    assert (urgent.assigned_to, urgent.status) == (support_agent, TicketStatus.ASSIGNED)


def test_an_agent_back_from_away_takes_the_queue(
    customer, other_agent, full_desk, django_capture_on_commit_callbacks
):
    urgent = _open(customer, TicketPriority.URGENT)
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_availability_update(agent=other_agent, is_available=True)
    urgent.refresh_from_db()
    assert urgent.assigned_to == other_agent


def test_the_beat_job_hands_out_capacity_freed_without_an_event(customer, support_agent, full_desk):
    """Staff raising a limit in the admin (a plain row edit) frees capacity no service saw."""
    with time_machine.travel(START, tick=False) as traveller:
        high = _open(customer, TicketPriority.HIGH)
        traveller.shift(timedelta(minutes=1))
        urgent = _open(customer, TicketPriority.URGENT)
        AgentAvailability.objects.filter(agent=support_agent).update(max_open_tickets=2)
        result = sla_monitor()
    assert result["queued_assigned"] == 1
    urgent.refresh_from_db()
    high.refresh_from_db()
    assert (urgent.assigned_to, high.assigned_to) == (support_agent, None)


def test_nothing_is_handed_out_while_nobody_has_room(customer, full_desk):
    urgent = _open(customer, TicketPriority.URGENT)
    assert services.queued_tickets_assign() == 0
    urgent.refresh_from_db()
    assert urgent.assigned_to is None
    assert not TicketStatusHistory.objects.filter(ticket=urgent, to_status="assigned").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_never_overfill_an_agent():
    customer = UserFactory(email="c@example.co.ke", phone_number="+254711000001")
    agent = UserFactory(
        email="agent@dumuwaks.co.ke", role=Role.SUPPORT, phone_number="+254755000101"
    )
    AgentAvailability.objects.create(agent=agent, is_available=False)
    waiting = [_open(customer, TicketPriority.URGENT) for _ in range(3)]
    AgentAvailability.objects.filter(agent=agent).update(is_available=True, max_open_tickets=2)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def drain():
        try:
            barrier.wait(timeout=5)
            results.append(services.queued_tickets_assign())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [0, 2]
    assigned = SupportTicket.objects.filter(pk__in=[t.pk for t in waiting], assigned_to=agent)
    assert sorted(assigned.values_list("pk", flat=True)) == [waiting[0].pk, waiting[1].pk]
