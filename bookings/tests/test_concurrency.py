"""Two concurrent requests for one technician's slot: the exclusion constraint lets exactly one win."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, ServiceCategoryFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory
from conftest import bearer_client, race


@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_one_slot(domain_events):
    category = ServiceCategoryFactory()
    technician = TechnicianFactory(skill=category)
    clients = [bearer_client(CustomerFactory()) for _ in range(2)]
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

    def book(client, offset_minutes):
        def call():
            return client.post(
                "/api/v1/bookings",
                {
                    "categoryId": category.pk,
                    "title": "Fix tap",
                    "address": "Ngong Rd",
                    "scheduledStart": (start + timedelta(minutes=offset_minutes)).isoformat(),
                    "durationMinutes": 60,
                    "price": "2000",
                    "technicianId": technician.pk,
                },
            )

        return call

    responses = race(book(clients[0], 0), book(clients[1], 30))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "slot_taken"
    assert Booking.objects.filter(technician=technician).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_technician_racing_to_accept_two_overlapping_open_jobs(domain_events):
    technician = TechnicianFactory()
    first = BookingFactory(technician=None, deposit_paid=True)
    second = BookingFactory(
        technician=None,
        deposit_paid=True,
        scheduled_start=first.scheduled_start + timedelta(minutes=15),
        scheduled_end=first.scheduled_end + timedelta(minutes=15),
    )
    client_a, client_b = bearer_client(technician), bearer_client(technician)
    responses = race(
        lambda: client_a.post(f"/api/v1/bookings/{first.pk}/accept"),
        lambda: client_b.post(f"/api/v1/bookings/{second.pk}/accept"),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "slot_taken"
    assert Booking.objects.filter(technician=technician, status=BookingStatus.ACCEPTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_technicians_racing_for_one_open_job(domain_events):
    booking = BookingFactory(technician=None, deposit_paid=True)
    a, b = TechnicianFactory(), TechnicianFactory()
    responses = race(
        lambda: bearer_client(a).post(f"/api/v1/bookings/{booking.pk}/accept"),
        lambda: bearer_client(b).post(f"/api/v1/bookings/{booking.pk}/accept"),
    )
    # The loser sees what anyone sees after the winner: the job is someone else's now, so not found (404),
    # whether it read the job before the winner's update or after.
    assert sorted(r.status_code for r in responses) == [200, 404], [r.content for r in responses]
    assert [r.json()["code"] for r in responses if r.status_code == 404] == ["booking_not_found"]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED and booking.technician in (a, b)
    assert booking.status_history.count() == 1
