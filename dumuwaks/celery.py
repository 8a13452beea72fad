"""Celery app (worker and beat). Each domain app declares its periodic tasks in `<app>/schedules.py`.

Processes started through this module default to production settings; `make run` (bin/run-dev) and the tests
choose theirs explicitly.
"""

import importlib
import os
from datetime import timedelta

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dumuwaks.settings.production")

# The apps with periodic tasks, each declaring them in `<app>/schedules.py`.
SCHEDULED_APPS = ("bookings", "matching", "payments", "social", "support", "notifications")


def collect_beat_schedule(*, interval_override_seconds: float | None = None) -> dict:
    """Every app's BEAT_SCHEDULE in one mapping; with an override, every entry runs that often."""
    schedule: dict = {}
    for name in SCHEDULED_APPS:
        module = importlib.import_module(f"{name}.schedules")
        duplicated = schedule.keys() & module.BEAT_SCHEDULE.keys()
        if duplicated:
            raise ValueError(f"beat entries declared twice: {sorted(duplicated)}")
        schedule.update(module.BEAT_SCHEDULE)
    if interval_override_seconds:
        every = timedelta(seconds=interval_override_seconds)
        schedule = {name: {**entry, "schedule": every} for name, entry in schedule.items()}
    return schedule


app = Celery("dumuwaks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _install_beat_schedule(sender, **kwargs):
    # Set once the Django settings are loaded, under the name beat reads. No CELERY_BEAT_SCHEDULE setting
    # exists: with namespace="CELERY" it would shadow this (an empty one once made beat run nothing).
    sender.conf.beat_schedule = collect_beat_schedule(
        interval_override_seconds=settings.BEAT_INTERVAL_OVERRIDE_SECONDS
    )
