"""Who an STK prompt may go to, one open request per booking and purpose (409 / supersede), the result of a
successful payment, and AccountReferences that never repeat."""

from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import User
from payments import tasks
from payments.models import Payment, PaymentStatus
from payments.services.payments import payment_account_reference
from payments.tests.fakes.daraja import PATH_STK_PUSH
from payments.tests.helpers import (
    assert_reconciled,
    escrow,
    make_booking,
    paid_payment,
    post_callback,
)

pytestmark = pytest.mark.django_db

STK_PUSH = "/api/v1/payments/mpesa/stk-push"
SUCCESS_DESC = "The service request is processed successfully."


@pytest.fixture
def unverified(customer):
    User.objects.filter(pk=customer.pk).update(is_phone_verified=False)
    customer.is_phone_verified = False
    return customer


def _push(client, booking, **body):
    return client.post(STK_PUSH, {"bookingId": booking.pk, **body}, format="json")


def _refused_and_nothing_sent(response, mpesa):
    assert response.status_code == 400
    assert response.json()["code"] == "phone_confirmation_required"
    assert "confirmPhone" in response.json()["message"]
    assert Payment.objects.count() == 0
    assert mpesa.requests_to(PATH_STK_PUSH) == []


# --- phone rule --------------------------------------------------------------------------------------------


def test_own_verified_number_needs_no_confirmation(mpesa, booking, customer_client):
    response = _push(customer_client, booking)
    assert response.status_code == 201
    assert response.json()["phone"] == "+254712345678"
    assert mpesa.requests_to(PATH_STK_PUSH)[0].json["PhoneNumber"] == "254712345678"


def test_stranger_number_is_refused_without_confirmation(mpesa, booking, customer_client):
    _refused_and_nothing_sent(_push(customer_client, booking, phoneNumber="0799888777"), mpesa)
    _refused_and_nothing_sent(
        _push(customer_client, booking, phoneNumber="0799888777", confirmPhone=False), mpesa
    )


def test_stranger_number_is_prompted_when_the_request_confirms_it(mpesa, booking, customer_client):
    response = _push(customer_client, booking, phoneNumber="0799888777", confirmPhone=True)
    assert response.status_code == 201
    assert response.json()["phone"] == "+254799888777"
    assert mpesa.requests_to(PATH_STK_PUSH)[0].json["PhoneNumber"] == "254799888777"


def test_own_unverified_number_needs_confirmation(mpesa, booking, unverified, customer_client):
    _refused_and_nothing_sent(_push(customer_client, booking), mpesa)
    response = _push(customer_client, booking, confirmPhone=True)
    assert response.status_code == 201
    assert response.json()["phone"] == "+254712345678"


def test_a_number_that_paid_for_the_customer_before_needs_no_confirmation(
    mpesa, booking, customer, technician, service_category, customer_client
):
    earlier = paid_payment(booking)
    Payment.objects.filter(pk=earlier.pk).update(phone="+254799888777")  # paid from that number
    other = make_booking(customer, technician, category=service_category)
    response = _push(customer_client, other, phoneNumber="0799888777")
    assert response.status_code == 201
    assert response.json()["phone"] == "+254799888777"


def test_automatic_deposit_request_never_prompts_an_unverified_number(mpesa, booking, unverified):
    assert tasks.payment_request_deposit_task.apply(args=[booking.pk]).get() == (
        "phone_confirmation_required"
    )
    assert Payment.objects.count() == 0
    assert mpesa.requests_to(PATH_STK_PUSH) == []


# --- one open request --------------------------------------------------------------------------------------


def test_push_while_one_is_pending_is_409_with_the_pending_payment(mpesa, booking, customer_client):
    first = _push(customer_client, booking).json()
    response = _push(customer_client, booking, phoneNumber="0799888777", confirmPhone=True)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "payment_pending"
    assert body["payment"] == {
        "id": first["id"],
        "status": "pending",
        "method": "mpesa",
        "phone": "+254712345678",
        # as the payment itself shows it, in Nairobi time (found from outside: it was UTC here only)
        "expiresAt": first["expiresAt"],
    }
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    assert Payment.objects.count() == 1


def test_same_idempotency_key_while_pending_is_the_same_request_not_a_conflict(
    mpesa, booking, customer_client
):
    first = customer_client.post(STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="k1")
    again = customer_client.post(STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


def test_supersede_cancels_the_pending_request_and_sends_a_new_prompt(
    mpesa, booking, customer, customer_client, anon_client
):
    old = Payment.objects.get(pk=_push(customer_client, booking).json()["id"])
    response = _push(
        customer_client, booking, phoneNumber="0799888777", confirmPhone=True, supersede=True
    )
    assert response.status_code == 201
    new = Payment.objects.get(pk=response.json()["id"])
    assert (new.status, new.phone) == (PaymentStatus.PENDING, "+254799888777")
    old.refresh_from_db()
    assert old.status == PaymentStatus.CANCELLED
    row = old.status_history.last()
    assert (row.from_status, row.to_status, row.actor_id) == ("pending", "cancelled", customer.pk)
    assert "superseded" in row.note
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 2

    # The customer still answers the first prompt: that money is credited, never ignored.
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(old.checkout_request_id, "0"))
    old.refresh_from_db()
    booking.refresh_from_db()
    assert old.status == PaymentStatus.SUCCEEDED
    assert booking.deposit_paid_at is not None
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_supersede_without_anything_pending_is_a_normal_push(mpesa, booking, customer_client):
    response = _push(customer_client, booking, supersede=True)
    assert response.status_code == 201
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


# --- result of a successful payment ------------------------------------------------------------------------


def test_successful_payment_carries_the_callbacks_result(
    mpesa, booking, customer_client, anon_client
):
    payment_id = _push(customer_client, booking).json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    post_callback(
        anon_client, "callback", mpesa.stk_callback_payload(payment.checkout_request_id, "0")
    )
    body = customer_client.get(f"/api/v1/payments/transactions/{payment_id}").json()
    assert body["status"] == "succeeded"
    assert (body["resultCode"], body["resultDesc"]) == ("0", SUCCESS_DESC)


# --- AccountReference ----------------------------------------------------------------------------------------


def test_account_references_are_short_alphanumeric_and_never_repeat():
    ids = [*range(1, 5000), *range(999_000, 1_001_000), *range(46_655, 46_660), 36**9 - 1]
    references = [payment_account_reference(i) for i in ids]
    assert len(set(references)) == len(ids)
    assert all(len(r) <= 12 and r.isalnum() and r.startswith("DWP") for r in references)
    assert payment_account_reference(999_999) == "DWPLFLR"
    assert payment_account_reference(1_000_000) == "DWPLFLS"
    # Old references were the booking number ("DW" + digits): a new one never starts that way.
    assert all(not r[2].isdigit() for r in references)
    with pytest.raises(ValueError):
        payment_account_reference(36**9)


def test_push_past_payment_one_million_sends_the_payments_own_reference(
    mpesa, booking, customer_client
):
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('payments_payment', 'id'), 1234566)")
    payment_id = _push(customer_client, booking).json()["id"]
    assert payment_id == 1_234_567
    (request,) = mpesa.requests_to(PATH_STK_PUSH)
    assert request.json["AccountReference"] == payment_account_reference(1_234_567) == "DWPQGLJ"
