"""The JWT classes every session token is minted with: simplejwt's, with an `iat` precise to the microsecond.

simplejwt writes `iat` in whole seconds, which cannot tell a token issued just before a logout from one issued
just after it within the same second (accounts.authentication compares `iat` with the logout instant).
RFC 7519 lets a NumericDate be fractional and PyJWT accepts it, so these tokens carry the exact issue time.
An access token made from a refresh token (login, refresh endpoint) gets the time of its own minting: simplejwt
never copies `iat` from the refresh token.

Every token we mint comes from here: accounts.services.auth (login, 2FA login, registration, password change)
and the refresh endpoint (accounts.apis.auth); AUTH_TOKEN_CLASSES names the access class. Importable while the
apps load (accounts.authentication is imported then, through DRF's settings), so no simplejwt serializers here:
theirs read the user model at import.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rest_framework_simplejwt import tokens

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def _aware(moment: datetime) -> datetime:
    # A naive datetime is read as UTC, as simplejwt does (USE_TZ=False).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def epoch_seconds(moment: datetime) -> float:
    """`moment` as a fractional NumericDate, to the microsecond."""
    return _aware(moment).timestamp()


def epoch_microseconds(moment: datetime) -> int:
    return (_aware(moment) - EPOCH) // ONE_MICROSECOND


def numeric_date_microseconds(numeric_date: float) -> int:
    """A token's NumericDate (whole seconds from simplejwt's own classes, fractional from ours) in whole
    microseconds, to compare with `epoch_microseconds` exactly. Exact for every float `epoch_seconds` gives
    until 2106: below 2**32 s a float's spacing stays under half a microsecond."""
    return round(float(numeric_date) * 1_000_000)


class _PreciseIssuedAt:
    current_time: datetime
    payload: dict

    def set_iat(self, claim: str = "iat", at_time: datetime | None = None) -> None:
        if at_time is None:
            at_time = self.current_time
        self.payload[claim] = epoch_seconds(at_time)


class AccessToken(_PreciseIssuedAt, tokens.AccessToken):
    pass


class RefreshToken(_PreciseIssuedAt, tokens.RefreshToken):
    access_token_class = AccessToken
