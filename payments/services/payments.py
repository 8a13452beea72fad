"""Inbound payments: STK push requests, STK queries and expiry, and the success path shared with cards
(payments/services/card.py)."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from bookings.models import Booking, BookingStatus
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.money import to_mpesa_amount
from dumuwaks.core.phone import normalize_phone, to_msisdn
from dumuwaks.core.side_effects import publish_after_commit
from payments import errors
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    PAYMENT_ALLOWED_TRANSITIONS,
    CallbackEvent,
    CallbackKind,
    CallbackProvider,
    CallbackStatus,
    LedgerTransactionKind,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PaymentStatusHistory,
)
from payments.services.common import (
    DARAJA_CALLBACK_PATHS,
    callback_url,
    lock_booking,
    lock_escrow,
    lock_payment,
    now,
)
from payments.services.ledger import CUSTOMER_CLEARING, escrow_code, ledger_post, transfer

logger = logging.getLogger(__name__)

DEPOSIT_STATUSES = (BookingStatus.PENDING, BookingStatus.ACCEPTED)
BALANCE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED)
# A booking that ended: money arriving for it is refunded in full.
CLOSED_BOOKING_STATUSES = (BookingStatus.CANCELLED, BookingStatus.EXPIRED, BookingStatus.RESOLVED)
_DESCRIPTIONS = {PaymentPurpose.DEPOSIT: "Booking fee", PaymentPurpose.BALANCE: "Balance"}


def payment_transition(
    *, payment: Payment, to: str, actor=None, note: str = "", **fields
) -> Payment:
    """Compare-and-set status change plus a history row. 409 when the status moved meanwhile."""
    current = payment.status
    if to not in PAYMENT_ALLOWED_TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"A {current} payment cannot become {to}.")
    updated = Payment.objects.filter(pk=payment.pk, status=current).update(
        status=to, updated_at=now(), **fields
    )
    if not updated:
        raise InvalidTransition("The payment changed meanwhile; reload it.")
    PaymentStatusHistory.objects.create(
        payment=payment, actor=actor, from_status=current, to_status=to, note=note[:1000]
    )
    payment.status = to
    for name, value in fields.items():
        setattr(payment, name, value)
    return payment


def _amount_due(booking: Booking, purpose: str) -> Decimal:
    return booking.deposit_amount if purpose == PaymentPurpose.DEPOSIT else booking.balance_amount


def _check_due(booking: Booking, purpose: str) -> None:
    paid = Payment.objects.filter(
        booking=booking, purpose=purpose, status=PaymentStatus.SUCCEEDED
    ).exists()
    if paid or (purpose == PaymentPurpose.DEPOSIT and booking.deposit_paid_at):
        raise errors.AlreadyPaid()
    allowed = DEPOSIT_STATUSES if purpose == PaymentPurpose.DEPOSIT else BALANCE_STATUSES
    if booking.status not in allowed or _amount_due(booking, purpose) <= 0:
        raise errors.PaymentNotDue()
    if purpose == PaymentPurpose.BALANCE and not booking.deposit_paid_at:
        raise errors.PaymentNotDue("The booking fee has to be paid first.")


def _payment_window(method: str) -> timedelta:
    if method == PaymentMethod.CARD:  # card checkouts (3-D Secure) take longer than a PIN prompt
        return timedelta(seconds=getattr(settings, "PAYMENT_CARD_EXPIRY_SECONDS", 1800))
    return timedelta(seconds=settings.PAYMENT_STK_EXPIRY_SECONDS)


def _payment_open(
    *,
    booking_id: int,
    payer,
    purpose: str,
    method: str,
    phone: str | None,
    idempotency_key: str | None,
) -> tuple[Payment, bool]:
    """Create the Payment row for a new request, or return the one this request already made."""
    if idempotency_key:
        existing = Payment.objects.filter(payer=payer, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.booking_id != booking_id or existing.purpose != purpose:
                raise errors.IdempotencyKeyReused()
            return existing, False
    with transaction.atomic():
        try:
            booking = lock_booking(booking_id)
        except Booking.DoesNotExist:
            raise errors.BookingNotFoundForPayment() from None
        if booking.customer_id != payer.pk:
            raise errors.BookingNotFoundForPayment()
        active = Payment.objects.filter(
            booking=booking, purpose=purpose, status__in=ACTIVE_PAYMENT_STATUSES
        ).first()
        if active is not None:
            # A prompt is already on the customer's phone: never push a second one.
            return active, False
        _check_due(booking, purpose)
        number = ""
        if method == PaymentMethod.MPESA:
            # Default: the number that paid this booking before (the balance goes to the same phone).
            earlier = (
                Payment.objects.filter(
                    booking=booking, method=PaymentMethod.MPESA, status=PaymentStatus.SUCCEEDED
                )
                .exclude(phone="")
                .values_list("phone", flat=True)
                .first()
            )
            number = normalize_phone(phone or earlier or payer.phone_number)
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    booking=booking,
                    payer=payer,
                    purpose=purpose,
                    method=method,
                    amount=_amount_due(booking, purpose),
                    currency=booking.currency,
                    phone=number,
                    idempotency_key=idempotency_key or None,
                    expires_at=now() + _payment_window(method),
                )
        except IntegrityError:
            payment = None
        if payment is not None:
            PaymentStatusHistory.objects.create(
                payment=payment, actor=payer, to_status=payment.status, note="requested"
            )
            return payment, True
    # Lost a race on the idempotency key (same request twice at once): answer with the winner's row.
    existing = Payment.objects.filter(payer=payer, idempotency_key=idempotency_key).first()
    if existing is None:
        raise errors.PaymentNotDue("A payment request for this booking is already in progress.")
    return existing, False


def payment_request_stk(
    *,
    booking_id: int,
    payer,
    purpose: str,
    phone: str | None = None,
    idempotency_key: str | None = None,
) -> Payment:
    """Ask the customer's phone for the deposit or balance (STK push). Idempotent per key and per booking.

    The Daraja call happens after the Payment row is committed and outside any transaction.
    """
    payment, created = _payment_open(
        booking_id=booking_id,
        payer=payer,
        purpose=purpose,
        method=PaymentMethod.MPESA,
        phone=phone,
        idempotency_key=idempotency_key,
    )
    if not created:
        if payment.method != PaymentMethod.MPESA:
            raise errors.PaymentNotDue("A card payment for this is in progress.")
        return payment
    return _payment_send_stk(payment)


def _payment_send_stk(payment: Payment) -> Payment:
    from payments.daraja.errors import DarajaError, DarajaOutcomeUnknown
    from payments.services.common import mpesa_client

    booking = payment.booking
    try:
        accepted = mpesa_client().stk_push(
            phone_msisdn=to_msisdn(payment.phone),
            amount=to_mpesa_amount(payment.amount),
            account_reference=booking.number.replace("-", "")[:12],
            description=_DESCRIPTIONS[payment.purpose],
            callback_url=callback_url(DARAJA_CALLBACK_PATHS["stk_result"]),
        )
    except DarajaOutcomeUnknown as exc:
        # Without a CheckoutRequestID we cannot query; a late callback for it is kept unmatched for staff.
        return _payment_fail_request(payment, exc, "STK push outcome unknown")
    except DarajaError as exc:
        return _payment_fail_request(payment, exc, "STK push rejected")

    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status == PaymentStatus.INITIATED:
            payment_transition(
                payment=payment,
                to=PaymentStatus.PENDING,
                note=accepted.customer_message or "STK push accepted",
                checkout_request_id=accepted.checkout_request_id,
                merchant_request_id=accepted.merchant_request_id,
                requested_at=now(),
            )
        elif not payment.checkout_request_id:
            # Closed meanwhile (expired): keep the id anyway so a late callback still finds its payment.
            Payment.objects.filter(pk=payment.pk).update(
                checkout_request_id=accepted.checkout_request_id,
                merchant_request_id=accepted.merchant_request_id,
            )
    # The callback may have overtaken the synchronous answer: process it now that it can be matched.
    waiting = CallbackEvent.objects.filter(
        provider=CallbackProvider.MPESA,
        kind=CallbackKind.STK,
        provider_key=accepted.checkout_request_id,
        status=CallbackStatus.RECEIVED,
    ).first()
    if waiting is not None:
        from payments.services.callbacks import mpesa_stk_callback_apply

        mpesa_stk_callback_apply(event_id=waiting.pk)
    payment.refresh_from_db()
    return payment


def _payment_fail_request(payment: Payment, exc, note: str) -> Payment:
    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status == PaymentStatus.INITIATED:
            payment_transition(
                payment=payment,
                to=PaymentStatus.FAILED,
                note=f"{note}: {exc}",
                result_code=str(getattr(exc, "error_code", ""))[:32],
                result_desc=str(getattr(exc, "error_message", exc))[:255],
                completed_at=now(),
            )
            publish_after_commit(
                "payment.failed", payment_id=payment.pk, booking_id=payment.booking_id
            )
    return payment


def payment_mark_succeeded(
    *,
    booking: Booking,
    payment: Payment,
    receipt: str | None = None,
    paid_amount: Decimal | None = None,
    paid_phone: str = "",
    provider_paid_at=None,
    note: str = "",
) -> Payment:
    """Credit a payment into the booking's escrow and take the next step of the money flow.

    Caller holds the booking and payment locks inside a transaction and has verified amount and payer.
    """
    lock_escrow(booking.pk)
    payment_transition(
        payment=payment,
        to=PaymentStatus.SUCCEEDED,
        note=note or "paid",
        mpesa_receipt=receipt or None,
        paid_amount=paid_amount if paid_amount is not None else payment.amount,
        paid_phone=paid_phone or "",
        provider_paid_at=provider_paid_at,
        completed_at=now(),
    )
    ledger_post(
        kind=LedgerTransactionKind.PAYMENT_RECEIVED,
        reference=f"payment:{payment.pk}:received",
        lines=transfer(payment.amount, source=CUSTOMER_CLEARING, to=escrow_code(booking.pk)),
        booking_id=booking.pk,
        payment_id=payment.pk,
        memo=f"{payment.purpose} by {payment.method} for {booking.number}",
        currency=payment.currency,
    )
    publish_after_commit("payment.succeeded", payment_id=payment.pk, booking_id=booking.pk)

    from payments.services import escrow

    duplicate = (
        Payment.objects.filter(
            booking=booking, purpose=payment.purpose, status=PaymentStatus.SUCCEEDED
        )
        .exclude(pk=payment.pk)
        .exists()
    )
    if booking.status in CLOSED_BOOKING_STATUSES or duplicate:
        reason = "booking closed" if not duplicate else "paid twice"
        escrow.escrow_refund_payment(booking=booking, payment=payment, reason=reason)
        return payment
    if payment.purpose == PaymentPurpose.DEPOSIT:
        _booking_mark_deposit_paid(booking, payment)
    else:
        escrow.escrow_release_if_complete(booking=booking)
    return payment


def _booking_mark_deposit_paid(booking: Booking, payment: Payment) -> None:
    from bookings.services import booking_mark_deposit_paid

    booking_mark_deposit_paid(booking_id=booking.pk, paid_at=payment.completed_at or now())


def payment_flag(*, payment: Payment, note: str, **fields) -> Payment:
    """Money arrived but does not match what we asked for: never credited, staff decide."""
    payment_transition(payment=payment, to=PaymentStatus.FLAGGED, note=note, **fields)
    logger.warning("payment %s flagged: %s", payment.pk, note)
    return payment


def payment_mark_failed(
    *, payment: Payment, result_code: str, result_desc: str, note: str = ""
) -> Payment:
    to = PaymentStatus.CANCELLED if result_code == "1032" else PaymentStatus.FAILED
    payment_transition(
        payment=payment,
        to=to,
        note=note or result_desc,
        result_code=result_code[:32],
        result_desc=result_desc[:255],
        completed_at=now(),
    )
    publish_after_commit("payment.failed", payment_id=payment.pk, booking_id=payment.booking_id)
    return payment


def payment_query_status(*, payment_id: int) -> Payment:
    """Resolve a pending M-Pesa payment whose callback never came (STK Query); expire any payment whose
    window closed (a card payment that later succeeds is still credited). Safe to call any time."""
    from payments.daraja.errors import DarajaError
    from payments.services.common import mpesa_client

    payment = Payment.objects.select_related("booking").get(pk=payment_id)
    if payment.status not in ACTIVE_PAYMENT_STATUSES:
        return payment
    if payment.method != PaymentMethod.MPESA or not payment.checkout_request_id:
        return _payment_expire_if_due(payment)
    try:
        result = mpesa_client().stk_query(checkout_request_id=payment.checkout_request_id)
    except DarajaError as exc:
        logger.info("STK query for payment %s failed: %s", payment.pk, exc)
        return _payment_expire_if_due(payment)
    if result.state == "pending":
        return _payment_expire_if_due(payment)
    with transaction.atomic():
        booking = lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status not in ACTIVE_PAYMENT_STATUSES:
            return payment
        if result.state == "succeeded":
            # The query carries no receipt or amount: we trust the amount we asked for.
            payment_mark_succeeded(booking=booking, payment=payment, note="confirmed by STK query")
        else:
            payment_mark_failed(
                payment=payment,
                result_code=str(result.result_code or ""),
                result_desc=result.result_desc or "failed",
                note="STK query",
            )
    return payment


def _payment_expire_if_due(payment: Payment) -> Payment:
    if payment.expires_at is None or payment.expires_at > now():
        return payment
    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status in ACTIVE_PAYMENT_STATUSES:
            payment_transition(
                payment=payment,
                to=PaymentStatus.EXPIRED,
                note="payment window closed",
                completed_at=now(),
            )
            publish_after_commit(
                "payment.failed", payment_id=payment.pk, booking_id=payment.booking_id
            )
    return payment


def payments_stale_pending_ids(*, older_than_seconds: int) -> list[int]:
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(
        Payment.objects.filter(
            Q(method=PaymentMethod.MPESA) | Q(expires_at__lt=now()),
            status__in=ACTIVE_PAYMENT_STATUSES,
            created_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )


def callback_event_bump_replay(event: CallbackEvent) -> None:
    CallbackEvent.objects.filter(pk=event.pk).update(replay_count=F("replay_count") + 1)
