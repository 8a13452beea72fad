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

from dumuwaks.core.events import CATALOGUE, Event

logger = logging.getLogger(__name__)


def enqueue_now(task, *args, countdown: int | None = None, **kwargs) -> None:
    """Queue a Celery task now (callers outside a transaction, e.g. periodic sweepers)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
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
# Apps publish the facts declared in dumuwaks/core/events.py (ids only); other apps subscribe in their
# AppConfig.ready(). Handlers run after commit and should only enqueue tasks or push messages.

EventHandler = Callable[[Event], None]
_subscribers: dict[type[Event], list[EventHandler]] = defaultdict(list)


def _require_declared(event_type) -> None:
    if not (
        isinstance(event_type, type)
        and CATALOGUE.get(getattr(event_type, "name", None)) is event_type
    ):
        raise TypeError(f"{event_type!r} is not an event declared in dumuwaks/core/events.py")


def subscribe(event_type: type[Event], handler: EventHandler) -> None:
    """Call `handler(event)` after the commit of every transaction that publishes an `event_type`."""
    _require_declared(event_type)
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def unsubscribe(event_type: type[Event], handler: EventHandler) -> None:
    """Stop calling `handler` for `event_type` (nothing happens when it was not subscribed)."""
    _require_declared(event_type)
    if handler in _subscribers[event_type]:
        _subscribers[event_type].remove(handler)


def subscriptions() -> dict[type[Event], list[EventHandler]]:
    """Who reacts to what (a copy): the catalogue test and docs/events.md read it."""
    return {event_type: list(handlers) for event_type, handlers in _subscribers.items() if handlers}


def publish_after_commit(event: Event) -> None:
    """Announce `event` to its subscribers once the transaction commits (immediately when none is open)."""
    _require_declared(type(event))

    def _dispatch():
        for handler in list(_subscribers.get(type(event), ())):
            try:
                handler(event)
            except Exception:  # one broken subscriber must not stop the others
                logger.exception("handler %r for %s failed", handler, event.name)

    transaction.on_commit(_dispatch)
