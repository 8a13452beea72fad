"""Duplicate and concurrent requests on every endpoint that moves money.

Each race runs real threads with their own database connections against the real PostgreSQL (transaction=True)
and the fake Daraja / Stripe servers, then counts what reached the provider and what the ledger holds.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory
from conftest import bearer_client, race
from payments import rules as payments_rules
from payments.models import LedgerTransaction, Payment, Payout
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import (
    CALLBACK_TOKEN,
    assert_reconciled,
    paid_payment,
    post_callback,
    set_status,
)


def _conflict_codes(responses) -> list[str]:
    return [r.json()["code"] for r in responses if r.status_code == 409]


@pytest.fixture
def callbacks_allowed(settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.MPESA_ALLOWED_IPS = []


def _stk(customer, booking, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return bearer_client(customer).post(
        "/api/v1/payments/mpesa/stk-push",
        {"bookingId": booking.pk, "confirmPhone": True},  # the personas' numbers are not verified
        format="json",
        **headers,
    )


# --- STK push ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stk_push_repeated_with_the_same_key_is_one_payment(world, fake_daraja):
    first = _stk(world.customer, world.booking, key="pay-deposit-1")
    second = _stk(world.customer, world.booking, key="pay-deposit-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert Payment.objects.filter(booking=world.booking).count() == 1
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.django_db
def test_stk_push_repeated_without_a_key_never_sends_a_second_prompt(world, fake_daraja):
    responses = [_stk(world.customer, world.booking) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 409, 409], [r.content for r in responses]
    assert [r.json()["code"] for r in responses[1:]] == ["payment_pending"] * 2
    assert {r.json()["payment"]["id"] for r in responses[1:]} == {responses[0].json()["id"]}
    assert Payment.objects.filter(booking=world.booking).count() == 1
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("keys", "statuses"),
    [
        # The same key is the same payment: both answer 201 with it.
        (("same-key", "same-key"), [201, 201]),
        # Another request (another key, or none) while the first is open: 409 payment_pending.
        (("key-a", "key-b"), [201, 409]),
        ((None, None), [201, 409]),
    ],
)
def test_concurrent_stk_pushes_make_one_payment_and_one_prompt(world, fake_daraja, keys, statuses):
    booking = world.booking
    results = race(*(lambda k=k: _stk(world.customer, booking, key=k) for k in keys))
    assert sorted(r.status_code for r in results) == statuses, [r.content for r in results]
    payment = Payment.objects.get(booking=booking)
    for response in results:
        body = response.json()
        if response.status_code == 201:
            assert body["id"] == payment.pk
        else:
            assert body["code"] == "payment_pending"
            assert body["payment"]["id"] == payment.pk
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_stk_callbacks_credit_escrow_once(
    world, fake_daraja, callbacks_allowed
):
    response = _stk(world.customer, world.booking, key="cb-race")
    payment = Payment.objects.get(pk=response.json()["id"])
    payload = fake_daraja.stk_callback_payload(payment.checkout_request_id, "0")
    results = race(*(lambda: post_callback(APIClient(), "callback", payload) for _ in range(4)))
    assert all(r.status_code == 200 for r in results), [r.content for r in results]
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert LedgerTransaction.objects.filter(payment=payment).count() == 1
    assert_reconciled()


# --- Stripe card intent ----------------------------------------------------------------------------------------


def _intent(customer, booking, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return bearer_client(customer).post(
        "/api/v1/payments/stripe/payment-intent",
        {"bookingId": booking.pk},
        format="json",
        **headers,
    )


@pytest.mark.django_db
def test_card_intent_repeated_with_the_same_key_is_one_payment(world, fake_stripe):
    first = _intent(world.customer, world.booking, key="card-1")
    second = _intent(world.customer, world.booking, key="card-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert Payment.objects.filter(booking=world.booking).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_card_intents_make_one_payment(world, fake_stripe, settings):
    """All three get the one payment and the one Stripe intent: they share its idempotency key, and Stripe
    answers the requests that overlap the first with 409 `idempotency_key_in_use`, which the SDK retries
    (twice, as configured in production) and then gets the first one's reply."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    booking = world.booking
    results = race(*(lambda: _intent(world.customer, booking, key="card-race") for _ in range(3)))
    assert [r.status_code for r in results] == [201, 201, 201], [r.content for r in results]
    payment = Payment.objects.get(booking=booking)
    assert {r.json()["payment"]["id"] for r in results} == {payment.pk}
    assert {r.json()["clientSecret"] for r in results} == {results[0].json()["clientSecret"]}
    assert len(fake_stripe.intents) == 1


