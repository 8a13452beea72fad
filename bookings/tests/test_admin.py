"""Admin pages render and resolving a dispute from the admin goes through the service."""

import pytest
from django.test import Client

from bookings.models import BookingStatus, Dispute, DisputeStatus
from bookings.tests.factories import (
    BookingFactory,
    DisputeFactory,
    TimeOffFactory,
    WeeklyAvailabilityFactory,
)
from payments.tests.helpers import paid_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_pages_render(admin_web):
    booking = BookingFactory()
    dispute = DisputeFactory()
    WeeklyAvailabilityFactory()
    TimeOffFactory()
    for url in [
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/?q={booking.number}",
        f"/admin/bookings/booking/{booking.pk}/change/",
        "/admin/bookings/dispute/",
        f"/admin/bookings/dispute/{dispute.pk}/change/",
        "/admin/bookings/weeklyavailability/",
        "/admin/bookings/timeoff/",
    ]:
        assert admin_web.get(url).status_code == 200, url


def test_resolve_from_admin_calls_the_service(admin_web, admin_user):
    dispute = DisputeFactory()
    response = admin_web.post(
        f"/admin/bookings/dispute/{dispute.pk}/change/",
        {
            "add_note": "Spoke to both",
            "resolve_outcome": "full_refund",
            "resolve_refund_amount": "",
            "resolve_notes": "Work not done",
            "notes-TOTAL_FORMS": "0",
            "notes-INITIAL_FORMS": "0",
            "status_history-TOTAL_FORMS": "0",
            "status_history-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    dispute = Dispute.objects.get(pk=dispute.pk)
    assert dispute.status == DisputeStatus.RESOLVED and dispute.outcome == "full_refund"
    assert dispute.resolved_by == admin_user
    assert dispute.notes.count() == 1
    dispute.booking.refresh_from_db()
    assert dispute.booking.status == BookingStatus.RESOLVED


def test_resolve_from_admin_with_a_refund_above_what_was_paid_says_why_and_saves_nothing(
    admin_web, admin_user
):
    dispute = DisputeFactory()
    paid_payment(dispute.booking)  # KES 600
    response = admin_web.post(
        f"/admin/bookings/dispute/{dispute.pk}/change/",
        {
            "resolve_outcome": "partial_refund",
            "resolve_refund_amount": "601",
            "resolve_notes": "",
            "notes-TOTAL_FORMS": "0",
            "notes-INITIAL_FORMS": "0",
            "status_history-TOTAL_FORMS": "0",
            "status_history-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert "At most 600.00 KES: what the customer paid" in response.content.decode()
    dispute = Dispute.objects.get(pk=dispute.pk)
    assert (dispute.status, dispute.outcome, dispute.refund_amount) == (
        DisputeStatus.OPEN,
        "",
        None,
    )
