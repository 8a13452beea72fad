import pytest

from bookings.tests.factories import BookingFactory
from conftest import bearer_client
from notifications.models import Conversation, ConversationKind, ConversationParticipant
from payments.models import Payment, PaymentStatus
from support import services
from support.models import (
    AgentAvailability,
    SupportTicket,
    TicketMessage,
    TicketStatus,
    TicketStatusHistory,
)
from support.tests.factories import SupportTicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/support/tickets"


def _open(user, **kwargs):
    data = {"subject": "Refund please", "description": "Booking cancelled", "category": "payment"}
    return services.ticket_create(created_by=user, **{**data, **kwargs})


# --- create / list / detail --------------------------------------------------------------------------------------


def test_customer_creates_ticket_camelcase_and_is_auto_assigned(customer_client, support_agent):
    response = customer_client.post(
        TICKETS,
        {
            "subject": "Deposit paid twice",
            "description": "M-Pesa took KES 600 twice",
            "category": "payment",
            "priority": "high",
            "relatedTransactionRef": "SGR7ABC123",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].startswith("TKT-")
    assert body["status"] == "assigned"
    assert body["assignedTo"]["id"] == support_agent.pk
    assert body["relatedTransactionRef"] == "SGR7ABC123"
    assert body["firstResponseDueAt"] and body["slaFirstResponseMet"] is None


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"subject": "", "description": "x", "category": "payment"}, "subject"),
        ({"subject": "a", "description": "x", "category": "weather"}, "category"),
        ({"subject": "a", "description": "x", "priority": "asap"}, "priority"),
        ({"subject": "a", "description": "x", "relatedBookingId": "abc"}, "relatedBookingId"),
    ],
)
def test_create_validation_errors(customer_client, payload, field):
    response = customer_client.post(TICKETS, payload)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert SupportTicket.objects.count() == 0


