"""Over HTTP: a booking says where its money stands (`money`), the customer pays the balance again after a
failed prompt, and POST /bookings identifies the deposit request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking, BookingStatus
from bookings.services import booking_transition
from payments.models import Payment, PaymentPurpose, PaymentStatus
from payments.services.balance import BALANCE_OVERDUE_AFTER, balance_collection_run
from payments.tests.fakes.daraja import PATH_STK_PUSH
from payments.tests.helpers import PRICE, paid_payment, post_callback, set_status

pytestmark = pytest.mark.django_db

STK_PUSH = "/api/v1/payments/mpesa/stk-push"


def _confirmed_with_failed_prompt(mpesa, booking, customer, capture):
    paid_payment(booking)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    with capture(execute=True):
        booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)
    failed = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    payload = mpesa.stk_callback_payload(failed.checkout_request_id, "1032")
    post_callback(APIClient(), "callback", payload)
    booking.refresh_from_db()
    return failed


def _money(client, booking) -> dict:
    response = client.get(f"/api/v1/bookings/{booking.pk}")
    assert response.status_code == 200
    return response.json()["money"]


def test_after_a_failed_prompt_the_booking_says_the_balance_is_due_and_the_customer_pays_again(
    mpesa,
    booking,
    customer,
    customer_client,
    technician_client,
    support_client,
    django_capture_on_commit_callbacks,
):
    failed = _confirmed_with_failed_prompt(
        mpesa, booking, customer, django_capture_on_commit_callbacks
    )
    due = {
        "currency": "KES",
        "deposit": {
            "amount": "1000.00",
            "status": "paid",
            "paymentId": booking.payments.get(purpose="deposit").pk,
        },
        "balance": {"amount": "4000.00", "status": "due", "paymentId": failed.pk},
        "amountDueNow": "4000.00",
        "pendingPayment": None,
        "balanceOverdue": False,
        "nextAction": "pay_balance",
    }
    for client in (customer_client, technician_client, support_client):
        assert _money(client, booking) == due

    # Paying again: a new attempt under the client's own key; the same key again is the same payment.
    first = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk, "purpose": "balance"}, HTTP_IDEMPOTENCY_KEY="bal-2"
    )
    again = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk, "purpose": "balance"}, HTTP_IDEMPOTENCY_KEY="bal-2"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] != failed.pk
    assert first.json()["status"] == "pending"
    assert [p.json["Amount"] for p in mpesa.requests_to(PATH_STK_PUSH)] == [4000, 4000]

    payment_id = first.json()["id"]
    expires_at = Payment.objects.get(pk=payment_id).expires_at
    waiting = {
        **due,
        "balance": {"amount": "4000.00", "status": "pending", "paymentId": payment_id},
        "pendingPayment": {
            "id": payment_id,
            "purpose": "balance",
            "method": "mpesa",
            "status": "pending",
            "phone": "+254712345678",
            "expiresAt": timezone.localtime(expires_at).isoformat(),
        },
        "nextAction": "wait_for_prompt",
    }
    assert _money(customer_client, booking) == waiting
    assert _money(support_client, booking) == waiting
    # The job is over: the technician no longer sees the customer's number, here either.
    as_technician = _money(technician_client, booking)
    assert as_technician["pendingPayment"]["phone"] is None
    assert {**as_technician, "pendingPayment": waiting["pendingPayment"]} == waiting

    payload = mpesa.stk_callback_payload(
        Payment.objects.get(pk=payment_id).checkout_request_id, "0"
    )
    post_callback(APIClient(), "callback", payload)
    paid = _money(customer_client, booking)
    assert paid["balance"] == {"amount": "4000.00", "status": "paid", "paymentId": payment_id}
    assert (paid["amountDueNow"], paid["nextAction"], paid["pendingPayment"]) == (
        "0.00",
        "none",
        None,
    )


def test_an_overdue_balance_is_flagged_in_the_money_summary(
    mpesa,
    booking,
    customer,
    customer_client,
    technician_client,
    django_capture_on_commit_callbacks,
):
    _confirmed_with_failed_prompt(mpesa, booking, customer, django_capture_on_commit_callbacks)
    assert _money(customer_client, booking)["balanceOverdue"] is False
    with django_capture_on_commit_callbacks(execute=True):
        balance_collection_run(now=booking.confirmed_at + BALANCE_OVERDUE_AFTER)
    for client in (customer_client, technician_client):
        money = _money(client, booking)
        assert money["balanceOverdue"] is True
        assert money["nextAction"] == "pay_balance"
    tickets = customer_client.get("/api/v1/support/tickets").json()["results"]
    assert [t["subject"] for t in tickets] == [f"Balance overdue: {booking.number}"]


def test_other_people_do_not_see_the_money(booking, other_customer_client):
    assert other_customer_client.get(f"/api/v1/bookings/{booking.pk}").status_code == 404


def test_before_confirmation_the_balance_is_not_due(booking, customer_client):
    paid_payment(booking)
    set_status(booking, BookingStatus.IN_PROGRESS)
    money = _money(customer_client, booking)
    assert money["deposit"]["status"] == "paid"
    assert money["balance"]["status"] == "not_due"
    assert (money["amountDueNow"], money["nextAction"]) == ("0.00", "none")


def test_a_cancelled_unpaid_booking_collects_nothing(booking, customer_client):
    set_status(booking, BookingStatus.CANCELLED)
    money = _money(customer_client, booking)
    assert money["deposit"]["status"] == money["balance"]["status"] == "not_collected"
    assert money["nextAction"] == "none"


# --- POST /bookings -----------------------------------------------------------------------------------------


def _create(client, category, **extra):
    start = (timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return client.post(
        "/api/v1/bookings",
        {
            "categoryId": category.pk,
            "title": "Fix the kitchen tap",
            "address": "Kilimani, Nairobi",
            "scheduledStart": start.isoformat(),
            "durationMinutes": 60,
            "price": str(PRICE),
            **extra,
        },
    )


@pytest.mark.django_db(transaction=True)
def test_post_bookings_names_the_deposit_payment_it_requested(
    mpesa, customer, customer_client, service_category
):
    response = _create(customer_client, service_category)
    assert response.status_code == 201
    money = response.json()["money"]
    payment = Payment.objects.get(booking_id=response.json()["id"])
    assert payment.purpose == PaymentPurpose.DEPOSIT and payment.status == PaymentStatus.PENDING
    assert money["deposit"] == {"amount": "1000.00", "status": "pending", "paymentId": payment.pk}
    assert money["pendingPayment"]["id"] == payment.pk
    assert money["pendingPayment"]["phone"] == "+254712345678"
    assert (money["amountDueNow"], money["nextAction"]) == ("1000.00", "wait_for_prompt")
    assert money["balance"]["status"] == "not_due"


def test_post_bookings_says_the_deposit_will_be_requested(
    customer, customer_client, service_category
):
    """The request is sent right after the booking commits; until then the response says it is coming."""
    response = _create(customer_client, service_category)
    money = response.json()["money"]
    assert not Payment.objects.exists()
    assert money["deposit"] == {"amount": "1000.00", "status": "requesting", "paymentId": None}
    assert money["pendingPayment"] is None
    assert (money["amountDueNow"], money["nextAction"]) == ("1000.00", "wait_for_prompt")


def test_post_bookings_without_a_verified_phone_asks_the_client_to_pay(
    other_customer, other_customer_client, service_category
):
    """No automatic prompt goes to an unverified number: the customer pays from the app."""
    assert not other_customer.is_phone_verified
    money = _create(other_customer_client, service_category).json()["money"]
    assert money["deposit"]["status"] == "due"
    assert money["nextAction"] == "pay_deposit"
    assert not Booking.objects.filter(payments__isnull=False).exists()
