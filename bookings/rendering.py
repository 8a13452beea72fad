"""Bookings as GET /bookings and GET /bookings/:id send them: each booking's rendered JSON from the
representation cache (`dumuwaks.core.rendered_cache`), rendered by `BookingOutputSerializer` when missing.

The selectors decide which bookings the viewer sees and read their versions (`booking_list_versions`,
`booking_version_for_user`); a booking's key holds the representation's fingerprint, the booking's id, the
versions of every row it is built from, and which of the parties' contacts the viewer may see.
"""

from __future__ import annotations

import functools

from bookings import selectors
from bookings.serializers import BookingOutputSerializer, contacts_shown
from dumuwaks.core import rendered_cache
from payments import money_summary


@functools.cache
def fingerprint() -> str:
    return rendered_cache.representation_fingerprint(
        BookingOutputSerializer, modules=[money_summary]
    )


def cache_key(row, viewer) -> str:
    """`row`: anything with the booking's id, status, parties' ids and `version` (a versions row or a
    Booking read with `bookings_displayed_with_versions`)."""
    shown = contacts_shown(
        status=row.status,
        customer_id=row.customer_id,
        technician_id=row.technician_id,
        viewer=viewer,
    )
    return f"booking:{fingerprint()}:{row.id}:{row.version}:{shown[0]:d}{shown[1]:d}"


def bookings_rendered(rows, *, request) -> list[bytes]:
    """The rendered representation of each booking of `rows` (versions rows), in order; bookings deleted
    since `rows` was read are left out."""
    viewer = request.user
    keys = {row.id: cache_key(row, viewer) for row in rows}

    def build(missing: list[int]) -> dict[int, tuple[str, bytes]]:
        serializer = BookingOutputSerializer(context={"request": request})
        # Keyed by the versions read with the data itself: a booking changed since `rows` was read is
        # stored (and shown) as it is now, never under an older version.
        return {
            booking.pk: (
                cache_key(booking, viewer),
                rendered_cache.render(serializer.to_representation(booking)),
            )
            for booking in selectors.bookings_displayed_with_versions(missing)
        }

    found = rendered_cache.rendered(keys, build)
    return [found[row.id] for row in rows if row.id in found]
