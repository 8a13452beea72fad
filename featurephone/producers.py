"""Which domain events send feature-phone SMS. Handlers run after commit and only queue tasks."""

from __future__ import annotations

from dumuwaks.core.side_effects import enqueue_now, subscribe


def on_booking_created(*, booking_id, **_):
    from featurephone import tasks

    # A booking made for a named technician is an offer to them; the task checks enrolment and status.
    enqueue_now(tasks.offer_sms_send, booking_id)


def register() -> None:
    subscribe("booking.created", on_booking_created)
