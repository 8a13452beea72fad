"""Payments and payouts as users and staff see them: the transaction list, payouts, the fee breakdown and a booking's money movements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    CharField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.query import EmptyQuerySet

from bookings.models import Booking
from dumuwaks.core.filtering import filter_queryset
from dumuwaks.core.permissions import is_staff_member
from payments import errors
from payments.filters import PayoutPendingFilter, TransactionFilter
from payments.models import (
    EntrySide,
    LedgerEntry,
    LedgerTransactionKind,
    Payment,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.selectors.balances import (
    MONEY_TOTAL_FIELD,
    ZERO,
    account_balance,
    technician_owed,
)
from payments.services.ledger import (
    PLATFORM_REVENUE,
    REFUNDS_PAYABLE,
    escrow_code,
    technician_payable_code,
    tips_payable_code,
)

# --- Transactions (payments and payouts in one list) ----------------------------------------------------------


def _payment_rows(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        type=Value("payment", output_field=CharField()),
        kind=F("purpose"),
        channel=F("method"),
        reference=Coalesce("mpesa_receipt", "stripe_payment_intent_id", Value("")),
        booking_number=F("booking__number"),
    ).values(
        "id",
        "type",
        "kind",
        "channel",
        "amount",
        "currency",
        "status",
        "reference",
        "booking_id",
        "booking_number",
        "created_at",
    )


def _payout_rows(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        type=Value("payout", output_field=CharField()),
        reference=F("receipt"),
        booking_number=F("booking__number"),
    ).values(
        "id",
        "type",
        "kind",
        "channel",
        "amount",
        "currency",
        "status",
        "reference",
        "booking_id",
        "booking_number",
        "created_at",
    )


def transaction_list(*, user, filters: Mapping | None = None):
    """Payments the user made and payouts the user received (staff: everyone's), newest first.

    One UNION query (plus the count), whatever the page size. `filters`: the query parameters of
    TransactionFilter (a 400 if invalid), applied to both sides.
    """
    payments = Payment.objects.all()
    payouts = Payout.objects.all()
    if not is_staff_member(user):
        payments = payments.filter(payer=user)
        payouts = payouts.filter(recipient=user)
    payments = filter_queryset(TransactionFilter, data=filters, queryset=payments)
    payouts = filter_queryset(TransactionFilter, data=filters, queryset=payouts)
    if isinstance(payouts, EmptyQuerySet):
        return _payment_rows(payments).order_by("-created_at", "-id")
    if isinstance(payments, EmptyQuerySet):
        return _payout_rows(payouts).order_by("-created_at", "-id")
    return (
        _payment_rows(payments)
        .union(_payout_rows(payouts), all=True)
        .order_by("-created_at", "-id")
    )


def payment_get_for_user(*, payment_id: int, user) -> Payment:
    qs = Payment.objects.select_related("booking", "payer", "booking__technician")
    if not is_staff_member(user):
        qs = qs.filter(Q(payer=user) | Q(booking__customer=user))
    payment = qs.filter(pk=payment_id).first()
    if payment is None:
        raise errors.PaymentNotFound()
    return payment


def payout_get_for_user(*, payout_id: int, user) -> Payout:
    qs = Payout.objects.select_related("booking", "recipient", "approved_by")
    if not is_staff_member(user):
        qs = qs.filter(recipient=user)
    payout = qs.filter(pk=payout_id).first()
    if payout is None:
        raise errors.PayoutNotFound()
    return payout


def payout_pending_list(*, filters: Mapping | None = None) -> QuerySet:
    """Payouts waiting for review, or in the status of PayoutPendingFilter's `status`."""
    return (
        filter_queryset(PayoutPendingFilter, data=filters, queryset=Payout.objects.all())
        .select_related("booking", "recipient", "approved_by")
        .order_by("created_at", "id")
    )


def payout_list_for_recipient(*, user) -> QuerySet:
    """A technician's payouts: earnings and tips (`kind` tells them apart)."""
    return (
        Payout.objects.filter(
            recipient=user, kind__in=(PayoutKind.TECHNICIAN_PAYOUT, PayoutKind.TIP)
        )
        .select_related("booking", "recipient", "approved_by")
        .order_by("-created_at", "-id")
    )


def _tip_totals(user_id: int, tips_code: str) -> dict:
    """Tips credited to the technician (the `payment:<id>:received` postings into their tips account)
    and what that account still holds (not yet paid out or moved into a payout)."""
    received = LedgerEntry.objects.filter(
        account__code=tips_code,
        side=EntrySide.DEBIT,
        transaction__kind=LedgerTransactionKind.TIP,
        transaction__payment__isnull=False,
    ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=MONEY_TOTAL_FIELD))["total"]
    return {"tips_received": received, "tips_awaiting_payout": account_balance(tips_code)}


