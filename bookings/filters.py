"""Query-string filters of the booking lists (see dumuwaks.core.filtering)."""

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from bookings.models import Booking, BookingStatus, Dispute, DisputeStatus
from dumuwaks.core.date_fields import MAX_YEAR, MIN_YEAR
from dumuwaks.core.filtering import BooleanFilter, FilterSet, IdFilter
from dumuwaks.core.ordering import camel_ordering, camel_orderings

# `ordering` keys (snake_case; camelCase on the wire) and what each sorts by: the id breaks ties so pages
# are stable.
BOOKING_ORDERINGS = {
    "scheduled_start": ("scheduled_start", "id"),
    "-scheduled_start": ("-scheduled_start", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "status": ("status", "id"),
    "-status": ("-status", "-id"),
}
_ORDER_BY = {camel_ordering(key): fields for key, fields in BOOKING_ORDERINGS.items()}


class _StatusListField(forms.CharField):
    """`pending,cancelled`: blank items are ignored, an unknown status is refused."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        statuses = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in statuses if s not in BookingStatus.values]
        if unknown:
            raise forms.ValidationError(f"Unknown status: {', '.join(unknown)}.", code="invalid")
        return statuses or None


# A list in one string: the model field's choices would make the schema an enum of single statuses.
@extend_schema_field({"type": "string"})
class _StatusListFilter(django_filters.Filter):
    field_class = _StatusListField


class _BoundedDateTimeField(django_filters.fields.IsoDateTimeField):
    """A year the calendar arithmetic handles (see dumuwaks.core.date_fields)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not (MIN_YEAR <= value.year <= MAX_YEAR):
            raise forms.ValidationError(
                f"Use a date between {MIN_YEAR} and {MAX_YEAR}.", code="out_of_range"
            )
        return value


class _BoundedDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _BoundedDateTimeField


class DisputeFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)

    class Meta:
        model = Dispute
        fields: list = []


class BookingFilter(FilterSet):
    """GET /bookings. `available` picks which bookings the list is of (`booking_list`), so it filters
    nothing here."""

    status = _StatusListFilter(
        field_name="status", lookup_expr="in", help_text="Comma-separated statuses"
    )
    # No upper bound: an id beyond any row's matches nothing, as before (test_out_of_range_ids_in_filters...).
    category = IdFilter(field_name="category_id", max_value=None, help_text="Service category id")
    from_ = _BoundedDateTimeFilter(
        field_name="scheduled_start",
        lookup_expr="gte",
        help_text="Scheduled start on/after (ISO 8601)",
    )
    to = _BoundedDateTimeFilter(
        field_name="scheduled_start",
        lookup_expr="lt",
        help_text="Scheduled start before (ISO 8601)",
    )
    available = BooleanFilter(
        method="filter_available", help_text="Technicians: open paid jobs in their skills"
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(value, value) for value in camel_orderings(BOOKING_ORDERINGS)],
        initial=camel_ordering("-scheduled_start"),
        method="filter_ordering",
    )

    class Meta:
        model = Booking
        fields: list = []

    def filter_available(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset

    def filter_ordering(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*_ORDER_BY[value])
