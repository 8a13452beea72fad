"""Outbound money: technician payouts and refunds (M-Pesa B2C or card refund)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.models import TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.phone import PhoneNumberField
from payments.models.payments import Payment


class PayoutKind(models.TextChoices):
    TECHNICIAN_PAYOUT = "technician_payout", "Technician payout"
    REFUND = "refund", "Refund to customer"


class PayoutChannel(models.TextChoices):
    MPESA = "mpesa", "M-Pesa B2C"
    CARD = "card", "Card refund (Stripe)"


class PayoutStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Waiting for staff review"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    AWAITING_RESULT = "awaiting_result", "Sent, waiting for the result"
    NEEDS_RECONCILIATION = "needs_reconciliation", "Outcome unknown, being checked"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


PAYOUT_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    PayoutStatus.PENDING_REVIEW: {PayoutStatus.QUEUED, PayoutStatus.CANCELLED},
    PayoutStatus.QUEUED: {PayoutStatus.SENDING, PayoutStatus.CANCELLED},
    # From `sending` a result may arrive before we stored the synchronous answer (out of order).
    PayoutStatus.SENDING: {
        PayoutStatus.AWAITING_RESULT,
        PayoutStatus.NEEDS_RECONCILIATION,
        PayoutStatus.QUEUED,
        PayoutStatus.PAID,
        PayoutStatus.FAILED,
    },
    PayoutStatus.AWAITING_RESULT: {
        PayoutStatus.PAID,
        PayoutStatus.FAILED,
        PayoutStatus.NEEDS_RECONCILIATION,
    },
    PayoutStatus.NEEDS_RECONCILIATION: {
        PayoutStatus.PAID,
        PayoutStatus.FAILED,
        PayoutStatus.AWAITING_RESULT,
    },
    # A failed payout is retried by staff as a new attempt (new OriginatorConversationID).
    PayoutStatus.FAILED: {PayoutStatus.QUEUED, PayoutStatus.CANCELLED},
    PayoutStatus.PAID: set(),
    PayoutStatus.CANCELLED: set(),
}


class Payout(TimeStampedModel):
    """Money we send out: a technician's earnings or a refund to a customer (M-Pesa B2C or card refund)."""

    kind = models.CharField(max_length=24, choices=PayoutKind.choices)
    channel = models.CharField(
        max_length=8, choices=PayoutChannel.choices, default=PayoutChannel.MPESA
    )
    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payouts"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    phone = PhoneNumberField(blank=True)
    amount = MoneyField()
    currency = CurrencyField()
    status = models.CharField(
        max_length=24, choices=PayoutStatus.choices, default=PayoutStatus.QUEUED
    )
    review_reason = models.CharField(max_length=255, blank=True)
    source_payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text="Card refunds: the payment refunded",
    )

    attempt = models.PositiveIntegerField(default=0)
    originator_conversation_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    conversation_id = models.CharField(max_length=64, blank=True)
    receipt = models.CharField(max_length=64, blank=True)
    receiver_name = models.CharField(max_length=200, blank=True)
    stripe_refund_id = models.CharField(max_length=64, blank=True)
    result_code = models.CharField(max_length=32, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PayoutKind.values), name="payout_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=PayoutChannel.values), name="payout_channel_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["recipient", "status"]),
        ]

    def __str__(self):
        return f"Payout {self.pk} {self.kind} {self.amount} {self.status}"

    def originator_id_for(self, attempt: int) -> str:
        """Derived from the row, so resending the same attempt can never pay twice (Daraja rejects it)."""
        return f"DW-PO-{self.pk}-{attempt}"


class PayoutStatusHistory(models.Model):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="status_history")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=24, choices=PayoutStatus.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=PayoutStatus.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "payout status history"

    def __str__(self):
        return f"{self.payout_id}: {self.from_status or '-'} -> {self.to_status}"
