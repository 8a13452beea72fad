"""The whole money flow against the fake Daraja server: deposit → confirm → balance → split → payout → B2C
result, with the ledger reconciled to the shilling after every step."""

from decimal import Decimal

import pytest

from bookings.models import BookingStatus
from bookings.services import booking_transition
from payments.models import (
    CallbackEvent,
    LedgerEntry,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.selectors.balances import account_balance
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import CALLBACK_TOKEN, assert_reconciled, escrow, post_callback

pytestmark = pytest.mark.django_db

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _advance(booking, technician, customer, capture):
    for to in (BookingStatus.ACCEPTED, BookingStatus.EN_ROUTE, BookingStatus.IN_PROGRESS):
        booking_transition(booking=booking, to=to, actor=technician)
    booking_transition(booking=booking, to=BookingStatus.COMPLETED, actor=technician)
    with capture(execute=True):
        booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)


def test_deposit_confirm_balance_split_payout(
    mpesa,
    booking,
    customer,
    technician,
    customer_client,
    anon_client,
    django_capture_on_commit_callbacks,
):
    # 1. Deposit: STK push for 20 % of the price.
    response = customer_client.post(
        "/api/v1/payments/mpesa/stk-push",
        {"bookingId": booking.pk, "phoneNumber": "0712345678"},
        HTTP_IDEMPOTENCY_KEY="deposit-1",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["amount"] == "1000.00"
    pushes = mpesa.requests_to(PATH_STK_PUSH)
    assert len(pushes) == 1
    sent = pushes[0].json
    assert sent["Amount"] == 1000
    assert sent["PhoneNumber"] == "254712345678"
    assert sent["CallBackURL"] == (
        f"https://api.dumuwaks.test/api/v1/payments/daraja/stk/result?token={CALLBACK_TOKEN}"
    )
    # Safaricom refuses callback URLs with these words (shared/integrations.md §1.9).
    path = sent["CallBackURL"].split("?")[0].lower()
    assert not any(word in path for word in ("mpesa", "m-pesa", "safaricom", "query", "exe", "cmd"))
    deposit = Payment.objects.get(pk=body["id"])

    # 2. The success callback credits escrow and marks the deposit paid.
    payload = mpesa.stk_callback_payload(deposit.checkout_request_id, "0")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(anon_client, "callback", payload)
    assert response.status_code == 200
    assert response.json() == ACCEPTED
    deposit.refresh_from_db()
    booking.refresh_from_db()
    assert deposit.status == PaymentStatus.SUCCEEDED
    assert deposit.mpesa_receipt
    assert booking.deposit_paid_at is not None
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()

    # 3. Work done, customer confirms: the balance STK push goes out by itself.
    _advance(booking, technician, customer, django_capture_on_commit_callbacks)
    pushes = mpesa.requests_to(PATH_STK_PUSH)
    assert len(pushes) == 2
    assert pushes[1].json["Amount"] == 4000
    balance = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert balance.status == PaymentStatus.PENDING
    assert Payout.objects.count() == 0

    # 4. Balance paid: escrow holds the full price and splits 85/15; the payout goes out by B2C.
    payload = mpesa.stk_callback_payload(balance.checkout_request_id, "0")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(anon_client, "callback", payload)
    assert response.json() == ACCEPTED
    assert escrow(booking) == Decimal("0.00")
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("4250.00")
    assert account_balance("platform_revenue") == Decimal("750.00")
    payout = Payout.objects.get(booking=booking)
    assert payout.kind == PayoutKind.TECHNICIAN_PAYOUT
    assert payout.amount == Decimal("4250.00")
    assert payout.status == PayoutStatus.AWAITING_RESULT
    assert payout.originator_conversation_id == f"DW-PO-{payout.pk}-1"
    b2c = mpesa.requests_to(PATH_B2C)
    assert len(b2c) == 1
    assert b2c[0].json["Amount"] == 4250
    assert b2c[0].json["PartyB"] == "254733000222"
    assert b2c[0].json["OriginatorConversationID"] == payout.originator_conversation_id
    assert (
        b2c[0]
        .json["ResultURL"]
        .startswith("https://api.dumuwaks.test/api/v1/payments/daraja/b2c/result?token=")
    )
    assert "/payments/daraja/b2c/timeout?token=" in b2c[0].json["QueueTimeOutURL"]
    assert_reconciled()

    # 5. The B2C result: paid, the payable account is empty, the money left by B2C.
    result = mpesa.b2c_result_payload(payout.originator_conversation_id, "0")
    response = post_callback(anon_client, "b2c-callback", result)
    assert response.json() == ACCEPTED
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.receipt
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert account_balance("mpesa_b2c_disbursed") == Decimal("4250.00")
    assert account_balance("customer_clearing") == Decimal("-5000.00")
    assert_reconciled()

    # Replaying the B2C result changes nothing and is still acknowledged.
    entries = LedgerEntry.objects.count()
    response = post_callback(anon_client, "b2c-callback", result)
    assert response.json() == ACCEPTED
    assert LedgerEntry.objects.count() == entries
    event = CallbackEvent.objects.get(kind="b2c_result")
    assert event.replay_count == 1
    assert event.outcome == "paid"
