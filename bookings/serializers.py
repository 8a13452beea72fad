"""Input/output serializers of the bookings API (names prefixed to keep OpenAPI components distinct)."""

import math
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import (
    Booking,
    BookingProposal,
    BookingProposalHistory,
    BookingStatus,
    BookingStatusHistory,
    Dispute,
    DisputeNote,
    DisputeOutcome,
    GuaranteeClaim,
    GuaranteeClaimHistory,
    TimeOff,
    Urgency,
)
from bookings.pricing import MIN_BOOKING_PRICE, MIN_BOOKING_PRICE_MESSAGE
from bookings.services.bookings import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from dumuwaks.core.date_fields import BoundedDateField, BoundedDateTimeField
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.serializers import ModelSerializer
from payments import money_summary
from social.serializers.media import MediaRefInputSerializer

# Statuses in which the technician may see the customer's phone and email (and vice versa).
CONTACT_VISIBLE_STATUSES = (
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.ARRIVED,
    BookingStatus.IN_PROGRESS,
)
MAX_MEDIA = 10


class BookingMediaRefSerializer(serializers.Serializer):
    """An attachment as a booking shows it: one of the customer's uploads."""

    # Input is MediaRefInputSerializer (a publicId of the customer's own upload).

    url = serializers.URLField(max_length=500)
    public_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    type = serializers.ChoiceField(
        choices=["image", "video", "document"], required=False, default="image"
    )


class BookingPartySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField(source="get_full_name")
    avatar_url = serializers.CharField()
    phone_number = serializers.CharField(allow_null=True)
    email = serializers.EmailField(allow_null=True)


class BookingCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class BookingMoneyPartSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.ChoiceField(
        choices=money_summary.PART_STATUSES,
        help_text="not_due (the balance before confirmation), requesting (an automatic M-Pesa prompt is "
        "on its way), pending (a payment is open), due (pay from the app), paid, not_collected (the "
        "booking ended without it)",
    )
    payment_id = serializers.IntegerField(
        allow_null=True,
        help_text="The payment that paid it, else the open one, else the latest attempt (GET "
        "/payments/transactions/:id; its receipt once paid)",
    )


class BookingMoneyPendingPaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.CharField()
    method = serializers.CharField()
    status = serializers.CharField()
    phone = serializers.CharField(
        allow_null=True,
        help_text="Prompted number; null when you may not see the customer's contacts",
    )
    expires_at = serializers.DateTimeField(allow_null=True)


class BookingMoneySerializer(serializers.Serializer):
    """Where the booking's money stands (payments/money_summary.py)."""

    currency = serializers.CharField()
    deposit = BookingMoneyPartSerializer()
    balance = BookingMoneyPartSerializer()
    amount_due_now = serializers.DecimalField(max_digits=12, decimal_places=2)
    pending_payment = BookingMoneyPendingPaymentSerializer(
        allow_null=True, help_text="The payment waiting for the customer, if any"
    )
    balance_overdue = serializers.BooleanField(
        help_text="The balance is past its deadline and support follows it up (a support ticket)"
    )
    next_action = serializers.ChoiceField(
        choices=money_summary.NEXT_ACTIONS,
        help_text="wait_for_prompt (answer the M-Pesa prompt on the phone; one is open or on its way), "
        "pay_deposit / pay_balance (pay from the app: POST /payments/mpesa/stk-push with an "
        "Idempotency-Key, or resume the card checkout), none",
    )


class BookingOutputSerializer(ModelSerializer):
    customer = BookingPartySerializer()
    technician = BookingPartySerializer(allow_null=True)
    category = BookingCategorySerializer()
    duration_minutes = serializers.SerializerMethodField()
    attachments = BookingMediaRefSerializer(many=True)
    completion_photos = BookingMediaRefSerializer(many=True)
    money = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id",
            "number",
            "status",
            "customer",
            "technician",
            "category",
            "title",
            "description",
            "urgency",
            "address",
            "county",
            "latitude",
            "longitude",
            "scheduled_start",
            "scheduled_end",
            "duration_minutes",
            "attachments",
            "price",
            "deposit_amount",
            "balance_amount",
            "platform_fee",
            "technician_share",
            "currency",
            "payment_due_at",
            "deposit_paid_at",
            "accepted_at",
            "started_at",
            "completed_at",
            "confirmed_at",
            "completion_notes",
            "completion_photos",
            "cancelled_at",
            "cancellation_reason",
            "cancellation_fee",
            "money",
            "created_at",
            "updated_at",
        ]

    def get_duration_minutes(self, obj) -> int:
        return _duration_minutes(obj)

    @extend_schema_field(BookingMoneySerializer)
    def get_money(self, obj) -> dict:
        return BookingMoneySerializer(money_summary.booking_money_summary(obj)).data

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        return _hide_contacts(data, instance, request.user if request is not None else None)


