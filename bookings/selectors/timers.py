"""Reads for the booking timers (expiry of stale pending bookings, automatic confirmation)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from bookings.models import Booking, BookingStatus


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
