"""Money owed back to the platform (recoveries): by a technician (withheld from their later payouts) or by a
customer (a refund paid twice); recorded in the ledger, listed for staff, closed by repayment or write-off."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.models import TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from payments.models.payouts import Payout


class RecoveryReason(models.TextChoices):
    DISPUTE_REFUND = "dispute_refund", "Refund after the technician was paid (dispute)"
    PAYOUT_OVERPAID = "payout_overpaid", "Payout paid twice, or paid after it was cancelled"
    REFUND_OVERPAID = (
        "refund_overpaid",
        "Customer refund paid twice, or paid after it was cancelled",
    )


class TechnicianRecovery(TimeStampedModel):
    """One debt of a technician, recorded when it arose (the ledger posting `ledger_reference` credited
    `technician_receivable:<technician>` with `amount`).

    The row never changes. What is still owed is derived from the ledger: every later payout of the technician
    first repays their debts (technician_payable → technician_receivable), applied to the oldest debt first
    (payments.selectors.recoveries.technician_recovery_list).
    """

    # Exactly one of technician / customer: who owes it (technician_receivable:<id> or
    # customer_receivable:<id>).
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recoveries",
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customer_recoveries",
    )
    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="technician_recoveries"
    )
    dispute = models.ForeignKey(
        "bookings.Dispute",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="technician_recoveries",
    )
    payout = models.ForeignKey(
        Payout,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recoveries",
        help_text="Double payments: the payout that went out more than once. Dispute refunds: the payout "
        "that was with M-Pesa when the debt was recorded (if it fails definitively, it is cancelled and "
        "offsets this debt)",
    )
    reason = models.CharField(max_length=24, choices=RecoveryReason.choices)
    amount = MoneyField()
    currency = CurrencyField()
    ledger_reference = models.CharField(
        max_length=100, unique=True, help_text="The ledger transaction that recorded this debt"
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "technician recoveries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_amount_positive"),
            models.CheckConstraint(
                condition=Q(reason__in=RecoveryReason.values), name="recovery_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(technician__isnull=False, customer__isnull=True)
                | Q(technician__isnull=True, customer__isnull=False),
                name="recovery_one_debtor",
            ),
        ]
        indexes = [models.Index(fields=["technician", "created_at"])]

    def __str__(self):
        return f"Recovery {self.pk}: {self.amount} from {self.debtor_role} {self.debtor_id}"

    @property
    def debtor_role(self) -> str:
        return "technician" if self.technician_id else "customer"

    @property
    def debtor_id(self) -> int:
        return self.technician_id or self.customer_id

    @property
    def debtor(self):
        return self.technician if self.technician_id else self.customer

    @property
    def receivable_code(self) -> str:
        return f"{self.debtor_role}_receivable:{self.debtor_id}"


class RecoverySettlementKind(models.TextChoices):
    REPAID = "repaid", "Repaid by the debtor (M-Pesa to the paybill)"
    WRITTEN_OFF = "written_off", "Written off (a loss)"


class RecoverySettlement(models.Model):
    """A staff action that closed (part of) a debt other than by netting future payouts: a repayment the
    debtor made (its M-Pesa receipt) or a write-off (the reason). Append-only; `ledger_reference` is the
    posting that moved the money (payments/services/recoveries.py)."""

    recovery = models.ForeignKey(
        TechnicianRecovery, on_delete=models.PROTECT, related_name="settlements"
    )
    kind = models.CharField(max_length=16, choices=RecoverySettlementKind.choices)
    amount = MoneyField()
    currency = CurrencyField()
    receipt = models.CharField(max_length=32, null=True, blank=True, unique=True)
    note = models.CharField(max_length=255)
    ledger_reference = models.CharField(max_length=100, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="recovery_settlement_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=RecoverySettlementKind.values),
                name="recovery_settlement_kind_valid",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} of recovery {self.recovery_id}"
