"""Celery app. Each domain app may declare periodic tasks in `<app>/schedules.py` as BEAT_SCHEDULE."""

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dumuwaks.settings.local")

app = Celery("dumuwaks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

DOMAIN_APPS = ("accounts", "bookings", "matching", "payments", "social", "support", "notifications")


def collect_beat_schedule() -> dict:
    schedule: dict = {}
    for name in DOMAIN_APPS:
        try:
            module = importlib.import_module(f"{name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.schedules":
                raise
            continue
        schedule.update(module.BEAT_SCHEDULE)
    return schedule


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    sender.conf.beat_schedule = {**collect_beat_schedule(), **(sender.conf.beat_schedule or {})}
