"""Reconciliation: the ledger against payments, payouts and recorded debts; callbacks waiting for their payment."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from payments.models import (
    CallbackEvent,
    CallbackStatus,
    EntrySide,
    LedgerEntry,
    LedgerTransaction,
    LedgerTransactionKind,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutStatus,
    TechnicianRecovery,
)
from payments.selectors.balances import (
    MONEY_TOTAL_FIELD,
    ZERO,
    ledger_signed_amount,
)
from payments.selectors.recoveries import recovery_debtor_account
from payments.services.ledger import escrow_code

# --- Reconciliation -----------------------------------------------------------------------------------------------


@dataclass
class ReconciliationReport:
    unbalanced_transactions: list[dict] = field(default_factory=list)
    escrow_drift: list[dict] = field(default_factory=list)
    payout_drift: list[dict] = field(default_factory=list)
    recovery_drift: list[dict] = field(default_factory=list)
    tip_drift: list[dict] = field(default_factory=list)
    total_balance: Decimal = ZERO

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions
            or self.escrow_drift
            or self.payout_drift
            or self.recovery_drift
            or self.tip_drift
            or self.total_balance != 0
        )


def ledger_reconciliation_check(*, booking_ids=None) -> ReconciliationReport:
    """Check the ledger against the payment and payout records.

    - every ledger transaction balances (Σdebit == Σcredit);
    - per booking: escrow balance == succeeded payments − releases − refunds (releases/refunds are the
      escrow credits of RELEASE/REFUND transactions; payments come from the Payment table, so a payment
      marked succeeded without its posting, or a posting without a payment, shows up as drift);
    - every paid payout has exactly its amount posted as sent, and nothing else was posted as sent;
    - per technician, the debts recorded (TechnicianRecovery) are the debts posted to technician_receivable,
      and no more was withheld than owed;
    - every succeeded tip posted exactly its amount to a tips_payable account (tips never enter escrow);
    - all balances together sum to zero.
    """
    report = ReconciliationReport()
    unbalanced = (
        LedgerEntry.objects.values("transaction_id", "transaction__reference")
        .annotate(
            debits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.DEBIT)),
                Value(ZERO),
                output_field=MONEY_TOTAL_FIELD,
            ),
            credits=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.CREDIT)),
                Value(ZERO),
                output_field=MONEY_TOTAL_FIELD,
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
    report.tip_drift = _tip_drift(payments.filter(purpose=PaymentPurpose.TIP))
    payments = payments.exclude(purpose=PaymentPurpose.TIP)
    paid_in = {
        row["booking_id"]: row["total"]
        for row in payments.values("booking_id").annotate(total=Sum("amount"))
    }
    escrow_entries = LedgerEntry.objects.filter(account__code__startswith="escrow:booking:")
    if booking_ids is not None:
        escrow_entries = escrow_entries.filter(account__booking_id__in=booking_ids)
    per_booking = escrow_entries.values("account__booking_id").annotate(
        balance=Sum(ledger_signed_amount()),
        released=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.RELEASE),
            ),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
        refunded=Coalesce(
            Sum(
                "amount",
                filter=Q(side=EntrySide.CREDIT, transaction__kind=LedgerTransactionKind.REFUND),
            ),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
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
    report.recovery_drift = _recovery_drift()
    if booking_ids is None:
        report.total_balance = LedgerEntry.objects.aggregate(
            total=Coalesce(Sum(ledger_signed_amount()), Value(ZERO), output_field=MONEY_TOTAL_FIELD)
        )["total"]
    return report


def _tip_drift(tips: QuerySet) -> list[dict]:
    """Succeeded tips whose `payment:<id>:received` posting did not put exactly their amount into
    tips_payable (payments/services/tips.py)."""
    posted = {
        row["transaction__payment_id"]: row["total"]
        for row in LedgerEntry.objects.filter(
            transaction__payment__in=tips,
            transaction__kind=LedgerTransactionKind.TIP,
            account__code__startswith="tips_payable:",
            side=EntrySide.DEBIT,
        )
        .values("transaction__payment_id")
        .annotate(total=Sum("amount"))
    }
    return [
        {"payment_id": pk, "posted": posted.get(pk, ZERO), "paid": amount}
        for pk, amount in tips.values_list("pk", "amount")
        if posted.get(pk) != amount
    ]


def _recovery_drift() -> list[dict]:
    """Per debtor (technician or customer): the debts recorded (TechnicianRecovery) equal the debts posted
    (credits of its receivable account), and no more was repaid than owed (the balance is never positive).
    `technician_id` names the debtor (a customer for customer_receivable)."""
    rows = (
        LedgerEntry.objects.filter(
            Q(account__code__startswith="technician_receivable:")
            | Q(account__code__startswith="customer_receivable:")
        )
        .values("account__code", "account__user_id")
        .annotate(
            posted=Coalesce(
                Sum("amount", filter=Q(side=EntrySide.CREDIT)),
                Value(ZERO),
                output_field=MONEY_TOTAL_FIELD,
            ),
            balance=Sum(ledger_signed_amount()),
        )
    )
    recorded = {
        row["debtor_account"]: row["total"]
        for row in TechnicianRecovery.objects.annotate(debtor_account=recovery_debtor_account())
        .order_by()
        .values("debtor_account")
        .annotate(total=Sum("amount"))
    }
    drift = []
    for row in rows:
        wanted = recorded.pop(row["account__code"], ZERO)
        if row["posted"] != wanted or row["balance"] > 0:
            drift.append(
                {
                    "technician_id": row["account__user_id"],
                    "account": row["account__code"],
                    "recorded": wanted,
                    "posted": row["posted"],
                    "balance": row["balance"],
                }
            )
    drift += [
        {
            "technician_id": int(code.rsplit(":", 1)[1]),
            "account": code,
            "recorded": total,
            "posted": ZERO,
            "balance": ZERO,
        }
        for code, total in recorded.items()
    ]
    return drift


def unmatched_callback_list() -> QuerySet:
    """Provider callbacks stored that match no payment yet (payments/services/callbacks.py), oldest first."""
    return CallbackEvent.objects.filter(status=CallbackStatus.UNMATCHED).order_by(
        "created_at", "id"
    )
