"""Pieces shared by the bookings API modules."""

from __future__ import annotations

from bookings import selectors
from bookings.errors import BookingNotFound


def booking_visible_or_404(request, pk: int):
    """The booking `pk` if the requester may see it, else `BookingNotFound` (404): the one visibility check
    of every `/bookings/{id}/...` path."""
    booking = selectors.booking_get_for_user(user=request.user, booking_id=pk)
    if booking is None:
        raise BookingNotFound()
    return booking
