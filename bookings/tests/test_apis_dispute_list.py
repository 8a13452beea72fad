"""GET /bookings/disputes: staff's queue (all, oldest first, with notes); customers and technicians list their
own disputes (newest first, status and outcome, never the internal notes)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import Dispute, DisputeNote, DisputeOutcome, DisputeStatus
from bookings.tests.factories import BookingFactory, DisputeFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/bookings/disputes"


@pytest.fixture
def disputes(customer, technician, other_customer, other_technician, support_agent):
    """Two disputes of the customer/technician pair (one resolved with a partial refund, one open, newer)
    and one between the other customer and the other technician."""
    resolved = DisputeFactory(
        booking=BookingFactory(
            customer=customer,
            technician=technician,
            status="resolved",
            deposit_paid=True,
            completed_at=timezone.now(),
        ),
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.PARTIAL_REFUND,
        refund_amount=Decimal("1500.00"),
        resolved_by=support_agent,
        resolved_at=timezone.now(),
        resolution_notes="Half the job was redone.",
    )
    DisputeNote.objects.create(dispute=resolved, author=support_agent, body="Called both.")
    open_ = DisputeFactory(
        booking=BookingFactory(customer=customer, technician=technician), opened_by=technician
    )
    Dispute.objects.filter(pk=open_.pk).update(created_at=timezone.now() + timedelta(minutes=1))
    others = DisputeFactory(
        booking=BookingFactory(customer=other_customer, technician=other_technician)
    )
    return {"resolved": resolved, "open": open_, "others": others}


@pytest.mark.parametrize("client", ["customer_client", "technician_client"])
def test_a_party_lists_their_own_disputes_newest_first_without_notes(request, client, disputes):
    body = request.getfixturevalue(client).get(URL).json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [disputes["open"].pk, disputes["resolved"].pk]
    resolved = body["results"][1]
    assert resolved["status"] == "resolved"
    assert resolved["outcome"] == "partial_refund"
    assert resolved["refundAmount"] == "1500.00"
    assert resolved["currency"] == "KES"
    assert resolved["resolutionNotes"] == "Half the job was redone."
    assert all("notes" not in row for row in body["results"])
    assert body["results"][0]["status"] == "open"
    assert body["results"][0]["outcome"] == ""


@pytest.mark.parametrize("client", ["other_customer_client", "other_technician_client"])
def test_others_see_only_theirs(request, client, disputes):
    body = request.getfixturevalue(client).get(URL).json()
    assert [r["id"] for r in body["results"]] == [disputes["others"].pk]


def test_a_user_without_disputes_gets_an_empty_list(disputes):
    loner = UserFactory(email="loner@example.co.ke")
    assert bearer_client(loner).get(URL).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


@pytest.mark.parametrize("client", ["support_client", "admin_client_api"])
def test_staff_list_every_dispute_oldest_first_with_notes(request, client, disputes):
    body = request.getfixturevalue(client).get(URL).json()
    assert [r["id"] for r in body["results"]] == [
        disputes["resolved"].pk,
        disputes["others"].pk,
        disputes["open"].pk,  # opened a minute later
    ]
    assert body["results"][0]["notes"][0]["body"] == "Called both."


def test_status_filter_applies_to_parties_and_staff(customer_client, support_client, disputes):
    mine = customer_client.get(URL, {"status": "resolved"}).json()["results"]
    assert [r["id"] for r in mine] == [disputes["resolved"].pk]
    everyone = support_client.get(URL, {"status": "open"}).json()["results"]
    assert {r["id"] for r in everyone} == {disputes["open"].pk, disputes["others"].pk}


def test_bad_status_is_400_and_anonymous_401(customer_client, anon_client, disputes):
    response = customer_client.get(URL, {"status": "closed"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "status" in response.json()["fields"]
    assert anon_client.get(URL).status_code == 401


def test_party_list_runs_a_constant_number_of_queries(
    customer, technician, customer_client, django_assert_num_queries
):
    for _ in range(3):
        DisputeFactory(booking=BookingFactory(customer=customer, technician=technician))
    with django_assert_num_queries(3):  # token user, count, page with bookings
        assert customer_client.get(URL).json()["count"] == 3
