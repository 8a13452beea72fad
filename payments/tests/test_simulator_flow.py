"""The offline simulator backend (what `make run` uses) drives the whole flow through our own callback URLs."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from bookings.models import BookingStatus
from payments.daraja.simulator import deliver_pending_callbacks
from payments.models import Payment, PaymentStatus, Payout, PayoutStatus
from payments.selectors.balances import account_balance
from payments.services.payments import payment_request_stk
from payments.services.payouts import payout_send
from payments.tests.helpers import assert_reconciled, escrow, set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator(settings, anon_client):
    settings.MPESA_BACKEND = "simulator"
    settings.MPESA_SIMULATOR_DELAY_SECONDS = 0
    delivered = []

    def post(url, payload):
        parts = urlsplit(url)
        response = anon_client.post(
            f"{parts.path}?{parts.query}", data=payload, format="json", REMOTE_ADDR="127.0.0.1"
        )
        delivered.append((parts.path, response.status_code))
        assert response.status_code == 200, response.content
        return response

    return lambda: (deliver_pending_callbacks(post=post), delivered)[1]


def test_simulated_deposit_balance_and_payout(simulator, booking, customer, technician):
    deposit = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert deposit.status == PaymentStatus.PENDING
    assert simulator() == [("/api/v1/payments/daraja/stk/result", 200)]
    deposit.refresh_from_db()
    assert deposit.status == PaymentStatus.SUCCEEDED

    set_status(booking, BookingStatus.CONFIRMED)
    balance = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="balance")
    simulator()
    balance.refresh_from_db()
    assert balance.status == PaymentStatus.SUCCEEDED
    assert escrow(booking) == Decimal("0.00")

    payout = Payout.objects.get(booking=booking)
    assert payout_send(payout_id=payout.pk) == "accepted"
    simulator()
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 2
    assert_reconciled()


def test_simulated_insufficient_funds(simulator, booking, customer):
    type(customer).objects.filter(pk=customer.pk).update(phone_number="+254700000099")
    customer.refresh_from_db()
    deposit = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    simulator()
    deposit.refresh_from_db()
    assert deposit.status == PaymentStatus.FAILED
    assert deposit.result_code == "1"
    assert escrow(booking) == Decimal("0.00")
