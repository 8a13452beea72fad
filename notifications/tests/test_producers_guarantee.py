"""Workmanship-guarantee claims: each step tells the party who has to act or whose claim moved, in their
language, and both parties get the live event (README "Workmanship guarantee")."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from bookings.models import BookingStatus, Dispute, GuaranteeClaim, GuaranteeClaimStatus
from bookings.rules import GUARANTEE_RESPONSE_WINDOW, GUARANTEE_VISIT_REPORT_WINDOW
from bookings.services import (
    dispute_open,
    guarantee_claim_accept,
    guarantee_claim_decline,
    guarantee_claim_open,
    guarantee_claim_report,
    guarantee_claim_withdraw,
    guarantee_claims_process_due,
)
from bookings.tests.factories import BookingFactory, recently_confirmed_booking
from notifications import catalogue, producers, wording
from notifications.models import Notification
from payments.tests.helpers import set_status

pytestmark = pytest.mark.django_db


def _types_by_user():
    return sorted(Notification.objects.values_list("user_id", "type"))


@pytest.fixture
def confirmed(customer, technician, service_category):
    return recently_confirmed_booking(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )


@pytest.fixture
def live(monkeypatch):
    """(user id, data) of every live `booking.guarantee_claim_changed` event the producers send."""
    sent = []

    def send(user_id, type_, data):
        if type_ == "booking.guarantee_claim_changed":
            sent.append((user_id, data))

    monkeypatch.setattr(producers, "send_to_user_after_commit", send)
    return sent


def _open(booking, customer, capture):
    with capture(execute=True):
        return guarantee_claim_open(
            booking=booking, customer=customer, description="Bomba linavuja tena."
        )


def _visit_passed(claim):
    GuaranteeClaim.objects.filter(pk=claim.pk).update(
        visit_start=timezone.now() - timedelta(hours=2),
        visit_end=timezone.now() - timedelta(hours=1),
    )


def _visit_held(booking, claim, technician, capture):
    """The technician schedules the return visit (its notifications sent), then the visit is over."""
    with capture(execute=True):
        guarantee_claim_accept(
            booking=booking,
            claim_id=claim.pk,
            technician=technician,
            visit_start=timezone.now() + timedelta(days=1),
        )
    _visit_passed(claim)


def test_every_claim_status_has_a_declared_wording_and_every_type_has_texts():
    assert set(wording.GUARANTEE_CLAIM_TYPES) == set(GuaranteeClaimStatus.values)
    declared = {t for by_role in wording.GUARANTEE_CLAIM_TYPES.values() for t in by_role.values()}
    extra = {"guarantee.claim_unanswered", "guarantee.claim_expired"}
    assert declared | extra <= set(catalogue.CATALOGUE)


def test_claim_to_technician_visit_to_customer_fixed_to_technician(
    confirmed, customer, technician, live, django_capture_on_commit_callbacks
):
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    assert _types_by_user() == [(technician.pk, "guarantee.claim_opened")]
    note = Notification.objects.get()
    assert note.title == "Ombi la kurudi kazini" and "Bomba linavuja tena." in note.body
    assert note.data["claim_id"] == claim.pk
    assert live == [
        (
            user_id,
            {
                "booking_id": confirmed.pk,
                "booking_number": confirmed.number,
                "claim_id": claim.pk,
                "status": "open",
                "dispute_id": None,
                "actor_id": customer.pk,
            },
        )
        for user_id in (customer.pk, technician.pk)
    ]

    visit_start = timezone.now() + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_accept(
            booking=confirmed, claim_id=claim.pk, technician=technician, visit_start=visit_start
        )
    visit = Notification.objects.get(user=customer)
    assert visit.type == "guarantee.visit_scheduled"
    assert timezone.localtime(visit_start).strftime("%H:%M") in visit.body
    assert [(u, e["status"]) for u, e in live[2:]] == [
        (customer.pk, "scheduled"),
        (technician.pk, "scheduled"),
    ]

    _visit_passed(claim)
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_report(
            booking=confirmed, claim_id=claim.pk, customer=customer, fixed=True, note="Safi."
        )
    assert _types_by_user() == sorted(
        [
            (technician.pk, "guarantee.claim_opened"),
            (customer.pk, "guarantee.visit_scheduled"),
            (technician.pk, "guarantee.visit_fixed"),
        ]
    )
    assert Notification.objects.get(type="guarantee.visit_fixed").title == (
        "Ziara ya marudio imekamilika"
    )


def test_a_declined_claim_tells_both_once_and_dispute_opened_stays_quiet(
    confirmed, customer, technician, live, django_capture_on_commit_callbacks
):
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_decline(
            booking=confirmed, claim_id=claim.pk, technician=technician, reason="Out of town."
        )
    dispute = Dispute.objects.get(booking=confirmed)
    assert _types_by_user() == sorted(
        [(customer.pk, "guarantee.claim_declined"), (technician.pk, "guarantee.disputed")]
    )
    declined = Notification.objects.get(user=customer)
    assert "Out of town." in declined.body and declined.data["dispute_id"] == dispute.pk
    assert {(u, e["status"], e["dispute_id"]) for u, e in live[2:]} == {
        (customer.pk, "declined", dispute.pk),
        (technician.pk, "declined", dispute.pk),
    }


def test_a_failed_visit_tells_the_technician_what_is_still_wrong(
    confirmed, customer, technician, django_capture_on_commit_callbacks
):
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    _visit_held(confirmed, claim, technician, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_report(
            booking=confirmed,
            claim_id=claim.pk,
            customer=customer,
            fixed=False,
            note="Still dripping.",
        )
    assert _types_by_user() == sorted(
        [(customer.pk, "guarantee.disputed"), (technician.pk, "guarantee.visit_failed")]
    )
    assert "Still dripping." in Notification.objects.get(user=technician).body


def test_the_beat_job_tells_both_what_the_timer_did(
    confirmed, customer, technician, service_category, django_capture_on_commit_callbacks
):
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    later = timezone.now() + GUARANTEE_RESPONSE_WINDOW + timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert guarantee_claims_process_due(now=later) == 1
    assert _types_by_user() == sorted(
        [(customer.pk, "guarantee.claim_unanswered"), (technician.pk, "guarantee.claim_expired")]
    )

    second = BookingFactory(customer=customer, technician=technician, category=service_category)
    set_status(second, BookingStatus.CONFIRMED, confirmed_at=timezone.now())
    claim = _open(second, customer, django_capture_on_commit_callbacks)
    _visit_held(second, claim, technician, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert guarantee_claims_process_due(now=timezone.now() + GUARANTEE_VISIT_REPORT_WINDOW) == 1
    assert _types_by_user() == sorted(
        [(customer.pk, "guarantee.closed_fixed"), (technician.pk, "guarantee.visit_fixed")]
    )


def test_a_dispute_opened_without_a_claim_still_tells_both(
    confirmed, customer, technician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute_open(booking=confirmed, opened_by=customer, reason="Broken tap.")
    assert _types_by_user() == sorted(
        [(customer.pk, "dispute.opened"), (technician.pk, "dispute.opened")]
    )


def test_a_claim_declined_after_the_bookings_dispute_was_decided_claims_no_new_dispute(
    confirmed, customer, technician, django_capture_on_commit_callbacks
):
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    set_status(confirmed, BookingStatus.RESOLVED)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_decline(
            booking=confirmed, claim_id=claim.pk, technician=technician, reason="Decided already."
        )
    assert GuaranteeClaim.objects.get(pk=claim.pk).dispute_id is None
    # The customer hears of the decline; the technician is not told of a dispute that was not opened.
    assert _types_by_user() == [(customer.pk, "guarantee.claim_declined")]


def test_a_withdrawn_claim_tells_the_technician(
    confirmed, customer, technician, live, django_capture_on_commit_callbacks
):
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        guarantee_claim_withdraw(booking=confirmed, claim_id=claim.pk, customer=customer)
    assert _types_by_user() == [(technician.pk, "guarantee.claim_withdrawn")]
    assert [(u, e["status"]) for u, e in live[2:]] == [
        (customer.pk, "withdrawn"),
        (technician.pk, "withdrawn"),
    ]


def test_times_are_written_in_the_recipients_language(
    confirmed, customer, technician, django_capture_on_commit_callbacks
):
    """Found from outside (QA, `make run`): a Kiswahili notification ended "kataa kabla ya Wed 09 Dec
    2026 06:36": the time was written in English before the recipient's language was known."""
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    claim = _open(confirmed, customer, django_capture_on_commit_callbacks)
    Notification.objects.all().delete()
    monday = datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo("Africa/Nairobi"))
    GuaranteeClaim.objects.filter(pk=claim.pk).update(respond_by=monday, visit_start=monday)
    producers.guarantee_claim_notify(claim_id=claim.pk, status="open", actor_id=customer.pk)
    assert Notification.objects.get(user=technician).body.endswith(
        "kataa kabla ya Jtatu 07 Dis 2026 09:30."
    )
    producers.guarantee_claim_notify(claim_id=claim.pk, status="scheduled", actor_id=technician.pk)
    assert (
        "on Mon 07 Dec 2026 09:30, free of charge" in Notification.objects.get(user=customer).body
    )
