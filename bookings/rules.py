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
# The workmanship guarantee (README "Workmanship guarantee"): a customer may report a failed fix this long
# after confirmation;
GUARANTEE_WINDOW = timedelta(days=14)
# the technician of the job answers (accept with a slot, or decline) within this, else it counts as declined;
GUARANTEE_RESPONSE_WINDOW = timedelta(hours=48)
# after the return visit ends, a customer who says nothing this long is taken to be satisfied (fixed).
GUARANTEE_VISIT_REPORT_WINDOW = timedelta(days=3)
# Return-visit rate: the share of a technician's jobs confirmed in this window that got a guarantee claim;
RETURN_VISIT_RATE_WINDOW = timedelta(days=180)
# below this many confirmed jobs the rate is unknown (a single claim on two jobs says little).
RETURN_VISIT_RATE_MIN_JOBS = 5
