from rest_framework import serializers

from dumuwaks.core.date_fields import BoundedDateField
from support.analytics.selectors import PERIOD_TRUNCS, TECHNICIAN_ORDERINGS


class AnalyticsRangeFilterSerializer(serializers.Serializer):
    """`from`/`to`: inclusive calendar days in Africa/Nairobi."""

    from_ = BoundedDateField(required=False, help_text="first day, inclusive")
    to = BoundedDateField(required=False, help_text="last day, inclusive")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["Must not be before `from`."]})
        return attrs


class AnalyticsRevenueFilterSerializer(AnalyticsRangeFilterSerializer):
    period = serializers.ChoiceField(choices=sorted(PERIOD_TRUNCS), default="day")


_ORDERING_CHOICES = sorted([*TECHNICIAN_ORDERINGS, *(f"-{k}" for k in TECHNICIAN_ORDERINGS)])


class AnalyticsTechnicianFilterSerializer(AnalyticsRangeFilterSerializer):
    ordering = serializers.ChoiceField(choices=_ORDERING_CHOICES, default="-jobs")


class AnalyticsStatusCountSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField()
    gross_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsCategoryCountSerializer(serializers.Serializer):
    category_id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()
    gross_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsDayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()
    gross_value = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsBookingsOutputSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    total = serializers.IntegerField()
    gross_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    by_status = AnalyticsStatusCountSerializer(many=True)
    by_category = AnalyticsCategoryCountSerializer(many=True)
    by_day = AnalyticsDayCountSerializer(many=True)


class AnalyticsRevenueAmountsSerializer(serializers.Serializer):
    gross_booking_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    deposits_collected = serializers.DecimalField(max_digits=14, decimal_places=2)
    balances_collected = serializers.DecimalField(max_digits=14, decimal_places=2)
    platform_fees = serializers.DecimalField(max_digits=14, decimal_places=2)
    payouts = serializers.DecimalField(max_digits=14, decimal_places=2)


class AnalyticsRevenuePeriodSerializer(AnalyticsRevenueAmountsSerializer):
    period_start = serializers.DateField()


class AnalyticsRevenueOutputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["payments", "bookings_estimate"],
        help_text="`bookings_estimate`: computed from confirmed bookings' amounts, not from payments",
    )
    period = serializers.ChoiceField(choices=sorted(PERIOD_TRUNCS))
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    totals = AnalyticsRevenueAmountsSerializer()
    periods = AnalyticsRevenuePeriodSerializer(many=True)


class AnalyticsTechnicianOutputSerializer(serializers.Serializer):
    technician_id = serializers.IntegerField(source="id")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    county = serializers.CharField()
    jobs = serializers.IntegerField()
    completed_jobs = serializers.IntegerField()
    cancelled_jobs = serializers.IntegerField()
    completion_rate = serializers.FloatField(allow_null=True, help_text="percent of jobs completed")
    rating = serializers.DecimalField(max_digits=3, decimal_places=2)
    rating_count = serializers.IntegerField()
    average_response_minutes = serializers.SerializerMethodField()
    earnings = serializers.DecimalField(max_digits=14, decimal_places=2)

    def get_average_response_minutes(self, obj) -> float | None:
        if obj.avg_response is None:
            return None
        return round(obj.avg_response.total_seconds() / 60, 1)
