"""Account product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"). Code reads them as `rules.NAME` at call time, so a test changes one
with `monkeypatch.setattr(rules, "NAME", value)`. Throttle rates stay in REST_FRAMEWORK's table (settings),
where DRF reads them.
"""

EMAIL_VERIFICATION_MAX_AGE_SECONDS = 3 * 24 * 3600  # a verify-email link stays valid this long
PASSWORD_RESET_MAX_AGE_SECONDS = 3600  # a reset link stays valid this long (single use)
TWO_FACTOR_CHALLENGE_MAX_AGE_SECONDS = 300  # between the password and the 2FA code at login
PHONE_CODE_TTL_SECONDS = 600  # an SMS verification code stays valid this long
PHONE_CODE_MAX_ATTEMPTS = 5  # wrong codes before the code is spent
LOGIN_MAX_FAILURES = (
    5  # failed logins per (account, network) within LOCKOUT_MINUTES before it locks
)
LOCKOUT_MINUTES = 15
