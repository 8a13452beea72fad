from __future__ import annotations

import secrets

from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import rules, tokens
from accounts.errors import InvalidCode, InvalidToken, PhoneAlreadyVerified, PhoneMissing
from accounts.models import User
from accounts.services.common import normalized_email
from accounts.tasks import send_phone_verification_code, send_verification_email_to_address
from dumuwaks.core.side_effects import enqueue_after_commit


def email_verification_resend(*, email: str) -> None:
    """Queue a fresh verification link for `email`; the task sends it only to an active, unverified account.
    Known and unknown emails do the same work here (no query, one task), so neither the answer nor its timing
    tells them apart."""
    enqueue_after_commit(send_verification_email_to_address, normalized_email(email))


def email_verify(*, token: str) -> User:
    found = tokens.read_user_token(token, tokens.EMAIL_VERIFICATION)
    if found is None:
        raise InvalidToken()
    user, _ = found
    # Guarded on the email the link was made for, so a link sent before an email change cannot verify the new one.
    updated = User.objects.filter(pk=user.pk, email=user.email, is_email_verified=False).update(
        is_email_verified=True
    )
    if not updated:
        raise InvalidToken()
    user.is_email_verified = True
    return user


# --- phone -------------------------------------------------------------------------------------------------------
# The code lives only in Redis, as an HMAC bound to the phone number it was sent to.


def _code_key(user_id: int) -> str:
    return f"accounts:phone-code:{user_id}"


def _attempts_key(user_id: int) -> str:
    return f"accounts:phone-code-attempts:{user_id}"


def _code_digest(code: str, phone: str) -> str:
    return salted_hmac("accounts.phone-code", f"{phone}|{code}").hexdigest()


def phone_verification_request(*, user: User) -> None:
    if not user.phone_number:
        raise PhoneMissing()
    if user.is_phone_verified:
        raise PhoneAlreadyVerified()
    enqueue_after_commit(send_phone_verification_code, user.pk)


def phone_verification_code_issue(*, user: User) -> str:
    """Create (and replace any earlier) 6-digit code for the user's current phone. Called by the SMS task."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    ttl = rules.PHONE_CODE_TTL_SECONDS
    cache.set(
        _code_key(user.pk),
        {"digest": _code_digest(code, user.phone_number), "phone": user.phone_number},
        timeout=ttl,
    )
    cache.set(_attempts_key(user.pk), 0, timeout=ttl)
    return code


def phone_verification_confirm(*, user: User, code: str) -> User:
    stored = cache.get(_code_key(user.pk))
    if not stored or stored.get("phone") != user.phone_number:
        raise InvalidCode()
    cache.add(_attempts_key(user.pk), 0, timeout=rules.PHONE_CODE_TTL_SECONDS)
    attempts = cache.incr(_attempts_key(user.pk))
    if attempts > rules.PHONE_CODE_MAX_ATTEMPTS:
        cache.delete_many([_code_key(user.pk), _attempts_key(user.pk)])
        raise InvalidCode("Too many wrong codes. Request a new code.")
    if not constant_time_compare(
        stored["digest"], _code_digest(str(code).strip(), stored["phone"])
    ):
        raise InvalidCode()
    cache.delete_many([_code_key(user.pk), _attempts_key(user.pk)])
    updated = User.objects.filter(pk=user.pk, phone_number=stored["phone"]).update(
        is_phone_verified=True
    )
    if not updated:
        raise InvalidCode()
    user.is_phone_verified = True
    return user
