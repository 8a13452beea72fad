"""Throttles for the endpoints attackers hammer, keyed per client IP and per account, on the Redis cache.

Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (scopes `login_ip`, `login_account`,
`password_reset`, `verification_email`, `otp`, `two_factor`) and are read at request time so tests and
operators can change them.
"""

from __future__ import annotations

import hashlib

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts import tokens
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
