"""Collecting a confirmed booking's balance: automatic prompts, reminders on a schedule, hand-over to support.
A booking whose dispute was resolved `release_to_technician` owes its balance the same way (due from
confirmation, else from the resolution; payments.selectors.balances.booking_owes_price).

When the customer confirms the job, the balance is requested by STK push (the event path, or the money sweep
when that message was lost). A prompt can fail, be cancelled or expire; the customer can then pay again from
the app (`POST /payments/mpesa/stk-push` with an Idempotency-Key of their own) and is reminded on a schedule:

- every automatic prompt is a new attempt with its own idempotency key `auto-balance-<booking>-<n>`: the same
  attempt asked twice (a duplicate event, a sweep overlapping the event path, a task retried after an outage)
  returns the same payment; attempt n+1 exists only once attempt n closed without the money. A new prompt is
  sent only when no balance payment is open or succeeded, and at most `BALANCE_MAX_AUTOMATIC_PROMPTS` times in
  all (the first request included);
- `BALANCE_REMINDER_SCHEDULE` after the balance fell due (the booking was confirmed), the customer is reminded
  (notification `payment.balance_prompt` or `payment.balance_due`) and, while automatic prompts are left and
  none is open, prompted again. A reminder missed while beat was down is not sent late one by one: the next
  run sends one reminder for the latest step reached;
- `BALANCE_OVERDUE_AFTER` after it fell due, still unpaid, the case goes to support once: a support ticket
  (category payment, high priority, linked to the booking) and `BalanceCollection.overdue_at`, which the
  booking's money summary shows as `balanceOverdue`. No more reminders or prompts; the customer can still pay.

Beat runs `balance_collection_run` (payments/schedules.py, `payments-balance-collection`). Each step is taken
under the booking lock with a compare-and-set on the collection row, so overlapping runs send each reminder and
create the ticket once. Prompts (network) are sent after that transaction commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, Dispute, DisputeOutcome, DisputeStatus
from dumuwaks.core import events
from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.side_effects import publish_after_commit
from payments import errors
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    BalanceCollection,
    Payment,
    PaymentPurpose,
    PaymentStatus,
)
from payments.selectors.balances import booking_owes_price
from payments.selectors.owed_steps import balance_collection_candidate_ids
from payments.services.common import lock_booking
from payments.services.payments import payment_request_stk
from support.models import TicketCategory, TicketPriority
from support.services import ticket_create

logger = logging.getLogger(__name__)

# Automatic STK prompts for one balance, the first request (at confirmation) included: the first and at most
# two more, sent with reminders. Beyond that the customer pays from the app (reminders still say so).
BALANCE_MAX_AUTOMATIC_PROMPTS = 3
# Reminders, counted from when the balance fell due (the booking was confirmed).
BALANCE_REMINDER_SCHEDULE = (timedelta(days=1), timedelta(days=3), timedelta(days=5))
# Still unpaid this long after it fell due: the case goes to support (a ticket, `balanceOverdue`).
BALANCE_OVERDUE_AFTER = timedelta(days=7)
# Bookings confirmed longer ago than this are not looked at any more (they were handed to support long
# before; `manage.py reconcile` lists the deposit still held in their escrow as aged).
BALANCE_COLLECTION_LOOKBACK = timedelta(days=30)
# At most this many bookings per run; the rest are found again by the next one.
BALANCE_COLLECTION_BATCH_SIZE = 200

AUTOMATIC_KEY_PREFIX = "auto-balance-"
PROMPTS_USED = "automatic_prompts_used"


def balance_prompt_key(booking_id: int, attempt: int) -> str:
    """The idempotency key of the booking's `attempt`-th automatic balance prompt (1-based)."""
    return f"{AUTOMATIC_KEY_PREFIX}{booking_id}-{attempt}"


def _is_automatic(key: str | None, booking_id: int) -> bool:
    # `auto-balance-<id>` alone is the key the first prompt had before attempts were numbered.
    own = f"{AUTOMATIC_KEY_PREFIX}{booking_id}"
    return bool(key) and (key == own or key.startswith(own + "-"))


