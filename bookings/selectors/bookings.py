"""Reads for bookings: who sees which booking, the list and its filters, history and stats."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import KycStatus, ServiceCategory, TechnicianProfile, TechnicianSkill, User
from bookings.models import Booking, BookingStatus, BookingStatusHistory
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.sql import prepared_cursor
from payments.models import BalanceCollection, Payment
from payments.selectors.balances import released_by_dispute_exists

BIGINT_MAX = connection.ops.integer_field_ranges["BigIntegerField"][1]


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
