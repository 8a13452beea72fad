"""Money records: inbound payments, outbound payouts, provider callbacks and the double-entry ledger.

Money flow and ledger accounts are described in payments/services/ledger.py. Status changes of Payment and
Payout go only through their transition services (payments/services/payments.py, payouts.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.models import TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.phone import PhoneNumberField


class PaymentPurpose(models.TextChoices):
    DEPOSIT = "deposit", "Booking fee (deposit)"
    BALANCE = "balance", "Balance"


class PaymentMethod(models.TextChoices):
    MPESA = "mpesa", "M-Pesa"
    CARD = "card", "Card"


class PaymentStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    PENDING = "pending", "Pending (waiting for the customer)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled by the customer"
    EXPIRED = "expired", "Expired"
    FLAGGED = "flagged", "Flagged for review"


ACTIVE_PAYMENT_STATUSES = (PaymentStatus.INITIATED, PaymentStatus.PENDING)

# A payment window that closed (expired/failed) may still be paid late: M-Pesa then sends a success callback.
# Money that arrived is never ignored, so those states may still move to succeeded (or flagged).
PAYMENT_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.INITIATED: {
        PaymentStatus.PENDING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.EXPIRED,
        PaymentStatus.FLAGGED,
    },
    PaymentStatus.PENDING: {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.EXPIRED,
        PaymentStatus.FLAGGED,
    },
    PaymentStatus.EXPIRED: {PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED},
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED},
    PaymentStatus.CANCELLED: set(),
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.FLAGGED: set(),
}


class Payment(TimeStampedModel):
    """Money a customer pays us for a booking (deposit or balance), by M-Pesa STK push or card."""

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.PROTECT, related_name="payments"
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    purpose = models.CharField(max_length=16, choices=PaymentPurpose.choices)
    method = models.CharField(
        max_length=8, choices=PaymentMethod.choices, default=PaymentMethod.MPESA
    )
    amount = MoneyField()
    currency = CurrencyField()
    phone = PhoneNumberField(blank=True)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.INITIATED
    )

    checkout_request_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    merchant_request_id = models.CharField(max_length=64, blank=True)
    mpesa_receipt = models.CharField(max_length=32, null=True, blank=True, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)

    result_code = models.CharField(max_length=32, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    paid_amount = MoneyField(null=True, blank=True, help_text="Amount the provider reported")
    paid_phone = models.CharField(
        max_length=16, blank=True, help_text="Phone the provider reported"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True, help_text="STK push accepted")
    completed_at = models.DateTimeField(null=True, blank=True)
    provider_paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=PaymentPurpose.values), name="payment_purpose_valid"
            ),
            models.CheckConstraint(
                condition=Q(method__in=PaymentMethod.values), name="payment_method_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["payer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payment_idempotency_key_unique_per_payer",
            ),
            # One open request per booking and purpose: a second STK push while one is pending would let
            # the customer pay twice.
            models.UniqueConstraint(
                fields=["booking", "purpose"],
                condition=Q(status__in=["initiated", "pending"]),
                name="payment_one_active_per_booking_purpose",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["booking", "purpose", "status"]),
        ]

    def __str__(self):
        return f"Payment {self.pk} {self.purpose} {self.amount} {self.status}"


class PaymentStatusHistory(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="status_history")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=16, choices=PaymentStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "payment status history"

    def __str__(self):
        return f"{self.payment_id}: {self.from_status or '-'} -> {self.to_status}"


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


class CallbackProvider(models.TextChoices):
    MPESA = "mpesa", "M-Pesa"
    STRIPE = "stripe", "Stripe"


class CallbackKind(models.TextChoices):
    STK = "stk", "STK callback"
    STK_TIMEOUT = "stk_timeout", "STK timeout"
    B2C_RESULT = "b2c_result", "B2C result"
    B2C_TIMEOUT = "b2c_timeout", "B2C queue timeout"
    STATUS_RESULT = "status_result", "Transaction status result"
    STATUS_TIMEOUT = "status_timeout", "Transaction status timeout"
    STRIPE_EVENT = "stripe_event", "Stripe webhook event"


class CallbackStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class CallbackEvent(models.Model):
    """Every provider delivery, stored before processing under its unique provider key.

    A replay hits the unique constraint and gets the stored outcome back; nothing is processed twice.
    """

    provider = models.CharField(max_length=8, choices=CallbackProvider.choices)
    kind = models.CharField(max_length=16, choices=CallbackKind.choices)
    provider_key = models.CharField(max_length=128)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=CallbackStatus.choices, default=CallbackStatus.RECEIVED
    )
    outcome = models.CharField(max_length=255, blank=True)
    replay_count = models.PositiveIntegerField(default=0)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kind", "provider_key"], name="callback_provider_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CallbackStatus.values), name="callback_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.provider}/{self.kind} {self.provider_key} {self.status}"


# --- Ledger ----------------------------------------------------------------------------------------------------


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
