"""GET /bookings reads its page through a statement compiled once per shape (dumuwaks.core.compiled_queries):
for every scope of the visibility rule and the filters, the compiled page is the ORM's `booking_list`."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.tests.factories import (
    CustomerFactory,
    ServiceCategoryFactory,
    TechnicianFactory,
    UserFactory,
)
from bookings import selectors
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    plumbing = ServiceCategoryFactory()
    customer, other_customer = CustomerFactory(), CustomerFactory()
    technician = TechnicianFactory(skill=plumbing)
    bookings = [
        BookingFactory(customer=customer, technician=technician, category=plumbing),
        BookingFactory(customer=customer, technician=None, category=plumbing, deposit_paid=True),
        BookingFactory(
            customer=other_customer, technician=None, category=plumbing, deposit_paid=True
        ),
        BookingFactory(customer=other_customer, technician=technician, status="cancelled"),
        BookingFactory(customer=customer, status=BookingStatus.COMPLETED),
    ]
    return {
        "customer": customer,
        "technician": technician,
        "staff": UserFactory(role="support", is_staff=True),
        "bookings": bookings,
    }


FILTERS = [
    {},
    {"ordering": "createdAt"},
    {"ordering": "-price"},
    {"status": "pending,cancelled"},
    {"available": "true"},
    {"available": "false", "ordering": "status"},
]


@pytest.mark.parametrize("persona", ["customer", "technician", "staff"])
@pytest.mark.parametrize("filters", FILTERS)
def test_the_compiled_page_is_the_orms_list(world, persona, filters):
    user = world[persona]
    expected = list(selectors.booking_list(user=user, filters=filters).values_list("id", flat=True))
    listed = selectors.booking_list_versions(user=user, filters=filters)
    for offset, limit in [(0, 20), (1, 2), (4, 20)]:
        for _ in range(3):  # the ORM's, then compiled, then the compiled statement again
            rows = listed.window(offset, limit)
            assert [row.id for row in rows] == expected[offset : offset + limit]
            assert all(row.total == len(expected) for row in rows)


def test_open_jobs_are_read_at_the_time_of_the_request(world):
    """The instant is a parameter of the compiled statement, not the one it was compiled at."""
    technician = world["technician"]
    listed = selectors.booking_list_versions(user=technician, filters={"available": "true"})
    open_jobs = [row.id for row in listed.window(0, 20)]
    assert len(open_jobs) == 2
    assert [row.id for row in listed.window(0, 20)] == open_jobs  # compiled now
    first_start = min(b.scheduled_start for b in world["bookings"] if b.pk in open_jobs)
    with time_machine.travel(first_start + timedelta(seconds=1)):
        later = [row.id for row in listed.window(0, 20)]
    assert len(later) == 1 and later[0] in open_jobs


def test_the_api_pages_and_filters_the_same_after_compiling(world):
    client = bearer_client(world["customer"])
    for query in ["", "?pageSize=1", "?pageSize=1&page=2", "?status=pending", "?page=9"]:
        bodies = {client.get(f"/api/v1/bookings{query}").content for _ in range(3)}
        assert len(bodies) == 1, query
    response = client.get("/api/v1/bookings?pageSize=1&page=2")
    assert response.json()["count"] == 3 and len(response.json()["results"]) == 1
    assert client.get("/api/v1/bookings?page=9").status_code == 404


def test_a_new_booking_shows_in_a_compiled_list(world):
    client = bearer_client(world["customer"])
    before = [client.get("/api/v1/bookings").json()["count"] for _ in range(3)]
    BookingFactory(customer=world["customer"], scheduled_start=timezone.now() + timedelta(days=9))
    assert before == [3, 3, 3] and client.get("/api/v1/bookings").json()["count"] == 4
