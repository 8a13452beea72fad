"""TOTP two-factor authentication (django-otp) with single-use backup codes (otp_static)."""

from __future__ import annotations

import base64
import io
import re
from base64 import b32encode

import qrcode
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import tokens
from accounts.errors import (
    InvalidCode,
    InvalidToken,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorSetupMissing,
    WrongPassword,
)
from accounts.models import User
from accounts.services.auth import login_completed, login_failed, sign_in_attempt

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


def two_factor_is_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def two_factor_setup(*, user: User) -> dict:
    """Start (or restart) enrolment: a new unconfirmed TOTP device. Returns secret, otpauth URI and QR code."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise TwoFactorAlreadyEnabled()
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    uri = device.config_url
    return {
        "secret": b32encode(device.bin_key).decode(),
        "otpauth_uri": uri,
        "qr_code": _qr_data_uri(uri),
    }


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = []
    while len(codes) < BACKUP_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_enable(*, user: User, code: str) -> list[str]:
    """Confirm the device with a valid code; returns 10 single-use backup codes (shown once)."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise TwoFactorAlreadyEnabled()
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise TwoFactorSetupMissing()
        if not device.verify_token(_clean(code)):
            raise InvalidCode(fields={"code": ["The code is invalid or has expired."]})
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return _new_backup_codes(user)


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", str(code or "")).lower()


def verify_second_factor(user: User, code: str) -> bool:
    """A current TOTP code, or an unused backup code (consumed on success)."""
    code = _clean(code)
    if not code:
        return False
    if code.isdigit() and len(code) == 6:
        return any(
            device.verify_token(code)
            for device in TOTPDevice.objects.filter(user=user, confirmed=True)
        )
    return any(
        device.verify_token(code)
        for device in StaticDevice.objects.filter(user=user, confirmed=True)
    )


def two_factor_verify_login(
    *, challenge_token: str, code: str, client_ip: str
) -> tuple[User, dict]:
    """Second login step: exchange the challenge from `auth_login` plus a code for a token pair. A wrong code
    counts against the same (email, source) pair as a wrong password (accounts.throttles)."""
    found = tokens.read_user_token(challenge_token, tokens.TWO_FACTOR_CHALLENGE)
    if found is None:
        raise InvalidToken("The sign-in challenge is invalid or has expired. Sign in again.")
    user, payload = found
    if not two_factor_is_enabled(user):
        raise InvalidToken("The sign-in challenge is invalid or has expired. Sign in again.")
    pair = sign_in_attempt(email=user.email, client_ip=client_ip)
    if not verify_second_factor(user, code):
        login_failed(pair, InvalidCode(fields={"code": ["The code is invalid or has expired."]}))
    if not tokens.consume_two_factor_challenge(payload):
        raise InvalidToken("This sign-in challenge was already used. Sign in again.")
    return user, login_completed(user, pair)


def two_factor_disable(*, user: User, password: str, code: str) -> None:
    if not two_factor_is_enabled(user):
        raise TwoFactorNotEnabled()
    if not user.check_password(password):
        raise WrongPassword(fields={"password": ["The password is incorrect."]})
    if not verify_second_factor(user, code):
        raise InvalidCode(fields={"code": ["The code is invalid or has expired."]})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
