"""Which domain events send feature-phone SMS. Handlers run after commit and only queue tasks."""

from __future__ import annotations

from dumuwaks.core import events
from dumuwaks.core.side_effects import enqueue_now, subscribe


def on_booking_created(event: events.BookingCreated) -> None:
    from featurephone import tasks

    # A booking made for a named technician is an offer to them; the task checks enrolment and status.
    enqueue_now(tasks.offer_sms_send, event.booking_id)


def register() -> None:
    subscribe(events.BookingCreated, on_booking_created)
