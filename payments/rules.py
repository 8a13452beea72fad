"""Payment product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"); the money sweep's limits live in payments/services/sweep.py and the
STK request retries in payments/tasks.py, beside their mechanism. Code reads them as `rules.NAME` at call
time, so a test changes one with `monkeypatch.setattr(rules, "NAME", value)`.
"""

from datetime import timedelta

# A customer has this long to answer an M-Pesa prompt before the payment counts as expired.
STK_EXPIRY = timedelta(minutes=5)
# A card checkout (3-D Secure) takes longer than a PIN prompt.
CARD_EXPIRY = timedelta(minutes=30)
# A payout without a B2C result for this long is checked with Transaction Status (beat).
PAYOUT_RECONCILE_AFTER_SECONDS = 600
# Payouts above this many shillings wait for an admin's review before they are sent.
PAYOUT_REVIEW_THRESHOLD_KES = 50_000
