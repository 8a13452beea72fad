"""Beat task: stale suggestions expire; the schedule is registered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from dumuwaks.celery import collect_beat_schedule
from matching.models import Match, MatchStatus
from matching.services import match_search
from matching.tasks import expire_stale_matches


def test_beat_schedule_registers_the_expiry_task():
    entry = collect_beat_schedule()["matching-expire-stale"]
    assert entry["task"] == expire_stale_matches.name == "matching.expire_stale_matches"


@pytest.mark.django_db
def test_task_expires_matches_whose_slot_has_started(service_category):
    TechnicianFactory(skill=service_category)
    customer = CustomerFactory()
    _, (match,) = match_search(
        customer=customer,
        category=service_category,
        scheduled_start=timezone.now() + timedelta(hours=3),
        duration_minutes=60,
    )
    assert expire_stale_matches.delay().get() == 0
    # The slot starts before the 24 h lifetime ends: expires_at is the slot start.
    assert match.expires_at == match.scheduled_start
    Match.objects.filter(pk=match.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_stale_matches.delay().get() == 1
    match.refresh_from_db()
    assert match.status == MatchStatus.EXPIRED
