from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.services import two_factor_enable, two_factor_setup
from accounts.tests.conftest import current_totp
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, password=DEFAULT_PASSWORD):
    return client.post(
        "/api/v1/auth/login",
        {"email": "wanjiku@example.co.ke", "password": password},
        format="json",
    )


def _verify(client, challenge, code):
    return client.post(
        "/api/v1/auth/verify-2fa", {"challengeToken": challenge, "code": code}, format="json"
    )


@pytest.fixture
def backup_codes(customer):
    """Customer with 2FA enabled; yields their backup codes. Time is frozen so TOTP codes are stable."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        two_factor_setup(user=customer)
        codes = two_factor_enable(user=customer, code=current_totp(customer))
        # Move to the next 30 s step so the code used to enable is not a replay.
        traveller.shift(timedelta(seconds=31))
        yield codes


def test_setup_returns_secret_uri_and_qr_code(customer_client, customer):
    response = customer_client.post("/api/v1/auth/setup-2fa")
    assert response.status_code == 200
    body = response.json()
    assert body["otpauthUri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauthUri"]
    assert "issuer=Dumu%20Waks" in body["otpauthUri"]
    assert body["qrCode"].startswith("data:image/png;base64,")
    device = TOTPDevice.objects.get(user=customer)
    assert device.confirmed is False


def test_enable_with_valid_code_returns_ten_backup_codes(customer_client, customer):
    with time_machine.travel(timezone.now(), tick=False):
        customer_client.post("/api/v1/auth/setup-2fa")
        wrong = customer_client.post("/api/v1/auth/enable-2fa", {"code": "000000"}, format="json")
        assert wrong.status_code == 400
        assert wrong.json()["code"] == "invalid_code"
        assert not TOTPDevice.objects.get(user=customer).confirmed
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        response = customer_client.post(
            "/api/v1/auth/enable-2fa", {"code": current_totp(customer)}, format="json"
        )
    assert response.status_code == 200
    codes = response.json()["backupCodes"]
    assert len(codes) == 10 == len(set(codes))
    assert TOTPDevice.objects.get(user=customer).confirmed
    assert StaticToken.objects.filter(device__user=customer).count() == 10
    assert customer_client.get("/api/v1/auth/me").json()["twoFactorEnabled"] is True


def test_enable_without_setup_is_409(customer_client):
    response = customer_client.post("/api/v1/auth/enable-2fa", {"code": "123456"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_setup_missing"


def test_enable_requires_a_code(customer_client):
    response = customer_client.post("/api/v1/auth/enable-2fa", {}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["fields"]


def test_setup_when_enabled_is_409(customer_client, backup_codes):
    response = customer_client.post("/api/v1/auth/setup-2fa")
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_already_enabled"


def test_login_with_2fa_returns_a_challenge_then_tokens_for_a_totp_code(
    anon_client, customer, backup_codes
):
    first = _login(anon_client)
    assert first.status_code == 200
    body = first.json()
    assert body["twoFactorRequired"] is True
    assert body["challengeExpiresIn"] == 300
    assert "access" not in body and "refresh" not in body

    wrong = _verify(anon_client, body["challengeToken"], "000000")
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_code"

    with time_machine.travel(timezone.now() + timedelta(seconds=40), tick=False):
        response = _verify(anon_client, body["challengeToken"], current_totp(customer))
    assert response.status_code == 200
    session = response.json()
    assert session["access"] and session["refresh"]
    assert session["user"]["id"] == customer.pk

    replay = _verify(anon_client, body["challengeToken"], backup_codes[0])
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_token"


def test_backup_codes_work_once(anon_client, customer, backup_codes):
    challenge = _login(anon_client).json()["challengeToken"]
    assert _verify(anon_client, challenge, backup_codes[0].upper()).status_code == 200
    challenge = _login(anon_client).json()["challengeToken"]
    reused = _verify(anon_client, challenge, backup_codes[0])
    assert reused.status_code == 400
    assert reused.json()["code"] == "invalid_code"
    assert StaticToken.objects.filter(device__user=customer).count() == 9


def test_challenge_expires_after_5_minutes(anon_client, customer, backup_codes):
    challenge = _login(anon_client).json()["challengeToken"]
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=5), tick=False):
        response = _verify(anon_client, challenge, backup_codes[0])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("body", "field"), [({"code": "123456"}, "challengeToken"), ({"challengeToken": "x"}, "code")]
)
def test_verify_2fa_validation(anon_client, body, field):
    response = anon_client.post("/api/v1/auth/verify-2fa", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_forged_challenge_is_refused(anon_client, backup_codes):
    response = _verify(anon_client, "eyJ1IjoxfQ:forged:signature", backup_codes[0])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


def test_wrong_second_factors_close_the_address_like_wrong_passwords(
    anon_client, customer, backup_codes
):
    """Wrong passwords and wrong codes count against the same (email, address) pair; a correct password
    (a challenge) does not clear the count, only a completed sign-in does."""
    for _ in range(3):
        assert _login(anon_client, password="wrong-password").status_code == 401
    challenge = _login(anon_client).json()["challengeToken"]
    assert _verify(anon_client, challenge, "zzzzzzzz").status_code == 400
    closed = _verify(anon_client, challenge, "zzzzzzzz")
    assert closed.status_code == 429
    assert closed.json()["code"] == "throttled"
    assert closed.headers["Retry-After"] == "900"
    assert _verify(anon_client, challenge, backup_codes[1]).status_code == 429
    assert _login(anon_client).status_code == 429
    # Another address signs in (a minute later: django-otp's own per-device back-off after wrong codes,
    # 2**(n-1) seconds, never ends on the frozen clock).
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        elsewhere = APIClient(REMOTE_ADDR="198.51.100.20")
        other_challenge = _login(elsewhere).json()["challengeToken"]
        assert _verify(elsewhere, other_challenge, backup_codes[1]).status_code == 200


def test_verify_2fa_is_throttled(anon_client, backup_codes, throttle_rates):
    throttle_rates(two_factor="2/min")
    challenge = _login(anon_client).json()["challengeToken"]
    _verify(anon_client, challenge, "zzzzzzzz")
    _verify(anon_client, challenge, "zzzzzzzz")
    response = _verify(anon_client, challenge, backup_codes[0])
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_disable_needs_password_and_code(customer_client, customer, backup_codes):
    url = "/api/v1/auth/disable-2fa"
    wrong_password = customer_client.post(
        url, {"password": "nope", "code": backup_codes[0]}, format="json"
    )
    assert wrong_password.status_code == 400
    assert wrong_password.json()["code"] == "wrong_password"
    wrong_code = customer_client.post(
        url, {"password": DEFAULT_PASSWORD, "code": "zzzzzzzz"}, format="json"
    )
    assert wrong_code.status_code == 400
    assert wrong_code.json()["code"] == "invalid_code"
    missing = customer_client.post(url, {}, format="json")
    assert set(missing.json()["fields"]) == {"password", "code"}
    assert TOTPDevice.objects.filter(user=customer).exists()

    response = customer_client.post(
        url, {"password": DEFAULT_PASSWORD, "code": current_totp(customer)}, format="json"
    )
    assert response.status_code == 204
    assert not TOTPDevice.objects.filter(user=customer).exists()
    assert not StaticToken.objects.filter(device__user=customer).exists()
    assert customer_client.post(url, {"password": DEFAULT_PASSWORD, "code": "1"}).status_code == 409


def test_2fa_endpoints_need_authentication(anon_client):
    for path in ("setup-2fa", "enable-2fa", "disable-2fa"):
        assert anon_client.post(f"/api/v1/auth/{path}", {}, format="json").status_code == 401
