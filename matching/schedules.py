"""Periodic tasks of the matching app (collected by dumuwaks/celery.py)."""

BEAT_SCHEDULE = {
    "matching-expire-stale": {
        "task": "matching.expire_stale_matches",
        "schedule": 300.0,
    },
}
