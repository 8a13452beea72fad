"""Reschedule proposals, quotes and change orders: each step notifies the other party, in their language."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingProposal, BookingStatus, ProposalKind
from bookings.services import (
    change_order_create,
    proposal_accept,
    proposal_decline,
    proposal_expire_due,
    reschedule_propose,
)
from bookings.tests.factories import BookingFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def _types_by_user():
    return sorted(Notification.objects.values_list("user_id", "type"))


@pytest.fixture
def accepted(customer, technician):
    return BookingFactory(
        customer=customer,
        technician=technician,
        price=Decimal("5000"),
        deposit_paid=True,
        status=BookingStatus.ACCEPTED,
        scheduled_start=timezone.now() + timedelta(days=3),
    )


def test_reschedule_steps_notify_the_other_party(
    accepted, customer, technician, django_capture_on_commit_callbacks
):
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        proposal, _ = reschedule_propose(
            booking=accepted,
            actor=customer,
            scheduled_start=accepted.scheduled_start + timedelta(days=1),
            reason="Safari",
        )
    assert _types_by_user() == [(technician.pk, "booking.reschedule_proposed")]
    note = Notification.objects.get()
    assert note.title == "Muda mpya umependekezwa" and "Safari" in note.body
    with django_capture_on_commit_callbacks(execute=True):
        proposal_accept(
            booking=accepted,
            proposal_id=proposal.pk,
            kind=ProposalKind.RESCHEDULE,
            actor=technician,
        )
    assert (customer.pk, "booking.reschedule_accepted") in _types_by_user()
    assert Notification.objects.count() == 2


def test_change_order_rejected_and_expired(
    accepted, customer, technician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = change_order_create(
            booking=accepted, technician=technician, amount="700", note="New trap"
        )
    body = Notification.objects.get(user=customer).body
    assert "KES +700.00" in body and "KES 5700.00" in body
    with django_capture_on_commit_callbacks(execute=True):
        proposal_decline(
            booking=accepted, proposal_id=order.pk, kind=ProposalKind.CHANGE_ORDER, actor=customer
        )
    assert (technician.pk, "booking.change_order_declined") in _types_by_user()

    with django_capture_on_commit_callbacks(execute=True):
        second, _ = change_order_create(
            booking=accepted, technician=technician, amount="300", note="Smaller trap"
        )
    BookingProposal.objects.filter(pk=second.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert proposal_expire_due() == 1
    assert _types_by_user() == sorted(
        [
            (customer.pk, "booking.change_order_expired"),
            (technician.pk, "booking.change_order_expired"),
        ]
    )
