"""Money a technician owes back: recorded in the ledger, listed for staff, withheld from later payouts."""

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


class TechnicianRecovery(TimeStampedModel):
    """One debt of a technician, recorded when it arose (the ledger posting `ledger_reference` credited
    `technician_receivable:<technician>` with `amount`).

    The row never changes. What is still owed is derived from the ledger: every later payout of the technician
    first repays their debts (technician_payable → technician_receivable), applied to the oldest debt first
    (payments.selectors.technician_recovery_list).
    """

    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recoveries"
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
        help_text="Double payments: the payout that went out more than once",
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
        ]
        indexes = [models.Index(fields=["technician", "created_at"])]

    def __str__(self):
        return f"Recovery {self.pk}: {self.amount} from technician {self.technician_id}"
