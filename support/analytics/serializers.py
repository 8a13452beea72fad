from rest_framework import serializers

from dumuwaks.core.date_fields import BoundedDateField
from dumuwaks.core.serializers import AverageField
from support.analytics.definitions import BOOKING_FIGURES, REVENUE_LINES, TECHNICIAN_FIGURES
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


def _money(help_text: str, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, help_text=help_text, **kwargs)


class AnalyticsStatusCountSerializer(serializers.Serializer):
    status = serializers.CharField()
    count = serializers.IntegerField(help_text="bookings in this status")
    gross_value = _money("sum of their prices")


class AnalyticsCategoryCountSerializer(serializers.Serializer):
    category_id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField(help_text="bookings in this category")
    gross_value = _money("sum of their prices")


class AnalyticsDayCountSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Nairobi calendar day of creation")
    count = serializers.IntegerField(help_text="bookings created that day")
    gross_value = _money("sum of their prices")


class AnalyticsBookingsOutputSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    total = serializers.IntegerField(help_text=BOOKING_FIGURES["total"])
    gross_value = _money(BOOKING_FIGURES["gross_value"])
    by_status = AnalyticsStatusCountSerializer(many=True, help_text=BOOKING_FIGURES["by_status"])
    by_category = AnalyticsCategoryCountSerializer(
        many=True, help_text=BOOKING_FIGURES["by_category"]
    )
    by_day = AnalyticsDayCountSerializer(many=True, help_text=BOOKING_FIGURES["by_day"])


# One decimal field per revenue line, described by its definition.
AnalyticsRevenueAmountsSerializer = type(
    "AnalyticsRevenueAmountsSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "Money lines, KES. Definitions: support/analytics/definitions.py.",
        **{name: _money(definition) for name, definition in REVENUE_LINES.items()},
    },
)


class AnalyticsRevenuePeriodSerializer(AnalyticsRevenueAmountsSerializer):
    period_start = serializers.DateField(
        help_text="first Nairobi day of the period (weeks start on Monday)"
    )


class AnalyticsRevenueOutputSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=sorted(PERIOD_TRUNCS))
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    totals = AnalyticsRevenueAmountsSerializer(help_text="each line summed over the periods")
    periods = AnalyticsRevenuePeriodSerializer(
        many=True, help_text="periods in which anything moved, oldest first"
    )


class AnalyticsTechnicianOutputSerializer(serializers.Serializer):
    technician_id = serializers.IntegerField(source="id")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    county = serializers.CharField()
    jobs = serializers.IntegerField(help_text=TECHNICIAN_FIGURES["jobs"])
    completed_jobs = serializers.IntegerField(help_text=TECHNICIAN_FIGURES["completed_jobs"])
    technician_cancellations = serializers.IntegerField(
        help_text=TECHNICIAN_FIGURES["technician_cancellations"]
    )
    customer_cancellations = serializers.IntegerField(
        help_text=TECHNICIAN_FIGURES["customer_cancellations"]
    )
    declines_after_accept = serializers.IntegerField(
        help_text=TECHNICIAN_FIGURES["declines_after_accept"]
    )
    completion_rate = serializers.FloatField(
        allow_null=True, help_text=TECHNICIAN_FIGURES["completion_rate"]
    )
    rating = AverageField(count_source="rating_count", help_text=TECHNICIAN_FIGURES["rating"])
    rating_count = serializers.IntegerField(help_text=TECHNICIAN_FIGURES["rating_count"])
    average_response_minutes = serializers.SerializerMethodField(
        help_text=TECHNICIAN_FIGURES["average_response_minutes"]
    )
    earnings_jobs = _money(TECHNICIAN_FIGURES["earnings_jobs"])
    earnings_cancellation_fees = _money(TECHNICIAN_FIGURES["earnings_cancellation_fees"])
    earnings_dispute_releases = _money(TECHNICIAN_FIGURES["earnings_dispute_releases"])
    earnings_clawed_back = _money(TECHNICIAN_FIGURES["earnings_clawed_back"])
    earnings = _money(TECHNICIAN_FIGURES["earnings"])
    paid_out = _money(TECHNICIAN_FIGURES["paid_out"])
    withheld = _money(TECHNICIAN_FIGURES["withheld"])
    owed = _money(TECHNICIAN_FIGURES["owed"])
    owes_back = _money(TECHNICIAN_FIGURES["owes_back"])
    tips = serializers.IntegerField(help_text=TECHNICIAN_FIGURES["tips"])
    tips_total = _money(TECHNICIAN_FIGURES["tips_total"])
    currency = serializers.CharField(help_text=TECHNICIAN_FIGURES["currency"])

    def get_average_response_minutes(self, obj) -> float | None:
        if obj.avg_response is None:
            return None
        return round(obj.avg_response.total_seconds() / 60, 1)
