"""Date and datetime fields that refuse dates the calendar arithmetic cannot handle.

A filter like `?from=0001-01-01` overflows when made timezone-aware in Africa/Nairobi, and `?to=9999-12-31`
overflows at "the day after", and a time-off in the year 1245 renders with Nairobi's local-mean-time
offset; all are nonsense for a marketplace, so they are validation errors.
"""

import datetime

from rest_framework import serializers

MIN_YEAR = 1900
MAX_YEAR = 2999


def _check_year(field, value):
    if not (MIN_YEAR <= value.year <= MAX_YEAR):
        raise serializers.ValidationError(
            f"Use a date between {MIN_YEAR} and {MAX_YEAR}.", code="out_of_range"
        )
    return value


class BoundedDateField(serializers.DateField):
    def to_internal_value(self, value) -> datetime.date:
        return _check_year(self, super().to_internal_value(value))


class BoundedDateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value) -> datetime.datetime:
        try:
            parsed = super().to_internal_value(value)
        except OverflowError:
            parsed = datetime.datetime.min
        return _check_year(self, parsed)
