"""Reactions to other apps' domain events (dumuwaks/core/events.py). Handlers run after commit and only
enqueue tasks.

They are the fast path. A task that cannot be queued (broker unreachable) is logged and dropped by
`enqueue_now`, each on its own; the periodic sweep (payments/services/sweep.py) finds the money step from
durable state and completes it.
"""

from dumuwaks.core import events
from dumuwaks.core.side_effects import enqueue_now, subscribe
from payments import tasks


def on_booking_created(event: events.BookingCreated) -> None:
    enqueue_now(tasks.payment_request_deposit_task, event.booking_id)


def on_booking_status_changed(event: events.BookingStatusChanged) -> None:
    if event.to_status == "confirmed":
        enqueue_now(tasks.payment_request_balance_task, event.booking_id)
        enqueue_now(tasks.booking_release_if_complete_task, event.booking_id)
    elif event.to_status in ("cancelled", "expired"):
        enqueue_now(tasks.booking_settle_cancellation_task, event.booking_id)


def on_dispute_resolved(event: events.DisputeResolved) -> None:
    enqueue_now(tasks.dispute_settle_task, event.dispute_id)


def subscribe_all() -> None:
    subscribe(events.BookingCreated, on_booking_created)
    subscribe(events.BookingStatusChanged, on_booking_status_changed)
    subscribe(events.DisputeResolved, on_dispute_resolved)
