"""Card payments through the fake Stripe server: intent, verified webhook, dedupe, card refunds."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingStatus
from payments import tasks
from payments.models import (
    CallbackEvent,
    CallbackStatus,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    Payout,
    PayoutChannel,
    PayoutStatus,
)
from payments.services.escrow import booking_settle_cancellation
from payments.services.payouts import payout_send
from payments.tests.helpers import assert_reconciled, escrow, set_status

pytestmark = pytest.mark.django_db

INTENT = "/api/v1/payments/stripe/payment-intent"
WEBHOOK = "/api/v1/payments/stripe/webhook"


def _webhook(client, body: bytes, signature: str):
    return client.generic(
        "POST", WEBHOOK, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def test_card_deposit_is_credited_by_the_signed_webhook_once(
    fake_stripe, booking, customer_client, anon_client, sign_stripe_payload
):
    response = customer_client.post(INTENT, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="c1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["clientSecret"]
    assert body["payment"]["method"] == "card"
    payment = Payment.objects.get(pk=body["payment"]["id"])
    assert payment.status == PaymentStatus.PENDING
    intent = fake_stripe.intents[payment.stripe_payment_intent_id]
    assert intent["amount"] == 100000  # KES 1,000.00 in minor units

    fake_stripe.succeed(payment.stripe_payment_intent_id)
    event = fake_stripe.event_payload("payment_intent.succeeded", payment.stripe_payment_intent_id)
    response = _webhook(anon_client, event, sign_stripe_payload(event))
    assert response.status_code == 200
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert booking.deposit_paid_at is not None
    assert escrow(booking) == Decimal("1000.00")

    # Stripe redelivers the same event: nothing changes.
    response = _webhook(anon_client, event, sign_stripe_payload(event))
    assert response.status_code == 200
    assert LedgerTransaction.objects.count() == 1
    assert CallbackEvent.objects.get().replay_count == 1
    assert_reconciled()


def test_forged_webhook_is_rejected(fake_stripe, booking, customer_client, anon_client):
    payment_id = customer_client.post(INTENT, {"bookingId": booking.pk}).json()["payment"]["id"]
    payment = Payment.objects.get(pk=payment_id)
    fake_stripe.succeed(payment.stripe_payment_intent_id)
    event = fake_stripe.event_payload("payment_intent.succeeded", payment.stripe_payment_intent_id)
    response = _webhook(anon_client, event, "t=1,v1=deadbeef")
    assert response.status_code == 400
    assert CallbackEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_card_payment_is_refunded_to_the_card(
    fake_stripe, booking, customer_client, anon_client, sign_stripe_payload
):
    payment_id = customer_client.post(INTENT, {"bookingId": booking.pk}).json()["payment"]["id"]
    payment = Payment.objects.get(pk=payment_id)
    fake_stripe.succeed(payment.stripe_payment_intent_id)
    event = fake_stripe.event_payload("payment_intent.succeeded", payment.stripe_payment_intent_id)
    _webhook(anon_client, event, sign_stripe_payload(event))

    set_status(booking, BookingStatus.CANCELLED, cancellation_fee=0)
    booking_settle_cancellation(booking_id=booking.pk)
    refund = Payout.objects.get(booking=booking)
    assert refund.channel == PayoutChannel.CARD
    assert refund.source_payment_id == payment.pk
    assert payout_send(payout_id=refund.pk) == "refunded"
    refund.refresh_from_db()
    assert refund.status == PayoutStatus.PAID
    assert len(fake_stripe.refunds) == 1
    (stripe_refund,) = fake_stripe.refunds.values()
    assert stripe_refund["amount"] == 100000
    assert_reconciled()


def test_card_payments_are_off_without_stripe_keys(booking, customer_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = customer_client.post(INTENT, {"bookingId": booking.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "stripe_disabled"
    assert Payment.objects.count() == 0


def test_unhandled_event_types_are_stored_and_ignored(
    fake_stripe, booking, customer_client, anon_client, sign_stripe_payload
):
    payment_id = customer_client.post(INTENT, {"bookingId": booking.pk}).json()["payment"]["id"]
    payment = Payment.objects.get(pk=payment_id)
    event = fake_stripe.event_payload("payment_intent.processing", payment.stripe_payment_intent_id)
    assert _webhook(anon_client, event, sign_stripe_payload(event)).status_code == 200
    assert CallbackEvent.objects.get().status == CallbackStatus.IGNORED


def test_abandoned_card_payment_expires_and_mpesa_can_be_used(
    fake_stripe, mpesa, booking, customer_client
):
    payment_id = customer_client.post(INTENT, {"bookingId": booking.pk}).json()["payment"]["id"]
    response = customer_client.post("/api/v1/payments/mpesa/stk-push", {"bookingId": booking.pk})
    assert response.status_code == 409  # a card checkout is open
    Payment.objects.filter(pk=payment_id).update(
        created_at=timezone.now() - timedelta(hours=1),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    tasks.payments_resolve_stale_task.apply().get()
    assert Payment.objects.get(pk=payment_id).status == PaymentStatus.EXPIRED
    response = customer_client.post("/api/v1/payments/mpesa/stk-push", {"bookingId": booking.pk})
    assert response.status_code == 201
    assert response.json()["method"] == "mpesa"
