"""(b) A job offer to a technician enrolled for SMS offers is texted once, with its answer code: whether the
booking was made for them directly or by accepting a match, whichever event or redelivery asks for it, and it
replaces the app's own SMS for the same offer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory
from bookings.models import BookingStatus
from bookings.services import booking_create, booking_mark_deposit_paid
from bookings.tests.factories import BookingFactory
from dumuwaks.core import events as domain_events
from featurephone import events
from featurephone.models import OfferCode, SmsOfferEnrolment
from featurephone.services import offer_code_issue
from featurephone.tasks import offer_sms_send
from matching.services import match_accept, match_search
from matching.tests.factories import tomorrow_at
from notifications import sms
from notifications.models import DeliveryStatus, Notification, NotificationChannel
from notifications.services.notifications import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_technician(technician):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    return technician


@pytest.fixture
def enrolled(phone_technician):
    SmsOfferEnrolment.objects.create(technician=phone_technician)
    return phone_technician


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
    return [s.message for s in sms.outbox if s.to == user.phone_number]


def _offers_to(user):
    return [m for m in _texts_to(user) if "job DW-" in m or "Kazi ya" in m]


def _sms_delivery(user, type_):
    notification = Notification.objects.get(user=user, type=type_)
    return notification.deliveries.get(channel=NotificationChannel.SMS)


def test_enrolled_technician_gets_the_offer_as_the_only_sms_after_commit(
    customer, enrolled, service_category, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, enrolled, service_category)
    code = OfferCode.objects.get(booking=booking, technician=enrolled).code
    # One SMS for one offer: the feature-phone offer with its code; the app's "new job request"
    # notification keeps its in-app row but records its SMS as skipped.
    texts = _texts_to(enrolled)
    assert len(texts) == 1
    assert texts[0].startswith(f"Dumu Waks job {booking.number}: Fix sink, Kilimani")
    assert texts[0].endswith(f"Reply YES {code} to accept or NO {code} to decline.")
    delivery = _sms_delivery(enrolled, "booking.created")
    assert (delivery.status, delivery.error) == (
        DeliveryStatus.SKIPPED,
        "job offer sent as the feature-phone offer SMS",
    )
    assert Notification.objects.get(user=enrolled, type="booking.created").is_in_app


def test_technician_not_enrolled_gets_the_apps_sms_and_no_offer_sms(
    customer, phone_technician, service_category, django_capture_on_commit_callbacks
):
    SmsOfferEnrolment.objects.create(technician=phone_technician, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, phone_technician, service_category)
    assert not OfferCode.objects.filter(booking=booking).exists()
    assert _offers_to(phone_technician) == []
    assert _sms_delivery(phone_technician, "booking.created").status != DeliveryStatus.SKIPPED
    assert len(_texts_to(phone_technician)) == 1  # the app's "New job request"


def test_enrolled_but_phone_no_longer_verified_gets_the_apps_sms_not_the_offer(
    customer, enrolled, service_category, django_capture_on_commit_callbacks
):
    enrolled.is_phone_verified = False  # changed number, not verified yet: it may be someone else's
    enrolled.save(update_fields=["is_phone_verified"])
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, enrolled, service_category)
    assert not OfferCode.objects.filter(booking=booking).exists()
    assert _offers_to(enrolled) == []
    assert _sms_delivery(enrolled, "booking.created").status != DeliveryStatus.SKIPPED


def test_only_the_job_offer_sms_is_suppressed_for_an_enrolled_technician(
    customer, enrolled, service_category
):
    booking = BookingFactory(customer=customer, technician=enrolled, category=service_category)
    notify(user_id=enrolled.pk, type="booking.deposit_paid", context={"booking_id": booking.pk})
    assert _sms_delivery(enrolled, "booking.deposit_paid").status == DeliveryStatus.QUEUED


def test_kiswahili_offer(customer, enrolled, service_category, django_capture_on_commit_callbacks):
    enrolled.preferred_language = "sw"
    enrolled.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, enrolled, service_category)
    code = OfferCode.objects.get(booking=booking).code
    assert _offers_to(enrolled)[0].endswith(f"Jibu NDIO {code} kukubali au HAPANA {code} kukataa.")


def test_an_offer_matching_makes_is_texted_once(
    enrolled, service_category, django_capture_on_commit_callbacks
):
    buyer = CustomerFactory()
    _search, matches = match_search(
        customer=buyer,
        category=service_category,
        scheduled_start=tomorrow_at(10),
        duration_minutes=60,
    )
    (match,) = [m for m in matches if m.technician_id == enrolled.pk]
    with django_capture_on_commit_callbacks(execute=True):
        match = match_accept(
            match_id=match.pk, customer=buyer, title="Fix sink", address="Kilimani"
        )
    code = OfferCode.objects.get(booking_id=match.booking_id, technician=enrolled).code
    assert [m for m in _offers_to(enrolled) if code in m] == _offers_to(enrolled)
    assert len(_offers_to(enrolled)) == 1


def test_redelivered_and_repeated_events_send_one_sms(customer, enrolled, service_category):
    booking = BookingFactory(customer=customer, technician=enrolled, category=service_category)
    created = domain_events.BookingCreated(booking_id=booking.pk)
    events.on_booking_created(created)
    events.on_booking_created(created)  # the broker redelivers
    events.on_booking_deposit_paid(domain_events.BookingDepositPaid(booking_id=booking.pk))
    assert offer_sms_send(booking.pk) == "already_sent"
    assert len(_offers_to(enrolled)) == 1
    assert OfferCode.objects.get(booking=booking).offer_sms_sent_at is not None


def test_technician_enrolled_after_the_booking_gets_the_offer_when_the_deposit_arrives(
    customer, phone_technician, service_category, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = _book(customer, phone_technician, service_category)
    assert _offers_to(phone_technician) == []
    SmsOfferEnrolment.objects.create(technician=phone_technician)
    with django_capture_on_commit_callbacks(execute=True):
        booking_mark_deposit_paid(booking_id=booking.pk)
    code = OfferCode.objects.get(booking=booking).code
    assert len(_offers_to(phone_technician)) == 1
    assert _offers_to(phone_technician)[0].endswith(
        f"Reply YES {code} to accept or NO {code} to decline."
    )


def test_a_failed_send_gives_the_claim_back_so_a_retry_sends(
    customer, enrolled, service_category, monkeypatch
):
    from featurephone import tasks

    booking = BookingFactory(customer=customer, technician=enrolled, category=service_category)

    def unreachable(**kwargs):
        raise sms.SmsDeliveryError("Africa's Talking unreachable")

    monkeypatch.setattr(tasks, "send_sms", unreachable)
    with pytest.raises(sms.SmsDeliveryError):
        offer_sms_send.run(booking.pk)
    assert OfferCode.objects.get(booking=booking).offer_sms_sent_at is None
    monkeypatch.setattr(tasks, "send_sms", sms.send_sms)
    assert offer_sms_send(booking.pk) == "sent"
    assert len(_offers_to(enrolled)) == 1


def test_task_rechecks_the_booking_before_sending(enrolled, customer, service_category):
    booking = BookingFactory(
        customer=customer,
        technician=enrolled,
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
