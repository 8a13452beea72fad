"""Signed, self-expiring tokens for email verification, password reset and the 2FA login challenge.

Each token carries the user id and a fingerprint of the state it may change, so it dies by itself once used:
verifying an email flips `is_email_verified`, resetting a password changes the password hash. The 2FA challenge
additionally carries a random id consumed once in the cache.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import rules
from accounts.models import User

EMAIL_VERIFICATION = "email-verification"
PASSWORD_RESET = "password-reset"
TWO_FACTOR_CHALLENGE = "2fa-challenge"


def _fingerprint(user: User, purpose: str) -> str:
    if purpose == EMAIL_VERIFICATION:
        state = f"{user.email}|{user.is_email_verified}"
    elif purpose == PASSWORD_RESET:
        login = (
            "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        )
        state = f"{user.password}|{login}|{user.is_active}"
    else:
        state = f"{user.password}|{user.is_active}"
    return salted_hmac(f"accounts.{purpose}", f"{user.pk}|{state}").hexdigest()[:32]


def make_user_token(user: User, purpose: str, **extra) -> str:
    payload = {"u": user.pk, "f": _fingerprint(user, purpose), **extra}
    return signing.dumps(payload, salt=f"accounts.{purpose}")


def _max_age(purpose: str) -> int:
    return {
        EMAIL_VERIFICATION: rules.EMAIL_VERIFICATION_MAX_AGE_SECONDS,
        PASSWORD_RESET: rules.PASSWORD_RESET_MAX_AGE_SECONDS,
        TWO_FACTOR_CHALLENGE: rules.TWO_FACTOR_CHALLENGE_MAX_AGE_SECONDS,
    }[purpose]


def read_user_token(token: str, purpose: str) -> tuple[User, dict] | None:
    """The user the token was issued for, if the token is authentic, fresh and still matches their state."""
    try:
        payload = signing.loads(str(token), salt=f"accounts.{purpose}", max_age=_max_age(purpose))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(payload, dict):
        return None
    user = User.objects.filter(pk=payload.get("u"), is_active=True, deleted_at__isnull=True).first()
    if user is None or not constant_time_compare(
        str(payload.get("f", "")), _fingerprint(user, purpose)
    ):
        return None
    return user, payload


def peek_user_id(token: str, purpose: str) -> int | None:
    """The user id inside an authentic token (for throttling keys); no state check, no DB."""
    try:
        payload = signing.loads(str(token), salt=f"accounts.{purpose}", max_age=_max_age(purpose))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return payload.get("u") if isinstance(payload, dict) else None


def make_two_factor_challenge(user: User) -> str:
    return make_user_token(user, TWO_FACTOR_CHALLENGE, j=secrets.token_urlsafe(12))


def consume_two_factor_challenge(payload: dict) -> bool:
    """Mark a challenge used; False when it was used before (replay)."""
    return cache.add(
        f"accounts:2fa-challenge-used:{payload.get('j')}",
        1,
        timeout=rules.TWO_FACTOR_CHALLENGE_MAX_AGE_SECONDS + 5,
    )


# Computing a hash for unknown emails keeps login timing close to that of a wrong password.
_DUMMY_PASSWORD_HASH = None


def run_dummy_password_hasher(password: str) -> None:
    global _DUMMY_PASSWORD_HASH
    if _DUMMY_PASSWORD_HASH is None:
        _DUMMY_PASSWORD_HASH = make_password(secrets.token_hex(8))
    check_password(password, _DUMMY_PASSWORD_HASH)
