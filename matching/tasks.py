"""Matching timers (Celery beat). The expiry service moves only rows still `suggested`, under row locks with
SKIP LOCKED, so overlapping runs and a concurrent accept never collide."""

from celery import shared_task

from matching.services import matches_expire_stale, technician_response_times_refresh


@shared_task(name="matching.expire_stale_matches")
def expire_stale_matches() -> int:
    """Suggested matches older than rules.MATCH_TTL, or whose slot has started → expired."""
    return matches_expire_stale()


@shared_task(name="matching.refresh_response_times")
def refresh_response_times() -> int:
    """Every technician's median response time over the last 90 days (matching.services.response_time)."""
    return technician_response_times_refresh()
