"""Periodic tasks of the bookings app (collected by dumuwaks/celery.py)."""

BEAT_SCHEDULE = {
    "bookings-expire-stale": {
        "task": "bookings.expire_stale_bookings",
        "schedule": 60.0,
    },
    "bookings-expire-proposals": {
        "task": "bookings.expire_proposals",
        "schedule": 60.0,
    },
    "bookings-guarantee-claims": {
        "task": "bookings.guarantee_claims_process_due",
        "schedule": 300.0,
    },
    "bookings-auto-confirm": {
        "task": "bookings.auto_confirm_completed_bookings",
        "schedule": 300.0,
    },
}
