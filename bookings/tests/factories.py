"""factory_boy factories for bookings (importable by other apps' tests).

`BookingFactory()` gives a pending booking two days ahead for a fresh customer and a fresh KYC-approved
technician skilled in plumbing (people come from accounts/tests/factories.py), with the amounts from
`price_breakdown` and a real DW-YYMM-NNNNNN number.
Pass `technician=None` for an unassigned booking, `deposit_paid=True` to mark the deposit paid,
`status=...` (and the matching timestamps) for later stages. Successive bookings get successive 2-hour-apart
slots, so many bookings for one technician do not trip the overlap constraint.
`recently_confirmed_booking()` gives a job confirmed yesterday: under the workmanship guarantee.
"""

from datetime import time, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, ServiceCategoryFactory, TechnicianFactory
from bookings.models import (
    Booking,
    BookingStatus,
    Dispute,
    DisputeStatus,
    TimeOff,
    WeeklyAvailability,
)
from bookings.numbering import next_booking_number
from bookings.pricing import price_breakdown

_slot_counter = iter(range(10**9))


def _next_slot_start():
    # Whole hours, two hours apart, starting two days from now.
    base = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    return base + timedelta(hours=2 * next(_slot_counter))


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking
        exclude = ("duration_minutes", "deposit_paid", "breakdown")

    class Params:
        duration_minutes = 60
        deposit_paid = False

    number = factory.LazyFunction(next_booking_number)
    customer = factory.SubFactory(CustomerFactory)
    technician = factory.SubFactory(TechnicianFactory)
    category = factory.SubFactory(ServiceCategoryFactory)
    title = "Fix leaking kitchen sink"
    description = "Water drips under the sink."
    address = "Kilimani, Argwings Kodhek Rd"
    county = "Nairobi"
    latitude = -1.2921
    longitude = 36.8219
    scheduled_start = factory.LazyFunction(_next_slot_start)
    scheduled_end = factory.LazyAttribute(
        lambda o: o.scheduled_start + timedelta(minutes=o.duration_minutes)
    )
    price = Decimal("3000.00")
    breakdown = factory.LazyAttribute(lambda o: price_breakdown(o.price))
    deposit_amount = factory.LazyAttribute(lambda o: o.breakdown.deposit)
    balance_amount = factory.LazyAttribute(lambda o: o.breakdown.balance)
    platform_fee = factory.LazyAttribute(lambda o: o.breakdown.platform_fee)
    technician_share = factory.LazyAttribute(lambda o: o.breakdown.technician_share)
    status = BookingStatus.PENDING
    payment_due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))
    deposit_paid_at = factory.LazyAttribute(lambda o: timezone.now() if o.deposit_paid else None)


def recently_confirmed_booking(**kwargs) -> Booking:
    """A two-hour job done three days ago, completed two days ago and confirmed yesterday: inside the
    workmanship guarantee's window, so its customer may open a claim. `kwargs` go to `BookingFactory`."""
    now = timezone.now()
    start = now - timedelta(days=3)
    return BookingFactory(
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        status=BookingStatus.CONFIRMED,
        completed_at=now - timedelta(days=2),
        confirmed_at=now - timedelta(days=1),
        **kwargs,
    )


class WeeklyAvailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeeklyAvailability

    technician = factory.SubFactory(TechnicianFactory)
    weekday = 0
    start_time = time(8, 0)
    end_time = time(17, 0)


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    technician = factory.SubFactory(TechnicianFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=1))
    reason = "Family event"


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    booking = factory.SubFactory(
        BookingFactory,
        status=BookingStatus.DISPUTED,
        deposit_paid=True,
        completed_at=factory.LazyFunction(timezone.now),
    )
    opened_by = factory.LazyAttribute(lambda o: o.booking.customer)
    reason = "The sink still leaks."
    evidence = factory.LazyFunction(list)
    status = DisputeStatus.OPEN
