import re

import pytest
from django.utils import timezone

from accounts.models import KycStatus
from accounts.tests.factories import TechnicianFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory

pytestmark = pytest.mark.django_db


def test_booking_factory_defaults_are_consistent():
    booking = BookingFactory()
    assert re.fullmatch(r"DW-\d{4}-\d{6}", booking.number)
    assert booking.status == BookingStatus.PENDING
    assert booking.scheduled_start > timezone.now()
    assert booking.deposit_amount + booking.balance_amount == booking.price
    assert booking.technician.technician_profile.kyc_status == KycStatus.APPROVED
    assert booking.technician.technician_profile.skills.filter(pk=booking.category_id).exists()


def test_many_bookings_for_one_technician_do_not_overlap():
    technician = TechnicianFactory()
    bookings = BookingFactory.create_batch(5, technician=technician, deposit_paid=True)
    assert all(b.deposit_paid_at for b in bookings)
    assert len({b.number for b in bookings}) == 5