def payout_totals_for_recipient(*, user) -> dict:
    qs = Payout.objects.filter(recipient=user, kind=PayoutKind.TECHNICIAN_PAYOUT)
    sums = qs.aggregate(
        paid=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.PAID)),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
        in_progress=Coalesce(
            Sum(
                "amount",
                filter=~Q(
                    status__in=[
                        PayoutStatus.PAID,
                        PayoutStatus.CANCELLED,
                        PayoutStatus.FAILED,
                        PayoutStatus.DEFERRED,
                        PayoutStatus.CARRIED,  # its amount is in the payout that carried it
                    ]
                ),
            ),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
        failed=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.FAILED)),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
        deferred=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.DEFERRED)),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
    )
    return {
        "total_paid": sums["paid"],
        "total_in_progress": sums["in_progress"],
        "total_failed": sums["failed"],
        "total_deferred": sums["deferred"],
        "payable_balance": account_balance(technician_payable_code(user.pk)),
        **_tip_totals(user.pk, tips_payable_code(user.pk)),
        "total_owed": technician_owed(user.pk),
        "currency": "KES",
    }


# --- Fee breakdown ------------------------------------------------------------------------------------------------


def booking_fee_breakdown(*, booking_id: int, user) -> dict:
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or not (
        is_staff_member(user) or user.pk in (booking.customer_id, booking.technician_id)
    ):
        raise errors.BookingNotFoundForPayment()
    paid = {
        row["purpose"]: row["total"]
        for row in Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED)
        .values("purpose")
        .annotate(total=Sum("amount"))
    }
    moved = {
        row["transaction__kind"]: row["total"]
        for row in LedgerEntry.objects.filter(
            account__code=escrow_code(booking.pk), side=EntrySide.CREDIT
        )
        .values("transaction__kind")
        .annotate(total=Sum("amount"))
    }
    return {
        "booking_id": booking.pk,
        "booking_number": booking.number,
        "currency": booking.currency,
        "price": booking.price,
        "deposit_amount": booking.deposit_amount,
        "balance_amount": booking.balance_amount,
        "platform_fee": booking.platform_fee,
        "technician_share": booking.technician_share,
        "cancellation_fee": booking.cancellation_fee,
        "deposit_paid": paid.get("deposit", ZERO),
        "balance_paid": paid.get("balance", ZERO),
        "escrow_held": account_balance(escrow_code(booking.pk)),
        "released": moved.get(LedgerTransactionKind.RELEASE, ZERO),
        # Every refund of this booking, from escrow or taken back after release.
        "refunded": LedgerEntry.objects.filter(
            account__code="refunds_payable", side=EntrySide.DEBIT, transaction__booking=booking
        ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=MONEY_TOTAL_FIELD))[
            "total"
        ],
    }


@dataclass(frozen=True)
class MoneyMovements:
    """Where a booking's money went, from the ledger: what escrow still holds, what was released to the
    technician and kept as the platform fee (net of anything taken back after release), what is owed back to
    the customer and how much of that has been sent."""

    held: Decimal
    released_to_technician: Decimal
    platform_fee: Decimal
    refunded: Decimal
    refund_sent: Decimal
    refunded_payment_ids: frozenset[
        int
    ]  # payments refunded as a whole (paid twice, booking closed)

    @property
    def refund_on_its_way(self) -> Decimal:
        return max(self.refunded - self.refund_sent, ZERO)


def booking_money_movements(*, booking_id: int) -> MoneyMovements:
    """Two queries: the booking's ledger entries by account and transaction kind, and its paid refunds."""
    rows = (
        LedgerEntry.objects.filter(transaction__booking_id=booking_id)
        .values("account__code", "side", "transaction__kind", "transaction__reference")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    held = technician = platform = refunded = ZERO
    refunded_payments = set()
    escrow = escrow_code(booking_id)
    for row in rows:
        code, side, kind, total = (
            row["account__code"],
            row["side"],
            row["transaction__kind"],
            row["total"],
        )
        signed = total if side == EntrySide.DEBIT else -total
        if code == escrow:
            held += signed
        elif kind in (LedgerTransactionKind.RELEASE, LedgerTransactionKind.REFUND):
            # Releases credit the technician and the platform; a clawback (a REFUND after release) takes
            # back from both. Payouts sent (PAYOUT_SENT) do not change what was released.
            if code.startswith("technician_payable:"):
                technician += signed
            elif code == PLATFORM_REVENUE:
                platform += signed
            elif code == REFUNDS_PAYABLE and side == EntrySide.DEBIT:
                refunded += total
                reference = row["transaction__reference"]
                if reference.startswith("payment:") and reference.endswith(":refund"):
                    refunded_payments.add(int(reference.split(":")[1]))
    sent = Payout.objects.filter(
        booking_id=booking_id, kind=PayoutKind.REFUND, status=PayoutStatus.PAID
    ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=MONEY_TOTAL_FIELD))["total"]
    return MoneyMovements(
        held=held,
        released_to_technician=technician,
        platform_fee=platform,
        refunded=refunded,
        refund_sent=sent,
        refunded_payment_ids=frozenset(refunded_payments),
    )
