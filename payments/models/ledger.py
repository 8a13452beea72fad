"""The append-only double-entry ledger (see payments/services/ledger.py for the accounts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.money import CurrencyField, MoneyField
from payments.models.payments import Payment
from payments.models.payouts import Payout


class AppendOnlyError(Exception):
    """Ledger rows are facts: corrections are new, opposite transactions."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("ledger rows cannot be updated")

    def delete(self):
        raise AppendOnlyError("ledger rows cannot be deleted")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows cannot be deleted")


class LedgerAccount(models.Model):
    """A named bucket of money: `escrow:booking:42`, `technician_payable:7`, `platform_revenue`, …"""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=120, blank=True)
    currency = CurrencyField()
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class LedgerTransactionKind(models.TextChoices):
    PAYMENT_RECEIVED = "payment_received", "Payment received into escrow"
    RELEASE = "release", "Escrow released to technician and platform"
    REFUND = "refund", "Escrow refunded to the customer"
    PAYOUT_SENT = "payout_sent", "Payout sent"
    SUSPENSE = "suspense", "Unmatched M-Pesa money into or out of suspense"
    RECOVERY = (
        "recovery",
        "Money owed back: recorded, withheld from a payout, repaid or written off",
    )
    TIP = "tip", "Tip received for a technician, or moved into their payout"


class LedgerTransaction(AppendOnlyModel):
    """One balanced posting; `reference` is unique so the same business fact is never posted twice."""

    kind = models.CharField(max_length=24, choices=LedgerTransactionKind.choices)
    reference = models.CharField(max_length=100, unique=True)
    memo = models.CharField(max_length=255, blank=True)
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_transactions",
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    payout = models.ForeignKey(
        Payout, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=LedgerTransactionKind.values), name="ledger_txn_kind_valid"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.reference}"


class EntrySide(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class LedgerEntry(AppendOnlyModel):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    side = models.CharField(max_length=6, choices=EntrySide.choices)
    amount = MoneyField()
    currency = CurrencyField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_entry_amount_positive"),
            models.CheckConstraint(
                condition=Q(side__in=EntrySide.values), name="ledger_entry_side_valid"
            ),
        ]

    def __str__(self):
        return f"{self.side} {self.account.code} {self.amount}"
