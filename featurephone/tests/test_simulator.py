"""(d) The terminal simulator drives the same services (in-process) or endpoints (--url) as Africa's Talking,
for SMS answers and the USSD menu."""

import io

import pytest
from django.core.management import call_command

from bookings.models import BookingStatus, BookingStatusHistory
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


@pytest.fixture
def phone_job(technician, customer, service_category):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    return BookingFactory(
        customer=customer, technician=technician, category=service_category, deposit_paid=True
    )


def test_ussd_mode_walks_the_menu_from_typed_digits(technician, phone_job):
    out = io.StringIO()
    # Dial, pick job 1, accept; after END dial again, then quit.
    typed = io.StringIO("1\n1\n\nq\n")
    call_command(
        "featurephone_simulator", phone=technician.phone_number, ussd=True, stdin=typed, stdout=out
    )
    screens = out.getvalue()
    assert f"CON Dumu Waks jobs:\n1. {phone_job.number}" in screens
    assert f"CON Job {phone_job.number} (Pending)\n1. Accept\n2. Decline" in screens
    assert f"END You accepted job {phone_job.number}" in screens
    # The second dial lists the job again, now accepted: en route is offered next.
    assert screens.count("CON Dumu Waks jobs:") == 2
    phone_job.refresh_from_db()
    assert phone_job.status == BookingStatus.ACCEPTED
    history = BookingStatusHistory.objects.filter(booking=phone_job).latest("pk")
    assert (history.to_status, history.note, history.actor_id) == (
        "accepted",
        "via ussd",
        technician.pk,
    )


def test_ussd_mode_hanging_up_changes_nothing(technician, phone_job):
    out = io.StringIO()
    call_command(
        "featurephone_simulator",
        phone=technician.phone_number,
        ussd=True,
        stdin=io.StringIO("1\n"),  # picks the job, then Ctrl-D
        stdout=out,
    )
    assert "1. Accept" in out.getvalue() and "END" not in out.getvalue()
    phone_job.refresh_from_db()
    assert phone_job.status == BookingStatus.PENDING


def test_ussd_mode_scripted_session_in_kiswahili(technician, phone_job):
    out = io.StringIO()
    call_command(
        "featurephone_simulator",
        phone=technician.phone_number,
        ussd=True,
        text="0*1*2",
        stdout=out,
    )
    screens = out.getvalue()
    assert screens.startswith("CON Dumu Waks jobs:")  # each step AT would post, in order
    assert f"CON Kazi {phone_job.number} (Inasubiri jibu lako)\n1. Kubali\n2. Kataa" in screens
    assert f"END Umekataa kazi {phone_job.number}" in screens
    phone_job.refresh_from_db()
    assert (phone_job.status, phone_job.technician_id) == (BookingStatus.PENDING, None)


def test_ussd_mode_posts_the_wire_format_to_a_running_server(
    technician, phone_job, live_server, settings
):
    settings.AFRICASTALKING_CALLBACK_TOKEN = "sim-token"
    out = io.StringIO()
    call_command(
        "featurephone_simulator",
        phone=technician.phone_number,
        ussd=True,
        text="1*1",
        url=live_server.url,
        token="sim-token",
        stdout=out,
    )
    assert f"END You accepted job {phone_job.number}" in out.getvalue()
    phone_job.refresh_from_db()
    assert phone_job.status == BookingStatus.ACCEPTED


def test_sms_mode_reads_typed_lines_too(technician, phone_job):
    code = offer_code_issue(booking=phone_job, technician=technician)
    out = io.StringIO()
    call_command(
        "featurephone_simulator",
        phone=technician.phone_number,
        stdin=io.StringIO(f"hello\nNO {code}\n"),
        stdout=out,
    )
    assert "(help) Dumu Waks: reply YES <code>" in out.getvalue()
    assert f"(declined) You declined job {phone_job.number}" in out.getvalue()
