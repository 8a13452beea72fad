"""Card tips (payments/services/tips.py `tip_request_card`) against the fake Stripe server: the same tip
endpoint with `method: card`, credited by the signed webhook once, posted and paid out exactly like an
M-Pesa tip (100 % to the technician, no platform fee)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import (
    CallbackEvent,
    CallbackStatus,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.receipts import receipt_text
from payments.selectors.balances import account_balance
from payments.services.ledger import CUSTOMER_CLEARING, tips_payable_code
from payments.services.payouts import payout_send
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import (
    assert_reconciled,
    deliver_b2c_result_twice,
    paid_payment,
    set_status,
)

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture
def done(booking):
    """The customer persona's booking, paid and completed by the technician persona."""
    paid_payment(booking)
    set_status(booking, "completed", completed_at=timezone.now())
    return booking


def _card_tip(client, booking, amount="300", **extra):
    return client.post(
        f"/api/v1/bookings/{booking.pk}/tips",
        {"amount": amount, "method": "card"},
        format="json",
        **extra,
    )


def _webhook(client, sign, fake_stripe, event_type: str, intent_id: str):
    event = fake_stripe.event_payload(event_type, intent_id)
    response = client.generic(
        "POST", WEBHOOK, event, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(event)
    )
    assert response.status_code == 200, response.content
    return event


def _entries(reference: str) -> list[tuple[str, str, Decimal]]:
    return sorted(
        LedgerEntry.objects.filter(transaction__reference=reference).values_list(
            "account__code", "side", "amount"
        )
    )


