"""Live job tracking: the assigned technician's position while a booking is `en_route` or `arrived`.

Positions live ONLY in Redis (the default cache), never in PostgreSQL:
- `POSITION_TTL_SECONDS` after the last accepted update the position is gone even if nothing deletes it (an
  app that stopped sending, a web instance that died);
- when the booking leaves en_route/arrived (`in_progress`, `cancelled`), `booking_tracking_end_after_commit`
  deletes it once that change commits and tells the followers (`tracking.ended`);
- nobody but the booking's customer and staff ever receives it (bookings/selectors/tracking.py decides who may
  follow; the WebSocket consumer fans each accepted update out to the booking's tracking group through the
  Redis channel layer, so a follower on any web instance gets it).

Updates are rate-limited per booking (not per socket: two phones or two tabs of the technician share it) to one
accepted position every `MIN_UPDATE_INTERVAL_SECONDS`; a phone's GPS gives one a second, which would only
cost the customer's battery and our Redis. The ETA is bookings/eta.py.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from bookings.errors import LocationTooFrequent, TrackingForbidden, TrackingNotActive
from bookings.eta import eta_from
from bookings.models import TRACKING_STATUSES, Booking, BookingStatus
from bookings.selectors.tracking import position_key, tracked_booking
from dumuwaks.core.side_effects import group_send_after_commit
from notifications.realtime import booking_tracking_group, server_event

logger = logging.getLogger(__name__)

# Times in socket events are formatted as the REST API formats them (ISO 8601, Africa/Nairobi).
_ISO_DATETIME = serializers.DateTimeField()

MIN_UPDATE_INTERVAL_SECONDS = 5
POSITION_TTL_SECONDS = 300
# A fix older than this says where the technician was, not where they are: refused, not shown.
MAX_POSITION_AGE = timedelta(minutes=2)
# Phones' clocks drift; a fix "from the future" beyond this is a broken clock or a forged timestamp.
MAX_CLOCK_SKEW = timedelta(seconds=30)


def _rate_key(booking_id: int) -> str:
    return f"tracking:rate:{booking_id}"


def _check_recorded_at(recorded_at: datetime, now: datetime) -> None:
    if recorded_at > now + MAX_CLOCK_SKEW:
        raise serializers.ValidationError({"recorded_at": ["Must not be in the future."]})
    if recorded_at < now - MAX_POSITION_AGE:
        raise serializers.ValidationError(
            {
                "recorded_at": [
                    f"Too old: send positions at most {int(MAX_POSITION_AGE.total_seconds())}"
                    " seconds after they were taken."
                ]
            }
        )


def booking_location_record(
    *, booking_id: int, technician, position: dict, now: datetime | None = None
) -> dict:
    """Keep the assigned technician's position (validated by `BookingLocationInputSerializer`: `lat`, `lng`,
    `accuracy`, `heading`, `speed`, `recorded_at`) and return what followers are sent (`location.updated`).

    Refused: a booking the caller may not see (404 `booking_not_found`), a caller who is not its technician
    (403 `tracking_forbidden`), a booking not en_route/arrived (409 `tracking_not_active`), a fix from the
    future or too old (`validation_error`), a second position within the interval (429
    `location_too_frequent`). A refused update stores nothing and sends nothing.
    """
    now = now or timezone.now()
    _check_recorded_at(position["recorded_at"], now)
    booking = tracked_booking(booking_id=booking_id, user=technician)
    if booking.technician_id != technician.pk:
        raise TrackingForbidden()
    if booking.status not in TRACKING_STATUSES:
        raise TrackingNotActive()
    if not cache.add(_rate_key(booking_id), 1, timeout=MIN_UPDATE_INTERVAL_SECONDS):
        raise LocationTooFrequent(
            LocationTooFrequent.message.format(seconds=MIN_UPDATE_INTERVAL_SECONDS)
        )
    data = _followers_view(booking=booking, position=position)
    cache.set(position_key(booking_id), data, timeout=POSITION_TTL_SECONDS)
    # The job may have moved on while this update was on its way: its end already deleted the position
    # (after commit), so this one must not outlive it.
    if not Booking.objects.filter(pk=booking_id, status__in=TRACKING_STATUSES).exists():
        cache.delete(position_key(booking_id))
        raise TrackingNotActive()
    return data


def _followers_view(*, booking: Booking, position: dict) -> dict:
    recorded_at = position["recorded_at"]
    data = {
        "booking_id": booking.pk,
        "status": booking.status,
        "lat": position["lat"],
        "lng": position["lng"],
        "accuracy": position.get("accuracy"),
        "heading": position.get("heading"),
        "speed": position.get("speed"),
        "recorded_at": _ISO_DATETIME.to_representation(recorded_at),
        "distance_meters": None,
        "eta_seconds": None,
        "eta_at": None,
    }
    if booking.latitude is not None and booking.longitude is not None:
        eta = eta_from(
            lat=position["lat"],
            lng=position["lng"],
            job_lat=booking.latitude,
            job_lng=booking.longitude,
            at=recorded_at,
            arrived=booking.status == BookingStatus.ARRIVED,
        )
        data.update(
            distance_meters=eta.distance_m,
            eta_seconds=eta.eta_seconds,
            eta_at=_ISO_DATETIME.to_representation(eta.eta_at),
        )
    return data


def booking_tracking_end_after_commit(*, booking_id: int, status: str) -> None:
    """Once the change that took the booking out of en_route/arrived commits: forget its position and tell
    its followers (`tracking.ended`; each socket then leaves the group). Caller is inside that change's
    transaction. Redis being unreachable never breaks the transition: the position then expires with its
    TTL."""
    transaction.on_commit(lambda: _forget_position(booking_id))
    group_send_after_commit(
        booking_tracking_group(booking_id),
        {
            "type": "tracking.ended",
            "booking_id": booking_id,
            "payload": server_event("tracking.ended", {"booking_id": booking_id, "status": status}),
        },
    )


def _forget_position(booking_id: int) -> None:
    try:
        cache.delete_many([position_key(booking_id), _rate_key(booking_id)])
    except Exception:  # best effort: the TTL removes it anyway
        logger.warning("could not delete the position of booking %s", booking_id, exc_info=True)
