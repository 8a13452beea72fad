"""(b) A booking made for a technician enrolled for SMS offers texts them the job with its answer code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.services import booking_create
from bookings.tests.factories import BookingFactory
from featurephone.models import OfferCode, SmsOfferEnrolment
from featurephone.services import offer_code_issue
from featurephone.tasks import offer_sms_send
from notifications import sms

pytestmark = pytest.mark.django_db


def _book(customer, technician, category):
    return booking_create(
        customer=customer,
        category=category,
        title="Fix sink",
        address="Kilimani",
        scheduled_start=timezone.now() + timedelta(days=2),
        duration_minutes=60,
        price=Decimal("2500"),
        technician=technician,
    )


def _texts_to(user):
    # Only the offers: the app's own "new job request" notification may also go out by SMS.
    return [
        s.message
        for s in sms.outbox
        if s.to == user.phone_number and ("job DW-" in s.message or "Kazi ya" in s.message)
    ]


def test_enrolled_technician_gets_the_offer_with_its_code_after_commit(
    customer, technician, service_category, django_capture_on_commit_callbacks
):
    SmsOfferEnrolment.objects.create(technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, technician, service_category)
    code = OfferCode.objects.get(booking=booking, technician=technician).code
    texts = _texts_to(technician)
    assert len(texts) == 1
    assert texts[0].startswith(f"Dumu Waks job {booking.number}: Fix sink, Kilimani")
    assert texts[0].endswith(f"Reply YES {code} to accept or NO {code} to decline.")


def test_kiswahili_offer(
    customer, technician, service_category, django_capture_on_commit_callbacks
):
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    SmsOfferEnrolment.objects.create(technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, technician, service_category)
    code = OfferCode.objects.get(booking=booking).code
    assert _texts_to(technician)[0].endswith(f"Jibu NDIO {code} kukubali au HAPANA {code} kukataa.")


def test_technician_not_enrolled_gets_no_offer_sms(
    customer, technician, service_category, django_capture_on_commit_callbacks
):
    SmsOfferEnrolment.objects.create(technician=technician, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, technician, service_category)
    assert not OfferCode.objects.filter(booking=booking).exists()
    assert not any(s.message.startswith("Dumu Waks job") for s in sms.outbox)


def test_task_rechecks_the_booking_before_sending(technician, customer, service_category):
    SmsOfferEnrolment.objects.create(technician=technician)
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        category=service_category,
        status=BookingStatus.CANCELLED,
    )
    assert offer_sms_send(booking.pk) == "skipped"
    assert offer_sms_send(10**9) == "skipped"
    assert sms.outbox == []


def test_codes_are_unique_per_technician_stable_per_booking_and_freed_when_work_ends(
    technician, customer, service_category
):
    first = BookingFactory(customer=customer, technician=technician, category=service_category)
    second = BookingFactory(customer=customer, technician=technician, category=service_category)
    code = offer_code_issue(booking=first, technician=technician)
    assert offer_code_issue(booking=first, technician=technician) == code
    assert offer_code_issue(booking=second, technician=technician) != code
    assert len(code) == 4 and code.isdigit()
    first.status = BookingStatus.CANCELLED
    first.save(update_fields=["status"])
    third = BookingFactory(customer=customer, technician=technician, category=service_category)
    offer_code_issue(booking=third, technician=technician)
    assert set(OfferCode.objects.values_list("booking_id", flat=True)) == {second.pk, third.pk}
