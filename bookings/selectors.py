"""Reads for bookings, availability and disputes.

Availability rule: a technician is free for [start, end) when they have no ACTIVE booking overlapping it, no
time-off overlapping it, and the slot fits inside one of their weekly windows (Africa/Nairobi local time). A
technician with NO weekly-availability rows at all is available at any time, so a freshly registered technician
can be booked before they set working hours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import KycStatus, ServiceCategory, TechnicianProfile, TechnicianSkill, User
from bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    BookingStatusHistory,
    Dispute,
    TimeOff,
    WeeklyAvailability,
)
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.sql import prepared_cursor
from payments.models import BalanceCollection, Payment
from payments.selectors import released_by_dispute_exists

# A window whose end is at or after this is read as "until midnight" (TimeField cannot hold 24:00).
END_OF_DAY = time(23, 59)

BIGINT_MAX = connection.ops.integer_field_ranges["BigIntegerField"][1]

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
        REASON_BOOKED: _ids(booked),
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


def technician_is_free(
    *, technician, start: datetime, end: datetime, exclude_booking_id: int | None = None
) -> bool:
    return (
        technician_unavailability_reason(
            technician=technician, start=start, end=end, exclude_booking_id=exclude_booking_id
        )
        is None
    )


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
    busy = [
        (b.scheduled_start, b.scheduled_end)
        for b in Booking.objects.filter(
            technician=technician,
            status__in=ACTIVE_STATUSES,
            scheduled_start__lt=range_end,
            scheduled_end__gt=range_start,
        ).only("scheduled_start", "scheduled_end")
    ]
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


# --- Bookings -------------------------------------------------------------------------------------------------


# What the API shows of the joined rows (BookingOutputSerializer). The parties' other columns (password
# hash, 2FA and lockout state, timestamps) are never shown, and loading them cost a third of a list request.
_PARTY_COLUMNS = ("first_name", "last_name", "avatar_url", "phone_number", "email")


def _with_relations(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("customer", "technician", "category")


# What the `money` object needs (payments/money_summary.py): the booking's payments, its balance collection
# row and whether the customer's phone is verified.
_MONEY_PAYMENT_COLUMNS = (
    "id",
    "booking_id",
    "purpose",
    "method",
    "status",
    "phone",
    "expires_at",
)


def bookings_displayed(queryset: QuerySet) -> QuerySet:
    """`queryset` with the parties, category and money the API shows, loading only the columns it shows
    (one more query for the payments of all the bookings)."""
    own = [field.name for field in Booking._meta.concrete_fields]
    parties = [
        f"{party}__{column}" for party in ("customer", "technician") for column in _PARTY_COLUMNS
    ]
    payments = Payment.objects.only(*_MONEY_PAYMENT_COLUMNS).order_by("id")
    return (
        _with_relations(queryset)
        .select_related("balance_collection")
        .prefetch_related(Prefetch("payments", queryset=payments))
        .annotate(released_by_dispute=released_by_dispute_exists())
        .only(
            *own,
            *parties,
            "customer__is_phone_verified",
            "category__slug",
            "category__name",
            "balance_collection__overdue_at",
        )
    )


def bookings_visible_to(user) -> QuerySet[Booking]:
    """Bookings `user` is a party to (customer or assigned technician); staff see all."""
    if user is None or not user.is_authenticated:
        return Booking.objects.none()
    if is_staff_member(user):
        return _with_relations(Booking.objects.all())
    return _with_relations(Booking.objects.filter(Q(customer=user) | Q(technician=user)))


def bookings_available_to(technician, *, now: datetime | None = None) -> QuerySet[Booking]:
    """Open jobs a technician may accept: unassigned, pending, deposit paid, in their skills, not started."""
    if technician is None or not getattr(technician, "is_technician", False):
        return Booking.objects.none()
    skills = TechnicianSkill.objects.filter(
        profile__user_id=technician.pk, profile__kyc_status=KycStatus.APPROVED
    ).values("category_id")
    return _with_relations(
        Booking.objects.filter(
            status=BookingStatus.PENDING,
            technician__isnull=True,
            deposit_paid_at__isnull=False,
            scheduled_start__gt=now or timezone.now(),
            category_id__in=skills,
        )
    )


def booking_get_for_user(*, user, booking_id: int) -> Booking | None:
    """A booking `user` may see: as a party, as staff, or as an open job a technician could take."""
    if user is None or not user.is_authenticated:
        return None
    # Fetched by primary key alone and checked here: the visibility OR made this hot query cost a third more
    # to compile than to run.
    booking = next(
        iter(bookings_displayed(Booking.objects.filter(pk=booking_id)).order_by()[:1]), None
    )
    if booking is None or not booking_visible_to(
        user,
        booking_id=booking.pk,
        customer_id=booking.customer_id,
        technician_id=booking.technician_id,
    ):
        return None
    return booking


def booking_visible_to(
    user, *, booking_id: int, customer_id: int, technician_id: int | None
) -> bool:
    """`user` may see this booking: as a party, as staff, or as an open job they could take."""
    if user is None or not user.is_authenticated:
        return False
    if user.pk in (customer_id, technician_id) or is_staff_member(user):
        return True
    return bookings_available_to(user).filter(pk=booking_id).exists()


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


@dataclass(frozen=True)
class BookingListFilters:
    """What a booking list may be filtered and ordered by. `booking_list` (the ORM reference) and
    `booking_list_rows` (hand-written SQL for the API's hot page) take the same value."""

    user: object
    statuses: list[str] | None = None
    category_id: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    available: bool = False
    ordering: str = "-scheduled_start"


def booking_list(*, filters: BookingListFilters) -> QuerySet[Booking]:
    """Customers: their own; technicians: assigned (or open jobs with available=True); staff: all.

    Bookings only, ordered: `booking_list_rows` pages it as is, `bookings_displayed` adds what the API shows.
    """
    user = filters.user
    if filters.available:
        queryset = bookings_available_to(user)
    elif is_staff_member(user):
        queryset = bookings_visible_to(user)
    elif getattr(user, "is_technician", False):
        queryset = Booking.objects.filter(technician=user)
    else:
        queryset = Booking.objects.filter(customer=user)
    if filters.statuses:
        queryset = queryset.filter(status__in=filters.statuses)
    if filters.category_id:
        queryset = queryset.filter(category_id=filters.category_id)
    if filters.date_from:
        queryset = queryset.filter(scheduled_start__gte=filters.date_from)
    if filters.date_to:
        queryset = queryset.filter(scheduled_start__lt=filters.date_to)
    return queryset.order_by(
        *BOOKING_ORDERINGS.get(filters.ordering, BOOKING_ORDERINGS["-scheduled_start"])
    )


@functools.cache
def _representation_version_sql() -> str:
    """SQL for the version of the rows a booking's representation is built from: their `xmin`s (see
    `dumuwaks.core.rendered_cache`). The booking, both parties and the category; for `money`
    (payments/money_summary.py) the booking's payments, as the list of their `xmin`s in id order, hashed (a
    payment created, changed or removed changes it), and its balance collection row."""
    booking = Booking._meta.db_table
    users = User._meta.db_table
    categories = ServiceCategory._meta.db_table
    payments = Payment._meta.db_table
    collections = BalanceCollection._meta.db_table

    def row_xmin(table: str, column: str) -> str:
        # Identifiers from the models only; nothing from a request reaches this SQL.
        return f'(SELECT "v"."xmin" FROM "{table}" "v" WHERE "v"."id" = "{booking}"."{column}")'  # noqa: S608

    # Hashed: a booking may have many payment attempts, and a cache key stays short (under memcached's 250
    # characters, which Django warns about for every backend).
    payment_xmins = (
        f'(SELECT md5(string_agg("p"."xmin"::text, \',\' ORDER BY "p"."id")) FROM "{payments}" "p" '  # noqa: S608
        f'WHERE "p"."booking_id" = "{booking}"."id")'
    )
    collection_xmin = (
        f'(SELECT "c"."xmin"::text FROM "{collections}" "c" '  # noqa: S608
        f'WHERE "c"."booking_id" = "{booking}"."id")'
    )
    # concat_ws skips NULLs: every part that may be missing has a placeholder, so parts never shift.
    return (
        f'concat_ws(\'.\', "{booking}"."xmin", {row_xmin(users, "customer_id")}, '
        f"coalesce({row_xmin(users, 'technician_id')}::text, '-'), "
        f"{row_xmin(categories, 'category_id')}, "
        f"coalesce({payment_xmins}, '-'), coalesce({collection_xmin}, '-'))"
    )


@dataclass(frozen=True)
class BookingListRow:
    """What the cached list needs of a booking before its representation: who sees what, and its version."""

    id: int
    status: str
    customer_id: int
    technician_id: int | None
    version: str
    total: int


def _quoted(table: str, column: str) -> str:
    quote = connection.ops.quote_name
    return f"{quote(table)}.{quote(column)}"


@functools.cache
def _list_order_sql() -> dict[str, str]:
    table = Booking._meta.db_table
    return {
        key: ", ".join(
            f"{_quoted(table, column.lstrip('-'))} {'DESC' if column.startswith('-') else 'ASC'}"
            for column in columns
        )
        for key, columns in BOOKING_ORDERINGS.items()
    }


def _list_conditions(filters: BookingListFilters, *, now) -> tuple[list[str], list]:
    """`booking_list`'s filters as SQL conditions and parameters (its ORM query is the reference)."""
    if filters.category_id and filters.category_id > BIGINT_MAX:
        return ["FALSE"], []
    user = filters.user
    table = Booking._meta.db_table
    column = functools.partial(_quoted, table)
    conditions: list[str] = []
    params: list = []
    if filters.available:
        if user is None or not getattr(user, "is_technician", False):
            return ["FALSE"], []
        skills = TechnicianSkill._meta
        profiles = TechnicianProfile._meta.db_table
        conditions += [
            f"{column('status')} = %s",
            f"{column('technician_id')} IS NULL",
            f"{column('deposit_paid_at')} IS NOT NULL",
            f"{column('scheduled_start')} > %s",
            f'{column("category_id")} IN (SELECT "s"."category_id" FROM "{skills.db_table}" "s" '  # noqa: S608
            f'JOIN "{profiles}" "p" ON "p"."id" = "s"."profile_id" '
            f'WHERE "p"."user_id" = %s AND "p"."kyc_status" = %s)',
        ]
        params += [BookingStatus.PENDING, now, user.pk, KycStatus.APPROVED]
    elif is_staff_member(user):
        pass
    elif getattr(user, "is_technician", False):
        conditions.append(f"{column('technician_id')} = %s")
        params.append(user.pk)
    else:
        conditions.append(f"{column('customer_id')} = %s")
        params.append(user.pk)
    if filters.statuses:
        conditions.append(f"{column('status')} = ANY(%s)")
        params.append(list(filters.statuses))
    if filters.category_id:
        conditions.append(f"{column('category_id')} = %s")
        params.append(filters.category_id)
    if filters.date_from:
        conditions.append(f"{column('scheduled_start')} >= %s")
        params.append(filters.date_from)
    if filters.date_to:
        conditions.append(f"{column('scheduled_start')} < %s")
        params.append(filters.date_to)
    return conditions or ["TRUE"], params


def _quoted_table() -> str:
    return connection.ops.quote_name(Booking._meta.db_table)


@functools.cache
def _row_select_sql() -> str:
    """The select list of a `BookingListRow` (before its last column: the total)."""
    table = Booking._meta.db_table
    columns = ", ".join(
        _quoted(table, name) for name in ("id", "status", "customer_id", "technician_id")
    )
    return f"SELECT {columns}, {_representation_version_sql()}"


def booking_list_rows(
    *, filters: BookingListFilters, offset: int, limit: int
) -> list[BookingListRow]:
    """One page of `booking_list(...)` as rows, each carrying the total match count (no separate COUNT).

    Hand-written SQL: the ORM took four times longer to compile this query than to run it, on the API's
    most-read page. `booking_list` stays the reference; tests hold the two to the same rows for every
    viewer, filter and ordering. Empty when the page is past the end; the caller then counts separately.
    """
    conditions, params = _list_conditions(filters, now=timezone.now())
    order = _list_order_sql().get(filters.ordering) or _list_order_sql()["-scheduled_start"]
    sql = (
        f"{_row_select_sql()}, COUNT(*) OVER () FROM {_quoted_table()} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %s OFFSET %s"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*params, limit, offset])
        return [BookingListRow(*row) for row in cursor.fetchall()]


