"""Reactions to other apps' domain events (dumuwaks/core/events.py): the feature-phone offer SMS.

Handlers run after the publisher's commit and only queue `offer_sms_send(booking_id)`; the task re-reads the
booking (still pending, its technician enrolled) and texts each (booking, technician) offer once
(`OfferCode.offer_sms_sent_at`), so two events for one offer, or a redelivered one, send one SMS.
"""

from __future__ import annotations

from dumuwaks.core import events
from dumuwaks.core.side_effects import enqueue_now, subscribe
from featurephone import tasks


def on_booking_created(event: events.BookingCreated) -> None:
    # A booking made for a named technician (directly, or by accepting a match) is an offer to them.
    enqueue_now(tasks.offer_sms_send, event.booking_id)


def on_booking_deposit_paid(event: events.BookingDepositPaid) -> None:
    # The moment the technician's YES can succeed: an offer not texted yet (enrolled since the booking was
    # made, or every send at creation failed) goes out now; one already texted is not sent again.
    enqueue_now(tasks.offer_sms_send, event.booking_id)


def subscribe_all() -> None:
    subscribe(events.BookingCreated, on_booking_created)
    subscribe(events.BookingDepositPaid, on_booking_deposit_paid)
