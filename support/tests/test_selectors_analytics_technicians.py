"""Technician job figures and the completion rate: only outcomes the technician is answerable for.

Bookings of the technician persona created in November 2026 (Nairobi), moved through the booking services:
  confirmed, disputed                          → completed_jobs 2
  cancelled by the technician, by staff        → technician_cancellations 2
  cancelled by the customer                    → customer_cancellations 1 (not in the rate)
  accepted, then handed back (decline)         → declines_after_accept 1; the booking is no longer theirs
  declined before accepting                    → nothing
  expired without an accept, in progress       → jobs only (7 jobs)
completion rate = 2 / (2 + 2 + 1) = 40 %.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_transition
from bookings.tests.factories import BookingFactory
from support.analytics import selectors

pytestmark = pytest.mark.django_db

NBO = ZoneInfo("Africa/Nairobi")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NBO)


@pytest.fixture
def november(customer, technician, other_technician, support_agent):
    slot = iter(range(100))

    def booking(status=BookingStatus.PENDING, *, who=technician, created="2026-11-03 10:00"):
        start = _at("2026-12-20 06:00") + timedelta(hours=2 * next(slot))
        with time_machine.travel(_at(created), tick=False):
            return BookingFactory(
                customer=customer,
                technician=who,
                status=status,
                deposit_paid=True,
                price=Decimal("3000"),
                scheduled_start=start,
                scheduled_end=start + timedelta(hours=1),
            )

    def accepted(**kwargs):
        row = booking(**kwargs)
        return booking_transition(booking=row, to=BookingStatus.ACCEPTED, actor=technician)

    booking(BookingStatus.CONFIRMED)
    booking(BookingStatus.DISPUTED)
    booking(BookingStatus.IN_PROGRESS)
    booking(BookingStatus.EXPIRED)
    booking_cancel(booking=accepted(), actor=technician, reason="Van broke down")
    booking_cancel(booking=accepted(), actor=support_agent, reason="Technician unreachable")
    booking_cancel(booking=accepted(), actor=customer, reason="Fixed it myself")
    handed_back = accepted()
    booking_transition(booking=handed_back, to=BookingStatus.PENDING, actor=technician)
    Booking.objects.filter(pk=handed_back.pk).update(
        technician=other_technician, status=BookingStatus.COMPLETED
    )
    booking_transition(booking=booking(), to=BookingStatus.PENDING, actor=technician)
    # Outside the range: October, and a technician cancellation on 1 December.
    booking(BookingStatus.CONFIRMED, created="2026-10-31 23:59")
    booking_cancel(
        booking=accepted(created="2026-12-01 00:00"), actor=technician, reason="Double-booked"
    )


FIELDS = (
    "jobs",
    "completedJobs",
    "technicianCancellations",
    "customerCancellations",
    "declinesAfterAccept",
    "completionRate",
)


def _row(body, user) -> dict:
    (row,) = [r for r in body["results"] if r["technicianId"] == user.pk]
    return {k: row[k] for k in FIELDS}


def test_completion_rate_counts_only_what_the_technician_answers_for(
    november, technician, other_technician, admin_client_api
):
    body = admin_client_api.get(
        "/api/v1/analytics/technicians?from=2026-11-01&to=2026-11-30"
    ).json()
    assert _row(body, technician) == {
        "jobs": 7,
        "completedJobs": 2,
        "technicianCancellations": 2,
        "customerCancellations": 1,
        "declinesAfterAccept": 1,
        "completionRate": 40.0,
    }
    # The booking handed back and finished by someone else is theirs, and completed.
    assert _row(body, other_technician) == {
        "jobs": 1,
        "completedJobs": 1,
        "technicianCancellations": 0,
        "customerCancellations": 0,
        "declinesAfterAccept": 0,
        "completionRate": 100.0,
    }


def test_the_range_decides_by_booking_creation_in_nairobi_time(
    november, technician, admin_client_api
):
    everything = _row(admin_client_api.get("/api/v1/analytics/technicians").json(), technician)
    assert (everything["jobs"], everything["completedJobs"]) == (9, 3)
    assert everything["technicianCancellations"] == 3
    assert everything["completionRate"] == 42.86  # 3 / (3 + 3 + 1)
    december = _row(
        admin_client_api.get("/api/v1/analytics/technicians?from=2026-12-01").json(), technician
    )
    assert december == {
        "jobs": 1,
        "completedJobs": 0,
        "technicianCancellations": 1,
        "customerCancellations": 0,
        "declinesAfterAccept": 0,
        "completionRate": 0.0,
    }


def test_no_attributable_outcome_is_a_null_rate_sorted_last(
    customer, technician, other_technician, admin_client_api
):
    start = _at("2026-12-20 06:00")
    BookingFactory(
        customer=customer,
        technician=technician,
        status=BookingStatus.EXPIRED,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
    )
    BookingFactory(
        customer=customer,
        technician=other_technician,
        status=BookingStatus.CONFIRMED,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
    )
    body = admin_client_api.get("/api/v1/analytics/technicians?ordering=-completionRate").json()
    assert [(r["technicianId"], r["completionRate"]) for r in body["results"]] == [
        (other_technician.pk, 100.0),
        (technician.pk, None),
    ]
    assert selectors.technician_performance().get(pk=technician.pk).jobs == 1
