"""The cancellation fee table at each boundary (`cancellation_fee_for`, `booking_cancel`)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role, TechnicianProfile
from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.services import booking_cancel, cancellation_fee_for, cancellation_quote
from bookings.tests.factories import BookingFactory
from dumuwaks.core.errors import InvalidTransition

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("before_start", "expected_fee", "tier"),
    [
        (48 * H, "0.00", "none"),
        (24 * H, "0.00", "none"),  # exactly 24 h: still free
        (24 * H - S, "150.00", "under_24h"),
        (6 * H, "150.00", "under_24h"),  # exactly 6 h: the 25 % tier
        (6 * H - S, "300.00", "under_6h"),
        (2 * H, "300.00", "under_6h"),  # exactly 2 h: the 50 % tier
        (2 * H - S, "450.00", "under_2h_or_en_route"),
        (timedelta(0), "450.00", "under_2h_or_en_route"),
        (-H, "450.00", "under_2h_or_en_route"),  # after the start
    ],
)
def test_customer_fee_by_time_before_start(before_start, expected_fee, tier):
    booking = BookingFactory(price=Decimal("3000"), deposit_paid=True)  # deposit 600
    at = booking.scheduled_start - before_start
    fee = cancellation_fee_for(booking=booking, cancelled_by=booking.customer, at=at)
    assert fee == Decimal(expected_fee)
    quote = cancellation_quote(booking=booking, cancelled_by=booking.customer, at=at)
    assert quote.tier == tier
    assert quote.fee + quote.refund == booking.deposit_amount


@pytest.mark.parametrize("status", [BookingStatus.EN_ROUTE, BookingStatus.ARRIVED])
def test_en_route_or_arrived_costs_75_percent_even_days_ahead(status):
    booking = BookingFactory(price=Decimal("3000"), deposit_paid=True, status=status)
    at = booking.scheduled_start - 72 * H
    assert cancellation_fee_for(booking=booking, cancelled_by=booking.customer, at=at) == Decimal(
        "450.00"
    )


def test_fee_is_rounded_half_up_to_whole_shillings_and_adds_up():
    booking = BookingFactory(price=Decimal("1234"), deposit_paid=True)  # deposit 247
    at = booking.scheduled_start - 10 * H
    quote = cancellation_quote(booking=booking, cancelled_by=booking.customer, at=at)
    assert booking.deposit_amount == Decimal("247.00")
    assert quote.fee == Decimal("62.00")  # 61.75 -> 62
    assert quote.refund == Decimal("185.00")


def test_no_fee_when_the_deposit_was_not_paid():
    booking = BookingFactory(deposit_paid=False)
    at = booking.scheduled_start - H
    assert cancellation_fee_for(booking=booking, cancelled_by=booking.customer, at=at) == 0
    assert cancellation_quote(booking=booking, cancelled_by=booking.customer, at=at).refund == 0


def test_no_fee_while_no_technician_is_assigned():
    booking = BookingFactory(technician=None, deposit_paid=True)
    at = booking.scheduled_start - H
    assert cancellation_fee_for(booking=booking, cancelled_by=booking.customer, at=at) == 0


@pytest.mark.parametrize("who", ["technician", "staff"])
def test_technician_or_staff_cancel_is_free_and_counts_against_the_technician(who):
    booking = BookingFactory(
        deposit_paid=True,
        status=BookingStatus.ACCEPTED,
        scheduled_start=timezone.now() + H,
    )
    booking.scheduled_end = booking.scheduled_start + H
    booking.save()
    actor = booking.technician if who == "technician" else UserFactory(role=Role.SUPPORT)
    cancelled = booking_cancel(booking=booking, actor=actor, reason="Emergency")
    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.cancellation_fee == 0
    booking.refresh_from_db()
    assert booking.cancellation_fee == 0 and booking.cancelled_by == actor
    profile = TechnicianProfile.objects.get(user=booking.technician)
    assert profile.jobs_cancelled_by_technician == 1


def test_customer_cancel_stores_the_fee_and_does_not_count_against_the_technician():
    booking = BookingFactory(
        price=Decimal("3000"), deposit_paid=True, scheduled_start=timezone.now() + 5 * H
    )
    booking_cancel(booking=booking, actor=booking.customer, reason="Changed my mind")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancellation_fee == Decimal("300.00")
    assert booking.cancellation_reason == "Changed my mind"
    assert booking.cancelled_at is not None
    assert TechnicianProfile.objects.get(user=booking.technician).jobs_cancelled_by_technician == 0


def test_cannot_cancel_after_work_started():
    booking = BookingFactory(status=BookingStatus.IN_PROGRESS, deposit_paid=True)
    with pytest.raises(InvalidTransition):
        booking_cancel(booking=booking, actor=booking.customer, reason="x")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.IN_PROGRESS and booking.cancellation_fee == 0


@pytest.mark.parametrize("price", ["1", "7", "999", "1234", "2501", "99999"])
@pytest.mark.parametrize("hours_before", [1, 3, 12])
def test_fee_and_refund_always_add_up_to_the_deposit(price, hours_before):
    booking = BookingFactory(price=Decimal(price), deposit_paid=True)
    at = booking.scheduled_start - hours_before * H
    quote = cancellation_quote(booking=booking, cancelled_by=booking.customer, at=at)
    assert quote.fee + quote.refund == booking.deposit_amount
    assert quote.fee == quote.fee.to_integral_value()
