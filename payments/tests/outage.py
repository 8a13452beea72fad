"""A broker outage for tests: Celery publishes to a closed port, failing the way it does when Redis is down.

The test settings run every task eagerly; inside `broker_unreachable()` sends are real again
(CELERY_TASK_ALWAYS_EAGER off for Celery and for dumuwaks.core.side_effects.enqueue_now) and go to a port
nobody listens on, so `delay()` raises kombu's OperationalError ("Connection refused") after one quick
connection attempt. Use it in `transaction=True` tests, where on-commit work runs at the real commit.
"""

from __future__ import annotations

import contextlib
import socket

from django.test import override_settings

from dumuwaks.celery import app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _drop_broker_pools() -> None:
    # Celery caches the broker connection and producer pools on the app; the next send builds them again
    # from the current broker URL (what Celery itself does after a fork).
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_unreachable():
    changes = {
        # Prefixed names: the Django settings object Celery reads takes precedence over plain keys.
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{_closed_port()}/0",
        "CELERY_TASK_PUBLISH_RETRY": False,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0,
            "interval_max": 0,
        },
    }
    missing = object()
    saved = {key: app.conf.changes.get(key, missing) for key in changes}
    app.conf.update(changes)
    _drop_broker_pools()
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
            yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.conf.changes.pop(key, None)
            else:
                app.conf.changes[key] = value
        _drop_broker_pools()
