"""Everything that leaves the database transaction (Celery tasks, WebSocket pushes, emails, SMS) starts here.

Work is deferred with `transaction.on_commit`, so a rolled-back request sends nothing, and carries ids only:
the receiver re-reads and re-checks the state before acting.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def enqueue_now(task, *args, countdown: int | None = None, **kwargs) -> None:
    """Queue a Celery task now (callers outside a transaction, e.g. periodic sweepers)."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        # Eager `delay` marks the calling thread as "inside a task", which breaks a concurrent
        # thread's `result.get()`; `apply` runs the task the same way without that flag.
        task.apply(args=args, kwargs=kwargs)
        return
    try:
        if countdown:
            task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
        else:
            task.delay(*args, **kwargs)
    except (KombuOperationalError, RedisError, OSError):
        # The write is committed; failing the request now would only hide that. Every task queued from
        # here has a periodic sweeper that finds the work again (stale payments, payouts, deliveries).
        logger.error("broker unavailable: %s%r not queued", task.name, args, exc_info=True)


def enqueue_after_commit(task, *args, countdown: int | None = None, **kwargs) -> None:
    """Queue a Celery task once the current transaction commits (immediately when none is open)."""
    transaction.on_commit(lambda: enqueue_now(task, *args, countdown=countdown, **kwargs))


def group_send_after_commit(group: str, message: dict) -> None:
    """Push a Channels message to a group after commit. Failure to reach Redis never breaks the write."""

    def _send():
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a live update is best-effort; the data is already committed
            logger.warning("group_send to %s failed", group, exc_info=True)

    transaction.on_commit(_send)


# --- Domain events ----------------------------------------------------------------------------------------------
# Apps publish facts ("booking.status_changed") with ids only; other apps subscribe in their AppConfig.ready().
# Handlers run after commit and should only enqueue tasks or push messages.

EventHandler = Callable[..., None]
_subscribers: dict[str, list[EventHandler]] = defaultdict(list)


def subscribe(event: str, handler: EventHandler) -> None:
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def publish_after_commit(event: str, **payload) -> None:
    """Announce `event` to its subscribers once the transaction commits. Payload values are ids/strings."""

    def _dispatch():
        for handler in list(_subscribers.get(event, ())):
            try:
                handler(**payload)
            except Exception:  # one broken subscriber must not stop the others
                logger.exception("handler %r for %s failed", handler, event)

    transaction.on_commit(_dispatch)
