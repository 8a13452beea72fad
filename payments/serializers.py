from rest_framework import serializers

from dumuwaks.core.serializers import ModelSerializer
from payments.models import (
    PRICE_PAYMENT_PURPOSE_CHOICES,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    Payout,
    PayoutAttempt,
    PayoutKind,
    PayoutStatus,
)
from payments.rules import TIP_DEFERRED_MAX_WAIT, TIP_MAX_KES, TIP_MIN_KES

TIP_DEFERRED_DISPLAY = (
    f"Paid with your next payout, or on its own within {TIP_DEFERRED_MAX_WAIT.days} days"
)


class PaymentStkPushInputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField(min_value=1)
    phone_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Number to prompt. Default: the number that paid this booking before, else your own. "
        "Anything but your own verified number (or one that paid for you before) needs confirmPhone.",
    )
    confirm_phone = serializers.BooleanField(
        default=False,
        help_text="true: you confirm the prompt may go to phoneNumber (or your unverified own number). "
        "Without it such a request is refused with 400 phone_confirmation_required.",
    )
    supersede = serializers.BooleanField(
        default=False,
        help_text="true: cancel the request still waiting for this booking and purpose and send a new "
        "prompt. Without it such a request is refused with 409 payment_pending.",
    )
    purpose = serializers.ChoiceField(
        choices=PRICE_PAYMENT_PURPOSE_CHOICES,
        default=PaymentPurpose.DEPOSIT,
    )


class TipInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=PaymentMethod.choices,
        default=PaymentMethod.MPESA,
        help_text="mpesa: an STK prompt on the phone; card: a Stripe PaymentIntent whose `clientSecret` "
        "Stripe.js confirms. Card only where Stripe is configured, else 409 stripe_disabled.",
    )
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=TIP_MIN_KES,
        max_value=TIP_MAX_KES,
        help_text=f"KES, whole shillings (M-Pesa takes no cents), {TIP_MIN_KES}..{TIP_MAX_KES}. "
        "All of it goes to the technician: no platform fee (by card too: the platform bears Stripe's fee).",
    )
    phone_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="M-Pesa only. Number to prompt; the same rule as the deposit and balance: anything but "
        "your own verified number (or one that paid for you before) needs confirmPhone.",
    )
    confirm_phone = serializers.BooleanField(default=False, help_text="M-Pesa only.")
    supersede = serializers.BooleanField(
        default=False,
        help_text="M-Pesa only. true: cancel the tip prompt still waiting for this booking and send a "
        "new one.",
    )

    def validate_amount(self, value):
        if value != value.to_integral_value():
            raise serializers.ValidationError("Whole shillings only: M-Pesa takes no cents.")
        return value


class PaymentCardIntentInputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField(min_value=1)
    purpose = serializers.ChoiceField(
        choices=PRICE_PAYMENT_PURPOSE_CHOICES,
        default=PaymentPurpose.DEPOSIT,
    )


class PaymentOutputSerializer(ModelSerializer):
    booking_number = serializers.CharField(source="booking.number", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "booking_id",
            "booking_number",
            "purpose",
            "method",
            "amount",
            "currency",
            "phone",
            "status",
            "checkout_request_id",
            "mpesa_receipt",
            "result_code",
            "result_desc",
            "expires_at",
            "completed_at",
            "created_at",
        ]
        read_only_fields = fields


class PaymentPendingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    method = serializers.CharField()
    phone = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class PaymentRequestErrorSerializer(serializers.Serializer):
    """Error body of the STK push endpoint; `payment` comes with payment_pending (the open request) and
    payment_provider_rejected (the failed one)."""

    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    payment = PaymentPendingSerializer(required=False)


class TipOutputSerializer(PaymentOutputSerializer):
    """The tip payment, and for a card tip the secret Stripe.js needs (given in the serializer context)."""

    client_secret = serializers.SerializerMethodField(
        help_text="Card tips: the PaymentIntent's client secret for Stripe.js; null for M-Pesa."
    )

    class Meta(PaymentOutputSerializer.Meta):
        fields = [*PaymentOutputSerializer.Meta.fields, "client_secret"]
        read_only_fields = fields

    def get_client_secret(self, payment) -> str | None:
        return self.context.get("client_secret")


class PaymentCardIntentOutputSerializer(serializers.Serializer):
    payment = PaymentOutputSerializer()
    client_secret = serializers.CharField()


