"""Availability rules: weekly hours, time-off, overlapping bookings, set-based busy check, free slots API."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import TechnicianFactory
from bookings.models import BookingStatus, TimeOff, WeeklyAvailability
from bookings.selectors import (
    busy_technician_ids,
    technician_free_slots,
    technician_unavailability_reason,
)
from bookings.tests.factories import BookingFactory, TimeOffFactory, WeeklyAvailabilityFactory

pytestmark = pytest.mark.django_db


def _next_weekday(weekday: int, at: time) -> datetime:
    today = timezone.localdate()
    days = (weekday - today.weekday()) % 7 or 7
    return datetime.combine(
        today + timedelta(days=days), at, tzinfo=timezone.get_current_timezone()
    )


def test_technician_without_hours_is_free_any_time():
    technician = TechnicianFactory()
    start = _next_weekday(6, time(3, 0))  # Sunday 03:00
    assert (
        technician_unavailability_reason(
            technician=technician, start=start, end=start + timedelta(hours=1)
        )
        is None
    )


def test_slot_must_fit_inside_a_weekly_window():
    technician = TechnicianFactory()
    WeeklyAvailabilityFactory(
        technician=technician, weekday=0, start_time=time(8), end_time=time(17)
    )
    monday_9 = _next_weekday(0, time(9))
    assert (
        technician_unavailability_reason(
            technician=technician, start=monday_9, end=monday_9 + timedelta(hours=8)
        )
        is None
    )
    assert (
        technician_unavailability_reason(
            technician=technician, start=monday_9, end=monday_9 + timedelta(hours=8, minutes=1)
        )
        == "outside_working_hours"
    )
    tuesday_9 = monday_9 + timedelta(days=1)
    assert (
        technician_unavailability_reason(
            technician=technician, start=tuesday_9, end=tuesday_9 + timedelta(hours=1)
        )
        == "outside_working_hours"
    )


def test_window_until_midnight():
    technician = TechnicianFactory()
    WeeklyAvailabilityFactory(
        technician=technician, weekday=4, start_time=time(18), end_time=time(23, 59)
    )
    friday_23 = _next_weekday(4, time(23))
    assert (
        technician_unavailability_reason(
            technician=technician, start=friday_23, end=friday_23 + timedelta(hours=1)
        )
        is None
    )
    assert (
        technician_unavailability_reason(
            technician=technician, start=friday_23, end=friday_23 + timedelta(hours=2)
        )
        == "outside_working_hours"
    )


def test_time_off_blocks_overlapping_slots_only():
    technician = TechnicianFactory()
    start = timezone.now() + timedelta(days=3)
    TimeOffFactory(technician=technician, starts_at=start, ends_at=start + timedelta(hours=4))
    assert (
        technician_unavailability_reason(
            technician=technician, start=start + timedelta(hours=3), end=start + timedelta(hours=5)
        )
        == "time_off"
    )
    assert (
        technician_unavailability_reason(
            technician=technician, start=start + timedelta(hours=4), end=start + timedelta(hours=5)
        )
        is None
    )


def test_only_active_bookings_block_the_slot():
    technician = TechnicianFactory()
    booking = BookingFactory(technician=technician)
    slot = {"start": booking.scheduled_start, "end": booking.scheduled_end}
    assert technician_unavailability_reason(technician=technician, **slot) == "booked"
    assert (
        technician_unavailability_reason(
            technician=technician, exclude_booking_id=booking.pk, **slot
        )
        is None
    )
    type(booking).objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    assert technician_unavailability_reason(technician=technician, **slot) is None


def test_busy_technician_ids_is_set_based(django_assert_max_num_queries):
    free = TechnicianFactory()
    booked = TechnicianFactory()
    off = TechnicianFactory()
    outside = TechnicianFactory()
    start = _next_weekday(2, time(10))
    end = start + timedelta(hours=1)
    BookingFactory(
        technician=booked, scheduled_start=start - timedelta(minutes=30), scheduled_end=end
    )
    TimeOffFactory(technician=off, starts_at=start, ends_at=end + timedelta(days=1))
    WeeklyAvailabilityFactory(technician=outside, weekday=2, start_time=time(14), end_time=time(18))
    WeeklyAvailabilityFactory(technician=free, weekday=2, start_time=time(8), end_time=time(12))
    ids = [free.pk, booked.pk, off.pk, outside.pk, 10**9]
    with django_assert_max_num_queries(3):
        busy = busy_technician_ids(technician_ids=ids, start=start, end=end)
    assert busy == {booked.pk, off.pk, outside.pk}


def test_busy_technician_ids_accepts_a_queryset():
    booked = TechnicianFactory()
    booking = BookingFactory(technician=booked)
    candidates = User.objects.filter(role="technician").values("pk")
    assert busy_technician_ids(
        technician_ids=candidates, start=booking.scheduled_start, end=booking.scheduled_end
    ) == {booked.pk}


def test_free_slots_skip_bookings_time_off_and_the_past():
    technician = TechnicianFactory()
    monday = _next_weekday(0, time(0)).date()
    WeeklyAvailabilityFactory(
        technician=technician, weekday=0, start_time=time(8), end_time=time(12)
    )
    tz = timezone.get_current_timezone()
    BookingFactory(
        technician=technician,
        scheduled_start=datetime.combine(monday, time(9), tzinfo=tz),
        scheduled_end=datetime.combine(monday, time(10), tzinfo=tz),
    )
    TimeOff.objects.create(
        technician=technician,
        starts_at=datetime.combine(monday, time(11, 30), tzinfo=tz),
        ends_at=datetime.combine(monday, time(13), tzinfo=tz),
    )
    slots, has_hours = technician_free_slots(
        technician=technician, date_from=monday, date_to=monday
    )
    assert has_hours
    assert [(s.start.astimezone(tz).hour, s.end.astimezone(tz).hour) for s in slots] == [
        (8, 9),
        (10, 11),
    ]


def test_free_slots_api(customer_client, technician):
    monday = _next_weekday(0, time(0)).date()
    WeeklyAvailability.objects.create(
        technician=technician, weekday=0, start_time=time(8), end_time=time(10)
    )
    response = customer_client.get(
        f"/api/v1/users/{technician.pk}/availability?from={monday}&to={monday + timedelta(days=6)}"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["technicianId"] == technician.pk and body["hasWorkingHours"] is True
    assert len(body["slots"]) == 2


def test_free_slots_range_is_capped(customer_client, technician):
    today = timezone.localdate()
    response = customer_client.get(
        f"/api/v1/users/{technician.pk}/availability?from={today}&to={today + timedelta(days=31)}"
    )
    assert response.status_code == 400 and "to" in response.json()["fields"]
    response = customer_client.get(
        f"/api/v1/users/{technician.pk}/availability?from={today}&to={today - timedelta(days=1)}"
    )
    assert response.status_code == 400
    assert (
        customer_client.get(f"/api/v1/users/{technician.pk}/availability?from=nonsense").status_code
        == 400
    )


def test_free_slots_of_a_non_technician_is_404(customer_client, customer):
    assert customer_client.get(f"/api/v1/users/{customer.pk}/availability").status_code == 404


def test_technician_replaces_own_availability(technician_client, technician):
    start = (timezone.now() + timedelta(days=5)).replace(microsecond=0)
    payload = {
        "weeklyHours": [
            {"weekday": 0, "startTime": "08:00", "endTime": "12:00"},
            {"weekday": 0, "startTime": "13:00", "endTime": "17:00"},
        ],
        "timeOff": [
            {
                "startsAt": start.isoformat(),
                "endsAt": (start + timedelta(days=1)).isoformat(),
                "reason": "Wedding",
            }
        ],
    }
    response = technician_client.put("/api/v1/users/me/availability", payload)
    assert response.status_code == 200, response.json()
    body = technician_client.get("/api/v1/users/me/availability").json()
    assert [(w["weekday"], w["startTime"], w["endTime"]) for w in body["weeklyHours"]] == [
        (0, "08:00:00", "12:00:00"),
        (0, "13:00:00", "17:00:00"),
    ]
    assert body["timeOff"][0]["reason"] == "Wedding"
    # PUT replaces: an empty schedule means available any time again.
    technician_client.put("/api/v1/users/me/availability", {"weeklyHours": [], "timeOff": []})
    assert not WeeklyAvailability.objects.filter(technician=technician).exists()


@pytest.mark.parametrize(
    "weekly",
    [
        [{"weekday": 0, "startTime": "12:00", "endTime": "08:00"}],
        [{"weekday": 7, "startTime": "08:00", "endTime": "12:00"}],
        [
            {"weekday": 1, "startTime": "08:00", "endTime": "12:00"},
            {"weekday": 1, "startTime": "11:00", "endTime": "14:00"},
        ],
    ],
)
def test_invalid_weekly_hours_are_refused(technician_client, technician, weekly):
    WeeklyAvailabilityFactory(technician=technician, weekday=3)
    response = technician_client.put(
        "/api/v1/users/me/availability", {"weeklyHours": weekly, "timeOff": []}
    )
    assert response.status_code == 400
    assert WeeklyAvailability.objects.filter(technician=technician).count() == 1  # unchanged


def test_customers_cannot_set_availability(customer_client):
    response = customer_client.put(
        "/api/v1/users/me/availability", {"weeklyHours": [], "timeOff": []}
    )
    assert response.status_code == 403
    assert customer_client.get("/api/v1/users/me/availability").status_code == 403
