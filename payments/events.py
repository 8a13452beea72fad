"""Reactions to other apps' domain events. Handlers run after commit and only enqueue tasks."""

from dumuwaks.core.side_effects import subscribe


def on_booking_created(*, booking_id, **_):
    from payments.tasks import payment_request_deposit_task

    payment_request_deposit_task.delay(booking_id)


def on_booking_status_changed(*, booking_id, to_status, **_):
    from payments import tasks

    if to_status == "confirmed":
        tasks.payment_request_balance_task.delay(booking_id)
        tasks.booking_release_if_complete_task.delay(booking_id)
    elif to_status in ("cancelled", "expired"):
        tasks.booking_settle_cancellation_task.delay(booking_id)


def on_dispute_resolved(*, dispute_id, **_):
    from payments.tasks import dispute_settle_task

    dispute_settle_task.delay(dispute_id)


def subscribe_all() -> None:
    subscribe("booking.created", on_booking_created)
    subscribe("booking.status_changed", on_booking_status_changed)
    subscribe("dispute.resolved", on_dispute_resolved)
