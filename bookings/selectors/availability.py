"""Reads for technician availability.

Availability rule: a technician is free for [start, end) when they have no ACTIVE booking overlapping it, no
time-off overlapping it, and the slot fits inside one of their weekly windows (Africa/Nairobi local time). A
technician with NO weekly-availability rows at all is available at any time, so a freshly registered technician
can be booked before they set working hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import KycStatus, TechnicianSkill
from bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    GuaranteeClaim,
    GuaranteeClaimStatus,
    TimeOff,
    WeeklyAvailability,
)

# A window whose end is at or after this is read as "until midnight" (TimeField cannot hold 24:00).
END_OF_DAY = time(23, 59)

REASON_BOOKED = "booked"
REASON_TIME_OFF = "time_off"
REASON_OUTSIDE_HOURS = "outside_working_hours"


def _id_set_sql(technician_ids):
    """A subquery for `__in`: querysets pass straight through; id lists travel as ONE array parameter."""
    if isinstance(technician_ids, QuerySet):
        return technician_ids
    ids = sorted({int(pk) for pk in technician_ids})
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def _local_slot_bounds(start: datetime, end: datetime):
    """(weekday, local start time, local end time) when the slot lies within one local day, else None."""
    local_start = timezone.localtime(start)
    local_end = timezone.localtime(end)
    if local_end.date() == local_start.date():
        return local_start.weekday(), local_start.time(), local_end.time()
    if local_end.date() == local_start.date() + timedelta(days=1) and local_end.time() == time(0):
        return local_start.weekday(), local_start.time(), END_OF_DAY
    return None


def technician_busy_reasons(
    *, technician_ids, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> dict[str, set[int]]:
    """Which of `technician_ids` are not free for [start, end), by reason. Three set-based queries."""
    ids = _id_set_sql(technician_ids)
    booked = Booking.objects.filter(
        technician_id__in=ids,
        status__in=ACTIVE_STATUSES,
        scheduled_start__lt=end,
        scheduled_end__gt=start,
    )
    if exclude_booking_id is not None:
        booked = booked.exclude(pk=exclude_booking_id)
    # A scheduled guarantee return visit holds the technician's time like a booking (README
    # "Workmanship guarantee"); checked here, as the database constraint covers bookings only.
    return_visits = GuaranteeClaim.objects.filter(
        technician_id__in=ids,
        status=GuaranteeClaimStatus.SCHEDULED,
        visit_start__lt=end,
        visit_end__gt=start,
    )
    time_off = TimeOff.objects.filter(technician_id__in=ids, starts_at__lt=end, ends_at__gt=start)

    with_hours = WeeklyAvailability.objects.filter(technician_id__in=ids)
    bounds = _local_slot_bounds(start, end)
    if bounds is None:
        outside = with_hours  # a slot crossing midnight never fits one window
    else:
        weekday, slot_start, slot_end = bounds
        covering = WeeklyAvailability.objects.filter(
            technician_id__in=ids, weekday=weekday, start_time__lte=slot_start
        ).filter(Q(end_time__gte=slot_end) | Q(end_time__gte=END_OF_DAY))
        outside = with_hours.exclude(technician_id__in=covering.order_by().values("technician_id"))

    def _ids(queryset):
        return set(queryset.order_by().values_list("technician_id", flat=True).distinct())

    return {
        # One query for both: UNION of the two id lists.
        REASON_BOOKED: set(
            booked.order_by()
            .values_list("technician_id", flat=True)
            .union(return_visits.order_by().values_list("technician_id", flat=True))
        ),
        REASON_TIME_OFF: _ids(time_off),
        REASON_OUTSIDE_HOURS: _ids(outside),
    }


def busy_technician_ids(
    *, technician_ids, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> set[int]:
    """Technicians among `technician_ids` (ids or an id queryset) NOT free for [start, end)."""
    reasons = technician_busy_reasons(
        technician_ids=technician_ids, start=start, end=end, exclude_booking_id=exclude_booking_id
    )
    return set().union(*reasons.values())


def technician_unavailability_reason(
    *, technician, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> str | None:
    reasons = technician_busy_reasons(
        technician_ids=[technician.pk], start=start, end=end, exclude_booking_id=exclude_booking_id
    )
    for reason in (REASON_BOOKED, REASON_TIME_OFF, REASON_OUTSIDE_HOURS):
        if technician.pk in reasons[reason]:
            return reason
    return None


def technician_can_take_category(*, technician, category_id: int) -> bool:
    """KYC-approved technician with the skill."""
    if technician is None or not getattr(technician, "is_technician", False):
        return False
    return TechnicianSkill.objects.filter(
        profile__user_id=technician.pk,
        profile__kyc_status=KycStatus.APPROVED,
        category_id=category_id,
    ).exists()


@dataclass(frozen=True)
class FreeSlot:
    start: datetime
    end: datetime


def technician_free_slots(
    *,
    technician,
    date_from: date,
    date_to: date,
    slot_minutes: int = 60,
    now: datetime | None = None,
) -> tuple[list[FreeSlot], bool]:
    """Free slots of `slot_minutes` inside the working windows of each local day in [date_from, date_to].

    Returns (slots, has_working_hours). Without working hours each whole day is a window. Slots in the
    past, overlapping an active booking or time-off are left out. Three queries whatever the range.
    """
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    range_start = datetime.combine(date_from, time(0), tzinfo=tz)
    range_end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=tz)

    windows: dict[int, list[tuple[time, time]]] = {}
    for row in WeeklyAvailability.objects.filter(technician=technician).order_by("start_time"):
        windows.setdefault(row.weekday, []).append((row.start_time, row.end_time))
    # Active bookings and scheduled guarantee return visits, in one query (UNION).
    busy = list(
        Booking.objects.filter(
            technician=technician,
            status__in=ACTIVE_STATUSES,
            scheduled_start__lt=range_end,
            scheduled_end__gt=range_start,
        )
        .order_by()
        .values_list("scheduled_start", "scheduled_end")
        .union(
            GuaranteeClaim.objects.filter(
                technician=technician,
                status=GuaranteeClaimStatus.SCHEDULED,
                visit_start__lt=range_end,
                visit_end__gt=range_start,
            )
            .order_by()
            .values_list("visit_start", "visit_end"),
            all=True,
        )
    )
    busy += [
        (t.starts_at, t.ends_at)
        for t in TimeOff.objects.filter(
            technician=technician, starts_at__lt=range_end, ends_at__gt=range_start
        ).only("starts_at", "ends_at")
    ]

    step = timedelta(minutes=slot_minutes)
    slots: list[FreeSlot] = []
    day = date_from
    while day <= date_to:
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        day_windows = windows.get(day.weekday()) if windows else [(time(0), END_OF_DAY)]
        for window_start, window_end in day_windows or ():
            cursor = datetime.combine(day, window_start, tzinfo=tz)
            limit = (
                next_midnight
                if window_end >= END_OF_DAY
                else datetime.combine(day, window_end, tzinfo=tz)
            )
            while cursor + step <= limit:
                slot_end = cursor + step
                if cursor >= now and not any(s < slot_end and e > cursor for s, e in busy):
                    slots.append(FreeSlot(start=cursor, end=slot_end))
                cursor = slot_end
        day += timedelta(days=1)
    return slots, bool(windows)
