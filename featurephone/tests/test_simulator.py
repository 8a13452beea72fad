"""(d) The terminal simulator drives the same service as the webhook."""

import io

import pytest
from django.core.management import call_command

from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory
from featurephone.services import offer_code_issue

pytestmark = pytest.mark.django_db


def test_simulator_accepts_an_offer_in_process(technician, customer, service_category):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    booking = BookingFactory(
        customer=customer, technician=technician, category=service_category, deposit_paid=True
    )
    code = offer_code_issue(booking=booking, technician=technician)
    out = io.StringIO()
    call_command(
        "featurephone_simulator", phone=technician.phone_number, text=f"YES {code}", stdout=out
    )
    assert out.getvalue().startswith(f"(accepted) You accepted job {booking.number}")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED


def test_simulator_reports_an_unknown_sender():
    out = io.StringIO()
    call_command("featurephone_simulator", phone="+254799999999", text="YES 1234", stdout=out)
    assert out.getvalue().startswith("(unknown_sender) [no reply")
