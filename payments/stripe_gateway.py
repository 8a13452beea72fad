"""Stripe card payments (optional; enabled when STRIPE_SECRET_KEY is set), via the official SDK's StripeClient.

Amounts are in minor units (KES is two-decimal at Stripe: KES 1,500 → 150000). Every write carries a
deterministic Idempotency-Key derived from our own row, so a retried task or a double click cannot charge or
refund twice. Webhooks are verified locally (HMAC-SHA256 over "t.payload"); no network call.
"""

from __future__ import annotations

import stripe
from django.conf import settings

DEFAULT_API_VERSION = (
    "2026-10-28.endive"  # what stripe 16.1.0 pins; webhook object shapes follow it
)
WEBHOOK_TOLERANCE_SECONDS = 300


class StripeGatewayError(Exception):
    """Stripe refused or could not be reached. `retryable`: safe to retry with the same idempotency key."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        http_status: int | None = None,
        retryable: bool = False,
        decline_code: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.retryable = retryable
        self.decline_code = decline_code


class StripeNotConfigured(StripeGatewayError):
    pass


class StripeWebhookInvalid(ValueError):
    """Bad Stripe-Signature (wrong secret, tampered body, too old) or a body that is not an event: answer 400."""


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    if not stripe_enabled():
        raise StripeNotConfigured(
            "Stripe is not configured (STRIPE_SECRET_KEY is empty)", code="disabled"
        )
    override = settings.STRIPE_API_BASE_OVERRIDE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION or DEFAULT_API_VERSION,
        base_addresses={"api": override} if override else None,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        # The SDK waits 80 s by default; a web worker must not hang that long on one call.
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT_SECONDS),
    )


def _translate(exc: stripe.StripeError) -> StripeGatewayError:
    error = getattr(exc, "error", None)
    code = getattr(exc, "code", None) or (getattr(error, "type", None) if error else None) or ""
    retryable = isinstance(
        exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError
    ) or bool(exc.http_status and exc.http_status >= 500)
    return StripeGatewayError(
        exc.user_message or str(exc),
        code=str(code),
        http_status=exc.http_status,
        retryable=retryable,
        decline_code=str(getattr(error, "decline_code", "") or "") if error else "",
    )


def _options(idempotency_key: str) -> dict:
    if not idempotency_key:
        raise ValueError("idempotency_key is required: derive it from our own row")
    return {"idempotency_key": idempotency_key}


def create_payment_intent(
    *, amount_minor: int, currency: str, idempotency_key: str, metadata: dict
) -> tuple[str, str, str]:
    """Returns (intent_id, client_secret, status). The client secret goes to the frontend's Stripe.js."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValueError("amount_minor must be a positive int in minor units")
    params = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "automatic_payment_methods": {"enabled": True},
        "metadata": {str(k): str(v) for k, v in metadata.items()},
    }
    try:
        intent = _client().v1.payment_intents.create(params, _options(idempotency_key))
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return intent.id, intent.client_secret or "", intent.status


def create_refund(*, payment_intent_id: str, amount_minor: int | None, idempotency_key: str) -> str:
    """Refund all (amount_minor=None) or part of a succeeded PaymentIntent; returns the refund id."""
    params: dict = {"payment_intent": payment_intent_id, "reason": "requested_by_customer"}
    if amount_minor is not None:
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
            raise ValueError("amount_minor must be a positive int in minor units or None")
        params["amount"] = amount_minor
    try:
        refund = _client().v1.refunds.create(params, _options(idempotency_key))
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return refund.id


def construct_webhook_event(payload: bytes, sig_header: str) -> stripe.Event:
    """Verify the Stripe-Signature of the raw request body and return the event (no network)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise StripeWebhookInvalid("STRIPE_WEBHOOK_SECRET is not configured")
    try:
        return stripe.Webhook.construct_event(
            payload, sig_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise StripeWebhookInvalid(f"bad Stripe signature: {exc.user_message or exc}") from exc
    except ValueError as exc:  # body is not JSON
        raise StripeWebhookInvalid(f"invalid Stripe webhook payload: {exc}") from exc
