"""What happens to money held in a booking's escrow: release (split), refunds, cancellation, disputes.

Every function here expects the caller to hold the booking lock inside a transaction (lock order booking →
payment → escrow → payout) and locks the escrow account itself. Each settlement posts under a unique ledger
reference, so running it twice posts nothing the second time.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction

from bookings.models import Booking, BookingStatus, Dispute, DisputeOutcome, DisputeStatus
from bookings.pricing import PLATFORM_FEE_RATE
from dumuwaks.core.money import split_amount, to_decimal
from payments.models import (
    LedgerEntry,
    LedgerTransactionKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Payout,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
    RecoveryReason,
)
from payments.selectors.balances import account_balance, booking_owes_price, booking_refundable
from payments.services.common import lock_booking, lock_escrow, lock_technician_payable
from payments.services.ledger import (
    PLATFORM_REVENUE,
    REFUNDS_PAYABLE,
    EntrySide,
    Line,
    escrow_code,
    ledger_post,
    ledger_reference_exists,
    technician_payable_code,
    transfer,
)
from payments.services.payouts import payout_create, payout_transition
from payments.services.recoveries import recovery_line, recovery_record

logger = logging.getLogger(__name__)


def escrow_balance(booking_id: int) -> Decimal:
    return account_balance(escrow_code(booking_id))


def _released_to(booking: Booking, code: str) -> Decimal:
    """Net amount this booking released to `code`: its releases minus what earlier claw-backs took back
    (payouts paid from the account and recoveries withheld are not counted: the release still happened)."""
    rows = LedgerEntry.objects.filter(
        account__code=code,
        transaction__booking=booking,
        transaction__kind__in=(LedgerTransactionKind.RELEASE, LedgerTransactionKind.REFUND),
    ).values_list("side", "amount")
    return sum((a if side == EntrySide.DEBIT else -a for side, a in rows), Decimal(0))


def _release_lines(booking: Booking, amount: Decimal, *, technician_part: Decimal) -> list[Line]:
    platform_part = amount - technician_part
    source = escrow_code(booking.pk)
    lines = [Line(source, EntrySide.CREDIT, amount)]
    if technician_part:
        lines.append(
            Line(technician_payable_code(booking.technician_id), EntrySide.DEBIT, technician_part)
        )
    if platform_part:
        lines.append(Line(PLATFORM_REVENUE, EntrySide.DEBIT, platform_part))
    return lines


def _split_held(booking: Booking, held: Decimal) -> tuple[Decimal, Decimal]:
    """(technician part, platform part) of money released from escrow.

    The full price splits exactly as the booking stored it (bookings/pricing.py). Any other amount (a partial
    release after a dispute or a cancellation fee) splits with the same platform rate through money.split_amount.
    Without a technician everything goes to the platform.
    """
    if booking.technician_id is None:
        return Decimal(0), held
    if held == booking.price:
        return booking.technician_share, booking.platform_fee
    platform_part, technician_part = split_amount(held, PLATFORM_FEE_RATE)
    return technician_part, platform_part


def _release(booking: Booking, amount: Decimal, *, reference: str, memo: str) -> None:
    if amount <= 0:
        return
    technician_part, _platform = _split_held(booking, amount)
    txn = ledger_post(
        kind=LedgerTransactionKind.RELEASE,
        reference=reference,
        lines=_release_lines(booking, amount, technician_part=technician_part),
        booking_id=booking.pk,
        memo=memo,
        currency=booking.currency,
    )
    if txn is not None and technician_part > 0:
        payout_create(
            booking=booking,
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            recipient=booking.technician,
            amount=technician_part,
            phone=booking.technician.phone_number or "",
            note=memo,
            payable_reference=reference,
        )


def _refund(booking: Booking, amount: Decimal, *, reference: str, memo: str, payments=None) -> None:
    """Move `amount` from escrow to refunds_payable and create the refund payouts that send it back."""
    if amount <= 0:
        return
    txn = ledger_post(
        kind=LedgerTransactionKind.REFUND,
        reference=reference,
        lines=transfer(amount, source=escrow_code(booking.pk), to=REFUNDS_PAYABLE),
        booking_id=booking.pk,
        memo=memo,
        currency=booking.currency,
    )
    if txn is None:
        return
    _refund_payouts(booking, amount, memo=memo, payments=payments)


def _refund_payouts(booking: Booking, amount: Decimal, *, memo: str, payments=None) -> None:
    for channel, payment, part in _refund_allocation(booking, amount, payments):
        payout_create(
            booking=booking,
            kind=PayoutKind.REFUND,
            recipient=booking.customer,
            amount=part,
            phone=(payment.phone if payment else "") or booking.customer.phone_number or "",
            channel=channel,
            source_payment=payment if channel == PayoutChannel.CARD else None,
            note=memo,
        )


def _refund_allocation(booking: Booking, amount: Decimal, payments=None):
    """Card money goes back to the card it came from; the rest goes out by one M-Pesa B2C payment."""
    if payments is None:
        payments = list(
            Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED).order_by(
                "-completed_at", "-id"
            )
        )
    remaining = to_decimal(amount)
    allocation = []
    mpesa_payment = None
    for payment in payments:
        if payment.method == PaymentMethod.CARD and remaining > 0:
            refunded = sum(
                (p.amount for p in payment.refunds.exclude(status="cancelled")), Decimal(0)
            )
            part = min(remaining, payment.amount - refunded)
            if part > 0:
                allocation.append((PayoutChannel.CARD, payment, part))
                remaining -= part
        elif payment.method == PaymentMethod.MPESA and mpesa_payment is None:
            mpesa_payment = payment
    if remaining > 0:
        allocation.append((PayoutChannel.MPESA, mpesa_payment, remaining))
    return allocation


def escrow_release_if_complete(*, booking: Booking) -> bool:
    """A booking whose customer owes the full price (confirmed, or resolved `release_to_technician`) and
    whose escrow holds it: split it and create the technician payout. Caller holds the booking lock."""
    if booking.technician_id is None or not booking_owes_price(booking):
        return False
    reference = f"booking:{booking.pk}:release"
    if ledger_reference_exists(reference):
        return False
    lock_escrow(booking.pk)
    if escrow_balance(booking.pk) != booking.price:
        return False
    _release(booking, booking.price, reference=reference, memo=f"job {booking.number} completed")
    return True


def escrow_refund_payment(*, booking: Booking, payment: Payment, reason: str) -> None:
    """Money that should not have arrived (closed booking, paid twice) goes straight back."""
    lock_escrow(booking.pk)
    _refund(
        booking,
        payment.amount,
        reference=f"payment:{payment.pk}:refund",
        memo=f"refund of payment {payment.pk}: {reason}",
        payments=[payment],
    )


def escrow_refund_price_reduction(*, booking: Booking, amount: Decimal, reference: str) -> None:
    """An agreed price fell below what the customer had paid (bookings.pricing.price_change_breakdown):
    `amount` goes back from escrow through the refund payouts, posted once under `reference` (the
    proposal's). Caller holds the booking lock; escrow must hold it (it holds the paid deposit)."""
    lock_escrow(booking.pk)
    held = escrow_balance(booking.pk)
    if to_decimal(amount) > held:
        raise ValueError(f"booking {booking.pk}: refund {amount} above the {held} held in escrow")
    _refund(
        booking, to_decimal(amount), reference=reference, memo=f"price of {booking.number} lowered"
    )


def booking_settle_cancellation(*, booking_id: int) -> bool:
    """Cancelled (or expired) booking: refund what escrow holds minus the cancellation fee.

    An expired booking has no fee (nobody took the job). The fee (booking.cancellation_fee, set by bookings) is capped at what escrow holds and split like any
    release: 15 % platform, the rest to the assigned technician (all to the platform when none was assigned).
    """
    with transaction.atomic():
        booking = lock_booking(booking_id)
        if booking.status not in (BookingStatus.CANCELLED, BookingStatus.EXPIRED):
            return False
        if ledger_reference_exists(
            f"booking:{booking.pk}:cancel-refund"
        ) or ledger_reference_exists(f"booking:{booking.pk}:cancel-fee"):
            return False
        lock_escrow(booking.pk)
        held = escrow_balance(booking.pk)
        if held <= 0:
            return False
        fee = Decimal(0)
        if booking.status == BookingStatus.CANCELLED:
            fee = min(to_decimal(booking.cancellation_fee or 0), held)
        _release(
            booking, fee, reference=f"booking:{booking.pk}:cancel-fee", memo="cancellation fee"
        )
        _refund(
            booking,
            held - fee,
            reference=f"booking:{booking.pk}:cancel-refund",
            memo=f"{booking.status} booking {booking.number}",
        )
    return True


def dispute_settle(*, dispute_id: int) -> str:
    """Execute a resolved dispute's outcome (README "Disputes: every outcome in every state").

    - release_to_technician: the customer owes the full price, as for a confirmed booking. Escrow holding it
      is released with the stored split (`booking:<id>:release`); with the balance unpaid nothing moves and
      "awaiting_balance" is returned: the caller requests the balance, and its payment releases the price.
    - full_refund / partial_refund: `dispute.refund_amount` (set at resolution, at most what the customer
      paid and was not refunded) goes back to the customer, from escrow first (`dispute:<id>:refund`), the
      rest taken back from what the booking released (`_claw_back`: the technician's part not yet paid out is
      cancelled, what was paid becomes a recovery owed by the technician). What escrow still holds after the
      refund is released 85/15 (`dispute:<id>:release`): the balance is no longer owed.

    Returns the outcome, "awaiting_balance", "already_settled", "nothing_held" or "not_resolved".
    """
    dispute = Dispute.objects.get(pk=dispute_id)
    with transaction.atomic():
        booking = lock_booking(dispute.booking_id)
        dispute = Dispute.objects.get(pk=dispute_id)
        if dispute.status != DisputeStatus.RESOLVED or not dispute.outcome:
            return "not_resolved"
        reference = f"dispute:{dispute.pk}"
        if any(
            ledger_reference_exists(f"{reference}:{part}")
            for part in ("release", "refund", "clawback")
        ):
            return "already_settled"
        lock_escrow(booking.pk)
        held = escrow_balance(booking.pk)
        if dispute.outcome == DisputeOutcome.RELEASE_TO_TECHNICIAN:
            if escrow_release_if_complete(booking=booking):
                return dispute.outcome
            if ledger_reference_exists(f"booking:{booking.pk}:release"):
                return "already_settled"  # released before the dispute: the technician keeps it
            return "awaiting_balance" if held > 0 else "nothing_held"
        refund = _dispute_refund(dispute, booking)
        from_escrow = min(refund, max(held, Decimal(0)))
        memo = f"dispute {dispute.pk}"
        _refund(booking, from_escrow, reference=f"{reference}:refund", memo=memo)
        if refund > from_escrow:
            _claw_back(
                booking,
                refund - from_escrow,
                reference=f"{reference}:clawback",
                memo=memo,
                dispute_id=dispute.pk,
            )
        _release(booking, held - from_escrow, reference=f"{reference}:release", memo=memo)
        if refund <= 0 and held <= 0:
            return "nothing_held"
    return dispute.outcome


def _dispute_refund(dispute, booking: Booking) -> Decimal:
    """What the dispute refunds: its stored amount (bookings validates it at resolution and stores the full
    amount for a full refund). Disputes resolved before that rule may lack it or ask for more than was
    paid: they refund what was paid and not refunded, and the stored amount is corrected to what moved."""
    refundable = booking_refundable(booking_id=booking.pk)
    stored = to_decimal(dispute.refund_amount) if dispute.refund_amount else None
    if stored is not None and stored <= refundable:
        return stored
    if dispute.outcome == DisputeOutcome.FULL_REFUND:
        wanted = refundable
    else:
        wanted = min(stored or Decimal(0), refundable)
    if wanted != stored:
        logger.warning(
            "dispute %s: stored refund %s corrected to %s (paid and not refunded: %s)",
            dispute.pk,
            stored,
            wanted,
            refundable,
        )
        Dispute.objects.filter(pk=dispute.pk).update(refund_amount=wanted or None)
    return wanted


def _claw_back(
    booking: Booking, amount: Decimal, *, reference: str, memo: str, dispute_id: int
) -> None:
    """Refund `amount` the booking already released (a dispute refund after release), in full, now.

    The amount splits like a release: the platform gives back its 15 % from platform_revenue (at most the fee
    this booking earned it), the technician's 85 % comes from this booking's technician payouts not sent yet
    (pending review, queued, failed, deferred: cancelled; what the technician keeps goes out as a new
    payout), and whatever of it the technician was already paid (or is being paid) is recorded as a recovery
    owed by the technician (technician_receivable), withheld from their next payouts. Caller holds the booking
    and escrow locks (lock order booking → escrow → technician payable account → payout).
    """
    platform_released = max(_released_to(booking, PLATFORM_REVENUE), Decimal(0))
    technician_released = Decimal(0)
    if booking.technician_id is not None:
        technician_released = max(
            _released_to(booking, technician_payable_code(booking.technician_id)), Decimal(0)
        )
    platform_part, _rest = split_amount(amount, PLATFORM_FEE_RATE)
    platform_part = min(platform_part, platform_released)
    technician_part = min(amount - platform_part, technician_released)
    platform_part = amount - technician_part

    unsent: list[Payout] = []
    if booking.technician_id is not None and technician_part > 0:
        lock_technician_payable(booking.technician_id)
        unsent = list(
            Payout.objects.select_for_update(of=("self",))
            .filter(
                booking=booking,
                kind=PayoutKind.TECHNICIAN_PAYOUT,
                status__in=[
                    PayoutStatus.PENDING_REVIEW,
                    PayoutStatus.QUEUED,
                    PayoutStatus.FAILED,
                    PayoutStatus.DEFERRED,
                ],
            )
            .order_by("id")
        )
    unsent_total = sum((p.amount for p in unsent), Decimal(0))
    from_unsent = min(technician_part, unsent_total)
    owed = technician_part - from_unsent
    lines = [
        Line(REFUNDS_PAYABLE, EntrySide.DEBIT, amount),
        Line(PLATFORM_REVENUE, EntrySide.CREDIT, platform_part),
    ]
    if from_unsent:
        lines.append(
            Line(technician_payable_code(booking.technician_id), EntrySide.CREDIT, from_unsent)
        )
    if owed:
        lines.append(recovery_line(booking.technician_id, owed))
    if (
        ledger_post(
            kind=LedgerTransactionKind.REFUND,
            reference=reference,
            lines=lines,
            booking_id=booking.pk,
            memo=f"{memo}: taken back after release",
            currency=booking.currency,
        )
        is None
    ):
        return
    if owed:
        # A payout of this booking already with M-Pesa may still fail definitively: the recovery names it,
        # so that failure cancels it and offsets this debt (payouts._offset_debt_of_failed).
        in_flight = (
            Payout.objects.filter(
                booking=booking,
                kind=PayoutKind.TECHNICIAN_PAYOUT,
                status__in=[
                    PayoutStatus.SENDING,
                    PayoutStatus.AWAITING_RESULT,
                    PayoutStatus.NEEDS_RECONCILIATION,
                ],
            )
            .order_by("id")
            .values_list("pk", flat=True)
            .first()
        )
        recovery_record(
            technician_id=booking.technician_id,
            booking_id=booking.pk,
            dispute_id=dispute_id,
            payout_id=in_flight,
            amount=owed,
            reason=RecoveryReason.DISPUTE_REFUND,
            ledger_reference=reference,
            currency=booking.currency,
            note=f"{memo}: KES {technician_part} of the refund was the technician's, "
            f"KES {owed} of it already paid out",
        )
    for payout in unsent:
        payout_transition(payout=payout, to=PayoutStatus.CANCELLED, note=f"{memo}: refund")
    if unsent_total - from_unsent > 0:
        payout_create(
            booking=booking,
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            recipient=booking.technician,
            amount=unsent_total - from_unsent,
            phone=booking.technician.phone_number or "",
            note=f"{memo}: remainder after refund",
            payable_reference=reference,
        )
    _refund_payouts(booking, amount, memo=memo)
