"""Reads for bookings: who sees which booking, the list and its filters, history and stats."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Mapping
from datetime import datetime

from django.db.models import (
    Count,
    Func,
    Prefetch,
    Q,
    QuerySet,
    TextField,
    Value,
    Window,
)
from django.http import QueryDict
from django.utils import timezone

from accounts.models import KycStatus, TechnicianSkill
from bookings.filters import BookingFilter
from bookings.models import Booking, BookingStatus, BookingStatusHistory, Dispute
from dumuwaks.core.compiled_queries import CompiledQuery
from dumuwaks.core.filtering import validated_filterset
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.rendered_cache import ReferencingRowsVersion, RowVersion, joined_row_version
from payments.models import Payment
from payments.selectors.balances import released_by_dispute_exists

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


def bookings_visible_to(user, *, queryset: QuerySet | None = None) -> QuerySet[Booking]:
    """Bookings `user` is a party to (customer or assigned technician); staff see all. Of `queryset` (all
    bookings by default)."""
    bookings = Booking.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated:
        return bookings.none()
    if is_staff_member(user):
        return _with_relations(bookings)
    return _with_relations(bookings.filter(Q(customer=user) | Q(technician=user)))


def bookings_available_to(
    technician, *, now: datetime | None = None, queryset: QuerySet | None = None
) -> QuerySet[Booking]:
    """Open jobs a technician may accept: unassigned, pending, deposit paid, in their skills, not started.
    Of `queryset` (all bookings by default)."""
    bookings = Booking.objects.all() if queryset is None else queryset
    if technician is None or not getattr(technician, "is_technician", False):
        return bookings.none()
    return _open_jobs(bookings, technician_id=technician.pk, now=now or timezone.now())


def _open_jobs(bookings: QuerySet, *, technician_id: int, now: datetime) -> QuerySet[Booking]:
    skills = TechnicianSkill.objects.filter(
        profile__user_id=technician_id, profile__kyc_status=KycStatus.APPROVED
    ).values("category_id")
    return _with_relations(
        bookings.filter(
            status=BookingStatus.PENDING,
            technician__isnull=True,
            deposit_paid_at__isnull=False,
            scheduled_start__gt=now,
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


def booking_list(
    *, user, filters: Mapping | None = None, queryset: QuerySet | None = None
) -> QuerySet[Booking]:
    """Customers: their own; technicians: assigned (or open jobs with `available=true`); staff: all. Of
    `queryset` (all bookings by default), narrowed and ordered by `filters`: the query parameters of
    BookingFilter (a 400 if invalid).

    Bookings only, ordered: `booking_list_versions` pages it for the API, `bookings_displayed` adds what the
    API shows.
    """
    bookings = Booking.objects.all() if queryset is None else queryset
    filterset = validated_filterset(BookingFilter, data=filters, queryset=bookings, user=user)
    return _listed(
        _list_scope(user, filterset),
        filterset,
        bookings,
        viewer_id=user.pk,
        now=timezone.now(),
    )


def _list_scope(user, filterset: BookingFilter) -> str:
    """Which bookings `user`'s list is of (the visibility rule of the lists, with `_listed`)."""
    is_technician = getattr(user, "is_technician", False)
    if filterset.form.cleaned_data.get("available"):
        return "open_jobs" if is_technician else "nothing"
    if is_staff_member(user):
        return "all"
    return "assigned" if is_technician else "own"


def _listed(
    scope: str, filterset: BookingFilter, bookings: QuerySet, *, viewer_id: int, now: datetime
) -> QuerySet[Booking]:
    """The bookings of `scope` (`_list_scope`) for the viewer `viewer_id`, narrowed and ordered by the
    validated `filterset`."""
    if scope == "open_jobs":
        scoped = _open_jobs(bookings, technician_id=viewer_id, now=now)
    elif scope == "all":
        scoped = _with_relations(bookings)
    elif scope == "assigned":
        scoped = bookings.filter(technician_id=viewer_id)
    elif scope == "own":
        scoped = bookings.filter(customer_id=viewer_id)
    else:
        scoped = bookings.none()
    return filterset.filter_queryset(scoped)


@functools.cache  # built once: the expression is resolved afresh (copied) by every queryset using it
def booking_representation_version() -> Func:
    """Annotation on a Booking queryset: the versions (`dumuwaks.core.rendered_cache`) of every row the
    booking's representation is built from (BookingOutputSerializer, payments/money_summary.py): the
    booking, both parties, the category, its payments, its balance collection row and its disputes."""
    return Func(
        Value("."),
        RowVersion("pk"),
        joined_row_version("customer__email"),
        joined_row_version("technician__email"),
        joined_row_version("category__slug"),
        joined_row_version("balance_collection__overdue_at"),
        ReferencingRowsVersion("pk", model=Payment, field="booking"),
        ReferencingRowsVersion("pk", model=Dispute, field="booking"),
        function="CONCAT_WS",
        output_field=TextField(),
    )


