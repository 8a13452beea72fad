from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/login"


def login(client, email="wanjiku@example.co.ke", password=DEFAULT_PASSWORD):
    return client.post(URL, {"email": email, "password": password}, format="json")


def test_login_returns_tokens_and_profile(anon_client, customer):
    response = login(anon_client, email="WANJIKU@example.co.ke")
    assert response.status_code == 200
    body = response.json()
    assert body["twoFactorRequired"] is False
    assert body["user"]["id"] == customer.pk
    me = anon_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200
    assert me.json()["email"] == "wanjiku@example.co.ke"
    customer.refresh_from_db()
    assert customer.last_login is not None


def test_login_ignores_a_stale_authorization_header(anon_client, customer):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert login(anon_client).status_code == 200


def test_wrong_password_and_unknown_email_answer_alike(anon_client, customer):
    wrong = login(anon_client, password="nope-nope-nope")
    unknown = login(anon_client, email="nobody@example.co.ke")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "code": "invalid_credentials",
            "message": "Email or password is incorrect.",
        }
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [({"password": "x"}, "email"), ({"email": "a@b.co"}, "password"), ({"email": "no"}, "email")],
)
def test_login_validation_errors(anon_client, body, field):
    response = anon_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_deactivated_user_cannot_log_in(anon_client):
    UserFactory(email="gone@example.co.ke", is_active=False)
    assert login(anon_client, email="gone@example.co.ke").status_code == 401


def test_five_failures_close_the_address_for_15_minutes_not_the_account(anon_client, customer):
    """The rule itself is tested in test_login_lockout_per_source.py."""
    for _ in range(4):
        assert login(anon_client, password="wrong-password").status_code == 401
    fifth = login(anon_client, password="wrong-password")
    assert fifth.status_code == 429
    assert fifth.json()["code"] == "throttled"
    assert fifth.headers["Retry-After"] == "900"
    assert login(anon_client).status_code == 429  # even the right password, from this address
    assert login(anon_client.__class__(REMOTE_ADDR="10.9.8.7")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=5), tick=False):
        assert login(anon_client).status_code == 200


def test_login_is_throttled_per_account(anon_client, customer, throttle_rates):
    throttle_rates(login_account="3/min")
    for _ in range(3):
        assert login(anon_client, email="someone@example.co.ke").status_code == 401
    response = login(anon_client, email="SOMEONE@example.co.ke")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response.headers
    # Another account from the same IP is not affected by this account's limit.
    assert login(anon_client).status_code == 200


def test_login_is_throttled_per_ip(anon_client, customer, throttle_rates):
    throttle_rates(login_ip="2/min")
    assert login(anon_client, email="a@example.co.ke").status_code == 401
    assert login(anon_client, email="b@example.co.ke").status_code == 401
    response = login(anon_client)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    other_ip = login(anon_client.__class__(REMOTE_ADDR="10.9.8.7"))
    assert other_ip.status_code == 200
