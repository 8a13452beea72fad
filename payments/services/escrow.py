"""What happens to money held in a booking's escrow: release (split), refunds, cancellation, disputes.

Every function here expects the caller to hold the booking lock inside a transaction (lock order booking →
payment → escrow → payout) and locks the escrow account itself. Each settlement posts under a unique ledger
reference, so running it twice posts nothing the second time.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from bookings.models import Booking, BookingStatus
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
)
from payments.selectors import account_balance
from payments.services.common import lock_booking, lock_escrow
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

logger = logging.getLogger(__name__)


def escrow_balance(booking_id: int) -> Decimal:
    return account_balance(escrow_code(booking_id))


def _paid_in(booking: Booking) -> Decimal:
    total = Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"]
    return total or Decimal(0)


def _refunded(booking: Booking) -> Decimal:
    """Everything this booking's customer has been refunded (from escrow or clawed back)."""
    total = LedgerEntry.objects.filter(
        account__code=REFUNDS_PAYABLE,
        side=EntrySide.DEBIT,
        transaction__booking=booking,
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


def _released_to(booking: Booking, code: str) -> Decimal:
    """Net amount this booking released to `code` (releases minus earlier clawbacks)."""
    rows = LedgerEntry.objects.filter(account__code=code, transaction__booking=booking).values_list(
        "side", "amount"
    )
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
    """Confirmed booking whose escrow holds the full price: split it and create the technician payout."""
    if booking.status != BookingStatus.CONFIRMED or booking.technician_id is None:
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
    """Execute a resolved dispute's outcome on what escrow holds. Returns what was done."""
    from bookings.models import Dispute, DisputeOutcome, DisputeStatus

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
        refundable = _paid_in(booking) - _refunded(booking)  # never refund more than was paid
        if dispute.outcome == DisputeOutcome.FULL_REFUND:
            wanted = refundable
        elif dispute.outcome == DisputeOutcome.PARTIAL_REFUND:
            wanted = min(to_decimal(dispute.refund_amount or 0), refundable)
        else:
            wanted = Decimal(0)
        refund = min(wanted, max(held, Decimal(0)))
        if held > 0:
            _refund(booking, refund, reference=f"{reference}:refund", memo=f"dispute {dispute.pk}")
            _release(
                booking,
                held - refund,
                reference=f"{reference}:release",
                memo=f"dispute {dispute.pk}",
            )
        shortfall = wanted - refund
        if shortfall > 0:
            shortfall -= _claw_back(
                booking, shortfall, reference=f"{reference}:clawback", memo=f"dispute {dispute.pk}"
            )
        if shortfall > 0:
            # Money the technician was already paid is not recovered automatically; staff settle the
            # rest by hand and the log says how much.
            logger.error(
                "dispute %s: refund %s wanted, %s could not be recovered for booking %s",
                dispute.pk,
                wanted,
                shortfall,
                booking.pk,
            )
        if held <= 0 and shortfall == wanted:
            return "nothing_held"
    return dispute.outcome


def _claw_back(booking: Booking, amount: Decimal, *, reference: str, memo: str) -> Decimal:
    """Take back up to `amount` already released by this booking, for a refund after release.

    Only money that has not left: the booking's technician payouts not yet sent (held for review, queued,
    failed) are cancelled, and the platform gives back its fee. Proportions follow the platform rate; what
    the technician keeps goes out as a new payout. Returns the amount recovered. Caller holds the booking
    lock (lock order booking → payout).
    """
    unsent = list(
        Payout.objects.select_for_update(of=("self",))
        .filter(
            booking=booking,
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            status__in=[PayoutStatus.PENDING_REVIEW, PayoutStatus.QUEUED, PayoutStatus.FAILED],
        )
        .order_by("id")
    )
    technician_available = sum((p.amount for p in unsent), Decimal(0))
    platform_available = max(_released_to(booking, PLATFORM_REVENUE), Decimal(0))
    recovered = min(amount, technician_available + platform_available)
    if recovered <= 0:
        return Decimal(0)
    platform_share, _rest = split_amount(recovered, PLATFORM_FEE_RATE)
    technician_take = min(technician_available, recovered - min(platform_available, platform_share))
    platform_take = recovered - technician_take
    lines = [Line(REFUNDS_PAYABLE, EntrySide.DEBIT, recovered)]
    if technician_take:
        lines.append(
            Line(technician_payable_code(booking.technician_id), EntrySide.CREDIT, technician_take)
        )
    if platform_take:
        lines.append(Line(PLATFORM_REVENUE, EntrySide.CREDIT, platform_take))
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
        return Decimal(0)
    for payout in unsent:
        payout_transition(payout=payout, to=PayoutStatus.CANCELLED, note=f"{memo}: refund")
    if technician_available - technician_take > 0:
        payout_create(
            booking=booking,
            kind=PayoutKind.TECHNICIAN_PAYOUT,
            recipient=booking.technician,
            amount=technician_available - technician_take,
            phone=booking.technician.phone_number or "",
            note=f"{memo}: remainder after refund",
        )
    _refund_payouts(booking, recovered, memo=memo)
    return recovered
