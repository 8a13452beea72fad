"""How this app queues its Celery tasks after commit.

Production goes through `dumuwaks.core.side_effects.enqueue_after_commit`. In eager mode (tests, a dev
box without a worker) the task is run with `apply` instead: Celery's eager `delay` flips a process-global
"joining a result would block" flag, and because our tasks are queued from other apps' domain events, a
concurrent thread of theirs calling `result.get()` at that moment fails with "Never call result.get()
within a task" (seen in payments' two-worker payout test).
"""

from __future__ import annotations

from django.db import transaction

from dumuwaks.core.side_effects import enqueue_after_commit as _core_enqueue_after_commit


def enqueue_after_commit(task, *args) -> None:
    if task.app.conf.task_always_eager:
        transaction.on_commit(lambda: task.apply(args=args))
        return
    _core_enqueue_after_commit(task, *args)


def enqueue_now(task, *args) -> None:
    if task.app.conf.task_always_eager:
        task.apply(args=args)
    else:
        task.delay(*args)
