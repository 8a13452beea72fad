"""The money sweep: steps an after-commit message should have started, re-derived from durable state.

The event handlers (payments/events.py) are the fast path: right after a booking is created, confirmed,
cancelled or expired, or its dispute resolved, they queue the deposit or balance STK push, the release, the
cancellation settlement or the dispute settlement. When the broker is unreachable at that moment the message
is never queued (dumuwaks/core/side_effects.py logs it) and nothing else would ever start the step.

`payments_sweep` (beat, payments/schedules.py) finds every booking whose money still owes one of those steps
from bookings, payments and the ledger alone (`payments.selectors.owed_steps.owed_step_list`) and completes it with the
same services the tasks call. Running it any number of times, overlapping, or after a crash halfway moves no
money twice: each settlement re-checks state under the booking lock and posts under a unique ledger reference,
and each STK request uses the booking's automatic idempotency key, the one the event path uses
(`auto-deposit-<booking id>`; for the balance `auto-balance-<booking id>-1`, the first attempt of
payments/services/balance.py), so it returns the existing payment instead of prompting the customer again.
The sweep requests only a balance never attempted; prompts after a failed one come with the reminders
(payments/services/balance.py, its own beat entry).

A credited tip whose payout was never created (payments/services/tips.py) is found from the payment and the
ledger alone and gets its payout (`tip_payout`, one per tip by a unique constraint). A small tip's payout still
`deferred` rules.TIP_DEFERRED_MAX_WAIT after it was made (the technician had no other payout to carry it) is
paid on its own (`tip_payout_released`); found from the payouts alone, so no message has to survive.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from payments.selectors.owed_steps import OwedStep, OwedStepItem, owed_step_list
from payments.selectors.tips import tip_payouts_deferred_too_long_ids, tips_without_payout_ids
from payments.services import escrow
from payments.services.balance import balance_prompt_request
from payments.services.common import lock_booking
from payments.services.payments import deposit_prompt_request
from payments.services.tips import tip_payout_recover, tip_payout_release_deferred

logger = logging.getLogger(__name__)

# The normal path has this long after a booking's last change before the sweep steps in (the after-commit
# task usually runs within seconds; both paths are idempotent, the grace only avoids doing the work twice).
SWEEP_GRACE = timedelta(minutes=2)
# Bookings whose status changed, money moved or dispute changed this recently are candidates. Older money
# still owed is reported by `manage.py reconcile` (ESCROW_AGEING_THRESHOLD) and settled with --settle-aged.
SWEEP_LOOKBACK = timedelta(days=7)
# At most this many bookings per run, and no new booking once a run has taken this long (the task's soft time
# limit is 240 s); the rest are found again by the next run.
SWEEP_BATCH_SIZE = 500
SWEEP_TIME_BUDGET_SECONDS = 120
# `manage.py reconcile` reports money held this long after a booking's last status change while the booking
# is over (confirmed, cancelled, expired, resolved) and no dispute is open.
ESCROW_AGEING_THRESHOLD = timedelta(hours=24)


@dataclass
class SweepResult:
    # (booking id, step, what the service returned)
    completed: list[tuple[int, str, str]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # booking ids; retried by the next run
    stopped_early: bool = False


def payments_sweep(
    *, booking_ids=None, now: datetime | None = None, grace: timedelta = SWEEP_GRACE
) -> SweepResult:
    """Complete every money step owed (only `booking_ids`, whatever their age, when given).

    Each booking is handled on its own, in its own transaction(s) under its booking lock, taken by the service
    it calls; a booking that fails is logged and left for the next run. Call outside any transaction (the STK
    push is a network call).
    """
    now = now or timezone.now()
    items = owed_step_list(
        now=now,
        since=now - SWEEP_LOOKBACK,
        changed_before=now - grace,
        booking_ids=booking_ids,
        limit=SWEEP_BATCH_SIZE,
    )
    result = SweepResult()
    started = time.monotonic()
    for index, item in enumerate(items):
        if time.monotonic() - started > SWEEP_TIME_BUDGET_SECONDS:
            result.stopped_early = True
            left = len(items) - index
            logger.warning("sweep: time budget spent, %s bookings left for the next run", left)
            break
        try:
            outcome = _complete(item)
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # one broken booking must not keep the others' money waiting
            logger.exception("sweep: %s for booking %s failed", item.step, item.booking_id)
            result.failed.append(item.booking_id)
            continue
        # Reaching here means the fast path's message was lost (or is badly late): worth a warning.
        logger.warning("sweep: booking %s %s -> %s", item.booking_id, item.step, outcome)
        result.completed.append((item.booking_id, item.step, str(outcome)))
    if not result.stopped_early and booking_ids is None:
        _sweep_tips(result, credited_before=now - grace)
        _sweep_deferred_tips(result, now=now)
    return result


def _sweep_tips(result: SweepResult, *, credited_before: datetime) -> None:
    """Credited tips without their payout (payments/services/tips.py): the step is re-derived from the
    payment and the ledger; `payout_one_per_tip` keeps it to one payout whatever runs at once."""
    for payment_id in tips_without_payout_ids(credited_before=credited_before):
        try:
            payout = tip_payout_recover(payment_id=payment_id)
        except Exception:  # one broken tip must not keep the others waiting
            logger.exception("sweep: tip payout for payment %s failed", payment_id)
            continue
        if payout is not None:
            logger.warning("sweep: tip payment %s -> payout %s", payment_id, payout.pk)
            result.completed.append((payout.booking_id, "tip_payout", payout.status))


def _complete(item: OwedStepItem):
    if item.step == OwedStep.RELEASE:
        with transaction.atomic():
            return escrow.escrow_release_if_complete(booking=lock_booking(item.booking_id))
    if item.step == OwedStep.SETTLE_CANCELLATION:
        return escrow.booking_settle_cancellation(booking_id=item.booking_id)
    if item.step == OwedStep.SETTLE_DISPUTE:
        return escrow.dispute_settle(dispute_id=item.dispute_id)
    # The same request (and idempotency key) as the event path's task: at most one STK push per attempt.
    if item.step == OwedStep.REQUEST_DEPOSIT:
        return deposit_prompt_request(booking_id=item.booking_id)
    if item.step == OwedStep.REQUEST_BALANCE:
        return balance_prompt_request(booking_id=item.booking_id)
    raise ValueError(f"unknown step {item.step!r}")


def _sweep_deferred_tips(result: SweepResult, *, now: datetime) -> None:
    """Tips that waited rules.TIP_DEFERRED_MAX_WAIT for a payout to go with are paid on their own; the
    technician payable lock makes a payout carrying one at the same moment and this step exclusive."""
    for payout_id in tip_payouts_deferred_too_long_ids(now=now):
        try:
            payout = tip_payout_release_deferred(payout_id=payout_id)
        except Exception:  # one broken payout must not keep the other tips waiting
            logger.exception("sweep: releasing deferred tip payout %s failed", payout_id)
            continue
        if payout is not None:
            logger.info("sweep: deferred tip payout %s -> %s", payout_id, payout.status)
            result.completed.append((payout.booking_id, "tip_payout_released", payout.status))