def test_create_with_someone_elses_booking_is_rejected(other_customer_client, customer):
    booking = BookingFactory(customer=customer)
    response = other_customer_client.post(
        TICKETS,
        {"subject": "a", "description": "b", "category": "booking", "relatedBookingId": booking.pk},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "related_booking_not_found"


def test_anonymous_gets_401(anon_client):
    assert anon_client.get(TICKETS).status_code == 401
    assert anon_client.post(TICKETS, {}).status_code == 401


def test_list_scopes_by_role(
    customer,
    other_customer,
    support_agent,
    other_agent,
    admin_user,
    customer_client,
    support_client,
    admin_client_api,
):
    AgentAvailability.objects.create(agent=other_agent, is_available=False)
    mine = _open(customer)  # → support_agent
    AgentAvailability.objects.update_or_create(
        agent=support_agent, defaults={"is_available": False}
    )
    unassigned = _open(other_customer)
    theirs = SupportTicketFactory(
        created_by=other_customer, assigned_to=other_agent, status="assigned", category="account"
    )

    def ids(client, query=""):
        response = client.get(TICKETS + query)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(customer_client) == {mine.pk}
    assert ids(support_client) == {mine.pk, unassigned.pk}
    assert ids(admin_client_api) == {mine.pk, unassigned.pk, theirs.pk}
    assert ids(admin_client_api, f"?assignedTo={other_agent.pk}") == {theirs.pk}
    assert ids(admin_client_api, "?assignedTo=none") == {unassigned.pk}
    assert ids(support_client, "?assignedTo=me") == {mine.pk}
    assert ids(admin_client_api, "?status=open") == {unassigned.pk}
    assert ids(admin_client_api, "?category=payment&priority=medium") == {mine.pk, unassigned.pk}
    assert admin_client_api.get(TICKETS + "?status=nope").status_code == 400


def test_detail_hides_other_peoples_tickets(customer, other_customer_client, customer_client):
    ticket = _open(customer)
    assert customer_client.get(f"{TICKETS}/{ticket.pk}").json()["id"] == ticket.pk
    response = other_customer_client.get(f"{TICKETS}/{ticket.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "ticket_not_found"
    assert customer_client.get(f"{TICKETS}/999999").status_code == 404


def test_list_runs_constant_queries(admin_user, customer, django_assert_max_num_queries):
    client = bearer_client(admin_user)
    for size in (2, 12):
        while SupportTicket.objects.count() < size:
            SupportTicketFactory(
                created_by=customer,
                assigned_to=admin_user,
                related_booking=BookingFactory(customer=customer),
            )
        with django_assert_max_num_queries(4):
            response = client.get(TICKETS + "?pageSize=50")
        assert len(response.json()["results"]) == size


# --- messages ----------------------------------------------------------------------------------------------------


def test_messages_hide_internal_notes_from_customers(
    customer, support_agent, customer_client, support_client
):
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/messages"
    assert customer_client.post(url, {"body": "Any news?"}).status_code == 201
    note = support_client.post(url, {"body": "Customer is a VIP", "isInternal": True})
    assert note.status_code == 201 and note.json()["isInternal"] is True
    reply = support_client.post(url, {"body": "Refund sent"})
    assert reply.status_code == 201

    customer_view = [m["body"] for m in customer_client.get(url).json()["results"]]
    assert customer_view == ["Any news?", "Refund sent"]
    staff_view = [m["body"] for m in support_client.get(url).json()["results"]]
    assert staff_view == ["Any news?", "Customer is a VIP", "Refund sent"]

    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None and ticket.sla_first_response_met is True


def test_customer_cannot_post_internal_note_or_to_others_ticket(
    customer, customer_client, other_customer_client
):
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/messages"
    response = customer_client.post(url, {"body": "psst", "isInternal": True})
    assert response.status_code == 403
    assert response.json()["code"] == "internal_note_staff_only"
    assert other_customer_client.post(url, {"body": "hi"}).status_code == 404
    assert other_customer_client.get(url).status_code == 404
    assert customer_client.post(url, {"body": ""}).status_code == 400
    assert TicketMessage.objects.count() == 0


def test_message_list_runs_constant_queries(
    customer, support_agent, customer_client, django_assert_max_num_queries
):
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/messages"
    for size in (2, 10):
        while TicketMessage.objects.filter(ticket=ticket).count() < size:
            TicketMessage.objects.create(ticket=ticket, author=support_agent, body="x")
        with django_assert_max_num_queries(5):
            response = customer_client.get(url)
        assert response.json()["count"] == size


# --- staff actions -----------------------------------------------------------------------------------------------


def test_staff_actions_are_forbidden_for_customers(customer, customer_client):
    ticket = _open(customer)
    for action, payload in [
        ("assign", {}),
        ("status", {"status": "in_progress"}),
        ("priority", {"priority": "urgent"}),
        ("escalate", {}),
    ]:
        response = customer_client.post(f"{TICKETS}/{ticket.pk}/{action}", payload)
        assert response.status_code == 403, action
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.escalation_level) == ("open", "medium", 0)


def test_assign_to_agent_and_automatic(customer, support_agent, other_agent, admin_client_api):
    AgentAvailability.objects.create(agent=support_agent, is_available=False)
    AgentAvailability.objects.create(agent=other_agent, is_available=False)
    ticket = _open(customer)
    assert ticket.assigned_to is None
    url = f"{TICKETS}/{ticket.pk}/assign"
    response = admin_client_api.post(url, {"agentId": other_agent.pk})
    assert response.status_code == 200
    assert response.json()["assignedTo"]["id"] == other_agent.pk
    assert response.json()["status"] == "assigned"
    bad = admin_client_api.post(url, {"agentId": customer.pk})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_assignee"
    AgentAvailability.objects.filter(agent=support_agent).update(is_available=True)
    auto = admin_client_api.post(url, {})
    assert auto.json()["assignedTo"]["id"] == support_agent.pk


def test_status_transitions_and_invalid_ones(customer, support_agent, support_client):
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/status"
    response = support_client.post(url, {"status": "in_progress", "note": "looking"})
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    resolved = support_client.post(url, {"status": "resolved", "resolution": "Refund sent"})
    assert resolved.json()["status"] == "resolved"
    bad = support_client.post(url, {"status": "in_progress"})
    assert bad.status_code == 409 and bad.json()["code"] == "invalid_transition"
    assert support_client.post(url, {"status": "flying"}).status_code == 400
    history = TicketStatusHistory.objects.filter(ticket=ticket).values_list(
        "from_status", "to_status", "actor_id"
    )
    assert list(history)[-2:] == [
        ("assigned", "in_progress", support_agent.pk),
        ("in_progress", "resolved", support_agent.pk),
    ]


@pytest.mark.parametrize("to", ["resolved", "closed"])
@pytest.mark.parametrize("resolution", [None, "", "   "])
def test_resolving_through_status_needs_a_resolution(
    customer, support_agent, support_client, to, resolution
):
    ticket = _open(customer)
    payload = {"status": to} if resolution is None else {"status": to, "resolution": resolution}
    response = support_client.post(f"{TICKETS}/{ticket.pk}/status", payload)
    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "Write a resolution to resolve or close this ticket: what was done for the"
        " customer.",
        "fields": {"resolution": ["This field is required."]},
    }
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution, ticket.resolved_at) == ("assigned", "", None)
    assert ticket.status_history.count() == 2  # open, assigned: nothing new


