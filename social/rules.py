"""Social product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"). Code reads them as `rules.NAME` at call time, so a test changes one
with `monkeypatch.setattr(rules, "NAME", value)`.
"""

from datetime import timedelta

# A review stays hidden from others this long after it is written, unless the other party has reviewed too.
REVIEW_BLIND_PERIOD = timedelta(days=7)
# The ranked feed covers posts of this long before its snapshot time (social/selectors/posts.py says why).
FEED_WINDOW = timedelta(days=30)
# The feed's snapshot time lags "now" by this much, so engagement transactions in flight have committed.
FEED_SNAPSHOT_LAG = timedelta(seconds=2)
