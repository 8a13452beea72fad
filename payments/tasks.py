"""Celery tasks: ids only; every task re-reads the rows and re-checks state before acting (safe to retry).

The payments services queue these tasks (they import this module), so each task imports the service it runs
when it runs: an import cycle, named at each such import.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from bookings.models import Dispute
from dumuwaks.core.side_effects import enqueue_now
from payments import errors, rules
from payments.daraja.errors import DarajaBusy

logger = logging.getLogger(__name__)


# While Daraja cannot be reached, the automatic deposit/balance request is retried with exponential backoff
# (30 s, 60 s, ... capped at 15 min, with jitter) this many times; the periodic sweep
# (payments/services/sweep.py) requests whatever is still owed after that.
STK_REQUEST_MAX_RETRIES = 6
STK_REQUEST_RETRY_BACKOFF_SECONDS = 30
STK_REQUEST_RETRY_BACKOFF_MAX_SECONDS = 900


class StkProviderUnavailable(Exception):
    """Raised inside the request tasks so Celery's autoretry backs off; never escapes the task."""


_STK_RETRY = {
    "bind": True,
    "ignore_result": True,
    "autoretry_for": (StkProviderUnavailable,),
    "retry_backoff": STK_REQUEST_RETRY_BACKOFF_SECONDS,
    "retry_backoff_max": STK_REQUEST_RETRY_BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": STK_REQUEST_MAX_RETRIES,
}


@shared_task(**_STK_RETRY)
def payment_request_deposit_task(self, booking_id: int) -> str:
    return _request_stk_or_retry(booking_id, "deposit")


@shared_task(**_STK_RETRY)
def payment_request_balance_task(self, booking_id: int) -> str:
    return _request_stk_or_retry(booking_id, "balance")


def _request_stk_or_retry(booking_id: int, purpose: str) -> str:
    # cycle: services import tasks
    from payments.services.balance import balance_prompt_request
    from payments.services.payments import deposit_prompt_request

    if purpose == "balance":
        outcome = balance_prompt_request(booking_id=booking_id)
    else:
        outcome = deposit_prompt_request(booking_id=booking_id)
    if outcome == errors.PaymentProviderUnavailable.code:
        raise StkProviderUnavailable(f"{purpose} STK for booking {booking_id}: Daraja unavailable")
    return outcome


@shared_task(ignore_result=True)
def booking_release_if_complete_task(booking_id: int) -> bool:
    from payments.services.common import lock_booking  # cycle: services import tasks
    from payments.services.escrow import escrow_release_if_complete  # cycle: services import tasks

    with transaction.atomic():
        booking = lock_booking(booking_id)
        return escrow_release_if_complete(booking=booking)


@shared_task(ignore_result=True)
def booking_settle_cancellation_task(booking_id: int) -> bool:
    from payments.services.escrow import booking_settle_cancellation  # cycle: services import tasks

    return booking_settle_cancellation(booking_id=booking_id)


@shared_task(ignore_result=True)
def dispute_settle_task(dispute_id: int) -> str:
    """Settle a resolved dispute; released to the technician with the balance unpaid, request the balance
    (the confirmed rules: its payment releases the full price; the sweep requests it if this is lost)."""
    from payments.services.escrow import dispute_settle  # cycle: services import tasks

    outcome = dispute_settle(dispute_id=dispute_id)
    if outcome == "awaiting_balance":
        booking_id = Dispute.objects.values_list("booking_id", flat=True).get(pk=dispute_id)
        enqueue_now(payment_request_balance_task, booking_id)
    return outcome


@shared_task(
    bind=True,
    ignore_result=True,
    autoretry_for=(DarajaBusy,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=8,
)
def payout_send_task(self, payout_id: int) -> str:
    from payments.services.payouts import payout_send  # cycle: services import tasks

    return payout_send(payout_id=payout_id)


@shared_task(ignore_result=True)
def payout_query_status_task(payout_id: int, manual: bool = False) -> str:
    """`manual`: asked by staff (every open attempt now, not counted against the automatic checks)."""
    from payments.services.payouts import payout_query_status  # cycle: services import tasks

    return payout_query_status(payout_id=payout_id, manual=manual)


@shared_task(ignore_result=True)
def payment_query_status_task(payment_id: int) -> str:
    from payments.services.payments import payment_query_status  # cycle: services import tasks

    return payment_query_status(payment_id=payment_id).status


@shared_task(ignore_result=True)
def payments_resolve_stale_task() -> int:
    """Beat: pending STK payments whose callback never came are queried (and expired when overdue)."""
    from payments.services.payments import (
        payments_stale_pending_ids,  # cycle: services import tasks
    )

    ids = payments_stale_pending_ids(older_than_seconds=settings.PAYMENT_STK_QUERY_AFTER_SECONDS)
    for payment_id in ids:
        payment_query_status_task.delay(payment_id)
    return len(ids)


@shared_task(ignore_result=True)
def payouts_reconcile_stale_task() -> int:
    """Beat: payouts without a result for a while are checked with Transaction Status, on the bounded
    schedule of payments/services/payouts.py (PAYOUT_STATUS_CHECK_*), then escalated to staff."""
    from payments.services.payouts import (  # cycle: services import tasks
        payouts_queued_stale_ids,
        payouts_stale_ids,
    )

    ids = payouts_stale_ids(older_than_seconds=rules.PAYOUT_RECONCILE_AFTER_SECONDS)
    for payout_id in ids:
        payout_query_status_task.delay(payout_id)
    # Re-sending a queued payout is safe: the send acts only on `queued` under the row lock, and its
    # OriginatorConversationID is fixed per attempt, so Daraja refuses a duplicate.
    lost = payouts_queued_stale_ids(older_than_seconds=rules.PAYOUT_RECONCILE_AFTER_SECONDS)
    for payout_id in lost:
        payout_send_task.delay(payout_id)
    return len(ids) + len(lost)


@shared_task(ignore_result=True)
def payments_sweep_task(booking_ids: list[int] | None = None) -> dict:
    """Beat: complete money steps whose after-commit message was lost (payments/services/sweep.py).

    `booking_ids` limits the run to those bookings, whatever their age (operators: money older than the
    sweep's lookback, as listed by `manage.py reconcile`).
    """
    from payments.services.sweep import payments_sweep  # cycle: services import tasks

    result = payments_sweep(booking_ids=booking_ids)
    return {"completed": len(result.completed), "failed": len(result.failed)}


@shared_task(ignore_result=True)
def balance_collection_task() -> dict:
    """Beat: balance reminders (with a new prompt while allowed) and overdue balances to support
    (payments/services/balance.py)."""
    from payments.services.balance import balance_collection_run  # cycle: services import tasks

    result = balance_collection_run()
    return {"steps": len(result.steps), "failed": len(result.failed)}
