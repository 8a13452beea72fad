"""DRF's output formats as plain functions, for hand-built representations of hot list endpoints.

A ModelSerializer spends most of a list request's CPU walking its field objects (get_attribute, then
to_representation, per field per row). Where a representation is built by hand instead, these functions
give byte-identical values to the DRF fields they stand for (with this project's settings: ISO 8601
datetimes in the current time zone, decimals coerced to strings); each hand-built representation is
tested equal to its serializer's generic output.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

_CENTS = Decimal("0.01")


def iso_datetime(value: datetime | None) -> str | None:
    """`serializers.DateTimeField().to_representation` for aware datetimes (USE_TZ is on)."""
    if not value:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def money_string(value) -> str:
    """`serializers.DecimalField(max_digits=12, decimal_places=2).to_representation` (coerced to string)."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):  # unsaved instances may still hold a field's int default
        value = Decimal(str(value).strip())
    return f"{value.quantize(_CENTS):f}"


def optional_float(value) -> float | None:
    return None if value is None else float(value)


def optional_str(value) -> str | None:
    return None if value is None else str(value)
