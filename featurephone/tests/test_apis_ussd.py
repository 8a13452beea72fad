"""POST /api/v1/ussd walked with Africa's Talking's real USSD form, step by step, per persona and replay."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

from bookings.models import BookingStatus, BookingStatusHistory
from bookings.tests.factories import BookingFactory
from featurephone.africastalking import ussd_form
from featurephone.models import UssdStep

URL = "/api/v1/ussd?token=dev-callback-token"
FORM = "application/x-www-form-urlencoded"
pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_technician(technician):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    return technician


@pytest.fixture
def job(phone_technician, customer, service_category):
    return BookingFactory(
        customer=customer, technician=phone_technician, category=service_category, deposit_paid=True
    )


def _step(phone, text, session="ATUid_1", url=URL):
    response = Client().post(
        url, urlencode(ussd_form(phone=phone, text=text, session_id=session)), content_type=FORM
    )
    return response


def test_walk_accept_en_route_arrived_start_done(phone_technician, job):
    phone = phone_technician.phone_number
    first = _step(phone, "")
    assert first.status_code == 200 and first["Content-Type"].startswith("text/plain")
    assert (
        first.content.decode()
        == f"CON Dumu Waks jobs:\n1. {job.number} {job.title[:24]}\n0. Kiswahili"
    )
    assert (
        _step(phone, "1").content.decode()
        == f"CON Job {job.number} (Pending)\n1. Accept\n2. Decline"
    )
    assert _step(phone, "1*1").content.decode().startswith(f"END You accepted job {job.number}")
    for session, expected in (
        ("s2", "en_route"),
        ("s3", "arrived"),
        ("s4", "in_progress"),
        ("s5", "completed"),
    ):
        screen = _step(phone, "1*1", session=session).content.decode()
        assert screen.startswith("END Job"), screen
        job.refresh_from_db()
        assert job.status == expected
    notes = list(
        BookingStatusHistory.objects.filter(booking=job)
        .order_by("pk")
        .values_list("to_status", "note", "actor_id")
    )
    assert notes[-5:] == [
        (s, "via ussd", phone_technician.pk)
        for s in ("accepted", "en_route", "arrived", "in_progress", "completed")
    ]


def test_replayed_step_answers_the_same_without_acting_twice(phone_technician, job):
    phone = phone_technician.phone_number
    first = _step(phone, "1*2").content.decode()
    rows = BookingStatusHistory.objects.filter(booking=job).count()
    assert first.startswith(f"END You declined job {job.number}")
    assert _step(phone, "1*2").content.decode() == first
    assert BookingStatusHistory.objects.filter(booking=job).count() == rows
    assert UssdStep.objects.get().outcome == "declined"


def test_kiswahili_by_switching_on_the_first_screen(phone_technician, job):
    phone = phone_technician.phone_number
    assert _step(phone, "0").content.decode().startswith("CON Kazi za Dumu Waks:\n1. ")
    assert (
        _step(phone, "0*1").content.decode()
        == f"CON Kazi {job.number} (Inasubiri jibu lako)\n1. Kubali\n2. Kataa"
    )
    assert _step(phone, "0*1*1").content.decode().startswith(f"END Umekubali kazi {job.number}")


@pytest.mark.parametrize(
    ("status", "english", "kiswahili"),
    [
        (BookingStatus.ACCEPTED, "Accepted", "Umekubali"),
        (BookingStatus.EN_ROUTE, "Technician en route", "Uko njiani"),
        (BookingStatus.ARRIVED, "Technician arrived", "Umefika"),
        (BookingStatus.IN_PROGRESS, "In progress", "Kazi inaendelea"),
    ],
)
def test_the_job_screen_names_its_status_in_the_sessions_language(
    phone_technician, job, status, english, kiswahili
):
    """Found from outside (QA, the simulator against `make run`): the Kiswahili menu said
    "Kazi DW-… (Accepted)"."""
    type(job).objects.filter(pk=job.pk).update(status=status)
    phone = phone_technician.phone_number
    assert _step(phone, "1").content.decode().startswith(f"CON Job {job.number} ({english})\n")
    assert _step(phone, "0*1").content.decode().startswith(f"CON Kazi {job.number} ({kiswahili})\n")


def test_not_allowed_action_ends_with_the_reason_and_changes_nothing(
    phone_technician, customer, service_category
):
    unpaid = BookingFactory(
        customer=customer, technician=phone_technician, category=service_category
    )
    screen = _step(phone_technician.phone_number, "1*1").content.decode()
    assert screen.startswith(f"END Job {unpaid.number} could not be changed (deposit_not_paid)")
    unpaid.refresh_from_db()
    assert unpaid.status == BookingStatus.PENDING


def test_other_persons_and_bad_choices(phone_technician, job, customer, other_technician):
    assert (
        _step(customer.phone_number or "+254700000001", "")
        .content.decode()
        .startswith("END Dumu Waks: this number")
    )
    other_technician.is_phone_verified = True
    other_technician.save(update_fields=["is_phone_verified"])
    assert _step(other_technician.phone_number, "").content.decode() == (
        "END Dumu Waks: you have no open offers or current jobs."
    )
    assert _step(other_technician.phone_number, "1*1").content.decode() == "END Invalid choice."
    assert _step(phone_technician.phone_number, "7").content.decode() == "END Invalid choice."
    assert _step(phone_technician.phone_number, "1*9").content.decode() == "END Invalid choice."
    job.refresh_from_db()
    assert job.status == BookingStatus.PENDING and not UssdStep.objects.exists()


def test_wrong_token_is_403_and_missing_fields_400(phone_technician, job):
    assert (
        _step(phone_technician.phone_number, "1*1", url="/api/v1/ussd?token=nope").status_code
        == 403
    )
    response = Client().post(URL, urlencode({"text": ""}), content_type=FORM)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"sessionId", "phoneNumber"}
    job.refresh_from_db()
    assert job.status == BookingStatus.PENDING
