"""Booking timers (Celery beat). Each run re-reads state; the per-booking service re-checks under a row lock
and changes status only through `booking_transition`, so overlapping runs and late runs are harmless."""

import logging

from celery import shared_task
from django.utils import timezone

from bookings import rules
from bookings.selectors import auto_confirmable_booking_ids, stale_pending_booking_ids
from bookings.services import (
    booking_auto_confirm_if_due,
    booking_expire_if_stale,
    guarantee_claims_process_due,
    proposal_expire_due,
)
from dumuwaks.core.errors import ApplicationError

logger = logging.getLogger(__name__)


@shared_task(name="bookings.expire_stale_bookings")
def expire_stale_bookings() -> int:
    """Expire pending bookings unpaid past payment_due_at or not accepted in time (or whose slot started)."""
    timeout = rules.ACCEPT_TIMEOUT
    expired = 0
    for booking_id in stale_pending_booking_ids(now=timezone.now(), accept_timeout=timeout):
        try:
            expired += booking_expire_if_stale(booking_id=booking_id)
        except ApplicationError:  # changed under us (accepted/cancelled): nothing to do
            logger.info("booking %s no longer expirable", booking_id)
    return expired


@shared_task(name="bookings.auto_confirm_completed_bookings")
def auto_confirm_completed_bookings() -> int:
    """Confirm completed bookings neither confirmed nor disputed within rules.AUTO_CONFIRM_AFTER."""
    after = rules.AUTO_CONFIRM_AFTER
    confirmed = 0
    for booking_id in auto_confirmable_booking_ids(now=timezone.now(), after=after):
        try:
            confirmed += booking_auto_confirm_if_due(booking_id=booking_id)
        except ApplicationError:
            logger.info("booking %s no longer auto-confirmable", booking_id)
    return confirmed


@shared_task(name="bookings.expire_proposals")
def expire_proposals() -> int:
    """Expire open reschedule proposals, quotes and change orders past their deadline or whose booking
    moved on (each re-checked under its booking lock; answering one expires it lazily too)."""
    return proposal_expire_due(now=timezone.now())


@shared_task(name="bookings.guarantee_claims_process_due")
def guarantee_claims_process_due_task() -> int:
    """Guarantee claims the technician did not answer in time become declined (and a dispute); return
    visits the customer did not report on within the window are closed as fixed."""
    return guarantee_claims_process_due(now=timezone.now())
