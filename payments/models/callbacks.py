"""Provider deliveries (M-Pesa callbacks, Stripe webhooks), stored before processing."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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
    # Stored, but it matches no payment yet (an STK failure for a push whose answer was lost carries no phone
    # or amount): applied as soon as a payment learns its CheckoutRequestID (the push's answer, a status
    # check, staff attaching it). Never dropped.
    UNMATCHED = "unmatched", "Stored, matches no payment yet"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class CallbackEvent(models.Model):
    """Every provider delivery, stored before processing under its unique provider key.

    A replay hits the unique constraint and gets the stored outcome back; nothing is processed twice.

    `status` is not a workflow and has no `StateMachine`: it records what processing did with this one
    delivery (the row is itself the audit record: payload, outcome, processed_at), has no actor, and nothing
    subscribes to it. So it is set where processing decides (`callback_event_finish`, the suspense hold, a
    compare-and-set on the waiting statuses), not through `dumuwaks.core.state_machine.transition`.
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
