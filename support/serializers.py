from rest_framework import serializers

from dumuwaks.core.date_fields import BoundedDateField
from dumuwaks.core.serializers import ModelSerializer
from support.models import (
    SupportTicket,
    TicketCategory,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)


class SupportUserSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()


class SupportTicketOutputSerializer(ModelSerializer):
    created_by = SupportUserSummarySerializer()
    assigned_to = SupportUserSummarySerializer(allow_null=True)
    related_booking_id = serializers.IntegerField(allow_null=True)
    related_payment_id = serializers.IntegerField(allow_null=True)
    related_booking_number = serializers.SerializerMethodField()

    class Meta:
        model = SupportTicket
        fields = [
            "id",
            "number",
            "subject",
            "description",
            "category",
            "priority",
            "status",
            "created_by",
            "assigned_to",
            "assigned_at",
            "related_booking_id",
            "related_booking_number",
            "related_payment_id",
            "related_transaction_ref",
            "first_response_due_at",
            "resolution_due_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "sla_first_response_met",
            "sla_resolution_met",
            "escalation_level",
            "resolution",
            "csat_rating",
            "csat_comment",
            "chat_conversation_id",
            "created_at",
            "updated_at",
        ]

    def get_related_booking_number(self, obj) -> str | None:
        return obj.related_booking.number if obj.related_booking_id else None


class SupportTicketCreateInputSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000)
    category = serializers.ChoiceField(
        choices=TicketCategory.choices, default=TicketCategory.GENERAL
    )
    priority = serializers.ChoiceField(
        choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    related_booking_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    related_payment_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    related_transaction_ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    attachments = serializers.ListField(
        child=serializers.DictField(), required=False, default=list, max_length=10
    )


class SupportTicketMessageOutputSerializer(ModelSerializer):
    author = SupportUserSummarySerializer(allow_null=True)

    class Meta:
        model = TicketMessage
        fields = ["id", "author", "body", "is_internal", "attachments", "created_at"]


class SupportTicketMessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    is_internal = serializers.BooleanField(default=False)
    attachments = serializers.ListField(
        child=serializers.DictField(), required=False, default=list, max_length=10
    )


class SupportTicketAssignInputSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="omit for automatic assignment"
    )


class SupportTicketStatusInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    resolution = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "What was done for the customer. Required to move a working ticket to resolved or closed;"
            " closing a resolved ticket keeps its resolution unless a new one is sent."
        ),
    )


class SupportTicketPriorityInputSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=TicketPriority.choices)


class SupportTicketEscalateInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SupportTicketCloseInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=5000)


class SupportTicketReopenInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SupportTicketRateInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SupportStatsFilterSerializer(serializers.Serializer):
    from_ = BoundedDateField(required=False)
    to = BoundedDateField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class SupportSlaStatsSerializer(serializers.Serializer):
    first_response_met = serializers.IntegerField()
    first_response_missed = serializers.IntegerField()
    first_response_attainment_percent = serializers.FloatField(allow_null=True)
    resolution_met = serializers.IntegerField()
    resolution_missed = serializers.IntegerField()
    resolution_attainment_percent = serializers.FloatField(allow_null=True)


class SupportCsatStatsSerializer(serializers.Serializer):
    average = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField()


class SupportCountSerializer(serializers.Serializer):
    key = serializers.CharField()
    count = serializers.IntegerField()


class SupportStatsOutputSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    open = serializers.IntegerField()
    unassigned = serializers.IntegerField()
    escalated = serializers.IntegerField()
    by_status = SupportCountSerializer(many=True)
    by_priority = SupportCountSerializer(many=True)
    by_category = SupportCountSerializer(many=True)
    sla = SupportSlaStatsSerializer()
    csat = SupportCsatStatsSerializer()


class SupportAgentAvailabilityOutputSerializer(serializers.Serializer):
    is_available = serializers.BooleanField()
    max_open_tickets = serializers.IntegerField()
    open_tickets = serializers.IntegerField()


class SupportAgentAvailabilityInputSerializer(serializers.Serializer):
    is_available = serializers.BooleanField(required=False)
    max_open_tickets = serializers.IntegerField(required=False, min_value=1, max_value=500)


class SupportChatOutputSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