def balance_prompt_request(*, booking_id: int) -> str:
    """Send the booking's next automatic balance prompt, if one may go now. Call outside any transaction.

    Returns the status of the payment that stands for this attempt (the new one, or the open one when a
    request is already waiting), or why nothing was sent: an error code (`already_paid`,
    `payment_not_due`, `phone_confirmation_required`, `payment_provider_unavailable`: nothing kept, ask
    again later, ...) or `automatic_prompts_used`.
    """
    booking = Booking.objects.select_related("customer").filter(pk=booking_id).first()
    if booking is None:
        return "booking_not_found"
    attempts = list(
        Payment.objects.filter(booking_id=booking_id, purpose=PaymentPurpose.BALANCE).values_list(
            "status", "idempotency_key"
        )
    )
    if any(status == PaymentStatus.SUCCEEDED for status, _key in attempts):
        return errors.AlreadyPaid.code
    open_status = next((s for s, _key in attempts if s in ACTIVE_PAYMENT_STATUSES), None)
    if open_status is not None:
        return open_status  # a prompt is waiting on the customer's phone: never a second one
    sent = sum(1 for _status, key in attempts if _is_automatic(key, booking_id))
    if sent >= BALANCE_MAX_AUTOMATIC_PROMPTS:
        return PROMPTS_USED
    try:
        # Two callers that read the same attempts ask with the same key: one payment, one prompt.
        payment = payment_request_stk(
            booking_id=booking.pk,
            payer=booking.customer,
            purpose=PaymentPurpose.BALANCE,
            idempotency_key=balance_prompt_key(booking.pk, sent + 1),
        )
    except ApplicationError as exc:
        # Nothing due (paid, disputed meanwhile), a request opened meanwhile, no number it may go to
        # (the customer confirms one in the app), or Daraja unavailable/refusing.
        logger.info("no automatic balance prompt for booking %s: %s", booking_id, exc.code)
        return exc.code
    return payment.status


# --- Reminders and the deadline ---------------------------------------------------------------------------------