@pytest.mark.parametrize("client_name", ["support_client", "admin_client_api"])
def test_resolving_through_status_records_the_resolution(
    request, customer, support_agent, client_name
):
    client = request.getfixturevalue(client_name)
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/status"
    response = client.post(
        url, {"status": "resolved", "resolution": "  Refund of KES 600 sent  ", "note": "M-Pesa"}
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["resolution"]) == (
        "resolved",
        "Refund of KES 600 sent",
    )
    last = ticket.status_history.last()
    assert (last.to_status, last.note) == ("resolved", "M-Pesa\nResolution: Refund of KES 600 sent")
    # Closing a resolved ticket keeps its resolution; a new one replaces it.
    closed = client.post(url, {"status": "closed"})
    assert (closed.status_code, closed.json()["resolution"]) == (200, "Refund of KES 600 sent")
    ticket.refresh_from_db()
    assert ticket.closed_at is not None


@pytest.mark.parametrize(
    "client_name", ["customer_client", "other_customer_client", "technician_client"]
)
def test_status_endpoint_is_staff_only_even_with_a_resolution(
    request, customer, support_agent, client_name
):
    ticket = _open(customer)
    response = request.getfixturevalue(client_name).post(
        f"{TICKETS}/{ticket.pk}/status", {"status": "resolved", "resolution": "Done"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution) == ("assigned", "")


def test_close_endpoint_rejects_a_blank_resolution(customer, customer_client, support_agent):
    ticket = _open(customer)
    response = customer_client.post(f"{TICKETS}/{ticket.pk}/close", {"resolution": "  "})
    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"resolution": ["This field may not be blank."]},
    }
    ticket.refresh_from_db()
    assert ticket.status == "assigned"


def test_priority_and_escalate(customer, support_agent, support_client):
    ticket = _open(customer)
    response = support_client.post(f"{TICKETS}/{ticket.pk}/priority", {"priority": "urgent"})
    assert response.status_code == 200 and response.json()["priority"] == "urgent"
    response = support_client.post(f"{TICKETS}/{ticket.pk}/escalate", {"reason": "VIP"})
    assert response.status_code == 200
    assert response.json()["escalationLevel"] == 1


