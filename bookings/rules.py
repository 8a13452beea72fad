"""Booking product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"). Code reads them as `rules.NAME` at call time, so a test changes one
with `monkeypatch.setattr(rules, "NAME", value)`.
"""

from datetime import timedelta

# A customer has this long to pay the deposit before a pending booking expires.
PAYMENT_WINDOW = timedelta(minutes=30)
# A paid pending booking waits this long for a technician (never past the slot start) before it expires.
ACCEPT_TIMEOUT = timedelta(hours=24)
# A completed booking nobody confirmed or disputed is confirmed automatically this long after completion.
AUTO_CONFIRM_AFTER = timedelta(hours=72)
# Customer or technician may open a dispute this long after completion.
DISPUTE_WINDOW = timedelta(days=7)
