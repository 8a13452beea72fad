"""The workmanship guarantee as clients use it: claim, return visit, confirm or dispute, per persona."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import (
    BookingStatus,
    Dispute,
    GuaranteeClaim,
    GuaranteeClaimHistory,
    GuaranteeClaimStatus,
)
from bookings.rules import (
    GUARANTEE_RESPONSE_WINDOW,
    GUARANTEE_VISIT_REPORT_WINDOW,
    GUARANTEE_WINDOW,
)
from bookings.selectors import return_visit_rate, technician_unavailability_reason
from bookings.services import guarantee_claims_process_due
from bookings.tests.factories import BookingFactory, recently_confirmed_booking
from payments.models import Payment, Payout
from payments.tests.helpers import set_status
from social.tests.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db


def _iso(hours: float) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).replace(microsecond=0).isoformat()


@pytest.fixture
def confirmed(customer, technician, service_category):
    return recently_confirmed_booking(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )


def _url(booking) -> str:
    return f"/api/v1/bookings/{booking.pk}/guarantee-claims"


def _claim(client, booking, **extra):
    body = {"description": "The tap drips again.", **extra}
    response = client.post(_url(booking), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_claim_accept_and_confirm_fixed(
    confirmed,
    customer,
    technician,
    customer_client,
    technician_client,
    other_technician_client,
    other_customer_client,
    support_client,
    anon_client,
):
    photo = MediaAssetFactory(owner=customer)
    payments_before, payouts_before = Payment.objects.count(), Payout.objects.count()
    claim = _claim(customer_client, confirmed, photos=[{"publicId": photo.public_id}])
    assert claim["status"] == "open"
    assert claim["photos"][0]["publicId"] == photo.public_id
    assert claim["history"][0]["toStatus"] == "open"
    assert claim["respondBy"]

    # Who sees it: the two parties and staff; the others get 404, anonymous 401.
    for client in (technician_client, support_client, customer_client):
        listed = client.get(_url(confirmed)).json()
        assert listed["count"] == 1 and listed["results"][0]["id"] == claim["id"]
    assert other_technician_client.get(_url(confirmed)).status_code == 404
    assert other_customer_client.get(_url(confirmed)).status_code == 404
    assert anon_client.get(_url(confirmed)).status_code == 401

    action = f"{_url(confirmed)}/{claim['id']}"
    mine = customer_client.post(f"{action}/accept", {"visitStart": _iso(30)}, format="json")
    assert mine.status_code == 403 and mine.json()["code"] == "not_guarantee_party"
    staff = support_client.post(f"{action}/accept", {"visitStart": _iso(30)}, format="json")
    assert staff.status_code == 403
    other = other_technician_client.post(
        f"{action}/accept", {"visitStart": _iso(30)}, format="json"
    )
    assert other.status_code == 404

    accepted = technician_client.post(
        f"{action}/accept", {"visitStart": _iso(30), "durationMinutes": 90}, format="json"
    )
    assert accepted.status_code == 200, accepted.json()
    body = accepted.json()
    assert body["status"] == "scheduled" and body["visitStart"] and body["visitEnd"]
    # The visit holds the technician's calendar.
    visit = GuaranteeClaim.objects.get(pk=claim["id"])
    assert (
        technician_unavailability_reason(
            technician=technician, start=visit.visit_start, end=visit.visit_end
        )
        == "booked"
    )
    again = technician_client.post(f"{action}/accept", {"visitStart": _iso(40)}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "guarantee_claim_not_allowed"

    # Before the visit the customer cannot report on it.
    early = customer_client.post(f"{action}/confirm", {}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "guarantee_claim_not_allowed"
    GuaranteeClaim.objects.filter(pk=claim["id"]).update(
        visit_start=timezone.now() - timedelta(hours=2),
        visit_end=timezone.now() - timedelta(minutes=30),
    )
    assert technician_client.post(f"{action}/confirm", {}, format="json").status_code == 403
    fixed = customer_client.post(f"{action}/confirm", {"note": "All good now."}, format="json")
    assert fixed.status_code == 200 and fixed.json()["status"] == "fixed"
    assert fixed.json()["closedAt"] and fixed.json()["disputeId"] is None
    assert [h["toStatus"] for h in fixed.json()["history"]] == ["open", "scheduled", "fixed"]
    # A return visit costs nothing: no payment or payout was asked for, the booking stays confirmed.
    assert Payment.objects.count() == payments_before
    assert Payout.objects.count() == payouts_before
    confirmed.refresh_from_db()
    assert confirmed.status == BookingStatus.CONFIRMED
    # One claim per booking.
    second = customer_client.post(_url(confirmed), {"description": "Again!"}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "guarantee_claim_exists"


def test_decline_opens_a_dispute_with_the_evidence(
    confirmed, customer, customer_client, technician_client
):
    photo = MediaAssetFactory(owner=customer)
    claim = _claim(customer_client, confirmed, photos=[{"publicId": photo.public_id}])
    action = f"{_url(confirmed)}/{claim['id']}"
    empty = technician_client.post(f"{action}/decline", {"reason": "  "}, format="json")
    assert empty.status_code == 400 and "reason" in empty.json()["fields"]
    declined = technician_client.post(
        f"{action}/decline", {"reason": "Out of town."}, format="json"
    )
    assert declined.status_code == 200, declined.json()
    body = declined.json()
    assert body["status"] == "declined" and body["declineReason"] == "Out of town."
    dispute = Dispute.objects.get(pk=body["disputeId"])
    assert dispute.booking_id == confirmed.pk and dispute.opened_by_id == customer.pk
    assert "The tap drips again." in dispute.reason and "Out of town." in dispute.reason
    assert dispute.evidence[0]["public_id"] == photo.public_id
    confirmed.refresh_from_db()
    assert confirmed.status == BookingStatus.DISPUTED


def test_failed_visit_opens_a_dispute(confirmed, customer_client, technician_client):
    claim = _claim(customer_client, confirmed)
    action = f"{_url(confirmed)}/{claim['id']}"
    technician_client.post(f"{action}/accept", {"visitStart": _iso(30)}, format="json")
    GuaranteeClaim.objects.filter(pk=claim["id"]).update(
        visit_start=timezone.now() - timedelta(hours=2),
        visit_end=timezone.now() - timedelta(hours=1),
    )
    no_note = customer_client.post(f"{action}/report-failed", {}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()["fields"]
    assert Dispute.objects.count() == 0
    failed = customer_client.post(
        f"{action}/report-failed", {"note": "Still dripping."}, format="json"
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert Dispute.objects.get(pk=failed.json()["disputeId"]).booking_id == confirmed.pk


def test_window_and_bad_input(confirmed, technician, customer_client, technician_client):
    other_upload = MediaAssetFactory(owner=technician)
    bad = customer_client.post(
        _url(confirmed),
        {"description": "x", "photos": [{"publicId": other_upload.public_id}]},
        format="json",
    )
    assert bad.status_code == 400 and "photos" in bad.json()["fields"]
    missing = customer_client.post(_url(confirmed), {}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "validation_error"
    assert "description" in missing.json()["fields"]
    tech = technician_client.post(_url(confirmed), {"description": "x"}, format="json")
    assert tech.status_code == 403 and tech.json()["code"] == "not_guarantee_party"

    set_status(confirmed, BookingStatus.CONFIRMED, confirmed_at=timezone.now() - GUARANTEE_WINDOW)
    late = customer_client.post(_url(confirmed), {"description": "x"}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "guarantee_window_closed"
    set_status(confirmed, BookingStatus.COMPLETED, confirmed_at=None)
    early = customer_client.post(_url(confirmed), {"description": "x"}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "guarantee_window_closed"
    assert not GuaranteeClaim.objects.exists()

    set_status(confirmed, BookingStatus.CONFIRMED, confirmed_at=timezone.now())
    claim = _claim(customer_client, confirmed)
    action = f"{_url(confirmed)}/{claim['id']}"
    past = technician_client.post(f"{action}/accept", {"visitStart": _iso(-2)}, format="json")
    assert past.status_code == 400 and "scheduledStart" in past.json()["fields"]
    garbage = technician_client.post(f"{action}/accept", {"visitStart": "soon"}, format="json")
    assert garbage.status_code == 400 and "visitStart" in garbage.json()["fields"]
    missing_claim = technician_client.post(
        f"{_url(confirmed)}/999999/accept", {"visitStart": _iso(30)}, format="json"
    )
    assert missing_claim.status_code == 404
    assert missing_claim.json()["code"] == "guarantee_claim_not_found"


def test_visit_slot_must_be_free(confirmed, technician, customer_client, technician_client):
    claim = _claim(customer_client, confirmed)
    start = timezone.now() + timedelta(hours=30)
    BookingFactory(
        technician=technician,
        category=confirmed.category,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )
    action = f"{_url(confirmed)}/{claim['id']}"
    taken = technician_client.post(
        f"{action}/accept", {"visitStart": start.isoformat()}, format="json"
    )
    assert taken.status_code == 409 and taken.json()["code"] == "slot_taken"
    assert GuaranteeClaim.objects.get(pk=claim["id"]).status == GuaranteeClaimStatus.OPEN


def test_beat_job_declines_unanswered_and_closes_unreported(
    confirmed, customer, technician, service_category, customer_client
):
    claim_id = _claim(customer_client, confirmed)["id"]
    assert guarantee_claims_process_due() == 0
    later = timezone.now() + GUARANTEE_RESPONSE_WINDOW + timedelta(minutes=1)
    assert guarantee_claims_process_due(now=later) == 1
    claim = GuaranteeClaim.objects.get(pk=claim_id)
    assert claim.status == GuaranteeClaimStatus.DECLINED and claim.dispute_id is not None
    assert GuaranteeClaimHistory.objects.filter(claim=claim, actor=None).count() == 1
    assert guarantee_claims_process_due(now=later) == 0  # a rerun changes nothing

    second = BookingFactory(customer=customer, technician=technician, category=service_category)
    set_status(second, BookingStatus.CONFIRMED, confirmed_at=timezone.now())
    scheduled = GuaranteeClaim.objects.create(
        booking=second,
        customer=customer,
        technician=technician,
        description="Loose again.",
        respond_by=timezone.now() + timedelta(hours=1),
        status=GuaranteeClaimStatus.SCHEDULED,
        visit_start=timezone.now() - timedelta(hours=3),
        visit_end=timezone.now() - timedelta(hours=2),
    )
    assert guarantee_claims_process_due() == 0
    assert guarantee_claims_process_due(now=timezone.now() + GUARANTEE_VISIT_REPORT_WINDOW) == 1
    scheduled.refresh_from_db()
    assert scheduled.status == GuaranteeClaimStatus.FIXED and scheduled.dispute_id is None


def _confirmed_jobs(customer, technician, category, count: int = 5) -> list:
    """`count` jobs of `technician` for `customer`, confirmed now: what the return-visit rate counts."""
    bookings = []
    for _ in range(count):
        booking = BookingFactory(customer=customer, technician=technician, category=category)
        set_status(booking, BookingStatus.CONFIRMED, confirmed_at=timezone.now())
        bookings.append(booking)
    return bookings


def test_return_visit_rate(customer, technician, service_category):
    assert return_visit_rate(technician_id=technician.pk) is None
    bookings = _confirmed_jobs(customer, technician, service_category)
    assert return_visit_rate(technician_id=technician.pk) == 0.0
    GuaranteeClaim.objects.create(
        booking=bookings[0],
        customer=customer,
        technician=technician,
        description="Again.",
        respond_by=timezone.now(),
    )
    assert return_visit_rate(technician_id=technician.pk) == pytest.approx(0.2)


def _inbox(client) -> list[dict]:
    """The caller's notifications, newest first, as the app lists them."""
    response = client.get("/api/v1/notifications")
    assert response.status_code == 200
    return response.json()["results"]


