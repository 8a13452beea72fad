"""Beat runs every periodic job every app declares, checked on the configured app the way `celery beat`
loads it (a CELERY_BEAT_SCHEDULE setting once shadowed the collected schedule, and beat ran nothing).
The system tier (tests/system/) shows the jobs really run under a beat process."""

import importlib
from datetime import timedelta
from pathlib import Path

from celery import beat

from dumuwaks.celery import app, collect_beat_schedule

ROOT = Path(__file__).resolve().parents[3]


def _declared_entries() -> dict:
    """Every BEAT_SCHEDULE in every top-level `<app>/schedules.py` on disk, whatever celery.py lists."""
    declared: dict = {}
    for path in sorted(ROOT.glob("*/schedules.py")):
        declared.update(importlib.import_module(f"{path.parent.name}.schedules").BEAT_SCHEDULE)
    return declared


def test_beat_loads_every_declared_entry_and_each_names_a_registered_task():
    app.loader.import_default_modules()  # what worker and beat do at start: autodiscovers the tasks
    scheduler = beat.Scheduler(app=app, lazy=False)
    declared = _declared_entries()

    assert declared, "no schedules.py found"
    assert set(scheduler.schedule) == set(declared)
    for name, entry in scheduler.schedule.items():
        assert entry.task == declared[name]["task"]
        assert entry.task in app.tasks, f"{name} names an unregistered task {entry.task}"


def test_the_interval_override_makes_every_entry_run_that_often():
    fast = collect_beat_schedule(interval_override_seconds=2)
    assert set(fast) == set(_declared_entries())
    assert {entry["schedule"] for entry in fast.values()} == {timedelta(seconds=2)}
