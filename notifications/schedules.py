"""Periodic tasks of the notifications app (collected by dumuwaks/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "notifications-requeue-stuck-deliveries": {
        "task": "notifications.tasks.requeue_stuck_deliveries",
        "schedule": 600.0,
    },
    "notifications-housekeeping": {
        "task": "notifications.tasks.housekeeping",
        "schedule": crontab(hour=3, minute=30),
    },
}
