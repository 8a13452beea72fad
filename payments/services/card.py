"""Card payments through Stripe: PaymentIntent creation and the webhook's effect on a payment."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from dumuwaks.core.money import to_decimal
from payments import errors, stripe_gateway
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    CallbackEvent,
    CallbackKind,
    CallbackProvider,
    CallbackStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from payments.services.callbacks import callback_event_finish, callback_event_store
from payments.services.common import lock_booking, lock_payment, now
from payments.services.payments import (
    payment_fail_request,
    payment_flag,
    payment_mark_failed,
    payment_mark_succeeded,
    payment_open,
    payment_transition,
)


def payment_create_card_intent(
    *, booking_id: int, payer, purpose: str, idempotency_key: str | None = None
) -> tuple[Payment, str]:
    """Card payment through Stripe: returns the Payment and the client secret for Stripe.js."""
    if not stripe_gateway.stripe_enabled():
        raise errors.StripeDisabled()
    payment, _created = payment_open(
        booking_id=booking_id,
        payer=payer,
        purpose=purpose,
        method=PaymentMethod.CARD,
        phone=None,
        idempotency_key=idempotency_key,
    )
    if payment.method != PaymentMethod.CARD:
        raise errors.PaymentNotDue("An M-Pesa request for this payment is already in progress.")
    return payment_card_intent_send(payment)


def payment_card_intent_send(payment: Payment) -> tuple[Payment, str]:
    """Create (or, for a retried request, fetch again: the Stripe idempotency key is the payment's) the
    PaymentIntent of a card payment and mark it pending; returns it with Stripe.js's client secret.
    `CardProviderError` (502) when Stripe refuses or cannot be reached. Call outside any transaction."""
    try:
        intent_id, client_secret, _status = stripe_gateway.create_payment_intent(
            amount_minor=int(to_decimal(payment.amount) * 100),
            currency=payment.currency.lower(),
            idempotency_key=f"dw-payment-{payment.pk}",
            metadata={
                "payment_id": str(payment.pk),
                "booking_id": str(payment.booking_id),
                "purpose": payment.purpose,
            },
        )
    except stripe_gateway.StripeGatewayError as exc:
        payment_fail_request(payment=payment, exc=exc, note="card payment intent refused")
        raise errors.CardProviderError() from exc
    if payment.status == PaymentStatus.INITIATED:
        with transaction.atomic():
            lock_booking(payment.booking_id)
            payment = lock_payment(payment.pk)
            if payment.status == PaymentStatus.INITIATED:
                payment_transition(
                    payment=payment,
                    to=PaymentStatus.PENDING,
                    note="card payment intent created",
                    stripe_payment_intent_id=intent_id,
                    requested_at=now(),
                )
    return payment, client_secret


def _get(obj, name):
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def stripe_payment_intent_apply(*, intent: dict, succeeded: bool) -> str:
    """Apply `payment_intent.succeeded` / `payment_failed` to the matching card payment; returns an outcome."""
    intent_id = _get(intent, "id")
    row = (
        Payment.objects.filter(stripe_payment_intent_id=intent_id)
        .values_list("pk", "booking_id")
        .first()
    )
    if row is None:
        return "payment_not_found"
    payment_id, booking_id = row
    with transaction.atomic():
        booking = lock_booking(booking_id)
        payment = lock_payment(payment_id)
        if payment.status in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FLAGGED,
            PaymentStatus.CANCELLED,
        ):
            return f"already_{payment.status}"
        if not succeeded:
            if payment.status not in ACTIVE_PAYMENT_STATUSES:
                return f"already_{payment.status}"
            error = _get(intent, "last_payment_error") or {}
            payment_mark_failed(
                payment=payment,
                result_code=str(_get(error, "code") or "card_failed"),
                result_desc=str(_get(error, "message") or "Card payment failed"),
            )
            return "failed"
        received = Decimal(int(_get(intent, "amount_received") or 0)) / 100
        currency = str(_get(intent, "currency") or "").upper()
        if received != payment.amount or currency != payment.currency:
            payment_flag(
                payment=payment,
                note=f"card amount mismatch: got {received} {currency}",
                paid_amount=to_decimal(received),
            )
            return "flagged_amount_mismatch"
        payment_mark_succeeded(
            booking=booking, payment=payment, paid_amount=received, note="card payment succeeded"
        )
    return "succeeded"


# --- Stripe -------------------------------------------------------------------------------------------------------

_STRIPE_HANDLED = {"payment_intent.succeeded": True, "payment_intent.payment_failed": False}


def stripe_event_record(*, event_id: str, event_type: str, payload: dict) -> CallbackEvent:
    """A Stripe event whose signature was verified; deduplicated by event id."""
    stored, created = callback_event_store(
        provider=CallbackProvider.STRIPE,
        kind=CallbackKind.STRIPE_EVENT,
        provider_key=event_id,
        payload=payload,
    )
    if not created and stored.status != CallbackStatus.RECEIVED:
        return stored
    if event_type not in _STRIPE_HANDLED:
        callback_event_finish(stored.pk, CallbackStatus.IGNORED, f"unhandled {event_type}")
        stored.refresh_from_db()
        return stored
    intent = (payload.get("data") or {}).get("object") or {}
    outcome = stripe_payment_intent_apply(intent=intent, succeeded=_STRIPE_HANDLED[event_type])
    status = (
        CallbackStatus.FAILED
        if outcome == "payment_not_found"
        else CallbackStatus.IGNORED
        if outcome.startswith("already_")
        else CallbackStatus.PROCESSED
    )
    callback_event_finish(stored.pk, status, outcome)
    stored.refresh_from_db()
    return stored
