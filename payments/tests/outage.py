"""A broker outage for tests: Celery publishes to a closed port, failing the way it does when Redis is down.

The test settings run every task eagerly and point the broker at a port nobody listens on
(dumuwaks/settings/test.py). Inside `broker_unreachable()` sends are real again (CELERY_TASK_ALWAYS_EAGER off,
which Celery and dumuwaks.core.side_effects.enqueue_now both read from the Django settings), so `delay()`
raises kombu's OperationalError ("Connection refused") after one quick connection attempt. Use it in
`transaction=True` tests, where on-commit work runs at the real commit.
"""

from __future__ import annotations

import contextlib

from django.test import override_settings


@contextlib.contextmanager
def broker_unreachable():
    # No publish retry: the send fails at once instead of after Celery's retry policy (~0.6 s).
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_PUBLISH_RETRY=False):
        yield
