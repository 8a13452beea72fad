"""Live tracking services (bookings/services/tracking.py, bookings/selectors/tracking.py): who may send and
follow, validation of the fix's time, the per-booking rate limit, Redis-only storage and its end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers

from bookings.errors import (
    BookingNotFound,
    LocationTooFrequent,
    TrackingForbidden,
    TrackingNotActive,
)
from bookings.models import BookingStatus
from bookings.selectors.tracking import booking_tracking_snapshot, position_key
from bookings.services import booking_cancel, booking_transition
from bookings.services.tracking import (
    MAX_POSITION_AGE,
    MIN_UPDATE_INTERVAL_SECONDS,
    POSITION_TTL_SECONDS,
    booking_location_record,
)
from bookings.tests.factories import BookingFactory
from dumuwaks.core.cache import redis_client

pytestmark = pytest.mark.django_db


def _fix(**overrides) -> dict:
    return {
        "lat": -1.2800,
        "lng": 36.8100,
        "accuracy": 12.0,
        "heading": 90.0,
        "speed": 6.5,
        "recorded_at": timezone.now(),
        **overrides,
    }


@pytest.fixture
def trip(customer, technician):
    return BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status=BookingStatus.EN_ROUTE
    )


def test_the_assigned_technicians_fix_is_kept_in_redis_with_an_eta(trip, technician, customer):
    data = booking_location_record(booking_id=trip.pk, technician=technician, position=_fix())
    assert data["booking_id"] == trip.pk and data["status"] == "en_route"
    assert (data["lat"], data["lng"], data["accuracy"]) == (-1.28, 36.81, 12.0)
    assert 1850 < data["distance_meters"] < 1950 and data["eta_seconds"] >= 120
    assert cache.get(position_key(trip.pk)) == data
    ttl = redis_client.ttl(cache.make_key(position_key(trip.pk)))
    assert 0 < ttl <= POSITION_TTL_SECONDS
    assert booking_tracking_snapshot(booking_id=trip.pk, user=customer)["position"] == data


def test_positions_never_reach_postgresql(trip, technician):
    """Nothing in the database holds a position: no table has a column with the fix's coordinates."""
    booking_location_record(booking_id=trip.pk, technician=technician, position=_fix(lat=-1.23456))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('double precision', 'numeric')"
        )
        columns = cursor.fetchall()
        for table, column in columns:
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::float = -1.23456')
            assert cursor.fetchone()[0] == 0, (table, column)


def test_only_the_assigned_technician_while_en_route_or_arrived(
    trip, customer, other_technician, support_agent, technician
):
    with pytest.raises(BookingNotFound):
        booking_location_record(booking_id=trip.pk, technician=other_technician, position=_fix())
    with pytest.raises(BookingNotFound):
        booking_location_record(booking_id=10**12, technician=technician, position=_fix())
    for caller in (customer, support_agent):
        with pytest.raises(TrackingForbidden):
            booking_location_record(booking_id=trip.pk, technician=caller, position=_fix())
    for status in (BookingStatus.ACCEPTED, BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED):
        type(trip).objects.filter(pk=trip.pk).update(status=status)
        with pytest.raises(TrackingNotActive):
            booking_location_record(booking_id=trip.pk, technician=technician, position=_fix())
    assert cache.get(position_key(trip.pk)) is None
    type(trip).objects.filter(pk=trip.pk).update(status=BookingStatus.ARRIVED)
    data = booking_location_record(booking_id=trip.pk, technician=technician, position=_fix())
    assert data["status"] == "arrived" and data["eta_seconds"] == 0


@pytest.mark.parametrize(
    "recorded_at",
    [
        lambda now: now + timedelta(minutes=5),
        lambda now: now - MAX_POSITION_AGE - timedelta(seconds=1),
    ],
    ids=["future", "too-old"],
)
def test_a_fix_from_the_future_or_too_old_is_refused(trip, technician, recorded_at):
    with pytest.raises(serializers.ValidationError) as refused:
        booking_location_record(
            booking_id=trip.pk,
            technician=technician,
            position=_fix(recorded_at=recorded_at(timezone.now())),
        )
    assert "recorded_at" in refused.value.detail
    assert cache.get(position_key(trip.pk)) is None


def test_one_accepted_fix_per_interval_per_booking(trip, technician):
    now = timezone.now()
    booking_location_record(booking_id=trip.pk, technician=technician, position=_fix(), now=now)
    with pytest.raises(LocationTooFrequent) as refused:
        booking_location_record(
            booking_id=trip.pk, technician=technician, position=_fix(lat=-1.0), now=now
        )
    assert refused.value.code == "location_too_frequent" and refused.value.status_code == 429
    assert str(MIN_UPDATE_INTERVAL_SECONDS) in refused.value.message
    assert cache.get(position_key(trip.pk))["lat"] == -1.28  # the refused one stored nothing


def test_no_eta_without_the_jobs_coordinates(customer, technician):
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        status=BookingStatus.EN_ROUTE,
        latitude=None,
        longitude=None,
    )
    data = booking_location_record(booking_id=booking.pk, technician=technician, position=_fix())
    assert (
        data["distance_meters"] is None and data["eta_seconds"] is None and data["eta_at"] is None
    )


def test_followers_are_the_customer_and_staff(
    trip, customer, technician, other_customer, admin_user
):
    assert booking_tracking_snapshot(booking_id=trip.pk, user=customer) == {
        "booking_id": trip.pk,
        "status": "en_route",
        "position": None,
    }
    assert booking_tracking_snapshot(booking_id=trip.pk, user=admin_user)["status"] == "en_route"
    with pytest.raises(TrackingForbidden):
        booking_tracking_snapshot(booking_id=trip.pk, user=technician)
    with pytest.raises(BookingNotFound):
        booking_tracking_snapshot(booking_id=trip.pk, user=other_customer)


@pytest.mark.parametrize("end", ["start", "cancel"])
def test_the_position_is_deleted_when_the_booking_leaves_en_route_or_arrived(
    trip, technician, customer, end, django_capture_on_commit_callbacks
):
    booking_location_record(booking_id=trip.pk, technician=technician, position=_fix())
    booking_transition(booking=trip, to=BookingStatus.ARRIVED, actor=technician)
    assert cache.get(position_key(trip.pk)) is not None  # still tracked once arrived
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        if end == "start":
            booking_transition(booking=trip, to=BookingStatus.IN_PROGRESS, actor=technician)
        else:
            booking_cancel(booking=trip, actor=customer, reason="Changed my mind")
    assert cache.get(position_key(trip.pk)) is not None  # only once the change commits
    for callback in callbacks:
        callback()
    assert cache.get(position_key(trip.pk)) is None
    with pytest.raises(TrackingNotActive):
        booking_tracking_snapshot(booking_id=trip.pk, user=customer)


def test_a_rolled_back_transition_keeps_the_position(
    trip, technician, django_capture_on_commit_callbacks
):
    booking_location_record(booking_id=trip.pk, technician=technician, position=_fix())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        booking_transition(booking=trip, to=BookingStatus.IN_PROGRESS, actor=technician)
        raise RuntimeError
    assert cache.get(position_key(trip.pk)) is not None