def test_close_reopen_and_rate_flow(customer, support_agent, customer_client, support_client):
    ticket = _open(customer)
    base = f"{TICKETS}/{ticket.pk}"
    assert customer_client.post(f"{base}/rate", {"rating": 5}).status_code == 409
    assert support_client.post(f"{base}/close", {}).status_code == 400
    closed = support_client.post(f"{base}/close", {"resolution": "Refund of KES 600 sent"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["resolution"] == "Refund of KES 600 sent"
    assert support_client.post(f"{base}/rate", {"rating": 5}).status_code == 403
    assert customer_client.post(f"{base}/rate", {"rating": 6}).status_code == 400
    rated = customer_client.post(f"{base}/rate", {"rating": 4, "comment": "Asante"})
    assert rated.status_code == 200 and rated.json()["csatRating"] == 4
    again = customer_client.post(f"{base}/rate", {"rating": 1})
    assert again.status_code == 409 and again.json()["code"] == "ticket_already_rated"
    reopened = customer_client.post(f"{base}/reopen", {"reason": "Money not received"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "reopened"
    assert customer_client.post(f"{base}/reopen", {}).status_code == 409


def test_other_customer_cannot_close_reopen_or_rate(customer, other_customer_client):
    ticket = _open(customer)
    base = f"{TICKETS}/{ticket.pk}"
    for action, payload in [
        ("close", {"resolution": "x"}),
        ("reopen", {}),
        ("rate", {"rating": 1}),
    ]:
        assert other_customer_client.post(f"{base}/{action}", payload).status_code == 404


# --- stats, availability, chat -----------------------------------------------------------------------------------


def test_stats_numbers_and_permission(customer, support_agent, customer_client, support_client):
    a = _open(customer, priority="urgent", category="payment")
    b = _open(customer, priority="low", category="booking")
    SupportTicket.objects.filter(pk=a.pk).update(
        sla_first_response_met=True, sla_resolution_met=False, csat_rating=5
    )
    SupportTicket.objects.filter(pk=b.pk).update(
        sla_first_response_met=False, csat_rating=2, status=TicketStatus.CLOSED
    )
    assert customer_client.get("/api/v1/support/stats").status_code == 403
    body = support_client.get("/api/v1/support/stats").json()
    assert body["total"] == 2 and body["open"] == 1
    assert {"key": "closed", "count": 1} in body["byStatus"]
    assert body["byPriority"] == [{"key": "low", "count": 1}, {"key": "urgent", "count": 1}]
    assert body["sla"]["firstResponseAttainmentPercent"] == 50.0
    assert body["sla"]["resolutionAttainmentPercent"] == 0.0
    assert body["csat"] == {"average": 3.5, "count": 2}
    empty = support_client.get("/api/v1/support/stats?from=2001-01-01&to=2001-01-02").json()
    assert empty["total"] == 0 and empty["sla"]["firstResponseAttainmentPercent"] is None
    assert support_client.get("/api/v1/support/stats?from=yesterday").status_code == 400


def test_agent_availability_get_and_put(support_client, customer_client, support_agent):
    url = "/api/v1/support/agents/me/availability"
    assert support_client.get(url).json() == {
        "isAvailable": True,
        "maxOpenTickets": 20,
        "openTickets": 0,
    }
    response = support_client.put(url, {"isAvailable": False, "maxOpenTickets": 5})
    assert response.status_code == 200
    assert response.json()["isAvailable"] is False
    assert AgentAvailability.objects.get(agent=support_agent).max_open_tickets == 5
    assert support_client.put(url, {"maxOpenTickets": 0}).status_code == 400
    assert customer_client.get(url).status_code == 403
    assert customer_client.put(url, {"isAvailable": True}).status_code == 403


def test_chat_opens_one_conversation_per_ticket(
    customer, customer_client, support_agent, support_client
):
    ticket = _open(customer)
    url = f"{TICKETS}/{ticket.pk}/chat"
    first = customer_client.post(url)
    second = customer_client.post(url)
    assert first.status_code == 200
    conversation = Conversation.objects.get()
    assert first.json() == {"ticketId": ticket.pk, "conversationId": conversation.pk}
    assert second.json() == first.json()
    assert conversation.kind == ConversationKind.SUPPORT
    assert conversation.subject == f"{ticket.number}: Refund please"

    def participants():
        return set(conversation.participants.values_list("user_id", flat=True))

    assigned = {ticket.assigned_to_id} - {None}
    assert participants() == {customer.pk, *assigned}
    # A staff member who opens the chat joins it.
    assert support_client.post(url).json() == first.json()
    assert participants() == {customer.pk, support_agent.pk, *assigned}


def test_chat_uses_the_notifications_support_conversation(
    customer, support_agent, customer_client, support_client
):
    ticket = _open(customer)
    response = customer_client.post(f"{TICKETS}/{ticket.pk}/chat")
    assert response.status_code == 200, response.json()
    conversation = Conversation.objects.get(pk=response.json()["conversationId"])
    assert conversation.kind == "support"
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        customer.pk,
        support_agent.pk,
    }
    again = support_client.post(f"{TICKETS}/{ticket.pk}/chat")
    assert again.json()["conversationId"] == conversation.pk
    assert Conversation.objects.count() == 1


def test_newly_assigned_agent_joins_open_chat(
    customer, support_agent, other_agent, customer_client, admin_client_api, admin_user
):
    AgentAvailability.objects.create(agent=support_agent, is_available=False)
    AgentAvailability.objects.create(agent=other_agent, is_available=False)
    ticket = _open(customer)
    conversation_id = customer_client.post(f"{TICKETS}/{ticket.pk}/chat").json()["conversationId"]
    admin_client_api.post(f"{TICKETS}/{ticket.pk}/assign", {"agentId": other_agent.pk})
    members = set(
        ConversationParticipant.objects.filter(conversation_id=conversation_id).values_list(
            "user_id", flat=True
        )
    )
    assert members == {customer.pk, other_agent.pk}


def test_create_links_own_payment_only(
    customer, other_customer, customer_client, other_customer_client
):
    booking = BookingFactory(customer=customer)
    payment = Payment.objects.create(
        booking=booking,
        payer=customer,
        purpose="deposit",
        amount=booking.deposit_amount,
        phone=customer.phone_number,
        status=PaymentStatus.FAILED,
    )
    payload = {"subject": "STK failed", "description": "x", "category": "payment"}
    response = customer_client.post(TICKETS, {**payload, "relatedPaymentId": payment.pk})
    assert response.status_code == 201
    assert response.json()["relatedPaymentId"] == payment.pk
    other = other_customer_client.post(TICKETS, {**payload, "relatedPaymentId": payment.pk})
    assert other.status_code == 400
    assert other.json()["code"] == "related_payment_not_found"
    assert SupportTicket.objects.filter(created_by=other_customer).count() == 0
