import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import rules
from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import bearer_client
from notifications import sms

pytestmark = pytest.mark.django_db


@pytest.fixture
def unverified(db):
    return UserFactory(
        email="kamau@example.co.ke", phone_number="+254701000111", is_email_verified=False
    )


def _resend(client, email, capture):
    with capture(execute=True):
        return client.post("/api/v1/auth/resend-verification", {"email": email}, format="json")


def _token_from_outbox() -> str:
    return re.search(r"/verify-email/(\S+)", mail.outbox[-1].body).group(1)


def test_verify_email_link_works_once(anon_client, unverified, django_capture_on_commit_callbacks):
    _resend(anon_client, "kamau@example.co.ke", django_capture_on_commit_callbacks)
    token = _token_from_outbox()
    response = anon_client.get(f"/api/v1/auth/verify-email/{token}")
    assert response.status_code == 200
    assert User.objects.get(pk=unverified.pk).is_email_verified
    again = anon_client.get(f"/api/v1/auth/verify-email/{token}")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"


def test_verify_email_rejects_forged_and_expired_tokens(
    anon_client, unverified, django_capture_on_commit_callbacks
):
    assert anon_client.get("/api/v1/auth/verify-email/abc:def:ghi").status_code == 400
    _resend(anon_client, unverified.email, django_capture_on_commit_callbacks)
    token = _token_from_outbox()
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=False):
        assert anon_client.get(f"/api/v1/auth/verify-email/{token}").status_code == 400
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_link_for_an_old_email_cannot_verify_a_new_one(
    anon_client, unverified, django_capture_on_commit_callbacks
):
    _resend(anon_client, unverified.email, django_capture_on_commit_callbacks)
    token = _token_from_outbox()
    unverified.email = "new-address@example.co.ke"
    unverified.save()
    assert anon_client.get(f"/api/v1/auth/verify-email/{token}").status_code == 400


def test_resend_answers_the_same_for_unknown_and_verified_emails(
    anon_client, unverified, customer, django_capture_on_commit_callbacks
):
    responses = [
        _resend(anon_client, email, django_capture_on_commit_callbacks)
        for email in ("kamau@example.co.ke", "ghost@example.co.ke", customer.email)
    ]
    assert {r.status_code for r in responses} == {202}
    assert len({str(r.json()) for r in responses}) == 1
    assert [m.to for m in mail.outbox] == [["kamau@example.co.ke"]]


def test_resend_is_throttled(anon_client, throttle_rates, django_capture_on_commit_callbacks):
    throttle_rates(verification_email="1/hour")
    assert (
        _resend(anon_client, "a@example.co.ke", django_capture_on_commit_callbacks).status_code
        == 202
    )
    response = _resend(anon_client, "a@example.co.ke", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def _send_code(client, capture):
    with capture(execute=True):
        return client.post("/api/v1/auth/verify-phone", {}, format="json")


def _code_from_sms() -> str:
    return re.match(r"(\d{6}) is your Dumu Waks verification code", sms.outbox[-1].message).group(1)


def test_phone_verification_by_sms_code(
    customer_client, customer, django_capture_on_commit_callbacks
):
    response = _send_code(customer_client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert len(sms.outbox) == 1
    assert sms.outbox[0].to == "+254712345678"
    assert "expires in 10 minutes" in sms.outbox[0].message
    code = _code_from_sms()

    wrong = customer_client.post(
        "/api/v1/auth/verify-phone/confirm", {"code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_code"

    response = customer_client.post(
        "/api/v1/auth/verify-phone/confirm", {"code": code}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["isPhoneVerified"] is True
    assert User.objects.get(pk=customer.pk).is_phone_verified

    again = _send_code(customer_client, django_capture_on_commit_callbacks)
    assert again.status_code == 409
    assert again.json()["code"] == "phone_already_verified"
    assert len(sms.outbox) == 1


def test_swahili_users_get_the_code_in_swahili(
    customer_client, customer, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=customer.pk).update(preferred_language="sw")
    _send_code(customer_client, django_capture_on_commit_callbacks)
    assert "ni msimbo wako wa uthibitisho" in sms.outbox[0].message


def test_phone_code_expires_with_its_ttl(
    customer_client, customer, monkeypatch, django_capture_on_commit_callbacks
):
    # The code lives in Redis with a TTL (10 min in production); Redis' clock cannot be faked, so shorten it.
    monkeypatch.setattr(rules, "PHONE_CODE_TTL_SECONDS", 1)
    _send_code(customer_client, django_capture_on_commit_callbacks)
    code = _code_from_sms()
    time.sleep(1.2)
    response = customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": code})
    assert response.status_code == 400
    assert not User.objects.get(pk=customer.pk).is_phone_verified


def test_phone_code_dies_after_five_wrong_attempts(
    customer_client, customer, django_capture_on_commit_callbacks
):
    _send_code(customer_client, django_capture_on_commit_callbacks)
    code = _code_from_sms()
    wrong = "999999" if code != "999999" else "888888"
    for _ in range(5):
        customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": wrong})
    response = customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": code})
    assert response.status_code == 400
    assert not User.objects.get(pk=customer.pk).is_phone_verified


def test_code_is_bound_to_the_phone_it_was_sent_to(
    customer_client, customer, django_capture_on_commit_callbacks
):
    _send_code(customer_client, django_capture_on_commit_callbacks)
    code = _code_from_sms()
    customer_client.patch("/api/v1/auth/me", {"phoneNumber": "0798765432"}, format="json")
    response = customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": code})
    assert response.status_code == 400
    assert not User.objects.get(pk=customer.pk).is_phone_verified


def test_verify_phone_needs_a_phone_number(django_capture_on_commit_callbacks):
    user = UserFactory(email="nophone@example.co.ke", phone_number=None)
    response = _send_code(bearer_client(user), django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["code"] == "phone_number_missing"
    assert sms.outbox == []


def test_verify_phone_confirm_validation(customer_client):
    response = customer_client.post("/api/v1/auth/verify-phone/confirm", {}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["fields"]


def test_verify_phone_is_throttled(
    customer_client, throttle_rates, django_capture_on_commit_callbacks
):
    throttle_rates(otp="2/min")
    _send_code(customer_client, django_capture_on_commit_callbacks)
    _send_code(customer_client, django_capture_on_commit_callbacks)
    response = _send_code(customer_client, django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert len(sms.outbox) == 2


def test_verification_endpoints_need_authentication(anon_client):
    assert anon_client.post("/api/v1/auth/verify-phone", {}).status_code == 401
    assert anon_client.post("/api/v1/auth/verify-phone/confirm", {"code": "1"}).status_code == 401