class PayoutOutputSerializer(ModelSerializer):
    booking_number = serializers.CharField(source="booking.number", read_only=True)
    recipient_name = serializers.CharField(source="recipient.get_full_name", read_only=True)
    status_display = serializers.SerializerMethodField(
        help_text='e.g. "Below the M-Pesa minimum, carried to the next payout" for `deferred`; a '
        'deferred tip: "Paid with your next payout, or on its own within 7 days"',
    )

    class Meta:
        model = Payout
        fields = [
            "id",
            "kind",
            "channel",
            "booking_id",
            "booking_number",
            "recipient_id",
            "recipient_name",
            "phone",
            "amount",
            "currency",
            "status",
            "status_display",
            "review_reason",
            "attempt",
            "receipt",
            "result_code",
            "result_desc",
            "overpaid_amount",
            "carried_into_id",
            "approved_by_id",
            "approved_at",
            "sent_at",
            "paid_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_status_display(self, payout) -> str:
        # A tip is deferred because it is below the at-once threshold, not below the M-Pesa minimum.
        if payout.kind == PayoutKind.TIP and payout.status == PayoutStatus.DEFERRED:
            return TIP_DEFERRED_DISPLAY
        return payout.get_status_display()


class PayoutAttemptOutputSerializer(ModelSerializer):
    class Meta:
        model = PayoutAttempt
        fields = [
            "number",
            "originator_conversation_id",
            "conversation_id",
            "amount",
            "outcome",
            "result_code",
            "result_desc",
            "receipt",
            "resolved_at",
            "last_checked_at",
            "status_checks",
            "next_check_at",
            "created_at",
        ]
        read_only_fields = fields


class PayoutDetailOutputSerializer(PayoutOutputSerializer):
    """One payout with every request sent for it (attempt N+1 exists only if 1..N failed definitively)."""

    attempts = PayoutAttemptOutputSerializer(many=True, read_only=True)

    class Meta(PayoutOutputSerializer.Meta):
        fields = [*PayoutOutputSerializer.Meta.fields, "escalated_at", "attempts"]
        read_only_fields = fields


class PayoutConfirmPaidInputSerializer(serializers.Serializer):
    receipt = serializers.RegexField(
        r"^[A-Za-z0-9]{10}$",
        help_text="The M-Pesa receipt (transaction id, 10 letters and digits) seen on the org portal "
        "statement for this attempt's OriginatorConversationID",
    )
    attempt = serializers.IntegerField(
        min_value=1, required=False, help_text="Needed only when several attempts are open"
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PayoutConfirmNotPaidInputSerializer(serializers.Serializer):
    evidence = serializers.CharField(
        max_length=200,
        help_text="What shows nothing was paid (e.g. the statement checked, period, by whom)",
    )
    attempt = serializers.IntegerField(
        min_value=1, required=False, help_text="Needed only when several attempts are open"
    )


class PaymentTransactionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["payment", "payout"])
    kind = serializers.CharField(
        help_text="deposit | balance | tip | technician_payout | refund | tip (a tip's own payout)"
    )
    channel = serializers.CharField(help_text="mpesa | card")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.CharField()
    reference = serializers.CharField(allow_blank=True, allow_null=True)
    booking_id = serializers.IntegerField()
    booking_number = serializers.CharField()
    created_at = serializers.DateTimeField()


class PaymentTransactionDetailQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["payment", "payout"], default="payment")


class PayoutBatchProcessInputSerializer(serializers.Serializer):
    payout_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=100
    )


class PayoutBatchResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    status = serializers.CharField(allow_blank=True)
    code = serializers.CharField(allow_blank=True)


class PayoutBatchProcessOutputSerializer(serializers.Serializer):
    results = PayoutBatchResultSerializer(many=True)


class PayoutTotalsSerializer(serializers.Serializer):
    total_paid = serializers.DecimalField(max_digits=14, decimal_places=2)
    total_in_progress = serializers.DecimalField(max_digits=14, decimal_places=2)
    total_failed = serializers.DecimalField(max_digits=14, decimal_places=2)
    total_deferred = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Shares below the M-Pesa minimum, carried to the next payout (not in progress)",
    )
    payable_balance = serializers.DecimalField(max_digits=14, decimal_places=2)
    tips_received = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Tips customers gave you (100 % yours, no fee), separate from your job earnings",
    )
    tips_awaiting_payout = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Tips not yet paid out: small ones go with your next payout (or on their own after "
        f"{TIP_DEFERRED_MAX_WAIT.days} days), large ones at once",
    )
    total_owed = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Money you owe back (a refund after you were paid, a payout paid twice); withheld "
        "from your next payouts",
    )
    currency = serializers.CharField()


class PayoutEarningsOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    totals = PayoutTotalsSerializer()
    results = PayoutOutputSerializer(many=True)


class BookingFeeBreakdownOutputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField()
    booking_number = serializers.CharField()
    currency = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    deposit_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    balance_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    platform_fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    technician_share = serializers.DecimalField(max_digits=12, decimal_places=2)
    cancellation_fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    deposit_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    balance_paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    escrow_held = serializers.DecimalField(max_digits=12, decimal_places=2)
    released = serializers.DecimalField(max_digits=12, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=12, decimal_places=2)


class MpesaCallbackAckSerializer(serializers.Serializer):
    ResultCode = serializers.IntegerField()
    ResultDesc = serializers.CharField()