def _duration_minutes(booking) -> int:
    return int((booking.scheduled_end - booking.scheduled_start).total_seconds() // 60)


def contacts_shown(
    *, status: str, customer_id: int, technician_id: int | None, viewer
) -> tuple[bool, bool]:
    """(customer's, technician's) phone and email visible to `viewer`: contact details cross between the
    parties only while the job is live; staff always see them."""
    active = status in CONTACT_VISIBLE_STATUSES
    staff = is_staff_member(viewer)
    is_customer = bool(viewer and viewer.pk == customer_id)
    is_technician = bool(viewer and viewer.pk == technician_id)
    return (
        staff or is_customer or (active and is_technician),
        staff or is_technician or (active and is_customer),
    )


def _hide_contacts(data: dict, booking, viewer) -> dict:
    show_customer, show_technician = contacts_shown(
        status=booking.status,
        customer_id=booking.customer_id,
        technician_id=booking.technician_id,
        viewer=viewer,
    )
    if not show_customer:
        data["customer"]["phone_number"] = None
        data["customer"]["email"] = None
        if data["money"]["pending_payment"] is not None:  # the number the customer pays from
            data["money"]["pending_payment"]["phone"] = None
    if data["technician"] is not None and not show_technician:
        data["technician"]["phone_number"] = None
        data["technician"]["email"] = None
    return data


class BookingCreateInputSerializer(serializers.Serializer):
    category_id = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)
    address = serializers.CharField(max_length=255)
    county = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )
    scheduled_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES
    )
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=MIN_BOOKING_PRICE,
        error_messages={"min_value": MIN_BOOKING_PRICE_MESSAGE},
        help_text=f"KES; cents are rounded up to the next shilling. {MIN_BOOKING_PRICE_MESSAGE}",
    )
    technician_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    attachments = MediaRefInputSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingUpdateInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    address = serializers.CharField(max_length=255)
    county = serializers.CharField(max_length=64, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )
    scheduled_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(
        min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES
    )
    attachments = MediaRefInputSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class BookingCancellationOutputSerializer(serializers.Serializer):
    fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    refund = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    booking = BookingOutputSerializer()


class BookingCancellationQuoteOutputSerializer(serializers.Serializer):
    fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    refund = serializers.DecimalField(max_digits=12, decimal_places=2)
    rate = serializers.DecimalField(max_digits=4, decimal_places=2)
    tier = serializers.CharField()
    deposit_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    deposit_paid = serializers.BooleanField()
    hours_before_start = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    at = serializers.DateTimeField()


class BookingActionInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class BookingCompleteInputSerializer(BookingActionInputSerializer):
    completion_notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    completion_photos = BookingMediaRefSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingDisputeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    evidence = BookingMediaRefSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingHistoryOutputSerializer(ModelSerializer):
    # The history columns are plain strings shared by every model's history; the schema names this one's values.
    from_status = serializers.ChoiceField(choices=BookingStatus.choices, allow_blank=True)
    to_status = serializers.ChoiceField(choices=BookingStatus.choices)
    actor_id = serializers.IntegerField(allow_null=True)
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = BookingStatusHistory
        fields = ["id", "from_status", "to_status", "actor_id", "actor_name", "note", "created_at"]

    def get_actor_name(self, obj) -> str:
        return obj.actor.get_full_name() if obj.actor_id else "system"


class BookingStatusCountSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    count = serializers.IntegerField()


class BookingStatsOutputSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = BookingStatusCountSerializer(many=True)


# --- Disputes -------------------------------------------------------------------------------------------------


