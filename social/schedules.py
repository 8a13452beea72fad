"""Periodic tasks of the social app (collected by dumuwaks/celery.py)."""

BEAT_SCHEDULE = {
    "social-publish-due-reviews": {
        "task": "social.publish_due_reviews",
        "schedule": 900.0,
    },
}
