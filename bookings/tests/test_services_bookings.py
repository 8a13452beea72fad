"""booking_create, booking_mark_deposit_paid, booking_update and lock_booking."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, ServiceCategoryFactory, TechnicianFactory
from bookings import rules
from bookings.errors import (
    BookingNotFound,
    CustomersOnly,
    InvalidBooking,
    SlotTaken,
    TechnicianNotEligible,
    TechnicianUnavailable,
)
from bookings.models import Booking, BookingStatusHistory
from bookings.services import booking_create, booking_mark_deposit_paid, lock_booking
from bookings.tests.factories import BookingFactory, WeeklyAvailabilityFactory

pytestmark = pytest.mark.django_db


def _create(**overrides):
    kwargs = {
        "customer": CustomerFactory(),
        "category": ServiceCategoryFactory(),
        "title": "Fix sink",
        "address": "Kilimani",
        "scheduled_start": timezone.now() + timedelta(days=2),
        "duration_minutes": 60,
        "price": Decimal("1999"),
    }
    kwargs.update(overrides)
    return booking_create(**kwargs)


def test_create_computes_amounts_number_and_payment_window(monkeypatch):
    monkeypatch.setattr(rules, "PAYMENT_WINDOW", timedelta(minutes=45))
    before = timezone.now()
    booking = _create()
    assert re.fullmatch(rf"DW-{timezone.localtime():%y%m}-\d{{6}}", booking.number)
    assert (booking.price, booking.deposit_amount, booking.balance_amount) == (
        Decimal("1999.00"),
        Decimal("400.00"),
        Decimal("1599.00"),
    )
    assert booking.platform_fee + booking.technician_share == booking.price
    assert booking.scheduled_end - booking.scheduled_start == timedelta(hours=1)
    assert (
        before + timedelta(minutes=45)
        <= booking.payment_due_at
        <= timezone.now() + timedelta(minutes=45)
    )
    assert booking.technician is None
    row = BookingStatusHistory.objects.get(booking=booking)
    assert (row.from_status, row.to_status, row.actor) == ("", "pending", booking.customer)


def test_create_publishes_booking_created(django_capture_on_commit_callbacks, domain_events):
    with django_capture_on_commit_callbacks(execute=True):
        booking = _create()
    assert domain_events == [("booking.created", {"booking_id": booking.pk})]


def test_only_customers_create():
    with pytest.raises(CustomersOnly):
        _create(customer=TechnicianFactory())
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"scheduled_start": timezone.now() - timedelta(minutes=1)},
        {"duration_minutes": 5},
        {"price": Decimal("0")},
        {"title": "  "},
    ],
)
def test_invalid_input(overrides):
    with pytest.raises(InvalidBooking):
        _create(**overrides)
    assert not Booking.objects.exists()


@pytest.mark.parametrize("price", [Decimal("1"), Decimal("2"), Decimal("99.99")])
def test_a_price_below_the_minimum_is_refused_by_the_service(price):
    """Whoever calls it (the API, matching's accept), a booking never gets a deposit under KES 20."""
    with pytest.raises(InvalidBooking) as refused:
        _create(price=price)
    assert refused.value.fields == {
        "price": ["The price must be at least KES 100 (a deposit of at least KES 20)."]
    }
    assert not Booking.objects.exists()


def test_the_minimum_price_splits_into_whole_shillings():
    booking = _create(price=Decimal("100"))
    assert (booking.deposit_amount, booking.balance_amount) == (Decimal("20"), Decimal("80"))
    assert (booking.platform_fee, booking.technician_share) == (Decimal("15"), Decimal("85"))


def test_technician_must_have_the_skill():
    with pytest.raises(TechnicianNotEligible):
        _create(technician=TechnicianFactory(skill=ServiceCategoryFactory(slug="electrical")))


def test_technician_outside_working_hours():
    technician = TechnicianFactory()
    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(
        hour=20, minute=0, second=0, microsecond=0
    )
    WeeklyAvailabilityFactory(technician=technician, weekday=start.weekday())  # 08:00-17:00
    with pytest.raises(TechnicianUnavailable) as excinfo:
        _create(technician=technician, scheduled_start=start)
    assert excinfo.value.extra == {"reason": "outside_working_hours"}


def test_overlap_is_refused():
    existing = BookingFactory()
    with pytest.raises(SlotTaken):
        _create(technician=existing.technician, scheduled_start=existing.scheduled_start)


def test_deposit_paid_is_idempotent(django_capture_on_commit_callbacks, domain_events):
    booking = BookingFactory()
    paid_at = timezone.now() - timedelta(minutes=2)
    with django_capture_on_commit_callbacks(execute=True):
        first = booking_mark_deposit_paid(booking_id=booking.pk, paid_at=paid_at)
        second = booking_mark_deposit_paid(booking_id=booking.pk)
    assert first.deposit_paid_at == paid_at == second.deposit_paid_at
    assert domain_events == [("booking.deposit_paid", {"booking_id": booking.pk})]


def test_lock_booking_missing_is_not_found():
    with pytest.raises(BookingNotFound):
        lock_booking(10**9)
