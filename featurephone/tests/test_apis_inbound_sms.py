"""POST /api/v1/sms/inbound driven with Africa's Talking's real inbound form, per persona and replay."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from bookings.models import BookingStatus, BookingStatusHistory
from bookings.tests.factories import BookingFactory
from featurephone.africastalking import inbound_sms_form
from featurephone.models import InboundSms
from featurephone.services import offer_code_issue
from featurephone.tasks import inbound_sms_reply_send
from notifications import sms

URL = "/api/v1/sms/inbound?token=dev-callback-token"
FORM = "application/x-www-form-urlencoded"
pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_technician(technician):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    return technician


@pytest.fixture
def offer(phone_technician, customer, service_category):
    booking = BookingFactory(
        customer=customer, technician=phone_technician, category=service_category, deposit_paid=True
    )
    code = offer_code_issue(booking=booking, technician=phone_technician)
    return booking, code


@pytest.fixture
def api_client():
    return Client()


def _post(client, form, url=URL, **extra):
    # Exactly as Africa's Talking posts: application/x-www-form-urlencoded.
    return client.post(url, urlencode(form), content_type=FORM, **extra)


def test_yes_accepts_with_the_apps_audit_row_and_replies_in_english(
    api_client, phone_technician, offer, django_capture_on_commit_callbacks
):
    booking, code = offer
    form = inbound_sms_form(phone=phone_technician.phone_number, text=f"yes {code}")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client, form)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "processed"}
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED
    history = BookingStatusHistory.objects.filter(booking=booking).latest("pk")
    assert (history.from_status, history.to_status, history.actor_id, history.note) == (
        "pending",
        "accepted",
        phone_technician.pk,
        "via sms",
    )
    row = InboundSms.objects.get(provider_message_id=form["id"])
    assert (row.outcome, row.booking_id, row.technician_id) == (
        "accepted",
        booking.pk,
        phone_technician.pk,
    )
    assert row.reply_sent_at is not None
    # The technician's answer; the customer hears of it through the app's own notification.
    to_technician = [s.message for s in sms.outbox if s.to == phone_technician.phone_number]
    assert to_technician == [
        f"You accepted job {booking.number} at {booking.address} on "
        f"{timezone.localtime(booking.scheduled_start):%-d %b %H:%M}. Thank you."
    ]


def test_replay_of_the_same_message_id_is_a_no_op(api_client, phone_technician, offer):
    booking, code = offer
    form = inbound_sms_form(phone=phone_technician.phone_number, text=f"NO {code}")
    first = _post(api_client, form)
    audit_rows = BookingStatusHistory.objects.filter(booking=booking).count()
    again = _post(api_client, form)
    assert (first.json(), again.json()) == ({"status": "processed"}, {"status": "duplicate"})
    assert again.status_code == 200
    assert InboundSms.objects.filter(provider_message_id=form["id"]).count() == 1
    assert BookingStatusHistory.objects.filter(booking=booking).count() == audit_rows
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.technician_id is None


def test_kiswahili_ndio_and_reply_in_kiswahili(
    api_client, phone_technician, offer, django_capture_on_commit_callbacks
):
    phone_technician.preferred_language = "sw"
    phone_technician.save(update_fields=["preferred_language"])
    booking, code = offer
    form = inbound_sms_form(phone=phone_technician.phone_number, text=f"  Ndio {code} ")
    with django_capture_on_commit_callbacks(execute=True):
        _post(api_client, form)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED
    to_technician = [s.message for s in sms.outbox if s.to == phone_technician.phone_number]
    assert to_technician[0].startswith(f"Umekubali kazi {booking.number}")


def test_hapana_declines_back_to_the_pool(api_client, phone_technician, offer):
    booking, code = offer
    _post(api_client, inbound_sms_form(phone=phone_technician.phone_number, text=f"HAPANA {code}"))
    booking.refresh_from_db()
    assert (booking.status, booking.technician_id) == (BookingStatus.PENDING, None)
    row = InboundSms.objects.get()
    assert row.outcome == "declined" and "declined job" in row.reply


@pytest.mark.parametrize("text", ["hello", "", "YES", "YES 12", "MAYBE 1234"])
def test_garbled_text_gets_the_help_reply_and_changes_nothing(
    api_client, phone_technician, offer, text
):
    booking, _code = offer
    response = _post(api_client, inbound_sms_form(phone=phone_technician.phone_number, text=text))
    assert response.status_code == 200
    row = InboundSms.objects.get()
    assert row.outcome == "help" and row.reply.startswith("Dumu Waks: reply YES <code>")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.technician_id == phone_technician.pk


def test_another_technicians_code_is_unknown_to_this_technician(
    api_client, offer, other_technician
):
    booking, code = offer
    other_technician.is_phone_verified = True
    other_technician.save(update_fields=["is_phone_verified"])
    _post(api_client, inbound_sms_form(phone=other_technician.phone_number, text=f"YES {code}"))
    row = InboundSms.objects.get()
    assert row.outcome == "unknown_code" and code in row.reply
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.technician_id != other_technician.pk


def test_not_allowed_replies_with_the_reason_and_changes_nothing(
    api_client, phone_technician, customer, service_category
):
    booking = BookingFactory(
        customer=customer, technician=phone_technician, category=service_category
    )
    code = offer_code_issue(booking=booking, technician=phone_technician)  # deposit not paid yet
    history = BookingStatusHistory.objects.filter(booking=booking).count()
    _post(api_client, inbound_sms_form(phone=phone_technician.phone_number, text=f"YES {code}"))
    row = InboundSms.objects.get()
    assert row.outcome == "not_allowed" and "deposit_not_paid" in row.reply
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    assert BookingStatusHistory.objects.filter(booking=booking).count() == history


def test_unknown_or_customer_sender_is_stored_without_reply(api_client, customer, offer):
    booking, code = offer
    _post(
        api_client,
        inbound_sms_form(phone=customer.phone_number or "+254700000999", text=f"YES {code}"),
    )
    _post(api_client, inbound_sms_form(phone="not-a-phone", text="YES 1234"))
    assert list(InboundSms.objects.values_list("outcome", "reply")) == [
        ("unknown_sender", ""),
        ("unknown_sender", ""),
    ]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING


def test_unverified_phone_is_not_a_technician_sender(api_client, technician, offer):
    _booking, code = offer
    technician.is_phone_verified = False
    technician.save(update_fields=["is_phone_verified"])
    _post(api_client, inbound_sms_form(phone=technician.phone_number, text=f"YES {code}"))
    assert InboundSms.objects.get().outcome == "unknown_sender"


@pytest.mark.parametrize("url", ["/api/v1/sms/inbound", "/api/v1/sms/inbound?token=wrong"])
def test_wrong_or_missing_token_is_403_and_stores_nothing(api_client, phone_technician, offer, url):
    _booking, code = offer
    response = _post(
        api_client,
        inbound_sms_form(phone=phone_technician.phone_number, text=f"YES {code}"),
        url=url,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not InboundSms.objects.exists()


@override_settings(AFRICASTALKING_ALLOWED_IPS=["52.48.80.111"])
def test_address_outside_the_allow_list_is_403(api_client, phone_technician, offer):
    _booking, code = offer
    form = inbound_sms_form(phone=phone_technician.phone_number, text=f"YES {code}")
    assert _post(api_client, form).status_code == 403
    assert _post(api_client, form, REMOTE_ADDR="52.48.80.111").status_code == 200


def test_missing_id_or_from_is_400_and_stores_nothing(api_client):
    response = _post(api_client, {"text": "YES 1234", "to": "20880"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error" and set(body["fields"]) == {"id", "from"}
    assert not InboundSms.objects.exists()


def test_reply_task_sends_once(phone_technician, offer):
    from featurephone.services import inbound_sms_record

    row, _ = inbound_sms_record(
        provider_message_id="ATXid_1", phone_number=phone_technician.phone_number, text="??"
    )
    assert inbound_sms_reply_send(row.pk) == "sent"
    assert inbound_sms_reply_send(row.pk) == "skipped"
    assert len(sms.outbox) == 1


def test_a_json_body_is_refused_without_a_500_and_stores_nothing(api_client):
    response = api_client.post(
        URL, {"id": "x", "from": "+254733000222"}, content_type="application/json"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not InboundSms.objects.exists()