def test_persona_claim_return_visit_and_its_notifications(
    confirmed, customer_client, technician_client, django_capture_on_commit_callbacks
):
    """The customer reports the fix failed, the technician hears of it and offers a slot, the customer
    hears of the visit, confirms it fixed the problem and the technician hears the claim is closed."""
    with django_capture_on_commit_callbacks(execute=True):
        claim = _claim(customer_client, confirmed)
    action = f"{_url(confirmed)}/{claim['id']}"
    [opened] = _inbox(technician_client)
    assert (
        opened["type"] == "guarantee.claim_opened" and opened["title"] == "Return visit requested"
    )
    assert opened["data"]["claimId"] == claim["id"] and "The tap drips again." in opened["body"]
    assert _inbox(customer_client) == []  # their own step

    with django_capture_on_commit_callbacks(execute=True):
        accepted = technician_client.post(
            f"{action}/accept", {"visitStart": _iso(30)}, format="json"
        )
    assert accepted.status_code == 200
    [scheduled] = _inbox(customer_client)
    assert scheduled["type"] == "guarantee.visit_scheduled"
    assert scheduled["data"]["claimId"] == claim["id"]
    assert len(_inbox(technician_client)) == 1

    GuaranteeClaim.objects.filter(pk=claim["id"]).update(
        visit_start=timezone.now() - timedelta(hours=2),
        visit_end=timezone.now() - timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        fixed = customer_client.post(f"{action}/confirm", {}, format="json")
    assert fixed.status_code == 200 and fixed.json()["status"] == "fixed"
    assert [n["type"] for n in _inbox(technician_client)] == [
        "guarantee.visit_fixed",
        "guarantee.claim_opened",
    ]
    assert len(_inbox(customer_client)) == 1


def test_persona_declined_claim_becomes_a_dispute_and_both_hear_it_once(
    confirmed, customer, customer_client, technician_client, django_capture_on_commit_callbacks
):
    photo = MediaAssetFactory(owner=customer)
    with django_capture_on_commit_callbacks(execute=True):
        claim = _claim(customer_client, confirmed, photos=[{"publicId": photo.public_id}])
    with django_capture_on_commit_callbacks(execute=True):
        declined = technician_client.post(
            f"{_url(confirmed)}/{claim['id']}/decline", {"reason": "Out of town."}, format="json"
        )
    assert declined.status_code == 200
    dispute_id = declined.json()["disputeId"]

    customer_inbox = _inbox(customer_client)
    assert [n["type"] for n in customer_inbox] == ["guarantee.claim_declined"]
    assert "Out of town." in customer_inbox[0]["body"]
    assert customer_inbox[0]["data"]["disputeId"] == dispute_id
    # The technician: the claim, then the dispute it became (dispute.opened says nothing more).
    assert [n["type"] for n in _inbox(technician_client)] == [
        "guarantee.disputed",
        "guarantee.claim_opened",
    ]
    # Both see the dispute, with the claim's description and photos as its evidence.
    for client in (customer_client, technician_client):
        [row] = client.get("/api/v1/bookings/disputes").json()["results"]
        assert row["id"] == dispute_id and row["status"] == "open"
        assert "The tap drips again." in row["reason"] and "Out of town." in row["reason"]
        assert [ref["publicId"] for ref in row["evidence"]] == [photo.public_id]


def test_customer_withdraws_until_the_visit_starts(
    confirmed,
    technician,
    customer_client,
    technician_client,
    other_customer_client,
    django_capture_on_commit_callbacks,
):
    claim = _claim(customer_client, confirmed)
    action = f"{_url(confirmed)}/{claim['id']}"
    visit_start = _iso(30)
    technician_client.post(f"{action}/accept", {"visitStart": visit_start}, format="json")
    assert technician_client.post(f"{action}/withdraw", {}, format="json").status_code == 403
    assert other_customer_client.post(f"{action}/withdraw", {}, format="json").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        withdrawn = customer_client.post(
            f"{action}/withdraw", {"note": "It stopped by itself."}, format="json"
        )
    assert withdrawn.status_code == 200, withdrawn.json()
    body = withdrawn.json()
    assert body["status"] == "withdrawn" and body["closedAt"] and body["disputeId"] is None
    assert body["outcomeNote"] == "It stopped by itself."
    assert [h["toStatus"] for h in body["history"]] == ["open", "scheduled", "withdrawn"]
    [told] = technician_client.get("/api/v1/notifications").json()["results"]
    assert told["type"] == "guarantee.claim_withdrawn"
    # The slot is the technician's again; no dispute, and the guarantee is spent (one claim per job).
    visit = GuaranteeClaim.objects.get(pk=claim["id"])
    assert (
        technician_unavailability_reason(
            technician=technician, start=visit.visit_start, end=visit.visit_end
        )
        is None
    )
    assert not Dispute.objects.exists()
    again = customer_client.post(f"{action}/withdraw", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "guarantee_claim_not_allowed"
    second = customer_client.post(_url(confirmed), {"description": "Again!"}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "guarantee_claim_exists"


def test_no_withdrawal_once_the_visit_started(confirmed, customer_client, technician_client):
    claim = _claim(customer_client, confirmed)
    action = f"{_url(confirmed)}/{claim['id']}"
    technician_client.post(f"{action}/accept", {"visitStart": _iso(30)}, format="json")
    GuaranteeClaim.objects.filter(pk=claim["id"]).update(
        visit_start=timezone.now() - timedelta(minutes=10),
        visit_end=timezone.now() + timedelta(hours=1),
    )
    late = customer_client.post(f"{action}/withdraw", {}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "guarantee_claim_not_allowed"
    assert GuaranteeClaim.objects.get(pk=claim["id"]).status == GuaranteeClaimStatus.SCHEDULED


def test_a_withdrawn_claim_does_not_count_in_the_return_visit_rate(
    customer, technician, service_category
):
    bookings = _confirmed_jobs(customer, technician, service_category)
    for booking, status in zip(
        bookings, (GuaranteeClaimStatus.WITHDRAWN, GuaranteeClaimStatus.DECLINED), strict=False
    ):
        GuaranteeClaim.objects.create(
            booking=booking,
            customer=customer,
            technician=technician,
            description="Again.",
            respond_by=timezone.now(),
            status=status,
        )
    assert return_visit_rate(technician_id=technician.pk) == pytest.approx(0.2)


def test_a_description_or_reason_ending_a_sentence_reads_once_in_the_notifications(
    confirmed,
    technician,
    technician_client,
    customer_client,
    django_capture_on_commit_callbacks,
):
    """Found from outside (QA, `make run`): "…since yesterday.. Offer a free return visit": the catalogue
    puts its own full stop after the customer's text, which usually has one already."""
    with django_capture_on_commit_callbacks(execute=True):
        claim = _claim(customer_client, confirmed, description="The tap leaks again!")
    opened = technician_client.get("/api/v1/notifications").json()["results"][0]
    assert opened["type"] == "guarantee.claim_opened"
    assert "did not last: The tap leaks again! Offer a free return visit" in opened["body"]

    with django_capture_on_commit_callbacks(execute=True):
        response = technician_client.post(
            f"{_url(confirmed)}/{claim['id']}/decline",
            {"reason": "A new pipe burst, not my repair."},
            format="json",
        )
    assert response.status_code == 200
    declined = customer_client.get("/api/v1/notifications").json()["results"][0]
    assert declined["type"] == "guarantee.claim_declined"
    assert declined["body"] == (
        f"{technician.get_full_name()} declined a free return visit for {confirmed.number}: "
        "A new pipe burst, not my repair. Our support team will look into it and contact you."
    )
