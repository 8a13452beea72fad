import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import auth_issue_tokens
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Mvua-Nyingi-2026!"


def _forgot(client, email, capture):
    with capture(execute=True):
        return client.post("/api/v1/auth/forgot-password", {"email": email}, format="json")


def _reset_token_from_outbox() -> str:
    return re.search(r"reset-password\?token=(\S+)", mail.outbox[-1].body).group(1)


def test_forgot_password_answers_the_same_for_unknown_emails(
    anon_client, customer, django_capture_on_commit_callbacks
):
    known = _forgot(anon_client, "Wanjiku@example.co.ke", django_capture_on_commit_callbacks)
    unknown = _forgot(anon_client, "ghost@example.co.ke", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["wanjiku@example.co.ke"]
    assert message.subject == "Reset your Dumu Waks password"
    assert "http://localhost:3000/reset-password?token=" in message.body
    assert "expires in 60 minutes" in message.body


def test_forgot_password_validation(anon_client):
    response = anon_client.post("/api/v1/auth/forgot-password", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


def test_forgot_password_is_throttled_per_account(
    anon_client, customer, throttle_rates, django_capture_on_commit_callbacks
):
    throttle_rates(password_reset="2/hour")
    for ip in ("10.0.0.1", "10.0.0.2"):
        client = APIClient(REMOTE_ADDR=ip)
        assert (
            _forgot(client, "ghost@example.co.ke", django_capture_on_commit_callbacks).status_code
            == 202
        )
    response = _forgot(
        APIClient(REMOTE_ADDR="10.0.0.3"), "ghost@example.co.ke", django_capture_on_commit_callbacks
    )
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_reset_password_sets_the_password_once_and_revokes_sessions(
    anon_client, customer, django_capture_on_commit_callbacks
):
    old_session = auth_issue_tokens(customer)
    _forgot(anon_client, customer.email, django_capture_on_commit_callbacks)
    token = _reset_token_from_outbox()

    with django_capture_on_commit_callbacks(execute=True):
        response = anon_client.post(
            "/api/v1/auth/reset-password", {"token": token, "password": NEW_PASSWORD}, format="json"
        )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert mail.outbox[-1].subject == "Your Dumu Waks password was changed"

    refresh = anon_client.post(
        "/api/v1/auth/refresh", {"refresh": old_session["refresh"]}, format="json"
    )
    assert refresh.status_code == 401
    old_access = APIClient(headers={"Authorization": f"Bearer {old_session['access']}"})
    assert old_access.get("/api/v1/auth/me").status_code == 401

    again = anon_client.post(
        "/api/v1/auth/reset-password",
        {"token": token, "password": "Another-Pass-99"},
        format="json",
    )
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_token"
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


def test_reset_password_lifts_a_lockout(anon_client, customer, django_capture_on_commit_callbacks):
    for _ in range(5):
        anon_client.post(
            "/api/v1/auth/login", {"email": customer.email, "password": "wrong"}, format="json"
        )
    _forgot(anon_client, customer.email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        reset = anon_client.post(
            "/api/v1/auth/reset-password",
            {"token": _reset_token_from_outbox(), "password": NEW_PASSWORD},
            format="json",
        )
    assert reset.status_code == 200
    login = anon_client.post(
        "/api/v1/auth/login", {"email": customer.email, "password": NEW_PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_a_closed_address_stays_closed_without_a_reset(anon_client, customer):
    """The counterpart of the test above: the lock it lifts is real."""
    for _ in range(5):
        anon_client.post(
            "/api/v1/auth/login", {"email": customer.email, "password": "wrong"}, format="json"
        )
    login = anon_client.post(
        "/api/v1/auth/login", {"email": customer.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert login.status_code == 429


def test_reset_token_expires_after_an_hour(
    anon_client, customer, django_capture_on_commit_callbacks
):
    _forgot(anon_client, customer.email, django_capture_on_commit_callbacks)
    token = _reset_token_from_outbox()
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False):
        response = anon_client.post(
            "/api/v1/auth/reset-password", {"token": token, "password": NEW_PASSWORD}, format="json"
        )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"token": "forged", "password": NEW_PASSWORD}, "invalid_token", None),
        ({"password": NEW_PASSWORD}, "validation_error", "token"),
        ({"token": "x"}, "validation_error", "password"),
    ],
)
def test_reset_password_errors(anon_client, body, code, field):
    response = anon_client.post("/api/v1/auth/reset-password", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    if field:
        assert field in response.json()["fields"]


def test_reset_password_validates_the_new_password(
    anon_client, customer, django_capture_on_commit_callbacks
):
    _forgot(anon_client, customer.email, django_capture_on_commit_callbacks)
    response = anon_client.post(
        "/api/v1/auth/reset-password",
        {"token": _reset_token_from_outbox(), "password": "12345678"},
        format="json",
    )
    assert response.status_code == 400
    assert "password" in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


def test_change_password_returns_new_tokens_and_signs_out_other_sessions(
    customer_client, customer, django_capture_on_commit_callbacks
):
    other_session = auth_issue_tokens(customer)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            "/api/v1/auth/change-password",
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            format="json",
        )
    assert response.status_code == 200
    pair = response.json()
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    client = APIClient()
    assert (
        client.post("/api/v1/auth/refresh", {"refresh": other_session["refresh"]}).status_code
        == 401
    )
    assert client.post("/api/v1/auth/refresh", {"refresh": pair["refresh"]}).status_code == 200
    # Access tokens issued before the change stop working at once; the new pair works.
    stale = customer_client.get("/api/v1/auth/me")
    assert stale.status_code == 401
    assert stale.json()["code"] == "authentication_failed"
    other_access = APIClient(headers={"Authorization": f"Bearer {other_session['access']}"})
    assert other_access.get("/api/v1/auth/me").status_code == 401
    fresh = APIClient(headers={"Authorization": f"Bearer {pair['access']}"})
    assert fresh.get("/api/v1/auth/me").status_code == 200
    assert [m.subject for m in mail.outbox] == ["Your Dumu Waks password was changed"]
    assert mail.outbox[0].to == ["wanjiku@example.co.ke"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"currentPassword": "wrong", "newPassword": NEW_PASSWORD},
            "wrong_password",
            "currentPassword",
        ),
        (
            {"currentPassword": DEFAULT_PASSWORD, "newPassword": "wanjiku1"},
            "validation_error",
            "newPassword",
        ),
        ({"currentPassword": DEFAULT_PASSWORD}, "validation_error", "newPassword"),
    ],
)
def test_change_password_errors(customer_client, customer, body, code, field):
    response = customer_client.post("/api/v1/auth/change-password", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


def test_change_password_needs_authentication(anon_client):
    assert anon_client.post("/api/v1/auth/change-password", {}, format="json").status_code == 401