@dataclass
class BalanceCollectionResult:
    # (booking id, what was done)
    steps: list[tuple[int, str]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # retried by the next run


def balance_collection_run(*, now: datetime | None = None) -> BalanceCollectionResult:
    """Beat: take every collection step due now (a reminder, the hand-over to support). Each booking on its
    own; one that fails is logged and found again by the next run."""
    now = now or timezone.now()
    result = BalanceCollectionResult()
    ids = balance_collection_candidate_ids(
        due_before=now - BALANCE_REMINDER_SCHEDULE[0],
        due_after=now - BALANCE_COLLECTION_LOOKBACK,
        limit=BALANCE_COLLECTION_BATCH_SIZE,
    )
    for booking_id in ids:
        try:
            outcome = balance_collection_step(booking_id=booking_id, now=now)
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # one broken booking must not keep the others waiting
            logger.exception("balance collection for booking %s failed", booking_id)
            result.failed.append(booking_id)
            continue
        if outcome != "nothing_due":
            result.steps.append((booking_id, outcome))
    return result


def _balance_outstanding(booking: Booking) -> bool:
    """Caller holds the booking lock. A booking resolved `release_to_technician` owes its balance like a
    confirmed one (README "Disputes: every outcome in every state")."""
    return (
        booking_owes_price(booking)
        and booking.deposit_paid_at is not None
        and booking.balance_amount > 0
        and not Payment.objects.filter(
            booking=booking, purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED
        ).exists()
    )


def _collection_for(booking: Booking, *, now: datetime) -> BalanceCollection:
    """The booking's collection row, created on first use. Caller holds the booking lock, which every writer
    of the row takes first, so it cannot be created twice."""
    collection = BalanceCollection.objects.filter(booking=booking).first()
    if collection is None:
        # Due since confirmation; for a booking disputed before it was confirmed, since the release.
        released_at = (
            Dispute.objects.filter(
                booking=booking,
                status=DisputeStatus.RESOLVED,
                outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN,
            )
            .values_list("resolved_at", flat=True)
            .first()
        )
        collection = BalanceCollection.objects.create(
            booking=booking, due_since=booking.confirmed_at or released_at or now
        )
    return collection


def balance_collection_step(*, booking_id: int, now: datetime | None = None) -> str:
    """The booking's next collection step, if one is due at `now`. Call outside any transaction.

    Returns `not_outstanding` (paid, or the booking no longer owes its price), `with_support` (handed over
    before), `handed_to_support`, `nothing_due`, or `reminded:<prompt outcome>` (see
    `balance_prompt_request`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        booking = lock_booking(booking_id)
        if not _balance_outstanding(booking):
            return "not_outstanding"
        collection = _collection_for(booking, now=now)
        if collection.overdue_at is not None:
            return "with_support"
        elapsed = now - collection.due_since
        if elapsed >= BALANCE_OVERDUE_AFTER:
            _hand_to_support(booking=booking, collection=collection, now=now)
            return "handed_to_support"
        reached = sum(1 for offset in BALANCE_REMINDER_SCHEDULE if elapsed >= offset)
        if reached <= collection.reminders_sent:
            return "nothing_due"
        counted = BalanceCollection.objects.filter(
            pk=collection.pk, reminders_sent=collection.reminders_sent
        ).update(reminders_sent=reached, last_reminder_at=now, updated_at=now)
        if not counted:  # cannot happen under the booking lock; never send a reminder twice
            return "nothing_due"
    # Prompt first, then the reminder: its wording says whether a prompt is waiting on the phone.
    prompt = balance_prompt_request(booking_id=booking_id)
    publish_after_commit(events.PaymentBalanceReminder(booking_id=booking_id, reminder=reached))
    logger.info("balance reminder %s for booking %s: prompt %s", reached, booking_id, prompt)
    return f"reminded:{prompt}"


def _hand_to_support(*, booking: Booking, collection: BalanceCollection, now: datetime) -> None:
    """Open the support ticket for an overdue balance and mark the collection overdue, once. Caller holds the
    booking lock inside a transaction."""
    last_attempt = (
        Payment.objects.filter(booking=booking, purpose=PaymentPurpose.BALANCE)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    attempts = Payment.objects.filter(booking=booking, purpose=PaymentPurpose.BALANCE).count()
    # Opened in the customer's name: it concerns their booking, they see it among their tickets and can
    # answer the agent there.
    ticket = ticket_create(
        created_by=booking.customer,
        subject=f"Balance overdue: {booking.number}",
        description=(
            f"The balance of {booking.currency} {booking.balance_amount} for booking {booking.number} is"
            f" still unpaid {BALANCE_OVERDUE_AFTER.days} days after the job was confirmed"
            f" ({timezone.localtime(collection.due_since):%Y-%m-%d %H:%M} EAT). Reminders sent:"
            f" {collection.reminders_sent}; balance payment attempts: {attempts}. The deposit is held in"
            " escrow and the technician has not been paid. Opened automatically by Dumu Waks."
        ),
        category=TicketCategory.PAYMENT,
        priority=TicketPriority.HIGH,
        related_booking_id=booking.pk,
        related_payment_id=last_attempt,
    )
    updated = BalanceCollection.objects.filter(pk=collection.pk, overdue_at__isnull=True).update(
        overdue_at=now, support_ticket=ticket, updated_at=now
    )
    if not updated:  # cannot happen under the booking lock; never leave a second ticket behind
        raise RuntimeError(f"balance collection of booking {booking.pk} changed meanwhile")
    publish_after_commit(events.PaymentBalanceOverdue(booking_id=booking.pk, ticket_id=ticket.pk))
    logger.warning(
        "balance of booking %s overdue: support ticket %s opened", booking.pk, ticket.number
    )
