"""Outbound money: technician payouts and refunds (M-Pesa B2C or card refund)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.phone import PhoneNumberField
from dumuwaks.core.state_machine import Guard, StateMachine, TransitionContext, register
from payments import rules
from payments.models.payments import Payment


class PayoutKind(models.TextChoices):
    TECHNICIAN_PAYOUT = "technician_payout", "Technician payout"
    REFUND = "refund", "Refund to customer"
    # A customer's tip (payments/services/tips.py): paid from tips_payable, at once or with the next payout.
    TIP = "tip", "Tip to the technician"


class PayoutChannel(models.TextChoices):
    MPESA = "mpesa", "M-Pesa B2C"
    CARD = "card", "Card refund (Stripe)"


class PayoutStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", "Waiting for staff review"
    # Below the M-Pesa B2C minimum: the money stays in technician_payable and the technician's next payout
    # includes it (that payout becomes the one that is sent; this one becomes `carried`).
    DEFERRED = "deferred", "Below the M-Pesa minimum, carried to the next payout"
    CARRIED = "carried", "Included in a later payout"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    AWAITING_RESULT = "awaiting_result", "Sent, waiting for the result"
    NEEDS_RECONCILIATION = "needs_reconciliation", "Outcome unknown, being checked"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Nothing more can happen to these (a late result of one of their attempts is still recorded on the attempt).
PAYOUT_FINAL_STATUSES = frozenset({PayoutStatus.PAID, PayoutStatus.CANCELLED, PayoutStatus.CARRIED})

PAYOUT_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    PayoutStatus.PENDING_REVIEW: {PayoutStatus.QUEUED, PayoutStatus.CANCELLED},
    # To queued / pending_review: a tip that waited rules.TIP_DEFERRED_MAX_WAIT is paid on its own (guarded).
    PayoutStatus.DEFERRED: {
        PayoutStatus.QUEUED,
        PayoutStatus.PENDING_REVIEW,
        PayoutStatus.CARRIED,
        PayoutStatus.CANCELLED,
    },
    PayoutStatus.CARRIED: set(),
    # To needs_reconciliation: an earlier attempt's outcome is unknown, so this one is not sent yet.
    # To paid: an earlier attempt turned out to have been paid after all.
    PayoutStatus.QUEUED: {
        PayoutStatus.SENDING,
        PayoutStatus.CANCELLED,
        PayoutStatus.NEEDS_RECONCILIATION,
        PayoutStatus.PAID,
    },
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
    # To queued: the earlier attempts that held back an unsent attempt all failed definitively.
    PayoutStatus.NEEDS_RECONCILIATION: {
        PayoutStatus.PAID,
        PayoutStatus.FAILED,
        PayoutStatus.AWAITING_RESULT,
        PayoutStatus.QUEUED,
    },
    # A failed payout is retried by staff as a new attempt (new OriginatorConversationID), once every
    # attempt so far failed definitively. To paid: a "failed" attempt's late success (never dropped).
    PayoutStatus.FAILED: {PayoutStatus.QUEUED, PayoutStatus.CANCELLED, PayoutStatus.PAID},
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
        help_text="Card refunds: the payment refunded; tips: the tip payment paid out",
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
    carried_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="carried_from",
        help_text="Deferred (below the B2C minimum): the later payout that includes this amount",
    )
    escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Transaction Status never gave a final answer within the automatic checks: staff decide "
        "from the M-Pesa org portal statement (confirm paid / confirm not paid)",
    )
    escalation_ticket = models.ForeignKey(
        "support.SupportTicket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    overpaid_amount = MoneyField(
        default=0,
        help_text="Money that went out beyond this payout's amount (a second attempt was paid too, or an "
        "attempt was paid after the payout was cancelled). Staff must recover it.",
    )

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
            models.CheckConstraint(
                condition=Q(overpaid_amount__gte=0), name="payout_overpaid_not_negative"
            ),
            # A tip is paid out by exactly one payout: the sweep and the callback can never both make one.
            models.UniqueConstraint(
                fields=["source_payment"],
                condition=Q(kind="tip"),
                name="payout_one_per_tip",
            ),
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


class PayoutStatusHistory(StatusHistory):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="status_history")

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "payout status history"

    def __str__(self):
        return f"{self.payout_id}: {self.from_status or '-'} -> {self.to_status}"


def _tip_waited_long_enough(ctx: TransitionContext) -> None:
    """Only a tip waits in `deferred` with money of its own that B2C can send (a technician share there is
    below the B2C minimum), and only once the bound is reached: before, the next payout carries it."""
    payout = ctx.instance
    if payout.kind != PayoutKind.TIP or payout.created_at > timezone.now() - (
        rules.TIP_DEFERRED_MAX_WAIT
    ):
        raise InvalidTransition(
            "Only a tip deferred for longer than the wait bound is paid out on its own."
        )


_TIP_RELEASE_GUARD = (
    Guard(name="a tip deferred for TIP_DEFERRED_MAX_WAIT", check=_tip_waited_long_enough),
)

PAYOUT_MACHINE = register(
    StateMachine(
        label="payout",
        model=Payout,
        transitions=PAYOUT_ALLOWED_TRANSITIONS,
        guards={
            (PayoutStatus.DEFERRED, PayoutStatus.QUEUED): _TIP_RELEASE_GUARD,
            (PayoutStatus.DEFERRED, PayoutStatus.PENDING_REVIEW): _TIP_RELEASE_GUARD,
        },
        history_model=PayoutStatusHistory,
        history_fk="payout",
    )
)


class PayoutAttemptOutcome(models.TextChoices):
    SENDING = "sending", "Being sent (the same attempt may be resent: Daraja refuses a duplicate)"
    AWAITING_RESULT = "awaiting_result", "Accepted by Daraja, waiting for the result"
    UNKNOWN = "unknown", "Outcome unknown, checked with Transaction Status"
    FAILED = "failed", "Failed definitively (nothing was paid)"
    PAID = "paid", "Paid"


# `failed` → `paid`: a definitive failure contradicted by a later success. The money went out, so it is
# recorded (and flagged when another attempt was paid too); a result is never dropped.
PAYOUT_ATTEMPT_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    PayoutAttemptOutcome.SENDING: {
        PayoutAttemptOutcome.AWAITING_RESULT,
        PayoutAttemptOutcome.UNKNOWN,
        PayoutAttemptOutcome.FAILED,
        PayoutAttemptOutcome.PAID,
    },
    PayoutAttemptOutcome.AWAITING_RESULT: {
        PayoutAttemptOutcome.UNKNOWN,
        PayoutAttemptOutcome.FAILED,
        PayoutAttemptOutcome.PAID,
    },
    PayoutAttemptOutcome.UNKNOWN: {PayoutAttemptOutcome.FAILED, PayoutAttemptOutcome.PAID},
    PayoutAttemptOutcome.FAILED: {PayoutAttemptOutcome.PAID},
    PayoutAttemptOutcome.PAID: set(),
}
PAYOUT_ATTEMPT_OPEN_OUTCOMES = frozenset(
    {
        PayoutAttemptOutcome.SENDING,
        PayoutAttemptOutcome.AWAITING_RESULT,
        PayoutAttemptOutcome.UNKNOWN,
    }
)


class PayoutAttempt(TimeStampedModel):
    """One request sent to the provider for a payout, under its own OriginatorConversationID.

    A payout's attempts are never forgotten: a result for an earlier attempt is applied to that attempt, and
    attempt N+1 is only sent when attempts 1..N all failed definitively. Changes go through
    payments.services.payouts (under the payout's lock), and every change is noted in the payout's history.
    """

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    originator_conversation_id = models.CharField(max_length=64, unique=True)
    conversation_id = models.CharField(max_length=64, blank=True)
    amount = MoneyField()
    outcome = models.CharField(
        max_length=16,
        choices=PayoutAttemptOutcome.choices,
        default=PayoutAttemptOutcome.SENDING,
    )
    result_code = models.CharField(max_length=32, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    receipt = models.CharField(max_length=64, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="Last Transaction Status query about this attempt"
    )
    status_checks = models.PositiveIntegerField(
        default=0, help_text="Automatic Transaction Status queries asked about this attempt"
    )
    next_check_at = models.DateTimeField(
        null=True, blank=True, help_text="When the beat job may ask about this attempt again"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff who settled the outcome from the M-Pesa statement",
    )

    class Meta:
        ordering = ["payout_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["payout", "number"], name="payout_attempt_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=PayoutAttemptOutcome.values),
                name="payout_attempt_outcome_valid",
            ),
        ]
        indexes = [models.Index(fields=["outcome", "updated_at"])]

    def __str__(self):
        return f"{self.originator_conversation_id} {self.outcome}"


# An attempt keeps no history table of its own: each change is noted in its payout's history.
PAYOUT_ATTEMPT_MACHINE = register(
    StateMachine(
        label="payout attempt",
        model=PayoutAttempt,
        field="outcome",
        transitions=PAYOUT_ATTEMPT_ALLOWED_TRANSITIONS,
    )
)
