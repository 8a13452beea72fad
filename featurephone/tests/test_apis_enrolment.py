"""/api/v1/users/me/feature-phone: a technician enrols (or stops) their own verified phone for job offers by
SMS, per persona; staff keep the admin."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.services import booking_create
from featurephone.models import OfferCode, SmsOfferEnrolment
from notifications import sms

URL = "/api/v1/users/me/feature-phone"
pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_technician(technician):
    technician.is_phone_verified = True
    technician.save(update_fields=["is_phone_verified"])
    return technician


def test_technician_enrols_in_kiswahili_sees_it_and_stops(technician_client, phone_technician):
    assert technician_client.get(URL).json() == {
        "isEnrolled": False,
        "phoneNumber": "+254733000222",
        "isPhoneVerified": True,
        "language": "en",
    }
    response = technician_client.put(URL, {"language": "sw"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "isEnrolled": True,
        "phoneNumber": "+254733000222",
        "isPhoneVerified": True,
        "language": "sw",
    }
    phone_technician.refresh_from_db()
    assert phone_technician.preferred_language == "sw"
    assert SmsOfferEnrolment.objects.get(technician=phone_technician).is_active

    again = technician_client.put(URL, {}, format="json")  # idempotent; language unchanged
    assert (again.status_code, again.json()["language"]) == (200, "sw")
    assert SmsOfferEnrolment.objects.count() == 1

    stopped = technician_client.delete(URL)
    assert (stopped.status_code, stopped.content) == (204, b"")
    assert technician_client.get(URL).json()["isEnrolled"] is False
    assert SmsOfferEnrolment.objects.get(technician=phone_technician).is_active is False
    assert technician_client.delete(URL).status_code == 204  # stopping twice is fine

    back = technician_client.put(URL, {"language": "en"}, format="json")
    assert (back.status_code, back.json()["isEnrolled"], back.json()["language"]) == (
        200,
        True,
        "en",
    )
    assert SmsOfferEnrolment.objects.count() == 1


def test_enrolment_through_the_api_brings_the_next_offer_by_sms(
    technician_client,
    phone_technician,
    customer,
    service_category,
    django_capture_on_commit_callbacks,
):
    technician_client.put(URL, {"language": "sw"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            customer=customer,
            category=service_category,
            title="Fix sink",
            address="Kilimani",
            scheduled_start=timezone.now() + timedelta(days=2),
            duration_minutes=60,
            price=Decimal("2500"),
            technician=phone_technician,
        )
    code = OfferCode.objects.get(booking=booking).code
    texts = [s.message for s in sms.outbox if s.to == phone_technician.phone_number]
    assert texts == [texts[0]] and texts[0].startswith(f"Kazi ya Dumu Waks {booking.number}")
    assert texts[0].endswith(f"Jibu NDIO {code} kukubali au HAPANA {code} kukataa.")


def test_unverified_phone_is_409_and_enrols_nothing(technician_client, technician):
    response = technician_client.put(URL, {"language": "sw"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "phone_not_verified"
    assert not SmsOfferEnrolment.objects.exists()
    technician.refresh_from_db()
    assert technician.preferred_language == "en"


def test_unknown_language_is_400_and_enrols_nothing(technician_client, phone_technician):
    response = technician_client.put(URL, {"language": "fr"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error" and set(body["fields"]) == {"language"}
    assert not SmsOfferEnrolment.objects.exists()


def test_a_technician_changes_only_their_own_enrolment(
    technician_client, other_technician_client, phone_technician, other_technician
):
    SmsOfferEnrolment.objects.create(technician=phone_technician)
    other_technician.is_phone_verified = True
    other_technician.save(update_fields=["is_phone_verified"])
    assert other_technician_client.get(URL).json()["isEnrolled"] is False
    assert other_technician_client.delete(URL).status_code == 204
    assert SmsOfferEnrolment.objects.get(technician=phone_technician).is_active
    assert other_technician_client.put(URL, {}, format="json").status_code == 200
    assert set(SmsOfferEnrolment.objects.values_list("technician_id", "is_active")) == {
        (phone_technician.pk, True),
        (other_technician.pk, True),
    }


@pytest.mark.parametrize("persona", ["customer_client", "support_client", "admin_client_api"])
def test_customers_and_staff_are_403_and_enrol_nothing(request, persona, customer, support_agent):
    client = request.getfixturevalue(persona)
    for user in (customer, support_agent):
        user.is_phone_verified = True
        user.save(update_fields=["is_phone_verified"])
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(URL, {"language": "sw"}, format="json")
        assert response.status_code == 403, (method, response.content)
        assert response.json()["code"] == "permission_denied"
    assert not SmsOfferEnrolment.objects.exists()


def test_anonymous_is_401(anon_client):
    for method in ("get", "put", "delete"):
        response = getattr(anon_client, method)(URL, {}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_staff_keep_the_admin(admin_client, phone_technician):
    response = admin_client.get("/admin/featurephone/smsofferenrolment/")
    assert response.status_code == 200
