"""The ticket admin without a browser: changelist, search/filters and the service-backed actions."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from support import services
from support.models import AgentAvailability, SupportTicket, TicketStatus

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/support/supportticket/"


@pytest.fixture
def staff_browser(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def ticket(customer, support_agent):
    AgentAvailability.objects.create(agent=support_agent, is_available=False)
    return services.ticket_create(
        created_by=customer, subject="Refund", description="Please", category="payment"
    )


def test_changelist_search_and_filters_render(staff_browser, ticket):
    for query in ("", f"?q={ticket.number}", "?status__exact=open", "?priority__exact=medium"):
        response = staff_browser.get(CHANGELIST + query)
        assert response.status_code == 200
        assert ticket.number in response.content.decode()
    detail = staff_browser.get(f"{CHANGELIST}{ticket.pk}/change/")
    assert detail.status_code == 200


def test_assign_action_uses_the_service(staff_browser, ticket, support_agent):
    form = staff_browser.post(
        CHANGELIST, {"action": "assign_tickets", ACTION_CHECKBOX_NAME: [ticket.pk]}
    )
    assert form.status_code == 200 and b"Apply" in form.content
    staff_browser.post(
        CHANGELIST,
        {
            "action": "assign_tickets",
            ACTION_CHECKBOX_NAME: [ticket.pk],
            "agent": support_agent.pk,
            "apply": "Apply",
        },
    )
    ticket.refresh_from_db()
    assert ticket.assigned_to == support_agent
    assert ticket.status == TicketStatus.ASSIGNED
    assert ticket.status_history.last().to_status == TicketStatus.ASSIGNED


def test_status_action_reports_invalid_transitions(staff_browser, ticket):
    services.ticket_close(ticket=ticket, actor=ticket.created_by, resolution="done")
    response = staff_browser.post(
        CHANGELIST,
        {
            "action": "change_status",
            ACTION_CHECKBOX_NAME: [ticket.pk],
            "status": TicketStatus.IN_PROGRESS,
            "note": "",
            "apply": "Apply",
        },
        follow=True,
    )
    assert "cannot go from closed to in_progress" in response.content.decode()
    assert SupportTicket.objects.get(pk=ticket.pk).status == TicketStatus.CLOSED


def test_escalate_action(staff_browser, ticket):
    staff_browser.post(
        CHANGELIST, {"action": "escalate_tickets", ACTION_CHECKBOX_NAME: [ticket.pk]}
    )
    ticket.refresh_from_db()
    assert ticket.escalation_level == 1
    assert ticket.priority == "high"


def test_customers_cannot_open_the_admin(client, customer):
    client.force_login(customer)
    assert client.get(CHANGELIST).status_code == 302


def _status_action(staff_browser, ticket, status, **fields):
    return staff_browser.post(
        CHANGELIST,
        {
            "action": "change_status",
            ACTION_CHECKBOX_NAME: [ticket.pk],
            "status": status,
            "note": "",
            "resolution": "",
            "apply": "Apply",
            **fields,
        },
        follow=True,
    )


def test_status_action_needs_a_resolution_to_resolve(staff_browser, ticket):
    response = _status_action(staff_browser, ticket, TicketStatus.RESOLVED)
    assert (
        f"{ticket.number}: Write a resolution to resolve or close this ticket"
        in response.content.decode()
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution, ticket.resolved_at) == ("open", "", None)


def test_status_action_records_the_resolution_shown_in_list_and_detail(staff_browser, ticket):
    long_text = "Refunded KES 600 to 0712345678 after M-Pesa confirmed the double charge. " * 3
    response = _status_action(
        staff_browser, ticket, TicketStatus.RESOLVED, resolution=long_text, note="called"
    )
    assert "Updated 1 ticket(s)." in response.content.decode()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution) == (TicketStatus.RESOLVED, long_text.strip())
    changelist = staff_browser.get(CHANGELIST).content.decode()
    assert "Refunded KES 600 to 0712345678 after M-Pesa confirmed the double charge." in changelist
    assert long_text.strip() not in changelist  # a summary, not the whole text
    detail = staff_browser.get(f"{CHANGELIST}{ticket.pk}/change/").content.decode()
    assert long_text.strip() in detail
    assert 'name="resolution"' not in detail  # written by resolving, not by editing the form
    # Closing keeps the recorded resolution.
    _status_action(staff_browser, ticket, TicketStatus.CLOSED)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution) == (TicketStatus.CLOSED, long_text.strip())
