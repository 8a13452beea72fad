"""stripe_gateway through the official SDK against a local fake speaking Stripe's wire format."""

import json
import socket
import time
from urllib.parse import parse_qs

import pytest

from payments import stripe_gateway
from payments.stripe_gateway import (
    StripeGatewayError,
    StripeNotConfigured,
    StripeWebhookInvalid,
    construct_webhook_event,
    create_payment_intent,
    create_refund,
    stripe_enabled,
)
from payments.tests.fakes.pytest_plugin import *  # noqa: F403


def intent(**overrides):
    kwargs = dict(
        amount_minor=150000,
        currency="KES",
        idempotency_key="booking-42-deposit-1",
        metadata={"booking_id": 42, "payment_id": 7},
    )
    kwargs.update(overrides)
    return create_payment_intent(**kwargs)


def test_disabled_without_secret_key(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert stripe_enabled() is False
    with pytest.raises(StripeNotConfigured):
        intent()


def test_create_payment_intent_wire_format(fake_stripe):
    assert stripe_enabled() is True
    intent_id, client_secret, status = intent()
    assert intent_id.startswith("pi_")
    assert client_secret.startswith(f"{intent_id}_secret_")
    assert status == "requires_payment_method"
    (request,) = fake_stripe.requests_to("/v1/payment_intents")
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == f"Bearer {fake_stripe.api_key}"
    assert request.headers["idempotency-key"] == "booking-42-deposit-1"
    assert request.headers["stripe-version"] == stripe_gateway.DEFAULT_API_VERSION
    assert parse_qs(request.raw.decode()) == {
        "amount": ["150000"],
        "currency": ["kes"],
        "automatic_payment_methods[enabled]": ["true"],
        "metadata[booking_id]": ["42"],
        "metadata[payment_id]": ["7"],
    }
    assert fake_stripe.intents[intent_id]["metadata"] == {"booking_id": "42", "payment_id": "7"}


def test_same_idempotency_key_returns_the_same_intent(fake_stripe):
    first = intent()
    assert intent() == first
    assert len(fake_stripe.intents) == 1


def test_idempotency_key_reused_with_other_params_is_an_error(fake_stripe):
    intent()
    with pytest.raises(StripeGatewayError) as exc:
        intent(amount_minor=999999)
    assert exc.value.http_status == 400
    assert exc.value.retryable is False
    assert len(fake_stripe.intents) == 1


def test_invalid_request_maps_code(fake_stripe):
    with pytest.raises(StripeGatewayError) as exc:
        intent(amount_minor=10)
    assert (exc.value.code, exc.value.http_status) == ("amount_too_small", 400)


def test_invalid_amount_is_rejected_locally(fake_stripe):
    with pytest.raises(ValueError):
        intent(amount_minor=1500.0)
    with pytest.raises(ValueError):
        intent(idempotency_key="")
    assert fake_stripe.requests == []


def test_wrong_api_key(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    with pytest.raises(StripeGatewayError) as exc:
        intent()
    assert exc.value.http_status == 401


def test_unreachable_stripe_is_retryable(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_API_BASE_OVERRIDE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    with pytest.raises(StripeGatewayError) as exc:
        intent()
    assert exc.value.retryable is True


def test_full_and_partial_refunds(fake_stripe):
    intent_id, _, _ = intent()
    with pytest.raises(StripeGatewayError) as exc:
        create_refund(payment_intent_id=intent_id, amount_minor=None, idempotency_key="refund-1")
    assert exc.value.code == "payment_intent_unexpected_state"
    fake_stripe.succeed(intent_id)
    partial = create_refund(
        payment_intent_id=intent_id, amount_minor=50000, idempotency_key="refund-2"
    )
    assert partial.startswith("re_")
    assert fake_stripe.refunds[partial]["amount"] == 50000
    request = fake_stripe.requests_to("/v1/refunds")[-1]
    assert parse_qs(request.raw.decode()) == {
        "payment_intent": [intent_id],
        "reason": ["requested_by_customer"],
        "amount": ["50000"],
    }
    assert request.headers["idempotency-key"] == "refund-2"
    # a retried task with the same key refunds once
    assert (
        create_refund(payment_intent_id=intent_id, amount_minor=50000, idempotency_key="refund-2")
        == partial
    )
    rest = create_refund(payment_intent_id=intent_id, amount_minor=None, idempotency_key="refund-3")
    assert fake_stripe.refunds[rest]["amount"] == 100000
    with pytest.raises(StripeGatewayError) as exc:
        create_refund(payment_intent_id=intent_id, amount_minor=None, idempotency_key="refund-4")
    assert exc.value.code == "charge_already_refunded"


def test_webhook_signature_round_trip(fake_stripe, sign_stripe_payload):
    intent_id, _, _ = intent()
    fake_stripe.succeed(intent_id)
    payload = fake_stripe.event_payload("payment_intent.succeeded", intent_id)
    event = construct_webhook_event(payload, sign_stripe_payload(payload))
    assert event.type == "payment_intent.succeeded"
    assert event.id == json.loads(payload)["id"]
    assert event.data.object.id == intent_id
    assert event.data.object.amount_received == 150000
    assert event.data.object.metadata["booking_id"] == "42"


def test_webhook_header_with_several_v1_signatures(fake_stripe, sign_stripe_payload):
    payload = (
        b'{"id": "evt_1", "object": "event", "type": "charge.refunded", "data": {"object": {}}}'
    )
    good = sign_stripe_payload(payload)
    stale = sign_stripe_payload(payload, secret="whsec_old")
    header = f"{good},v1={stale.split('v1=')[1]}"
    assert construct_webhook_event(payload, header).id == "evt_1"


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "modified_body", "too_old", "missing_header", "garbage_header", "not_json"],
)
def test_webhook_rejections(fake_stripe, sign_stripe_payload, tamper):
    payload = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    header = sign_stripe_payload(payload)
    if tamper == "wrong_secret":
        header = sign_stripe_payload(payload, secret="whsec_attacker")
    elif tamper == "modified_body":
        payload = payload.replace(b"evt_1", b"evt_2")
    elif tamper == "too_old":
        header = sign_stripe_payload(payload, timestamp=int(time.time()) - 400)
    elif tamper == "missing_header":
        header = ""
    elif tamper == "garbage_header":
        header = "nonsense"
    elif tamper == "not_json":
        payload = b"not json"
        header = sign_stripe_payload(payload)
    with pytest.raises(StripeWebhookInvalid):
        construct_webhook_event(payload, header)
    assert issubclass(StripeWebhookInvalid, ValueError)


def test_webhook_without_configured_secret(settings, sign_stripe_payload):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    payload = b"{}"
    header = sign_stripe_payload(payload)
    settings.STRIPE_WEBHOOK_SECRET = ""
    with pytest.raises(StripeWebhookInvalid):
        construct_webhook_event(payload, header)


def test_a_hung_stripe_is_given_up_after_the_configured_timeout(settings):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    try:
        settings.STRIPE_SECRET_KEY = "sk_test_x"
        settings.STRIPE_API_BASE_OVERRIDE = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        settings.STRIPE_HTTP_TIMEOUT_SECONDS = 0.5
        started = time.monotonic()
        with pytest.raises(StripeGatewayError) as exc:
            intent()
        assert time.monotonic() - started < 5
        assert exc.value.retryable is True
    finally:
        silent.close()