def test_card_tip_is_credited_by_the_signed_webhook_once_with_the_mpesa_postings(
    fake_stripe, done, customer_client, anon_client, sign_stripe_payload, technician
):
    escrow_entries = LedgerEntry.objects.filter(account__code__startswith="escrow:").count()
    revenue = account_balance("platform_revenue")
    response = _card_tip(customer_client, done, "300", HTTP_IDEMPOTENCY_KEY="card-tip-0001")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["purpose"], body["method"], body["amount"], body["status"]) == (
        "tip",
        "card",
        "300.00",
        "pending",
    )
    assert body["clientSecret"]
    payment = Payment.objects.get(pk=body["id"])
    intent = fake_stripe.intents[payment.stripe_payment_intent_id]
    assert (intent["amount"], intent["currency"]) == (30000, "kes")  # KES 300.00 in minor units
    assert intent["metadata"] == {
        "payment_id": str(payment.pk),
        "booking_id": str(done.pk),
        "purpose": "tip",
    }
    # Nothing is credited before Stripe says the card was charged.
    assert not LedgerTransaction.objects.filter(payment=payment).exists()

    fake_stripe.succeed(payment.stripe_payment_intent_id)
    event = _webhook(
        anon_client,
        sign_stripe_payload,
        fake_stripe,
        "payment_intent.succeeded",
        payment.stripe_payment_intent_id,
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    txn = LedgerTransaction.objects.get(reference=f"payment:{payment.pk}:received")
    assert txn.kind == "tip"
    assert _entries(txn.reference) == [
        (CUSTOMER_CLEARING, "credit", Decimal("300.00")),
        (tips_payable_code(technician.pk), "debit", Decimal("300.00")),
    ]
    assert LedgerEntry.objects.filter(account__code__startswith="escrow:").count() == escrow_entries
    assert account_balance("platform_revenue") == revenue
    payout = Payout.objects.get(kind=PayoutKind.TIP)
    assert (payout.source_payment_id, payout.recipient_id, payout.amount, payout.status) == (
        payment.pk,
        technician.pk,
        Decimal("300.00"),
        PayoutStatus.DEFERRED,
    )

    # Stripe redelivers the same event: stored once, nothing posted or paid again.
    response = anon_client.generic(
        "POST",
        WEBHOOK,
        event,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_stripe_payload(event),
    )
    assert response.status_code == 200
    assert LedgerTransaction.objects.filter(payment=payment).count() == 1
    assert Payout.objects.filter(kind=PayoutKind.TIP).count() == 1
    stored = CallbackEvent.objects.get()
    assert (stored.status, stored.replay_count) == (CallbackStatus.PROCESSED, 1)
    # A repeated request with the same Idempotency-Key answers with the same tip, no second intent.
    again = _card_tip(customer_client, done, "300", HTTP_IDEMPOTENCY_KEY="card-tip-0001")
    assert (again.status_code, again.json()["id"]) == (201, payment.pk)
    assert len(fake_stripe.intents) == 1

    text, _filename = receipt_text(payment)
    assert "Method: Card" in text
    assert f"Reference: {payment.stripe_payment_intent_id}" in text
    assert "100 % of it (KES 300.00) goes to the technician" in text
    assert "paid to the technician with their next payout" in text
    assert_reconciled()


def test_card_tip_at_the_threshold_is_paid_out_at_once_by_mpesa(
    fake_stripe, mpesa, done, customer_client, anon_client, sign_stripe_payload, technician
):
    payment_id = _card_tip(customer_client, done, "500").json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    fake_stripe.succeed(payment.stripe_payment_intent_id)
    _webhook(
        anon_client,
        sign_stripe_payload,
        fake_stripe,
        "payment_intent.succeeded",
        payment.stripe_payment_intent_id,
    )
    payout = Payout.objects.get(kind=PayoutKind.TIP, source_payment=payment)
    assert payout.status == PayoutStatus.QUEUED
    assert payout_send(payout_id=payout.pk) == "accepted"
    assert mpesa.requests_to(PATH_B2C)[-1].json["Amount"] == 500
    payout.refresh_from_db()
    deliver_b2c_result_twice(mpesa, payout)
    assert _entries(f"payout:{payout.pk}:paid") == [
        ("mpesa_b2c_disbursed", "debit", Decimal("500.00")),
        (tips_payable_code(technician.pk), "credit", Decimal("500.00")),
    ]
    assert account_balance(tips_payable_code(technician.pk)) == 0
    assert_reconciled()


def test_declined_card_tip_moves_no_money(
    fake_stripe, done, customer_client, anon_client, sign_stripe_payload
):
    payment = Payment.objects.get(pk=_card_tip(customer_client, done).json()["id"])
    fake_stripe.intents[payment.stripe_payment_intent_id]["last_payment_error"] = {
        "code": "card_declined",
        "message": "Your card was declined.",
    }
    _webhook(
        anon_client,
        sign_stripe_payload,
        fake_stripe,
        "payment_intent.payment_failed",
        payment.stripe_payment_intent_id,
    )
    payment.refresh_from_db()
    assert (payment.status, payment.result_code) == (PaymentStatus.FAILED, "card_declined")
    assert not LedgerTransaction.objects.filter(payment=payment).exists()
    assert not Payout.objects.filter(kind=PayoutKind.TIP).exists()
    # The customer may try again (with another amount, even).
    retry = _card_tip(customer_client, done, "250")
    assert retry.status_code == 201
    assert retry.json()["id"] != payment.pk


def test_card_tips_are_off_without_stripe(mpesa, done, customer_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = _card_tip(customer_client, done)
    assert response.status_code == 409
    assert response.json()["code"] == "stripe_disabled"
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()
    # M-Pesa tips stay available.
    response = customer_client.post(
        f"/api/v1/bookings/{done.pk}/tips", {"amount": "300"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["method"], response.json()["clientSecret"]) == ("mpesa", None)


def test_unreachable_stripe_is_a_502_and_the_tip_is_failed(
    fake_stripe, done, customer_client, settings
):
    settings.STRIPE_API_BASE_OVERRIDE = "http://127.0.0.1:9"
    response = _card_tip(customer_client, done)
    assert response.status_code == 502
    assert response.json()["code"] == "card_provider_error"
    payment = Payment.objects.get(purpose=PaymentPurpose.TIP)
    assert (payment.method, payment.status) == (PaymentMethod.CARD, PaymentStatus.FAILED)
    assert not LedgerTransaction.objects.filter(payment=payment).exists()


def test_open_card_tip_is_handed_back_once_and_blocks_other_tips(
    fake_stripe, mpesa, done, customer_client
):
    first = _card_tip(customer_client, done, "300")
    double_click = _card_tip(customer_client, done, "300")
    assert first.status_code == double_click.status_code == 201
    assert first.json()["id"] == double_click.json()["id"]
    assert first.json()["clientSecret"] == double_click.json()["clientSecret"]
    assert len(fake_stripe.intents) == 1

    other_amount = _card_tip(customer_client, done, "400")
    assert other_amount.status_code == 409
    assert other_amount.json()["code"] == "payment_pending"
    assert other_amount.json()["payment"]["id"] == first.json()["id"]
    by_mpesa = customer_client.post(
        f"/api/v1/bookings/{done.pk}/tips", {"amount": "300", "supersede": True}, format="json"
    )
    assert by_mpesa.status_code == 409
    assert by_mpesa.json()["code"] == "payment_pending"
    assert len(fake_stripe.intents) == 1
    assert mpesa.requests_to(PATH_STK_PUSH) == []
    assert Payment.objects.filter(purpose=PaymentPurpose.TIP).count() == 1


@pytest.mark.parametrize(
    "persona, status_, expected",
    [
        ("customer_client", "in_progress", (409, "tip_not_allowed")),
        ("technician_client", "completed", (403, "tip_only_by_customer")),
        ("other_customer_client", "completed", (404, None)),
    ],
)
def test_card_tip_has_the_mpesa_tips_rules(
    fake_stripe, booking, request, persona, status_, expected
):
    paid_payment(booking)
    set_status(booking, status_, completed_at=timezone.now())
    response = _card_tip(request.getfixturevalue(persona), booking)
    assert response.status_code == expected[0]
    if expected[1]:
        assert response.json()["code"] == expected[1]
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()
    assert fake_stripe.intents == {}
