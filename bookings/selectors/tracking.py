"""Reads of live job tracking: who may follow a booking's technician and the last known position.

Positions are written by bookings/services/tracking.py and kept only in Redis (see there).
"""

from __future__ import annotations

from django.core.cache import cache

from bookings.errors import BookingNotFound, TrackingForbidden, TrackingNotActive
from bookings.models import TRACKING_STATUSES, Booking, BookingStatus
from bookings.selectors.bookings import booking_visible_to
from dumuwaks.core.permissions import is_staff_member

# A customer may open the map as soon as the job is accepted (positions start when the technician sets off).
FOLLOWABLE_STATUSES = (BookingStatus.ACCEPTED, *TRACKING_STATUSES)


def position_key(booking_id: int) -> str:
    return f"tracking:position:{booking_id}"


def tracked_booking(*, booking_id: int, user) -> Booking:
    """The booking if `user` may see it (as the REST API decides), else 404 `booking_not_found`: an
    outsider learns nothing, not even that it exists."""
    booking = (
        Booking.objects.filter(pk=booking_id)
        .only("id", "status", "customer_id", "technician_id", "latitude", "longitude")
        .first()
    )
    if booking is None or not booking_visible_to(
        user,
        booking_id=booking.pk,
        customer_id=booking.customer_id,
        technician_id=booking.technician_id,
    ):
        raise BookingNotFound()
    return booking


def booking_tracking_snapshot(*, booking_id: int, user) -> dict:
    """What a follower gets on subscribing: the booking's status and the last known position (what
    `location.updated` carried; None when there is none, or the booking is not en_route/arrived).

    Only the customer and staff follow (403 `tracking_forbidden` for the technician); only while the job is
    accepted, en route or arrived (409 `tracking_not_active`)."""
    booking = tracked_booking(booking_id=booking_id, user=user)
    if user.pk != booking.customer_id and not is_staff_member(user):
        raise TrackingForbidden()
    if booking.status not in FOLLOWABLE_STATUSES:
        raise TrackingNotActive()
    position = cache.get(position_key(booking_id)) if booking.status in TRACKING_STATUSES else None
    return {"booking_id": booking.pk, "status": booking.status, "position": position}
