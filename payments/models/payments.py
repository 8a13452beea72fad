"""Inbound money: a customer's payment for a booking (M-Pesa STK push or card)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.phone import PhoneNumberField
from dumuwaks.core.state_machine import StateMachine, register


class PaymentPurpose(models.TextChoices):
    DEPOSIT = "deposit", "Booking fee (deposit)"
    BALANCE = "balance", "Balance"
    # After completion: 100 % to the technician, never through escrow (payments/services/tips.py).
    TIP = "tip", "Tip for the technician"


# What a booking's price is paid with (the STK push and card endpoints); tips have their own endpoint.
PRICE_PAYMENT_PURPOSES = (PaymentPurpose.DEPOSIT, PaymentPurpose.BALANCE)
PRICE_PAYMENT_PURPOSE_CHOICES = [(p.value, p.label) for p in PRICE_PAYMENT_PURPOSES]


class PaymentMethod(models.TextChoices):
    MPESA = "mpesa", "M-Pesa"
    CARD = "card", "Card"


class PaymentStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    PENDING = "pending", "Pending (waiting for the customer)"
    # The STK push was sent but its answer was lost (timeout/reset): Daraja may have prompted the customer.
    # Never failed, never re-pushed blindly; resolved by matching the money that arrives (suspense) or expiry.
    OUTCOME_UNKNOWN = "outcome_unknown", "Outcome unknown (push sent, answer lost)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled by the customer"
    EXPIRED = "expired", "Expired"
    # An `outcome_unknown` push whose window closed with nothing heard: we never learnt whether the customer
    # was prompted or paid. Not failed (we do not know that); money that arrives later is still matched
    # (suspense) and credited once; a failure callback linked to it later closes it as failed/cancelled.
    UNRESOLVED = "unresolved", "Closed unresolved (push answer lost, nothing heard in its window)"
    FLAGGED = "flagged", "Flagged for review"


ACTIVE_PAYMENT_STATUSES = (
    PaymentStatus.INITIATED,
    PaymentStatus.PENDING,
    PaymentStatus.OUTCOME_UNKNOWN,
)
# Nothing can change these any more (a status check on them is a 409).
FINAL_PAYMENT_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED)

# A payment window that closed (expired/failed/cancelled or superseded) may still be paid late: M-Pesa then
# sends a success callback. Money that arrived is never ignored, so those states may still move to succeeded
# (or flagged).
PAYMENT_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.INITIATED: {
        PaymentStatus.PENDING,
        PaymentStatus.OUTCOME_UNKNOWN,
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
    # Its window closing ends it `unresolved`, never `expired` or `failed` (we do not know it was not paid).
    PaymentStatus.OUTCOME_UNKNOWN: {
        PaymentStatus.PENDING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
        PaymentStatus.UNRESOLVED,
        PaymentStatus.FLAGGED,
    },
    # Late money is credited; a failure callback linked to it later says what really happened.
    PaymentStatus.UNRESOLVED: {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FLAGGED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
    },
    PaymentStatus.EXPIRED: {PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED},
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED},
    # Cancelled by the customer (1032) or superseded by a new push: a superseded prompt may still be paid.
    PaymentStatus.CANCELLED: {PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED},
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
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="STK push sent (accepted, or outcome unknown)"
    )
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
                condition=Q(status__in=["initiated", "pending", "outcome_unknown"]),
                name="payment_one_active_per_booking_purpose",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["booking", "purpose", "status"]),
        ]

    def __str__(self):
        return f"Payment {self.pk} {self.purpose} {self.amount} {self.status}"


class PaymentStatusHistory(StatusHistory):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="status_history")

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "payment status history"

    def __str__(self):
        return f"{self.payment_id}: {self.from_status or '-'} -> {self.to_status}"


PAYMENT_MACHINE = register(
    StateMachine(
        label="payment",
        model=Payment,
        transitions=PAYMENT_ALLOWED_TRANSITIONS,
        history_model=PaymentStatusHistory,
        history_fk="payment",
    )
)


class SuspenseStatus(models.TextChoices):
    HELD = "held", "Held in suspense"
    MATCHED = "matched", "Matched to a payment"
    REFUNDED = "refunded", "Refunded"


# Both outcomes are final: the row's resolved_by/resolved_at/resolution_note are the audit of the one change.
SUSPENSE_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    SuspenseStatus.HELD: {SuspenseStatus.MATCHED, SuspenseStatus.REFUNDED},
    SuspenseStatus.MATCHED: set(),
    SuspenseStatus.REFUNDED: set(),
}


class SuspenseItem(TimeStampedModel):
    """M-Pesa money whose STK callback (or query answer) matched no payment, e.g. the prompt of a push whose
    answer was lost. Posted into the `mpesa_suspense` ledger account until it is matched to a payment
    (automatically by phone, amount and time, or by staff) or refunded."""

    callback_event = models.OneToOneField(
        "payments.CallbackEvent", on_delete=models.PROTECT, related_name="suspense_item"
    )
    checkout_request_id = models.CharField(max_length=64, unique=True)
    amount = MoneyField()
    currency = CurrencyField()
    phone = PhoneNumberField(blank=True, help_text="Phone the provider reported")
    receipt = models.CharField(max_length=32, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True, help_text="Provider's transaction time")
    status = models.CharField(
        max_length=16, choices=SuspenseStatus.choices, default=SuspenseStatus.HELD
    )
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="suspense_items",
        help_text="The payment this money was credited to",
    )
    refund_payout = models.ForeignKey(
        "payments.Payout",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="suspense_items",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SuspenseStatus.values), name="suspense_status_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="suspense_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "phone", "amount"])]

    def __str__(self):
        return f"Suspense {self.pk} {self.amount} {self.phone or '-'} {self.status}"


# Both outcomes are final, so the row's resolved_by/resolved_at/resolution_note are the audit of its one change.
SUSPENSE_MACHINE = register(
    StateMachine(
        label="suspense item", model=SuspenseItem, transitions=SUSPENSE_ALLOWED_TRANSITIONS
    )
)
