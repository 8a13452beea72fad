"""Debts owed back (TechnicianRecovery: by a technician or a customer) and what is still outstanding."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Least

from payments.models import (
    EntrySide,
    LedgerEntry,
    TechnicianRecovery,
)
from payments.selectors.balances import (
    MONEY_TOTAL_FIELD,
    ZERO,
    account_balance,
)

# --- Technician recoveries ----------------------------------------------------------------------------------------


def recovery_debtor_account():
    """The ledger account of a recovery's debtor (TechnicianRecovery annotation)."""
    return Case(
        When(
            technician_id__isnull=False,
            then=Concat(Value("technician_receivable:"), Cast("technician_id", CharField())),
        ),
        default=Concat(Value("customer_receivable:"), Cast("customer_id", CharField())),
        output_field=CharField(),
    )


def debtor_owed(receivable_code: str) -> Decimal:
    """What a debtor (technician_receivable:<id> / customer_receivable:<id>) still owes back."""
    return max(-account_balance(receivable_code), ZERO)


def technician_recovery_list(*, open_only: bool = False) -> QuerySet:
    """Every recorded debt (TechnicianRecovery: owed by a technician or by a customer) with `debtor_account`,
    `repaid` (everything that debtor repaid, in all) and `outstanding` (of this debt), oldest first.
    Repayments (debits of the debtor's receivable: withheld from payouts, offsets, repaid by M-Pesa, written
    off) pay a debtor's debts oldest first, so a debt's outstanding part is (its debts up to and including
    this one − repaid), between 0 and its amount. Correlated subqueries, so filters on the list never change
    the arithmetic.
    """
    repaid = (
        LedgerEntry.objects.filter(account__code=OuterRef("debtor_account"), side=EntrySide.DEBIT)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    owed_through = (
        TechnicianRecovery.objects.annotate(debtor_account=recovery_debtor_account())
        .filter(debtor_account=OuterRef("debtor_account"), id__lte=OuterRef("id"))
        .order_by()
        .values("debtor_account")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    qs = (
        TechnicianRecovery.objects.select_related(
            "technician", "customer", "booking", "dispute", "payout"
        )
        .annotate(debtor_account=recovery_debtor_account())
        .annotate(
            repaid=Coalesce(
                Subquery(repaid, output_field=MONEY_TOTAL_FIELD),
                Value(ZERO),
                output_field=MONEY_TOTAL_FIELD,
            ),
            owed_through=Subquery(owed_through, output_field=MONEY_TOTAL_FIELD),
        )
        .annotate(
            outstanding=Least(
                Greatest(
                    F("owed_through") - F("repaid"), Value(ZERO), output_field=MONEY_TOTAL_FIELD
                ),
                F("amount"),
                output_field=MONEY_TOTAL_FIELD,
            )
        )
        .order_by("created_at", "id")
    )
    if open_only:
        qs = qs.filter(outstanding__gt=0)
    return qs
