"""Reactions to other apps' domain events. Handlers run after commit and only enqueue tasks.

They are the fast path. A task that cannot be queued (broker unreachable) is logged and dropped by
`enqueue_now`, each on its own; the periodic sweep (payments/services/sweep.py) finds the money step from
durable state and completes it.
"""

from dumuwaks.core.side_effects import enqueue_now, subscribe


def on_booking_created(*, booking_id, **_):
    from payments.tasks import payment_request_deposit_task

    enqueue_now(payment_request_deposit_task, booking_id)


def on_booking_status_changed(*, booking_id, to_status, **_):
    from payments import tasks

    if to_status == "confirmed":
        enqueue_now(tasks.payment_request_balance_task, booking_id)
        enqueue_now(tasks.booking_release_if_complete_task, booking_id)
    elif to_status in ("cancelled", "expired"):
        enqueue_now(tasks.booking_settle_cancellation_task, booking_id)


def on_dispute_resolved(*, dispute_id, **_):
    from payments.tasks import dispute_settle_task

    enqueue_now(dispute_settle_task, dispute_id)


def subscribe_all() -> None:
    subscribe("booking.created", on_booking_created)
    subscribe("booking.status_changed", on_booking_status_changed)
    subscribe("dispute.resolved", on_dispute_resolved)
