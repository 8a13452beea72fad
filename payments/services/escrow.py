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
    PayoutChannel,
    PayoutKind,
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
from payments.services.payouts import payout_create

logger = logging.getLogger(__name__)


def escrow_balance(booking_id: int) -> Decimal:
    return account_balance(escrow_code(booking_id))


def _paid_in(booking: Booking) -> Decimal:
    total = Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"]
    return total or Decimal(0)


def _refunded(booking: Booking) -> Decimal:
    total = LedgerEntry.objects.filter(
        account__code=escrow_code(booking.pk),
        side=EntrySide.CREDIT,
        transaction__kind=LedgerTransactionKind.REFUND,
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


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
        if ledger_reference_exists(f"{reference}:release") or ledger_reference_exists(
            f"{reference}:refund"
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
        if wanted > refund:
            # Money already released (dispute after confirmation) is not clawed back automatically: the
            # technician may have been paid. Staff settle the rest by hand; the log says how much.
            logger.error(
                "dispute %s: refund %s wanted but escrow of booking %s holds only %s",
                dispute.pk,
                wanted,
                booking.pk,
                held,
            )
        if held <= 0:
            return "nothing_held"
        _refund(booking, refund, reference=f"{reference}:refund", memo=f"dispute {dispute.pk}")
        _release(
            booking, held - refund, reference=f"{reference}:release", memo=f"dispute {dispute.pk}"
        )
    return dispute.outcome
