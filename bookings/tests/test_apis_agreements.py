"""The agreements API as clients use it: reschedule proposals, quotes, change orders, per persona."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import BookingProposal, BookingStatus, ProposalStatus
from bookings.services import quote_create, reschedule_propose
from bookings.tests.factories import BookingFactory
from payments.models import Payout, PayoutKind
from payments.tests.helpers import paid_payment, set_status
from social.tests.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db


def _iso(hours: float) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).replace(microsecond=0).isoformat()


@pytest.fixture
def accepted(customer, technician, service_category):
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        category=service_category,
        price=Decimal("5000"),
        scheduled_start=timezone.now() + timedelta(hours=72),
    )
    paid_payment(booking)
    set_status(booking, BookingStatus.ACCEPTED, accepted_at=timezone.now())
    return booking


def test_reschedule_flow_through_the_api(
    accepted, customer_client, technician_client, other_technician_client, anon_client
):
    url = f"/api/v1/bookings/{accepted.pk}/reschedule-proposals"
    body = {"scheduledStart": _iso(96), "reason": "I will be travelling."}
    response = customer_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert response.status_code == 201, response.json()
    proposal = response.json()
    assert proposal["status"] == "open"
    assert proposal["proposedBy"]["role"] == "customer"
    assert proposal["history"][0]["toStatus"] == "open"
    assert proposal["previousStart"] is not None and proposal["expiresAt"]
    # The same key returns the same proposal; nothing new is made.
    again = customer_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert again.status_code == 201 and again.json()["id"] == proposal["id"]
    assert BookingProposal.objects.count() == 1

    assert other_technician_client.get(url).status_code == 404
    assert anon_client.get(url).status_code == 401
    listed = technician_client.get(url).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == proposal["id"]

    action = f"{url}/{proposal['id']}"
    mine = customer_client.post(f"{action}/accept", {}, format="json")
    assert mine.status_code == 403 and mine.json()["code"] == "not_proposal_counterparty"
    accepted_ = technician_client.post(f"{action}/accept", {}, format="json")
    assert accepted_.status_code == 200 and accepted_.json()["status"] == "accepted"
    detail = customer_client.get(f"/api/v1/bookings/{accepted.pk}").json()
    assert detail["scheduledStart"] == accepted_.json()["proposedStart"]
    # Approving twice is a no-op; declining now is a conflict.
    assert technician_client.post(f"{action}/accept", {}, format="json").status_code == 200
    late = technician_client.post(f"{action}/decline", {}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "proposal_not_open"


def test_patch_time_of_an_accepted_booking_points_to_the_proposals(accepted, customer_client):
    response = customer_client.patch(
        f"/api/v1/bookings/{accepted.pk}", {"scheduledStart": _iso(90)}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "reschedule_requires_proposal"
    assert f"/api/v1/bookings/{accepted.pk}/reschedule-proposals" in body["message"]
    accepted.refresh_from_db()
    assert accepted.scheduled_start > timezone.now() + timedelta(hours=71)


def test_reschedule_into_a_busy_slot_is_409_slot_taken(accepted, technician, customer_client):
    start = timezone.now().replace(microsecond=0) + timedelta(hours=100)
    BookingFactory(
        technician=technician, scheduled_start=start, scheduled_end=start + timedelta(hours=1)
    )
    response = customer_client.post(
        f"/api/v1/bookings/{accepted.pk}/reschedule-proposals",
        {"scheduledStart": start.isoformat(), "reason": "x"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "slot_taken"


def test_quote_flow(customer, technician, service_category, customer_client, technician_client):
    booking = BookingFactory(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )
    paid_payment(booking)
    created = technician_client.post(
        f"/api/v1/bookings/{booking.pk}/quotes",
        {"price": "6500.00", "note": "Two taps, parts included."},
        format="json",
    )
    assert created.status_code == 201, created.json()
    quote = created.json()
    assert (quote["price"], quote["priceBefore"], quote["currency"]) == (
        "6500.00",
        "5000.00",
        "KES",
    )
    refused = customer_client.post(
        f"/api/v1/bookings/{booking.pk}/quotes", {"price": "6000", "note": "x"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "technicians_only"
    done = customer_client.post(
        f"/api/v1/bookings/{booking.pk}/quotes/{quote['id']}/accept", {}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "accepted"
    detail = customer_client.get(f"/api/v1/bookings/{booking.pk}").json()
    assert detail["status"] == "accepted"
    assert (detail["price"], detail["depositAmount"], detail["balanceAmount"]) == (
        "6500.00",
        "1000.00",
        "5500.00",
    )
    fees = customer_client.get(f"/api/v1/bookings/{booking.pk}/fee-breakdown").json()
    assert (fees["price"], fees["platformFee"], fees["technicianShare"]) == (
        "6500.00",
        "975.00",
        "5525.00",
    )


def test_change_order_lowering_the_price_refunds_through_the_api(
    accepted, customer, customer_client, technician_client
):
    set_status(accepted, BookingStatus.IN_PROGRESS)
    created = technician_client.post(
        f"/api/v1/bookings/{accepted.pk}/change-orders",
        {"amount": "-4400", "note": "Only a washer was needed."},
        format="json",
    )
    assert created.status_code == 201, created.json()
    order = created.json()
    assert (order["amount"], order["priceAfter"]) == ("-4400.00", "600.00")
    approved = customer_client.post(
        f"/api/v1/bookings/{accepted.pk}/change-orders/{order['id']}/approve", {}, format="json"
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "accepted" and approved.json()["refundAmount"] == "400.00"
    detail = customer_client.get(f"/api/v1/bookings/{accepted.pk}").json()
    assert (detail["price"], detail["depositAmount"], detail["balanceAmount"]) == (
        "600.00",
        "600.00",
        "0.00",
    )
    # Nothing left to collect: the deposit paid the whole price.
    assert detail["money"]["balance"] == {"amount": "0.00", "status": "paid", "paymentId": None}
    refund = Payout.objects.get(booking=accepted, kind=PayoutKind.REFUND)
    assert (refund.amount, refund.recipient_id) == (Decimal("400"), customer.pk)
    # Approving again: no second refund.
    again = customer_client.post(
        f"/api/v1/bookings/{accepted.pk}/change-orders/{order['id']}/approve", {}, format="json"
    )
    assert again.status_code == 200
    assert Payout.objects.filter(booking=accepted, kind=PayoutKind.REFUND).count() == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("reschedule-proposals", {"scheduledStart": "tomorrow", "reason": "x"}, "scheduledStart"),
        ("reschedule-proposals", {"scheduledStart": _iso(90)}, "reason"),
        (
            "reschedule-proposals",
            {"scheduledStart": _iso(90), "reason": "x", "durationMinutes": 5},
            "durationMinutes",
        ),
        ("quotes", {"price": "99", "note": "x"}, "price"),
        ("quotes", {"price": "abc", "note": "x"}, "price"),
        ("change-orders", {"amount": "10.50", "note": "x"}, "amount"),
        ("change-orders", {"amount": "100", "note": ""}, "note"),
        ("change-orders", {"amount": "100", "note": "x", "photos": "nope"}, "photos"),
    ],
)
def test_bad_input_is_400_with_the_field(
    accepted, technician_client, customer_client, path, body, field
):
    client = customer_client if path == "reschedule-proposals" else technician_client
    response = client.post(f"/api/v1/bookings/{accepted.pk}/{path}", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert not BookingProposal.objects.exists()


def test_change_order_below_the_minimum_price_is_400(accepted, technician_client):
    response = technician_client.post(
        f"/api/v1/bookings/{accepted.pk}/change-orders",
        {"amount": "-4950", "note": "x"},
        format="json",
    )
    assert response.status_code == 400 and "amount" in response.json()["fields"]


def test_bad_idempotency_key_is_400(accepted, customer_client):
    response = customer_client.post(
        f"/api/v1/bookings/{accepted.pk}/reschedule-proposals",
        {"scheduledStart": _iso(90), "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x" * 200,
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key"


def test_unknown_or_foreign_proposal_is_404(accepted, customer, technician_client, customer_client):
    other = BookingFactory(customer=customer, technician=None)
    response = customer_client.post(
        f"/api/v1/bookings/{other.pk}/reschedule-proposals/999999/accept", {}, format="json"
    )
    assert response.status_code == 404 and response.json()["code"] == "proposal_not_found"


def test_another_technicians_quote_is_invisible(
    customer, technician, other_technician, service_category, technician_client
):
    booking = BookingFactory(customer=customer, technician=None, category=service_category)
    paid_payment(booking)
    theirs, _ = quote_create(booking=booking, technician=other_technician, price="4000", note="x")
    listed = technician_client.get(f"/api/v1/bookings/{booking.pk}/quotes")
    assert listed.status_code == 200 and listed.json()["count"] == 0
    withdraw = technician_client.post(
        f"/api/v1/bookings/{booking.pk}/quotes/{theirs.pk}/withdraw", {}, format="json"
    )
    assert withdraw.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ProposalStatus.OPEN


def test_list_costs_the_same_queries_for_one_or_many(
    accepted, customer, technician, customer_client
):
    url = f"/api/v1/bookings/{accepted.pk}/reschedule-proposals"

    def propose(hours):
        reschedule_propose(
            booking=accepted,
            actor=customer if hours % 2 else technician,
            scheduled_start=timezone.now() + timedelta(hours=hours),
            reason="x",
        )

    propose(97)
    with CaptureQueriesContext(connection) as one:
        assert customer_client.get(url).json()["count"] == 1
    for hours in range(98, 103):
        propose(hours)  # each supersedes the last: 6 proposals, 11 history rows
    with CaptureQueriesContext(connection) as many:
        assert customer_client.get(url).json()["count"] == 6
    assert len(many) == len(one)


def test_change_order_photos_are_the_technicians_own_uploads(
    accepted, customer, technician, technician_client
):
    own = MediaAssetFactory(owner=technician)
    theirs = MediaAssetFactory(owner=customer)
    url = f"/api/v1/bookings/{accepted.pk}/change-orders"
    refused = technician_client.post(
        url,
        {"amount": "800", "note": "New trap", "photos": [{"publicId": theirs.public_id}]},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_media" and list(refused.json()["fields"]) == [
        "photos"
    ]
    assert not BookingProposal.objects.exists()
    created = technician_client.post(
        url,
        {"amount": "800", "note": "New trap", "photos": [{"publicId": own.public_id}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    photos = created.json()["photos"]
    assert [p["publicId"] for p in photos] == [own.public_id] and photos[0]["type"] == "image"
