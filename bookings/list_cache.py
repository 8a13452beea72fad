"""GET /bookings and GET /bookings/:id from rendered bookings kept in the cache (`dumuwaks.core.rendered_cache`).

A page costs one query (ids, what decides contact visibility, the rows' version and the total count, so no
separate COUNT; `selectors.booking_list_rows`), one MGET, and one more query only for bookings not cached
yet. A booking's key holds the `xmin` of the booking, both parties, the category, the booking's payments and
its balance collection row (its `money`), and which contacts the viewer may see.
"""

from __future__ import annotations

from django.core.cache import cache

from bookings import selectors
from bookings.serializers import BookingOutputSerializer, contacts_shown
from dumuwaks.core import rendered_cache
from dumuwaks.core.renderers import PreRendered, PreRenderedPage

# Part of every key: bump it when the booking representation changes, so a deploy never serves old shapes.
REPRESENTATION_SCHEMA = 2  # 2: `money`


class _PageWithTotal:
    """The object list Django's Paginator pages: one query returns the expected page and the total count.

    `count()` runs that query for the page the request asks for; the paginator then slices the same page
    from it. A page past the end returns no rows and so no total: only then is there a COUNT query.
    """

    def __init__(self, filters: selectors.BookingListFilters, *, offset: int, limit: int):
        self._filters = filters
        self._offset = offset
        self._limit = limit
        self._rows: list[selectors.BookingListRow] | None = None

    def _expected_page(self) -> list[selectors.BookingListRow]:
        if self._rows is None:
            self._rows = selectors.booking_list_rows(
                filters=self._filters, offset=self._offset, limit=self._limit
            )
        return self._rows

    def count(self) -> int:
        rows = self._expected_page()
        return rows[0].total if rows else selectors.booking_list(filters=self._filters).count()

    def __getitem__(self, window: slice) -> list[selectors.BookingListRow]:
        start, stop = window.start or 0, window.stop
        if start == self._offset and stop <= self._offset + self._limit:
            return self._expected_page()[: stop - start]
        return selectors.booking_list_rows(filters=self._filters, offset=start, limit=stop - start)


def _expected_offset(request, paginator) -> tuple[int, int]:
    page_size = paginator.get_page_size(request)
    try:
        number = int(request.query_params.get(paginator.page_query_param) or 1)
    except ValueError:  # "last", or garbage the paginator will refuse
        number = 1
    offset = (max(number, 1) - 1) * page_size
    if (
        offset > selectors.BIGINT_MAX
    ):  # past any end: guess page 1, whose total lets the paginator say 404
        offset = 0
    return offset, page_size


def _cache_key(booking, version: str, viewer) -> str:
    """`booking`: a Booking or a BookingListRow (both carry id, status and the parties' ids)."""
    shown = contacts_shown(
        status=booking.status,
        customer_id=booking.customer_id,
        technician_id=booking.technician_id,
        viewer=viewer,
    )
    return f"booking-json:{REPRESENTATION_SCHEMA}:{booking.id}:{version}:{shown[0]:d}{shown[1]:d}"


def _rendered(rows: list[selectors.BookingListRow], *, request) -> list[bytes]:
    viewer = request.user
    keys = [_cache_key(row, row.version, viewer) for row in rows]
    found = cache.get_many(keys)
    missing = [row.id for row, key in zip(rows, keys, strict=True) if key not in found]
    fresh: dict[int, bytes] = {}
    if missing:
        serializer = BookingOutputSerializer(context={"request": request})
        to_store = {}
        for booking in selectors.bookings_with_versions(missing):
            # Keyed by the version read with the data itself: a booking changed since the page query is
            # stored (and shown) as it is now, never under an older version. Its payments are read by the
            # next query, so at worst they are newer than the key says, never older: a key only ever
            # names a content at least as new as its version.
            key = _cache_key(booking, booking.representation_version, viewer)
            fresh[booking.pk] = to_store[key] = rendered_cache.render(
                serializer.to_representation(booking)
            )
        cache.set_many(to_store, timeout=rendered_cache.timeout())
    # A booking deleted between the two queries is left out of the page.
    items = (found.get(key) or fresh.get(row.id) for row, key in zip(rows, keys, strict=True))
    return [item for item in items if item is not None]


def booking_detail(*, request, booking_id: int) -> PreRendered | None:
    """GET /bookings/:id from the same cache; None when the booking does not exist or is not the viewer's
    to see (`selectors.booking_visible_to`, the rule `booking_get_for_user` applies)."""
    row = selectors.booking_row(booking_id=booking_id)
    if row is None or not selectors.booking_visible_to(
        request.user,
        booking_id=row.id,
        customer_id=row.customer_id,
        technician_id=row.technician_id,
    ):
        return None
    rendered = _rendered([row], request=request)
    return PreRendered(rendered[0]) if rendered else None


def booking_page(*, request, filters: selectors.BookingListFilters, paginator) -> PreRenderedPage:
    """The page of `selectors.booking_list(filters=filters)` the request asks for, as `{count, next, previous,
    results}`."""
    offset, limit = _expected_offset(request, paginator)
    rows = paginator.paginate_queryset(_PageWithTotal(filters, offset=offset, limit=limit), request)
    envelope = {
        key: value
        for key, value in paginator.get_paginated_response([]).data.items()
        if key != "results"
    }
    return PreRenderedPage(envelope, _rendered(rows, request=request))
