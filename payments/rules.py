"""Payment product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"); the money sweep's limits live in payments/services/sweep.py and the
STK request retries in payments/tasks.py, beside their mechanism. Code reads them as `rules.NAME` at call
time, so a test changes one with `monkeypatch.setattr(rules, "NAME", value)`.
"""

from datetime import timedelta
from decimal import Decimal

# A customer has this long to answer an M-Pesa prompt before the payment counts as expired.
STK_EXPIRY = timedelta(minutes=5)
# A card checkout (3-D Secure) takes longer than a PIN prompt.
CARD_EXPIRY = timedelta(minutes=30)
# A payout without a B2C result for this long is checked with Transaction Status (beat).
PAYOUT_RECONCILE_AFTER_SECONDS = 600
# Payouts above this many shillings wait for an admin's review before they are sent.
PAYOUT_REVIEW_THRESHOLD_KES = 50_000

# Tips (README "Tips", payments/services/tips.py), KES, whole shillings: M-Pesa takes no cents.
TIP_MIN_KES = Decimal("10")  # Daraja's own B2C minimum: a tip alone can always be sent
TIP_MAX_KES = Decimal("20000")
# A tip at least this large is paid out at once; a smaller one goes with the technician's next payout.
TIP_PAYOUT_AT_ONCE_KES = Decimal("500")
# A smaller tip waits for the technician's next payout at most this long; then it is paid out on its own
# (the money sweep, payments/services/sweep.py), so a technician who gets no more jobs still receives it.
TIP_DEFERRED_MAX_WAIT = timedelta(days=7)