# --- payouts -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_payout_approvals_send_one_b2c(world, fake_daraja):
    payout = world.payout
    admin = world.users["admin"]
    url = f"/api/v1/payments/payouts/{payout.pk}/process"
    results = race(*(lambda: bearer_client(admin).post(url) for _ in range(3)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409, 409], [r.content for r in results]
    assert _conflict_codes(results) == ["payout_not_processable"] * 2, [r.content for r in results]
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    payout.refresh_from_db()
    assert payout.status == Payout.objects.get(pk=payout.pk).status
    assert payout.status in {"awaiting_result", "sending"}


@pytest.mark.django_db(transaction=True)
def test_batch_process_with_duplicate_ids_and_in_parallel_sends_one_b2c(world, fake_daraja):
    payout = world.payout
    admin = world.users["admin"]

    def batch():
        return bearer_client(admin).post(
            "/api/v1/payments/payouts/batch-process",
            {"payoutIds": [payout.pk, payout.pk, payout.pk]},
            format="json",
        )

    results = race(batch, batch)
    assert [r.status_code for r in results] == [200, 200], [r.content for r in results]
    # Each batch answers once per distinct payout: one of the two processes it, the other finds it moving.
    rows = [row for r in results for row in r.json()["results"]]
    assert sorted(row["ok"] for row in rows) == [False, True], rows
    assert {row["code"] for row in rows if not row["ok"]} == {"payout_not_processable"}, rows
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_b2c_results_pay_once(world, fake_daraja, callbacks_allowed):
    payout = world.payout
    response = bearer_client(world.users["admin"]).post(
        f"/api/v1/payments/payouts/{payout.pk}/process"
    )
    assert response.status_code == 200
    payout.refresh_from_db()
    result = fake_daraja.b2c_result_payload(payout.originator_conversation_id)
    results = race(*(lambda: post_callback(APIClient(), "b2c-callback", result) for _ in range(4)))
    assert all(r.status_code == 200 for r in results), [r.content for r in results]
    payout.refresh_from_db()
    assert payout.status == "paid"
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()


# --- refunds and releases triggered by booking workflow endpoints ---------------------------------------------


def _deposit_paid_booking(world):
    booking = world.booking
    paid_payment(booking)
    booking.refresh_from_db()
    return booking


@pytest.mark.django_db(transaction=True)
def test_concurrent_cancellations_refund_once(world, fake_daraja, monkeypatch):
    monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 50_000)
    booking = _deposit_paid_booking(world)
    url = f"/api/v1/bookings/{booking.pk}"

    def cancel(role):
        return lambda: world.client(role).delete(url, {"reason": "Changed plans"}, format="json")

    results = race(cancel("customer"), cancel("customer"), cancel("technician"))
    assert sorted(r.status_code for r in results) == [200, 409, 409], [r.content for r in results]
    assert _conflict_codes(results) == ["invalid_transition"] * 2, [r.content for r in results]
    # The deposit (KES 1000) goes back exactly once, by one B2C request.
    assert Payout.objects.filter(booking=booking, kind="refund").count() == 1
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispute_resolutions_settle_once(world, fake_daraja, monkeypatch):
    monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 50_000)
    booking = _deposit_paid_booking(world)
    set_status(booking, BookingStatus.COMPLETED, completed_at=booking.scheduled_end)
    response = world.client("customer").post(
        f"/api/v1/bookings/{booking.pk}/dispute", {"reason": "Still leaking"}, format="json"
    )
    assert response.status_code == 201, response.content
    dispute_id = booking.disputes.get().pk
    url = f"/api/v1/bookings/disputes/{dispute_id}/resolve"

    def resolve(role):
        return lambda: world.client(role).post(url, {"outcome": "full_refund"}, format="json")

    results = race(resolve("support"), resolve("admin"), resolve("support"))
    assert sorted(r.status_code for r in results) == [200, 409, 409], [r.content for r in results]
    assert _conflict_codes(results) == ["invalid_transition"] * 2, [r.content for r in results]
    assert Payout.objects.filter(booking=booking, kind="refund").count() == 1
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_release_one_payout(world, fake_daraja, monkeypatch):
    monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 50_000)
    booking = _deposit_paid_booking(world)
    set_status(booking, BookingStatus.COMPLETED, completed_at=booking.scheduled_end)
    paid_payment(booking, "balance")
    url = f"/api/v1/bookings/{booking.pk}/confirm"
    results = race(
        *(lambda: world.client("customer").post(url, {}, format="json") for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409], [r.content for r in results]
    assert _conflict_codes(results) == ["invalid_transition"] * 2, [r.content for r in results]
    assert Payout.objects.filter(booking=booking, kind="technician_payout").count() == 1
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
    assert_reconciled()


@pytest.mark.django_db
def test_idempotency_keys_are_scoped_per_payer(world, fake_daraja):
    """Two customers who happen to send the same key each get their own payment, never the other's."""
    other = world.users["other_customer"]
    other_booking = BookingFactory(
        customer=other, technician=world.users["other_technician"], price="5000.00"
    )
    mine = _stk(world.customer, world.booking, key="shared-key-123")
    theirs = _stk(other, other_booking, key="shared-key-123")
    assert mine.status_code == 201, mine.content
    assert theirs.status_code == 201, theirs.content
    assert mine.json()["id"] != theirs.json()["id"]
    assert Payment.objects.get(pk=theirs.json()["id"]).payer_id == other.pk
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 2


@pytest.mark.django_db
def test_reusing_a_key_for_another_booking_never_pays_the_wrong_booking(world, fake_daraja):
    second = BookingFactory(customer=world.customer, technician=world.technician, price="5000.00")
    first = _stk(world.customer, world.booking, key="reused-key")
    again = _stk(world.customer, second, key="reused-key")
    assert first.status_code == 201
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "idempotency_key_reused"
    assert Payment.objects.filter(booking=world.booking).count() == 1
    assert not Payment.objects.filter(booking=second).exists()
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 1
