"""Periodic tasks of the matching app (collected by dumuwaks/celery.py)."""

BEAT_SCHEDULE = {
    "matching-expire-stale": {
        "task": "matching.expire_stale_matches",
        "schedule": 300.0,
    },
    # Response times move slowly (a 90-day median); hourly keeps a new technician's first answers visible
    # the same day at the cost of one grouped read of the window.
    "matching-refresh-response-times": {
        "task": "matching.refresh_response_times",
        "schedule": 3600.0,
    },
}
