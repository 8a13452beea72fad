"""The workmanship guarantee under concurrent requests: the booking lock decides, the loser gets a 409 with a
stable code and nothing of its step is written (README "Workmanship guarantee")."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import BookingStatus, Dispute, GuaranteeClaim, GuaranteeClaimHistory
from bookings.services import guarantee_claim_open
from bookings.tests.factories import recently_confirmed_booking
from conftest import bearer_client, race


def _open_claim():
    customer, technician = CustomerFactory(), TechnicianFactory()
    booking = recently_confirmed_booking(customer=customer, technician=technician)
    claim = guarantee_claim_open(booking=booking, customer=customer, description="Drips again.")
    return booking, claim, customer, technician


def _slot(hours: int) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).replace(microsecond=0).isoformat()


@pytest.mark.django_db(transaction=True)
def test_two_accepts_of_one_claim_schedule_one_visit(domain_events):
    booking, claim, _, technician = _open_claim()
    base = f"/api/v1/bookings/{booking.pk}/guarantee-claims/{claim.pk}"
    clients = [bearer_client(technician) for _ in range(2)]
    responses = race(
        *[
            lambda c=c, h=h: c.post(f"{base}/accept", {"visitStart": _slot(h)}, format="json")
            for c, h in zip(clients, (30, 54), strict=True)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    [lost] = [r for r in responses if r.status_code == 409]
    assert lost.json()["code"] == "guarantee_claim_not_allowed"
    [won] = [r for r in responses if r.status_code == 200]
    claim.refresh_from_db()
    assert claim.status == "scheduled"
    assert claim.visit_start == datetime.fromisoformat(won.json()["visitStart"])
    assert list(
        GuaranteeClaimHistory.objects.filter(claim=claim).values_list("to_status", flat=True)
    ) == ["open", "scheduled"]
    steps = [p["to_status"] for n, p in domain_events if n == "booking.guarantee_claim_changed"]
    assert steps == ["open", "scheduled"]  # the losing accept announced nothing


@pytest.mark.django_db(transaction=True)
def test_accept_and_decline_racing_one_wins(domain_events):
    booking, claim, _, technician = _open_claim()
    base = f"/api/v1/bookings/{booking.pk}/guarantee-claims/{claim.pk}"
    accept, decline = bearer_client(technician), bearer_client(technician)
    responses = race(
        lambda: accept.post(f"{base}/accept", {"visitStart": _slot(30)}, format="json"),
        lambda: decline.post(f"{base}/decline", {"reason": "Out of town."}, format="json"),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    [lost] = [r for r in responses if r.status_code == 409]
    assert lost.json()["code"] == "guarantee_claim_not_allowed"
    claim.refresh_from_db()
    booking.refresh_from_db()
    # Whichever won, the other step left nothing behind: no slot on a declined claim, no dispute on a
    # scheduled one.
    if claim.status == "scheduled":
        assert claim.visit_start is not None and claim.dispute_id is None
        assert not Dispute.objects.filter(booking=booking).exists()
        assert booking.status == BookingStatus.CONFIRMED
    else:
        assert claim.status == "declined" and claim.visit_start is None
        assert Dispute.objects.filter(booking=booking).count() == 1
        assert booking.status == BookingStatus.DISPUTED
    assert GuaranteeClaim.objects.filter(booking=booking).count() == 1
    assert GuaranteeClaimHistory.objects.filter(claim=claim).count() == 2


@pytest.mark.django_db(transaction=True)
def test_technician_accepts_while_customer_withdraws_one_wins(domain_events):
    booking, claim, customer, technician = _open_claim()
    base = f"/api/v1/bookings/{booking.pk}/guarantee-claims/{claim.pk}"
    accept, withdraw = bearer_client(technician), bearer_client(customer)
    responses = race(
        lambda: accept.post(f"{base}/accept", {"visitStart": _slot(30)}, format="json"),
        lambda: withdraw.post(f"{base}/withdraw", {}, format="json"),
    )
    accepted, withdrawn = responses
    claim.refresh_from_db()
    history = list(
        GuaranteeClaimHistory.objects.filter(claim=claim)
        .order_by("id")
        .values_list("to_status", flat=True)
    )
    # Either order ends withdrawn, and the loser never half-applies: a withdrawal first leaves nothing to
    # answer (409); an accept first schedules a future visit, which the customer may still withdraw.
    assert withdrawn.status_code == 200 and claim.status == "withdrawn"
    if accepted.status_code == 409:
        assert accepted.json()["code"] == "guarantee_claim_not_allowed"
        assert history == ["open", "withdrawn"] and claim.visit_start is None
    else:
        assert accepted.status_code == 200
        assert history == ["open", "scheduled", "withdrawn"]
    steps = [p["to_status"] for n, p in domain_events if n == "booking.guarantee_claim_changed"]
    assert steps == history
