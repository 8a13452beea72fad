"""HTTP API: STK push + Idempotency-Key, query, transactions (own/staff, IDOR), receipts, fee breakdown."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from bookings.models import BookingStatus
from payments.models import Payment, PaymentPurpose, PaymentStatus, Payout
from payments.receipts import receipt_text
from payments.services.escrow import booking_settle_cancellation
from payments.services.payments import payment_request_stk
from payments.services.payouts import payout_send
from payments.tests.fakes.daraja import PATH_STK_PUSH, PATH_STK_QUERY
from payments.tests.helpers import (
    deliver_b2c_result_twice,
    make_booking,
    paid_payment,
    post_callback,
    set_status,
)

pytestmark = pytest.mark.django_db

STK_PUSH = "/api/v1/payments/mpesa/stk-push"


def test_same_idempotency_key_returns_the_same_payment_and_sends_one_prompt(
    mpesa, booking, customer_client
):
    first = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="key-123"
    )
    second = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="key-123"
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["phone"] == "+254712345678"  # the customer's own number by default
    assert Payment.objects.count() == 1
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


def test_second_push_while_one_is_pending_is_a_conflict_naming_the_pending_one(
    mpesa, booking, customer_client
):
    first = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    second = customer_client.post(STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="x")
    assert second.status_code == 409
    assert second.json()["code"] == "payment_pending"
    assert second.json()["payment"]["id"] == first.json()["id"]
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


def test_idempotency_key_reused_for_another_booking_is_a_conflict(
    mpesa, booking, customer, technician, customer_client, service_category
):
    customer_client.post(STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="same")
    other = make_booking(customer, technician, category=service_category)
    response = customer_client.post(STK_PUSH, {"bookingId": other.pk}, HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "bookingId"),
        ({"bookingId": "x"}, "bookingId"),
        ({"bookingId": 1, "purpose": "x"}, "purpose"),
    ],
)
def test_stk_push_validation(customer_client, body, field):
    response = customer_client.post(STK_PUSH, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_invalid_phone_is_a_400_and_sends_nothing(mpesa, booking, customer_client):
    response = customer_client.post(STK_PUSH, {"bookingId": booking.pk, "phoneNumber": "12345"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_phone_number"
    assert Payment.objects.count() == 0
    assert mpesa.requests_to(PATH_STK_PUSH) == []


def test_someone_elses_booking_is_404_and_sends_nothing(mpesa, booking, other_customer_client):
    response = other_customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert response.status_code == 404
    assert Payment.objects.count() == 0
    assert mpesa.requests_to(PATH_STK_PUSH) == []


def test_paid_deposit_cannot_be_pushed_again(mpesa, booking, customer_client):
    paid_payment(booking)
    response = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "already_paid"


def test_balance_is_not_due_before_confirmation(mpesa, booking, customer_client):
    paid_payment(booking)
    response = customer_client.post(STK_PUSH, {"bookingId": booking.pk, "purpose": "balance"})
    assert response.status_code == 409
    assert response.json()["code"] == "payment_not_due"


def test_rejected_stk_push_is_a_502_and_the_customer_can_try_again(mpesa, booking, customer_client):
    mpesa.fail_next(PATH_STK_PUSH, "invalid_token", times=2)  # refused twice: a definite rejection
    response = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_rejected"
    assert response.json()["payment"]["status"] == "failed"
    assert "Invalid Access Token" not in response.content.decode()
    # The customer can try again: a new payment, a new prompt.
    response = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert response.status_code == 201
    assert response.json()["status"] == "pending"


def test_query_endpoint_checks_a_pending_payment(mpesa, booking, customer_client):
    payment_id = customer_client.post(STK_PUSH, {"bookingId": booking.pk}).json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    response = customer_client.get(f"/api/v1/payments/mpesa/{payment_id}/query")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 1


def test_query_endpoint_hides_other_peoples_payments(mpesa, booking, other_customer_client):
    payment = paid_payment(booking)
    response = other_customer_client.get(f"/api/v1/payments/mpesa/{payment.pk}/query")
    assert response.status_code == 404
    assert mpesa.requests_to(PATH_STK_QUERY) == []


# --- transactions -------------------------------------------------------------------------------------------


@pytest.fixture
def history(booking, technician):
    """Deposit + balance paid by the customer, payout created for the technician."""
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, PaymentPurpose.BALANCE)
    return booking


def test_transactions_lists_own_payments_and_payouts(
    history, customer_client, technician_client, other_customer_client, support_client
):
    body = customer_client.get("/api/v1/payments/transactions").json()
    assert body["count"] == 2
    assert {row["kind"] for row in body["results"]} == {"deposit", "balance"}
    assert {row["type"] for row in body["results"]} == {"payment"}
    assert body["results"][0]["bookingNumber"] == history.number

    body = technician_client.get("/api/v1/payments/transactions").json()
    assert body["count"] == 1
    assert body["results"][0]["type"] == "payout"
    assert body["results"][0]["amount"] == "4250.00"

    assert other_customer_client.get("/api/v1/payments/transactions").json()["count"] == 0
    assert support_client.get("/api/v1/payments/transactions").json()["count"] == 3
    filtered = support_client.get("/api/v1/payments/transactions?type=payout").json()
    assert filtered["count"] == 1
    filtered = support_client.get("/api/v1/payments/transactions?status=succeeded").json()
    assert filtered["count"] == 2


def test_transactions_list_runs_a_constant_number_of_queries(
    customer, technician, customer_client, service_category, django_assert_max_num_queries
):
    for _ in range(3):
        paid_payment(make_booking(customer, technician, category=service_category))
    with django_assert_max_num_queries(6):
        small = customer_client.get("/api/v1/payments/transactions?pageSize=1")
    for _ in range(6):
        paid_payment(make_booking(customer, technician, category=service_category))
    with django_assert_max_num_queries(6):
        large = customer_client.get("/api/v1/payments/transactions?pageSize=100")
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 9


def test_transaction_detail_and_idor(history, customer_client, other_customer_client):
    payment = Payment.objects.filter(booking=history).first()
    assert customer_client.get(f"/api/v1/payments/transactions/{payment.pk}").status_code == 200
    response = other_customer_client.get(f"/api/v1/payments/transactions/{payment.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "payment_not_found"


def test_payout_detail_through_transactions_and_idor(
    history, technician_client, other_technician_client, customer_client
):
    payout = Payout.objects.get(booking=history)
    url = f"/api/v1/payments/transactions/{payout.pk}?type=payout"
    assert technician_client.get(url).json()["amount"] == "4250.00"
    assert other_technician_client.get(url).status_code == 404
    assert customer_client.get(url).status_code == 404


def test_receipt_pdf_for_a_succeeded_payment(history, customer_client, other_customer_client):
    payment = Payment.objects.filter(booking=history, purpose="deposit").first()
    url = f"/api/v1/payments/transactions/{payment.pk}/receipt"
    response = customer_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert other_customer_client.get(url).status_code == 404


def test_receipt_text_names_the_booking_and_amount(history):
    payment = Payment.objects.filter(booking=history, purpose="deposit").first()
    text, filename = receipt_text(payment)
    assert history.number in text
    assert "KES 1000.00" in text
    assert filename.endswith(".pdf")


@pytest.mark.parametrize(
    "accept", ["application/pdf", "application/pdf, application/json;q=0.5", "*/*"]
)
def test_receipt_honours_accept_pdf(history, customer_client, accept):
    """`Accept: application/pdf` was refused with 406 before the PDF was ever built."""
    payment = Payment.objects.filter(booking=history, purpose="balance").first()
    response = customer_client.get(
        f"/api/v1/payments/transactions/{payment.pk}/receipt", HTTP_ACCEPT=accept
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith('attachment; filename="receipt-')


def test_receipt_errors_are_json_even_when_a_pdf_was_asked_for(
    mpesa, history, booking, customer_client, other_customer_client
):
    payment = Payment.objects.filter(booking=history, purpose="deposit").first()
    url = f"/api/v1/payments/transactions/{payment.pk}/receipt"
    hidden = other_customer_client.get(url, HTTP_ACCEPT="application/pdf")
    assert hidden.status_code == 404
    assert hidden["Content-Type"] == "application/json"
    assert hidden.json()["code"] == "payment_not_found"
    unauthenticated = APIClient().get(url, HTTP_ACCEPT="application/pdf")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "not_authenticated"


def test_the_schema_gives_the_receipt_as_pdf_and_its_errors_as_json(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    responses = schema["paths"]["/api/v1/payments/transactions/{id}/receipt"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["application/pdf"]
    for code in ("400", "401", "404", "409"):
        assert list(responses[code]["content"]) == ["application/json"]


def test_balance_receipt_after_release_says_the_money_went_to_the_technician(history):
    balance = Payment.objects.get(booking=history, purpose="balance")
    text, _filename = receipt_text(balance)
    assert "held in escrow" not in text.lower()
    assert "- Released to the technician: KES 4250.00 (Dumu Waks fee: KES 750.00)." in text
    deposit_text, _ = receipt_text(Payment.objects.get(booking=history, purpose="deposit"))
    assert "- Released to the technician: KES 4250.00" in deposit_text  # the same booking, now


def test_deposit_receipt_before_release_says_the_money_is_held(booking):
    text, _filename = receipt_text(paid_payment(booking))
    assert (
        "- Held in escrow by Dumu Waks: KES 1000.00. It goes to the technician once the job is"
        " confirmed and paid in full."
    ) in text
    assert "Released" not in text and "refunded" not in text.lower()


def test_receipt_of_a_cancelled_booking_says_what_was_refunded(
    mpesa, booking, customer, technician
):
    deposit = paid_payment(booking)
    set_status(booking, BookingStatus.CANCELLED, cancellation_fee=Decimal("250.00"))
    assert booking_settle_cancellation(booking_id=booking.pk)
    text, _filename = receipt_text(deposit)
    assert "- Released to the technician: KES 212.00 (Dumu Waks fee: KES 38.00)." in text
    assert "- Being refunded to you: KES 750.00." in text
    assert "held in escrow" not in text.lower()

    refund = Payout.objects.get(booking=booking, kind="refund")
    assert payout_send(payout_id=refund.pk) == "accepted"

    deliver_b2c_result_twice(mpesa, Payout.objects.get(pk=refund.pk))
    text, _filename = receipt_text(deposit)
    assert "- Refunded to you: KES 750.00." in text
    assert "Being refunded" not in text


def test_receipt_of_a_payment_made_twice_says_it_is_refunded(booking):
    paid_payment(booking)
    twice = paid_payment(booking)
    text, _filename = receipt_text(twice)
    assert "- This payment is refunded to you in full (KES 1000.00)." in text
    assert "- Held in escrow by Dumu Waks: KES 1000.00." in text  # the first deposit still is
    assert "- Being refunded to you: KES 1000.00." in text


def test_no_receipt_before_payment(mpesa, booking, customer_client):
    payment_id = customer_client.post(STK_PUSH, {"bookingId": booking.pk}).json()["id"]
    response = customer_client.get(f"/api/v1/payments/transactions/{payment_id}/receipt")
    assert response.status_code == 409
    assert response.json()["code"] == "receipt_not_available"


# --- fee breakdown ------------------------------------------------------------------------------------------


def test_fee_breakdown_for_parties_and_staff_only(
    history, customer_client, technician_client, support_client, other_customer_client
):
    url = f"/api/v1/bookings/{history.pk}/fee-breakdown"
    body = customer_client.get(url).json()
    assert body["price"] == "5000.00"
    assert body["depositAmount"] == "1000.00"
    assert body["platformFee"] == "750.00"
    assert body["technicianShare"] == "4250.00"
    assert body["depositPaid"] == "1000.00"
    assert body["balancePaid"] == "4000.00"
    assert body["escrowHeld"] == "0.00"
    assert body["released"] == "5000.00"
    assert technician_client.get(url).status_code == 200
    assert support_client.get(url).status_code == 200
    assert other_customer_client.get(url).status_code == 404


def test_anonymous_users_get_401(anon_client, booking):
    assert anon_client.get("/api/v1/payments/transactions").status_code == 401
    assert anon_client.post(STK_PUSH, {"bookingId": booking.pk}).status_code == 401


def test_failed_payment_shows_in_history(mpesa, booking, customer_client):
    mpesa.fail_next(PATH_STK_PUSH, "invalid_token", times=2)
    customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    body = customer_client.get("/api/v1/payments/transactions").json()
    assert body["results"][0]["status"] == PaymentStatus.FAILED
    assert Decimal(body["results"][0]["amount"]) == Decimal("1000.00")


def test_balance_prompt_goes_to_the_number_that_paid_the_deposit(
    mpesa, booking, customer, customer_client, anon_client
):
    body = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk, "phoneNumber": "0799888777", "confirmPhone": True}
    ).json()
    deposit = Payment.objects.get(pk=body["id"])
    post_callback(
        anon_client, "callback", mpesa.stk_callback_payload(deposit.checkout_request_id, "0")
    )
    set_status(booking, BookingStatus.CONFIRMED)
    balance = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="balance")
    assert balance.phone == "+254799888777"
    assert mpesa.requests_to(PATH_STK_PUSH)[-1].json["PhoneNumber"] == "254799888777"
