"""Balances derived from the ledger: accounts, what a booking paid and may still refund, what a debtor owes."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from bookings.models import BookingStatus, Dispute, DisputeOutcome, DisputeStatus
from payments.models import (
    EntrySide,
    LedgerEntry,
    Payment,
    PaymentStatus,
)

ZERO = Decimal("0.00")
# The output field of money sums and subqueries in the payments selectors: wider than a stored amount
# (max_digits 12) so a total of many never overflows.
MONEY_TOTAL_FIELD = DecimalField(max_digits=14, decimal_places=2)


def ledger_signed_amount():
    """A LedgerEntry's amount as it counts toward its account's balance: a debit adds, a credit subtracts
    (sum it for Σdebits − Σcredits)."""
    return Case(
        When(side=EntrySide.DEBIT, then=F("amount")),
        default=-F("amount"),
        output_field=MONEY_TOTAL_FIELD,
    )


def account_balance(code: str) -> Decimal:
    """Σdebits − Σcredits of one account (what it holds)."""
    total = LedgerEntry.objects.filter(account__code=code).aggregate(
        total=Coalesce(Sum(ledger_signed_amount()), Value(ZERO), output_field=MONEY_TOTAL_FIELD)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def account_balances(prefix: str = "") -> dict[str, Decimal]:
    rows = (
        LedgerEntry.objects.filter(account__code__startswith=prefix)
        .values("account__code")
        .annotate(total=Sum(ledger_signed_amount()))
    )
    return {row["account__code"]: Decimal(row["total"]) for row in rows}


def technician_owed(user_id: int) -> Decimal:
    """What a technician owes back and has not repaid yet (minus their technician_receivable balance)."""
    return max(-account_balance(f"technician_receivable:{user_id}"), ZERO)


def booking_paid_in(*, booking_id: int) -> Decimal:
    """Every succeeded payment of the booking (deposit, balance, and any paid twice)."""
    total = Payment.objects.filter(booking_id=booking_id, status=PaymentStatus.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"]
    return total or ZERO


def booking_refunded(*, booking_id: int) -> Decimal:
    """Everything the booking's customer has been refunded (from escrow, or taken back after release)."""
    total = LedgerEntry.objects.filter(
        account__code="refunds_payable", side=EntrySide.DEBIT, transaction__booking_id=booking_id
    ).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


def booking_refundable(*, booking_id: int) -> Decimal:
    """The most a dispute can still refund: what the customer paid minus what they got back already."""
    return max(
        booking_paid_in(booking_id=booking_id) - booking_refunded(booking_id=booking_id), ZERO
    )


def _releasing_disputes():
    return Dispute.objects.filter(
        booking_id=OuterRef("pk"),
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN,
    )


def released_by_dispute_exists() -> Exists:
    """The booking's dispute was resolved `release_to_technician` (annotation on a Booking queryset): the
    customer owes the full price (booking_owes_price)."""
    return Exists(_releasing_disputes())


def released_by_dispute_at() -> Subquery:
    """When the booking's dispute was resolved `release_to_technician`, or null (Booking annotation)."""
    return Subquery(_releasing_disputes().order_by("resolved_at").values("resolved_at")[:1])


def booking_owes_price(booking) -> bool:
    """The customer owes the full price: the booking is confirmed, or its dispute was resolved in the
    technician's favour (`release_to_technician`: the money follows the confirmed rules, README "Disputes").
    Uses the `released_by_dispute` annotation when the booking has it (bookings_displayed)."""
    if booking.status == BookingStatus.CONFIRMED:
        return True
    if booking.status != BookingStatus.RESOLVED:
        return False
    annotated = getattr(booking, "released_by_dispute", None)
    if annotated is not None:
        return annotated
    return Dispute.objects.filter(
        booking_id=booking.pk,
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN,
    ).exists()