@functools.cache
def _bookings_with_versions() -> QuerySet[Booking]:
    """All bookings with their representation `version`: the annotation resolved once per process (most of
    the cost of building a page's query); every queryset built on it copies it. Never evaluated itself."""
    return Booking.objects.annotate(version=booking_representation_version())


# What decides which contacts a viewer sees in a booking (serializers.contacts_shown), and its version.
_VERSION_ROW = ("id", "status", "customer_id", "technician_id", "version")
BookingVersionRow = namedtuple("BookingVersionRow", _VERSION_ROW)
BookingListRow = namedtuple("BookingListRow", (*_VERSION_ROW, "total"))


def _list_page(shape, *, viewer_id: int, now: datetime) -> QuerySet:
    """One window of a list (`booking_list`) as version rows, each with the list's total: the query
    `booking_list_versions` compiles once per shape (scope, filter parameters, window)."""
    scope, filter_values, (offset, limit) = shape
    data = QueryDict(mutable=True)
    for name, values in filter_values:
        data.setlist(name, list(values))
    bookings = _bookings_with_versions()
    filterset = validated_filterset(BookingFilter, data=data, queryset=bookings)
    listed = _listed(scope, filterset, bookings, viewer_id=viewer_id, now=now)
    rows = listed.annotate(total=Window(Count("pk"))).values_list(*_VERSION_ROW, "total")
    return rows[offset : offset + limit] if limit is not None else rows[offset:]


# Every GET /bookings reads one (dumuwaks.core.compiled_queries).
_LIST_PAGE = CompiledQuery(_list_page, parameters={"viewer_id": int, "now": datetime})


class BookingListVersions:
    """`booking_list(user=user, filters=filters)` as `BookingListRow`s (id, status, parties, version,
    total): what the rendered cache needs to find each booking's representation, and the number of
    bookings in the whole list (so a page needs no separate COUNT; `dumuwaks.core.pagination`).
    Iterating gives every row."""

    def __init__(self, *, user, filters: Mapping | None):
        self.user, self.filters = user, filters
        # Validated here, so a bad parameter is a 400 before any page is read.
        filterset = validated_filterset(
            BookingFilter, data=filters, queryset=Booking.objects.none(), user=user
        )
        self.scope = _list_scope(user, filterset)
        self.filter_values = tuple(
            (name, tuple(_values(filterset.data, name)))
            for name in filterset.form.fields
            if name in filterset.data
        )

    def window(self, offset: int, limit: int | None) -> list[BookingListRow]:
        shape = (self.scope, self.filter_values, (offset, limit))
        rows = _LIST_PAGE.rows(shape, viewer_id=self.user.pk, now=timezone.now())
        return [BookingListRow._make(row) for row in rows]

    def count(self) -> int:
        return booking_list(user=self.user, filters=self.filters).count()

    def __iter__(self):
        return iter(self.window(0, None))


def _values(data: Mapping, name: str) -> list:
    return data.getlist(name) if hasattr(data, "getlist") else [data[name]]


def booking_list_versions(*, user, filters: Mapping | None = None) -> BookingListVersions:
    return BookingListVersions(user=user, filters=filters)


def _booking_version(_shape, *, booking_id: int) -> QuerySet:
    return _bookings_with_versions().filter(pk=booking_id).values_list(*_VERSION_ROW)


# Every GET /bookings/:id reads one.
_BOOKING_VERSION = CompiledQuery(_booking_version, parameters={"booking_id": int})


def booking_version_for_user(*, user, booking_id: int) -> BookingVersionRow | None:
    """The booking as a `BookingVersionRow` if `user` may see it (`booking_visible_to`), else None."""
    if user is None or not user.is_authenticated:
        return None
    found = _BOOKING_VERSION.rows(booking_id=booking_id)
    row = BookingVersionRow._make(found[0]) if found else None
    if row is None or not booking_visible_to(
        user, booking_id=row.id, customer_id=row.customer_id, technician_id=row.technician_id
    ):
        return None
    return row


def bookings_displayed_with_versions(booking_ids: list[int]) -> QuerySet[Booking]:
    """The bookings as the API shows them (`bookings_displayed`), each with its `version`, read with it."""
    return bookings_displayed(Booking.objects.filter(pk__in=booking_ids)).annotate(
        version=booking_representation_version()
    )


def booking_history(*, booking: Booking) -> QuerySet[BookingStatusHistory]:
    return booking.status_history.select_related("actor").order_by("created_at", "id")


def booking_stats_for(user) -> dict:
    counts = {status: 0 for status in BookingStatus.values}
    rows = (
        booking_list(user=user)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status, n in rows:
        counts[status] = n
    return {"total": sum(counts.values()), "by_status": counts}