def booking_row(*, booking_id: int) -> BookingListRow | None:
    """One booking as a `BookingListRow` (total 1): its parties, status and representation version."""
    if not 0 < booking_id <= BIGINT_MAX:  # no such id; compared as numeric it would skip the index
        return None
    sql = (
        f"{_row_select_sql()}, 1 FROM {_quoted_table()} "
        f"WHERE {_quoted(Booking._meta.db_table, 'id')} = %s"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, [booking_id])
        row = cursor.fetchone()
    return None if row is None else BookingListRow(*row)


def bookings_with_versions(booking_ids: list[int]) -> list[Booking]:
    """The bookings (with parties and category, as the API shows them), each with `representation_version`."""
    return list(
        bookings_displayed(Booking.objects.filter(pk__in=booking_ids)).annotate(
            representation_version=RawSQL(_representation_version_sql(), ())  # noqa: S611
        )
    )


def booking_history(*, booking: Booking) -> QuerySet[BookingStatusHistory]:
    return booking.status_history.select_related("actor").order_by("created_at", "id")


def booking_stats_for(user) -> dict:
    counts = {status: 0 for status in BookingStatus.values}
    rows = (
        booking_list(filters=BookingListFilters(user=user))
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status, n in rows:
        counts[status] = n
    return {"total": sum(counts.values()), "by_status": counts}


# --- Timers ---------------------------------------------------------------------------------------------------


def stale_pending_q(now: datetime, accept_timeout: timedelta) -> Q:
    """Pending bookings that must expire: unpaid past the payment window, slot already started, or not
    accepted within the accept timeout."""
    return Q(status=BookingStatus.PENDING) & (
        Q(deposit_paid_at__isnull=True, payment_due_at__lte=now)
        | Q(scheduled_start__lte=now)
        | Q(created_at__lte=now - accept_timeout)
    )


def stale_pending_booking_ids(*, now: datetime, accept_timeout: timedelta, limit: int = 500):
    return list(
        Booking.objects.filter(stale_pending_q(now, accept_timeout))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def auto_confirmable_booking_ids(*, now: datetime, after: timedelta, limit: int = 500):
    return list(
        Booking.objects.filter(status=BookingStatus.COMPLETED, completed_at__lte=now - after)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


# --- Disputes -------------------------------------------------------------------------------------------------


def dispute_queue(*, statuses: list[str] | None = None) -> QuerySet[Dispute]:
    queryset = Dispute.objects.select_related(
        "booking", "booking__customer", "booking__technician", "opened_by", "resolved_by"
    ).order_by("created_at", "id")
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return queryset
