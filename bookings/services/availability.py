"""Technicians' weekly working hours and time-off."""

from __future__ import annotations

from itertools import pairwise

from django.db import transaction

from bookings.errors import InvalidBooking, TechniciansOnly
from bookings.models import TimeOff, WeeklyAvailability


def _validate_weekly(weekly_hours) -> None:
    by_day: dict[int, list] = {}
    for index, row in enumerate(weekly_hours):
        if not 0 <= int(row["weekday"]) <= 6:
            raise InvalidBooking(fields={f"weekly_hours.{index}": ["Weekday must be 0-6."]})
        if row["end_time"] <= row["start_time"]:
            raise InvalidBooking(
                fields={f"weekly_hours.{index}": ["The end time must be after the start time."]}
            )
        by_day.setdefault(int(row["weekday"]), []).append((row["start_time"], row["end_time"]))
    for weekday, windows in by_day.items():
        windows.sort()
        for (_s1, e1), (s2, _e2) in pairwise(windows):
            if s2 < e1:
                raise InvalidBooking(
                    fields={"weekly_hours": [f"Windows on weekday {weekday} overlap."]}
                )


def availability_replace(*, technician, weekly_hours, time_off) -> None:
    """Replace the technician's whole schedule (PUT semantics) in one transaction.

    `weekly_hours`: [{weekday, start_time, end_time}]; `time_off`: [{starts_at, ends_at, reason}].
    An empty `weekly_hours` means "available any time". Existing bookings are not touched.
    """
    if not getattr(technician, "is_technician", False):
        raise TechniciansOnly()
    _validate_weekly(weekly_hours)
    for index, row in enumerate(time_off):
        if row["ends_at"] <= row["starts_at"]:
            raise InvalidBooking(fields={f"time_off.{index}": ["The end must be after the start."]})
    with transaction.atomic():
        WeeklyAvailability.objects.filter(technician=technician).delete()
        TimeOff.objects.filter(technician=technician).delete()
        WeeklyAvailability.objects.bulk_create(
            WeeklyAvailability(
                technician=technician,
                weekday=int(row["weekday"]),
                start_time=row["start_time"],
                end_time=row["end_time"],
            )
            for row in weekly_hours
        )
        TimeOff.objects.bulk_create(
            TimeOff(
                technician=technician,
                starts_at=row["starts_at"],
                ends_at=row["ends_at"],
                reason=row.get("reason", "") or "",
            )
            for row in time_off
        )
