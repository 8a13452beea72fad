"""Matching product rules: the same in every deployment, so constants here rather than settings.

Listed in the README ("Product rules"); the scoring weights live beside the factors in `matching/scoring.py`.
Code reads them as `rules.NAME` at call time, so a test changes one with `monkeypatch.setattr`.
"""

from datetime import timedelta

# Search radius when neither the request nor the customer's preferences give one.
DEFAULT_MAX_DISTANCE_KM = 50.0
# Suggested matches expire this long after the search (or when their slot starts, if sooner).
MATCH_TTL = timedelta(hours=24)
# At most this many nearest eligible technicians are scored per search.
CANDIDATE_CAP = 300
