"""Agreements under concurrent requests: the booking lock decides, money moves once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import BookingStatus
from bookings.services import change_order_create, reschedule_propose
from bookings.tests.factories import BookingFactory
from conftest import bearer_client, race
from payments.models import Payout, PayoutKind
from payments.tests.helpers import assert_reconciled, escrow, paid_payment, set_status


@pytest.mark.django_db(transaction=True)
def test_two_approvals_of_a_lowering_change_order_refund_once(domain_events):
    customer, technician = CustomerFactory(), TechnicianFactory()
    booking = BookingFactory(customer=customer, technician=technician, price=Decimal("5000"))
    paid_payment(booking)
    set_status(booking, BookingStatus.IN_PROGRESS)
    order, _ = change_order_create(
        booking=booking, technician=technician, amount="-4400", note="Only a washer"
    )
    clients = [bearer_client(customer) for _ in range(2)]
    url = f"/api/v1/bookings/{booking.pk}/change-orders/{order.pk}/approve"
    responses = race(*[lambda c=c: c.post(url, {}, format="json") for c in clients])
    assert [r.status_code for r in responses] == [200, 200]  # the second is the same answer again
    assert Payout.objects.filter(booking=booking, kind=PayoutKind.REFUND).count() == 1
    assert escrow(booking) == Decimal("600")
    assert_reconciled()


@pytest.mark.django_db(transaction=True)
def test_accept_and_withdraw_racing_one_wins(domain_events):
    customer, technician = CustomerFactory(), TechnicianFactory()
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        deposit_paid=True,
        status=BookingStatus.ACCEPTED,
        scheduled_start=timezone.now() + timedelta(days=3),
    )
    old_start = booking.scheduled_start
    proposal, _ = reschedule_propose(
        booking=booking,
        actor=customer,
        scheduled_start=old_start + timedelta(days=1),
        reason="Travelling",
    )
    base = f"/api/v1/bookings/{booking.pk}/reschedule-proposals/{proposal.pk}"
    accept = bearer_client(technician)
    withdraw = bearer_client(customer)
    responses = race(
        lambda: accept.post(f"{base}/accept", {}, format="json"),
        lambda: withdraw.post(f"{base}/withdraw", {}, format="json"),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409]
    proposal.refresh_from_db()
    booking.refresh_from_db()
    moved = booking.scheduled_start != old_start
    assert moved == (proposal.status == "accepted")
