"""`booking_list_rows` (hand-written SQL) returns what `booking_list` (the ORM reference) returns, in order."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import KycStatus, TechnicianProfile
from accounts.tests.factories import ServiceCategoryFactory, UserFactory
from bookings import selectors
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory

pytestmark = pytest.mark.django_db


def _assert_same_rows(arguments: dict, *, page_size: int = 7):
    filters = selectors.BookingListFilters(**arguments)
    reference = list(selectors.booking_list(filters=filters).values_list("id", "status"))
    for offset in range(0, len(reference) + page_size, page_size):
        rows = selectors.booking_list_rows(filters=filters, offset=offset, limit=page_size)
        expected = reference[offset : offset + page_size]
        assert [(row.id, row.status) for row in rows] == expected, (filters, offset)
        assert all(row.total == len(reference) for row in rows)


def test_every_viewer_filter_and_ordering_matches_the_orm(staff_user):
    plumbing = ServiceCategoryFactory()
    electrical = ServiceCategoryFactory(slug="electrical")
    customer = UserFactory()
    technician = BookingFactory().technician
    start = timezone.now() + timedelta(days=2)
    statuses = [
        BookingStatus.PENDING,
        BookingStatus.ACCEPTED,
        BookingStatus.COMPLETED,
        BookingStatus.CANCELLED,
    ]
    for index in range(16):
        BookingFactory(
            customer=customer if index % 2 else UserFactory(),
            technician=None if index % 5 == 0 else technician,
            status=statuses[index % 4],
            deposit_paid=index % 3 != 0,
            category=electrical if index % 4 == 0 else plumbing,
            scheduled_start=start + timedelta(hours=5 * index),
            price=Decimal(1000 + 100 * (index % 3)),  # ties: the id breaks them
        )
    open_jobs = [
        BookingFactory(
            technician=None, deposit_paid=True, scheduled_start=start + timedelta(hours=h)
        )
        for h in (1, 2)
    ]
    BookingFactory(
        technician=None, deposit_paid=True, scheduled_start=timezone.now() - timedelta(minutes=5)
    )  # started already: no longer offered
    BookingFactory(
        technician=None, deposit_paid=False, scheduled_start=start
    )  # not paid: not offered yet
    unapproved = BookingFactory().technician
    TechnicianProfile.objects.filter(user=unapproved).update(kyc_status=KycStatus.PENDING)
    middle = (start + timedelta(hours=30)).astimezone(timezone.get_fixed_timezone(180))
    filter_sets = [
        {},
        {"statuses": ["pending"]},
        {"statuses": ["accepted", "completed"]},
        {"category_id": electrical.pk},
        {"date_from": middle},
        {"date_to": middle},
        {"date_from": start, "date_to": middle, "statuses": ["pending", "cancelled"]},
        *({"ordering": ordering} for ordering in selectors.BOOKING_ORDERINGS),
        {"ordering": "not-an-ordering"},
    ]
    for viewer in (customer, technician, staff_user, unapproved, UserFactory()):
        for filters in filter_sets:
            _assert_same_rows({"user": viewer, **filters})
        for filters in ({}, {"category_id": plumbing.pk}, {"ordering": "price"}):
            _assert_same_rows({"user": viewer, "available": True, **filters})
    offered = selectors.booking_list_rows(
        filters=selectors.BookingListFilters(user=technician, available=True), offset=0, limit=50
    )
    assert {row.id for row in offered} == {job.pk for job in open_jobs}
    assert not selectors.booking_list_rows(
        filters=selectors.BookingListFilters(user=unapproved, available=True), offset=0, limit=50
    )
