"""Throttles for the endpoints attackers hammer, keyed per client IP and per account, on the Redis cache.

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (scopes `login_ip`, `login_account`,
`password_reset`, `verification_email`, `otp`, `two_factor`) and are read at request time so tests and
operators can change them.

Failed sign-ins are limited per (email, source) by `SignInPair` at the end of this module.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts import rules, tokens
from dumuwaks.core.cache import cache_incr_with_expiry
from dumuwaks.core.client_ip import TrustedProxyIdentMixin


class _ScopedThrottle(TrustedProxyIdentMixin, SimpleRateThrottle):
    kind = "ip"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        # Rates may change at runtime (settings overrides); re-read them on each request.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def ident_for(self, request, view) -> str | None:
        return self.get_ident(request)

    def get_cache_key(self, request, view):
        ident = self.ident_for(request, view)
        if not ident:
            return None
        return self.cache_format % {"scope": f"{self.scope}:{self.kind}", "ident": ident}


def _hashed(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class _EmailAccountThrottle(_ScopedThrottle):
    """Keyed by the email in the body, so unknown and known emails are limited alike."""

    kind = "account"

    def ident_for(self, request, view):
        email = request.data.get("email") if hasattr(request.data, "get") else None
        return _hashed(email) if isinstance(email, str) and email.strip() else None


class _UserAccountThrottle(_ScopedThrottle):
    kind = "account"

    def ident_for(self, request, view):
        if request.user and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        challenge = request.data.get("challenge_token") if hasattr(request.data, "get") else None
        if isinstance(challenge, str):
            user_id = tokens.peek_user_id(challenge, tokens.TWO_FACTOR_CHALLENGE)
            if user_id is not None:
                return f"user-{user_id}"
        return None


class LoginIpThrottle(_ScopedThrottle):
    scope = "login_ip"


class RegisterIpThrottle(_ScopedThrottle):
    """Sign-ups per IP at the login_ip rate, counted apart from sign-ins."""

    scope = "login_ip"
    kind = "register"


class LoginAccountThrottle(_EmailAccountThrottle):
    scope = "login_account"


class PasswordResetIpThrottle(_ScopedThrottle):
    scope = "password_reset"


class PasswordResetAccountThrottle(_EmailAccountThrottle):
    scope = "password_reset"


class VerificationEmailIpThrottle(_ScopedThrottle):
    scope = "verification_email"


class VerificationEmailAccountThrottle(_EmailAccountThrottle):
    scope = "verification_email"


class OtpIpThrottle(_ScopedThrottle):
    scope = "otp"


class OtpAccountThrottle(_UserAccountThrottle):
    scope = "otp"


class TwoFactorIpThrottle(_ScopedThrottle):
    scope = "two_factor"


class TwoFactorAccountThrottle(_UserAccountThrottle):
    scope = "two_factor"


LOGIN_THROTTLES = [LoginIpThrottle, LoginAccountThrottle]
PASSWORD_RESET_THROTTLES = [PasswordResetIpThrottle, PasswordResetAccountThrottle]
VERIFICATION_EMAIL_THROTTLES = [VerificationEmailIpThrottle, VerificationEmailAccountThrottle]
OTP_THROTTLES = [OtpIpThrottle, OtpAccountThrottle]
TWO_FACTOR_THROTTLES = [TwoFactorIpThrottle, TwoFactorAccountThrottle]


# --- Failed sign-ins per (email, source) -------------------------------------------------------------------------
# A wrong password, or a wrong second-factor code, counts against one pair: the email as typed (normalised,
# whether or not an account has it) and the source address (`client_ip`; an IPv6 client by its /64, which one
# subscriber usually holds whole). The LOGIN_MAX_FAILURES-th failure within LOCKOUT_MINUTES (accounts/rules.py)
# closes that pair for LOCKOUT_MINUTES: it answers 429 `throttled` with Retry-After, like every other
# limit, without looking at the password. Every other address still signs in, so nobody can lock a user out
# from their own address, and an unknown email closes and answers exactly the same, so the answer tells
# nothing about which emails have accounts. A successful sign-in from the pair clears its count.
#
# The keys live in Redis only: they expire by themselves, cost no database write on the failure path, and
# exist alike for emails without an account. Each key carries the email's epoch; lifting (the admin action
# "Unlock", a password reset) sets a new epoch, which drops the count and lock of every source at once
# without listing them. Only lifts create an epoch key (so only real accounts have one), and every failure
# extends it to outlive the keys written under it: when it expires, nothing under it or under the epoch
# before it (0) is left, so falling back to 0 reopens nothing that was closed. Like every cache key it
# expires (docs/operations.md: volatile-lru).


def sign_in_source(ip: str) -> str:
    """The address a failure is counted against: IPv4 as is, IPv6 by its /64 network."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _epoch_key(email_digest: str) -> str:
    return f"accounts:sign-in-epoch:{email_digest}"


def sign_in_epoch(*, email: str) -> int:
    return cache.get(_epoch_key(_hashed(email))) or 0


def _lock_seconds() -> int:
    return rules.LOCKOUT_MINUTES * 60


@dataclass(frozen=True)
class SignInPair:
    email: str  # normalised
    source: str
    epoch: int

    @classmethod
    def of(cls, *, email: str, client_ip: str) -> SignInPair:
        return cls(email=email, source=sign_in_source(client_ip), epoch=sign_in_epoch(email=email))

    @property
    def _key(self) -> str:
        return f"accounts:sign-in:{self.epoch}:{_hashed(self.email)}:{self.source}"

    def closed_until(self) -> float | None:
        """When the pair opens again (epoch seconds), or None while it is open."""
        until = cache.get(f"{self._key}:locked")
        return until if until is not None and until > time.time() else None

    def ensure_open(self) -> None:
        until = self.closed_until()
        if until is not None:
            raise Throttled(wait=math.ceil(until - time.time()))

    def record_failure(self) -> float | None:
        """Count one failure. Returns the lock's end when this failure closed the pair (one of several
        racing failures does), else None; either way the caller then calls `ensure_open`."""
        failures_key = f"{self._key}:failures"
        count = cache_incr_with_expiry(failures_key, timeout=_lock_seconds())
        # Keep the epoch (if the email has one) alive as long as the keys written under it.
        cache.touch(_epoch_key(_hashed(self.email)), _lock_seconds() + 60)
        if count < rules.LOGIN_MAX_FAILURES:
            return None
        until = time.time() + _lock_seconds()
        lock_key = f"{self._key}:locked"
        if not cache.add(lock_key, until, timeout=_lock_seconds()):
            if self.closed_until() is not None:
                return None  # a racing failure closed it
            # A lock left over past its end (Redis expires it on its own clock): replace it.
            cache.set(lock_key, until, timeout=_lock_seconds())
        # Counting starts again from zero once the lock ends.
        cache.delete(failures_key)
        return until

    def clear(self) -> None:
        """A successful sign-in from this pair."""
        cache.delete(f"{self._key}:failures")


def sign_in_locks_lift(*, email: str) -> None:
    """Reopen every pair of `email`, from every source (admin "Unlock", password reset)."""
    cache.set(_epoch_key(_hashed(email)), time.time_ns(), timeout=_lock_seconds() + 60)
