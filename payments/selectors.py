"""Reads: balances derived from the ledger, transaction history, payouts, reconciliation."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from dumuwaks.core.permissions import is_staff_member
from payments import errors
from payments.models import (
    EntrySide,
    LedgerEntry,
    LedgerTransaction,
    LedgerTransactionKind,
    Payment,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _signed_amount():
    return Case(
        When(side=EntrySide.DEBIT, then=F("amount")),
        default=-F("amount"),
        output_field=_MONEY,
    )


def account_balance(code: str) -> Decimal:
    """Σdebits − Σcredits of one account (what it holds)."""
    total = LedgerEntry.objects.filter(account__code=code).aggregate(
        total=Coalesce(Sum(_signed_amount()), Value(ZERO), output_field=_MONEY)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def account_balances(prefix: str = "") -> dict[str, Decimal]:
    rows = (
        LedgerEntry.objects.filter(account__code__startswith=prefix)
        .values("account__code")
        .annotate(total=Sum(_signed_amount()))
    )
    return {row["account__code"]: Decimal(row["total"]) for row in rows}


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


def transaction_list(*, user, filters: dict | None = None):
    """Payments the user made and payouts the user received (staff: everyone's), newest first.

    One UNION query (plus the count), whatever the page size. Filters: type, status, booking, kind.
    """
    filters = filters or {}
    payments = Payment.objects.all()
    payouts = Payout.objects.all()
    if not is_staff_member(user):
        payments = payments.filter(payer=user)
        payouts = payouts.filter(recipient=user)
    if filters.get("status"):
        payments = payments.filter(status=filters["status"])
        payouts = payouts.filter(status=filters["status"])
    if filters.get("booking"):
        payments = payments.filter(booking_id=filters["booking"])
        payouts = payouts.filter(booking_id=filters["booking"])
    if filters.get("kind"):
        payments = payments.filter(purpose=filters["kind"])
        payouts = payouts.filter(kind=filters["kind"])
    wanted = filters.get("type")
    if wanted == "payment":
        return _payment_rows(payments).order_by("-created_at", "-id")
    if wanted == "payout":
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


def payout_pending_list(*, status: str | None = None) -> QuerySet:
    statuses = [status] if status else [PayoutStatus.PENDING_REVIEW]
    return (
        Payout.objects.filter(status__in=statuses)
        .select_related("booking", "recipient", "approved_by")
        .order_by("created_at", "id")
    )


def payout_list_for_recipient(*, user) -> QuerySet:
    return (
        Payout.objects.filter(recipient=user, kind=PayoutKind.TECHNICIAN_PAYOUT)
        .select_related("booking", "recipient", "approved_by")
        .order_by("-created_at", "-id")
    )


def payout_totals_for_recipient(*, user) -> dict:
    qs = Payout.objects.filter(recipient=user, kind=PayoutKind.TECHNICIAN_PAYOUT)
    sums = qs.aggregate(
        paid=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.PAID)), Value(ZERO), output_field=_MONEY
        ),
        in_progress=Coalesce(
            Sum(
                "amount",
                filter=~Q(
                    status__in=[PayoutStatus.PAID, PayoutStatus.CANCELLED, PayoutStatus.FAILED]
                ),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
        failed=Coalesce(
            Sum("amount", filter=Q(status=PayoutStatus.FAILED)), Value(ZERO), output_field=_MONEY
        ),
    )
    from payments.services.ledger import technician_payable_code

    return {
        "total_paid": sums["paid"],
        "total_in_progress": sums["in_progress"],
        "total_failed": sums["failed"],
        "payable_balance": account_balance(technician_payable_code(user.pk)),
        "currency": "KES",
    }


# --- Fee breakdown ------------------------------------------------------------------------------------------------


def booking_fee_breakdown(*, booking_id: int, user) -> dict:
    from bookings.models import Booking

    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or not (
        is_staff_member(user) or user.pk in (booking.customer_id, booking.technician_id)
    ):
        raise errors.BookingNotFoundForPayment()
    from payments.services.ledger import escrow_code

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
        ).aggregate(total=Coalesce(Sum("amount"), Value(ZERO), output_field=_MONEY))["total"],
    }


# --- Reconciliation -----------------------------------------------------------------------------------------------


@dataclass
class ReconciliationReport:
    unbalanced_transactions: list[dict] = field(default_factory=list)
    escrow_drift: list[dict] = field(default_factory=list)
    payout_drift: list[dict] = field(default_factory=list)
    total_balance: Decimal = ZERO

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions
            or self.escrow_drift
            or self.payout_drift
            or self.total_balance != 0
        )


def ledger_reconciliation_check(*, booking_ids=None) -> ReconciliationReport:
    """Check the ledger against the payment and payout records.

    - every ledger transaction balances (Σdebit == Σcredit);
    - per booking: escrow balance == succeeded payments − releases − refunds (releases/refunds are the
      escrow credits of RELEASE/REFUND transactions; payments come from the Payment table, so a payment
      marked succeeded without its posting, or a posting without a payment, shows up as drift);
    - every paid payout has exactly its amount posted as sent, and nothing else was posted as sent;
    - all balances together sum to zero.
    """
    from payments.services.ledger import escrow_code

    report = ReconciliationReport()
    unbalanced = (
        LedgerEntry.objects.values("transaction_id", "transaction__reference")
        .annotate(
            debits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.DEBIT)), Value(ZERO), output_field=_MONEY
            ),
            credits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.CREDIT)), Value(ZERO), output_field=_MONEY
            ),
        )
        .exclude(debits=F("credits"))
    )
    report.unbalanced_transactions = [
        {
            "transaction_id": row["transaction_id"],
            "reference": row["transaction__reference"],
            "debits": row["debits"],
            "credits": row["credits"],
        }
        for row in unbalanced
    ]
    empty = LedgerTransaction.objects.filter(entries__isnull=True)
    report.unbalanced_transactions += [
        {"transaction_id": t.pk, "reference": t.reference, "debits": ZERO, "credits": ZERO}
        for t in empty
    ]

    payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    if booking_ids is not None:
        payments = payments.filter(booking_id__in=booking_ids)
    paid_in = {
        row["booking_id"]: row["total"]
        for row in payments.values("booking_id").annotate(total=Sum("amount"))
    }
    escrow_entries = LedgerEntry.objects.filter(account__code__startswith="escrow:booking:")
    if booking_ids is not None:
        escrow_entries = escrow_entries.filter(account__booking_id__in=booking_ids)
    per_booking = escrow_entries.values("account__booking_id").annotate(
        balance=Sum(_signed_amount()),
        released=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.RELEASE),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
        refunded=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.REFUND),
            ),
            Value(ZERO),
            output_field=_MONEY,
        ),
    )
    seen = set()
    for row in per_booking:
        booking_id = row["account__booking_id"]
        seen.add(booking_id)
        expected = paid_in.get(booking_id, ZERO) - row["released"] - row["refunded"]
        if row["balance"] != expected or row["balance"] < 0:
            report.escrow_drift.append(
                {
                    "booking_id": booking_id,
                    "account": escrow_code(booking_id),
                    "actual": row["balance"],
                    "expected": expected,
                    "drift": row["balance"] - expected,
                }
            )
    for booking_id, total in paid_in.items():
        if booking_id not in seen and total:
            report.escrow_drift.append(
                {
                    "booking_id": booking_id,
                    "account": escrow_code(booking_id),
                    "actual": ZERO,
                    "expected": total,
                    "drift": -total,
                }
            )

    sent = {
        row["transaction__payout_id"]: row["total"]
        for row in LedgerEntry.objects.filter(
            transaction__kind=LedgerTransactionKind.PAYOUT_SENT, side=EntrySide.DEBIT
        )
        .values("transaction__payout_id")
        .annotate(total=Sum("amount"))
    }
    paid = dict(Payout.objects.filter(status=PayoutStatus.PAID).values_list("pk", "amount"))
    for payout_id in set(sent) | set(paid):
        if sent.get(payout_id) != paid.get(payout_id):
            report.payout_drift.append(
                {
                    "payout_id": payout_id,
                    "posted": sent.get(payout_id, ZERO),
                    "paid": paid.get(payout_id, ZERO),
                }
            )
    if booking_ids is None:
        report.total_balance = LedgerEntry.objects.aggregate(
            total=Coalesce(Sum(_signed_amount()), Value(ZERO), output_field=_MONEY)
        )["total"]
    return report
