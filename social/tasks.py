"""Celery tasks of the social app (ids only; state is re-read)."""

from celery import shared_task

from social.services.reviews import reviews_publish_due


@shared_task(name="social.publish_due_reviews")
def publish_due_reviews() -> int:
    """Blind reviews whose 7 days ran out join their technicians' rating aggregates."""
    return reviews_publish_due()