class BookingDisputeNoteOutputSerializer(ModelSerializer):
    author_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = DisputeNote
        fields = ["id", "author_id", "body", "created_at"]


class BookingDisputeOutputSerializer(ModelSerializer):
    booking_id = serializers.IntegerField()
    booking_number = serializers.CharField(source="booking.number")
    opened_by_id = serializers.IntegerField()
    resolved_by_id = serializers.IntegerField(allow_null=True)
    evidence = BookingMediaRefSerializer(many=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "booking_id",
            "booking_number",
            "opened_by_id",
            "reason",
            "evidence",
            "status",
            "outcome",
            "refund_amount",
            "currency",
            "resolved_by_id",
            "resolved_at",
            "resolution_notes",
            "created_at",
            "updated_at",
        ]


class BookingDisputeStaffOutputSerializer(BookingDisputeOutputSerializer):
    notes = BookingDisputeNoteOutputSerializer(many=True)

    class Meta(BookingDisputeOutputSerializer.Meta):
        fields = [*BookingDisputeOutputSerializer.Meta.fields, "notes"]


class BookingDisputeListOutputSerializer(BookingDisputeOutputSerializer):
    """A row of GET /bookings/disputes: staff's rows carry the internal notes, the parties' never."""

    notes = BookingDisputeNoteOutputSerializer(
        many=True, required=False, help_text="Support/admin only: internal notes"
    )

    class Meta(BookingDisputeOutputSerializer.Meta):
        fields = [*BookingDisputeOutputSerializer.Meta.fields, "notes"]


class BookingDisputeResolveInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.choices)
    refund_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=1,
        help_text="partial_refund only, and required there: whole shillings, at most what the customer "
        "paid and was not refunded. A full refund's amount is computed; the response's refundAmount is "
        "what goes back to the customer.",
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class BookingDisputeNoteInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


# --- Availability ---------------------------------------------------------------------------------------------


class BookingWeeklyHoursSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday")
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()


class BookingTimeOffSerializer(ModelSerializer):
    starts_at = BoundedDateTimeField()
    ends_at = BoundedDateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = TimeOff
        fields = ["id", "starts_at", "ends_at", "reason"]
        read_only_fields = ["id"]


class BookingAvailabilitySerializer(serializers.Serializer):
    weekly_hours = BookingWeeklyHoursSerializer(many=True, max_length=50)
    time_off = BookingTimeOffSerializer(many=True, max_length=100)


class BookingFreeSlotsQuerySerializer(serializers.Serializer):
    duration = serializers.IntegerField(
        required=False, default=60, min_value=MIN_DURATION_MINUTES, max_value=MAX_DURATION_MINUTES
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = BoundedDateField(required=False)
        fields["to"] = BoundedDateField(required=False)
        return fields


class BookingFreeSlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class BookingFreeSlotsOutputSerializer(serializers.Serializer):
    technician_id = serializers.IntegerField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    slot_minutes = serializers.IntegerField()
    has_working_hours = serializers.BooleanField()
    slots = BookingFreeSlotSerializer(many=True)


# --- Agreements: reschedule proposals, quotes, change orders -------------------------------------------------


class BookingProposalPartySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField(source="get_full_name")
    role = serializers.CharField()


class BookingProposalHistorySerializer(ModelSerializer):
    class Meta:
        model = BookingProposalHistory
        fields = ("from_status", "to_status", "actor_id", "note", "created_at")


class _BookingProposalOutputSerializer(ModelSerializer):
    proposed_by = BookingProposalPartySerializer()
    history = BookingProposalHistorySerializer(source="status_history", many=True)

    class Meta:
        model = BookingProposal
        fields = (
            "id",
            "booking_id",
            "status",
            "proposed_by",
            "expires_at",
            "decided_by_id",
            "decided_at",
            "created_at",
            "history",
        )


class BookingRescheduleProposalOutputSerializer(_BookingProposalOutputSerializer):
    class Meta(_BookingProposalOutputSerializer.Meta):
        fields = (
            *_BookingProposalOutputSerializer.Meta.fields,
            "reason",
            "proposed_start",
            "proposed_end",
            "previous_start",
            "previous_end",
        )


class BookingQuoteOutputSerializer(_BookingProposalOutputSerializer):
    price = serializers.DecimalField(source="price_after", max_digits=12, decimal_places=2)
    note = serializers.CharField(source="reason")

    class Meta(_BookingProposalOutputSerializer.Meta):
        fields = (
            *_BookingProposalOutputSerializer.Meta.fields,
            "price",
            "price_before",
            "refund_amount",
            "currency",
            "note",
        )


class BookingChangeOrderOutputSerializer(_BookingProposalOutputSerializer):
    note = serializers.CharField(source="reason")
    photos = BookingMediaRefSerializer(many=True)

    class Meta(_BookingProposalOutputSerializer.Meta):
        fields = (
            *_BookingProposalOutputSerializer.Meta.fields,
            "amount",
            "price_before",
            "price_after",
            "refund_amount",
            "currency",
            "note",
            "photos",
        )


class BookingRescheduleProposalInputSerializer(serializers.Serializer):
    scheduled_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(
        required=False,
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        help_text="Default: the booking's current length",
    )
    reason = serializers.CharField(max_length=1000)


class BookingQuoteInputSerializer(serializers.Serializer):
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=MIN_BOOKING_PRICE,
        max_value=Decimal("1000000"),
        error_messages={"min_value": MIN_BOOKING_PRICE_MESSAGE},
    )
    note = serializers.CharField(max_length=1000)


class BookingChangeOrderInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=0,
        min_value=Decimal("-1000000"),
        max_value=Decimal("1000000"),
        help_text="Signed whole shillings: positive for extra parts or labour, negative to lower the price",
    )
    note = serializers.CharField(max_length=1000)
    photos = MediaRefInputSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingProposalAnswerInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


# --- Live tracking (WebSocket `location.update`, bookings/services/tracking.py) -------------------------------


class _JsonNumberField(serializers.FloatField):
    """A finite JSON number: no strings, booleans or NaN (a position is machine-made; "12" or true is a
    client bug worth reporting, not guessing at)."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class BookingLocationInputSerializer(serializers.Serializer):
    """One position of the assigned technician. Ranges: WGS84 degrees, accuracy in metres (the 68 %
    radius phones report), heading in degrees clockwise from north, speed in m/s (≤ 100: nobody drives to a
    job at 360 km/h). `recordedAt` is when the phone took the fix; the service bounds its age."""

    booking_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    lat = _JsonNumberField(min_value=-90, max_value=90)
    lng = _JsonNumberField(min_value=-180, max_value=180)
    accuracy = _JsonNumberField(min_value=0, max_value=10_000, required=False, allow_null=True)
    heading = _JsonNumberField(min_value=0, max_value=360, required=False, allow_null=True)
    speed = _JsonNumberField(min_value=0, max_value=100, required=False, allow_null=True)
    recorded_at = BoundedDateTimeField()


class BookingTrackingInputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


# --- Workmanship guarantee ----------------------------------------------------------------------------------


class BookingGuaranteeClaimHistorySerializer(ModelSerializer):
    class Meta:
        model = GuaranteeClaimHistory
        fields = ("from_status", "to_status", "actor_id", "note", "created_at")


class BookingGuaranteeClaimOutputSerializer(ModelSerializer):
    photos = BookingMediaRefSerializer(many=True)
    history = BookingGuaranteeClaimHistorySerializer(source="status_history", many=True)
    visit_start = serializers.DateTimeField(allow_null=True)
    visit_end = serializers.DateTimeField(allow_null=True)
    dispute_id = serializers.IntegerField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = GuaranteeClaim
        fields = (
            "id",
            "booking_id",
            "status",
            "customer_id",
            "technician_id",
            "description",
            "photos",
            "respond_by",
            "visit_start",
            "visit_end",
            "decline_reason",
            "outcome_note",
            "dispute_id",
            "closed_at",
            "created_at",
            "history",
        )


class BookingGuaranteeClaimInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=2000)
    photos = MediaRefInputSerializer(many=True, required=False, max_length=MAX_MEDIA)


class BookingGuaranteeAcceptInputSerializer(serializers.Serializer):
    visit_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(
        required=False,
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        help_text="Default: the original booking's length",
    )


class BookingGuaranteeDeclineInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class BookingGuaranteeReportInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
