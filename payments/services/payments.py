"""Inbound payments: STK push requests, STK queries and expiry, and the success path shared with cards
(payments/services/card.py).

An STK push whose answer was lost (`DarajaOutcomeUnknown`) is never failed and never re-sent blindly: the
payment waits in `outcome_unknown` until the money it may have produced turns up in suspense
(payments/services/suspense.py) or its window closes. An unreachable Daraja (`DarajaUnavailable`/`DarajaBusy`)
leaves nothing behind: the request row is removed and the caller gets `PaymentProviderUnavailable` (503).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.services.bookings import booking_mark_deposit_paid
from dumuwaks.core import events
from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.money import to_mpesa_amount
from dumuwaks.core.phone import normalize_phone, to_msisdn
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from payments import errors, rules
from payments.daraja.errors import (
    DarajaBusy,
    DarajaConfigurationError,
    DarajaError,
    DarajaOutcomeUnknown,
)
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    FINAL_PAYMENT_STATUSES,
    PAYMENT_MACHINE,
    LedgerTransactionKind,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    SuspenseItem,
    SuspenseStatus,
)
from payments.selectors.balances import booking_owes_price

# Module imports: callbacks, suspense and tips call back into this module (import cycles), so their names are
# looked up when called. `common` too: tests swap `common.mpesa_client` for a client around the fake.
from payments.services import callbacks, common, escrow, suspense, tips
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
# Also a booking resolved `release_to_technician`: the customer owes the full price (booking_owes_price).
BALANCE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED)
# A booking that ended: money arriving for it is refunded in full (booking_closed_for_payments).
CLOSED_BOOKING_STATUSES = (BookingStatus.CANCELLED, BookingStatus.EXPIRED, BookingStatus.RESOLVED)
_DESCRIPTIONS = {
    PaymentPurpose.DEPOSIT: "Booking fee",
    PaymentPurpose.BALANCE: "Balance",
    PaymentPurpose.TIP: "Tip",
}
# A payment still `initiated` this long after it was created lost its push midway (the process died while
# Daraja was being called): the prompt may have gone out, so it is treated as an unknown outcome.
STK_PUSH_IN_FLIGHT_SECONDS = 180
# AccountReference: "DWP" + the payment id in base 36, unique for as long as payment ids are (Daraja allows
# 12 characters: 9 base-36 digits cover ids up to 36**9 - 1, about 10**14). The old "booking number" reference
# began with "DW" and a digit, so the two schemes can never produce the same reference.
ACCOUNT_REFERENCE_PREFIX = "DWP"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def payment_account_reference(payment_id: int) -> str:
    """The AccountReference of a payment's STK push (shown in the customer's prompt)."""
    if payment_id <= 0:
        raise ValueError("payment ids are positive")
    digits = ""
    value = payment_id
    while value:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
    reference = ACCOUNT_REFERENCE_PREFIX + digits
    if len(reference) > 12:
        raise ValueError(
            f"payment id {payment_id} does not fit Daraja's 12-character AccountReference"
        )
    return reference


def payment_transition(
    *, payment: Payment, to: str, actor=None, note: str = "", **fields
) -> Payment:
    """Status change of a payment (PAYMENT_MACHINE) plus a history row. 409 when it moved meanwhile."""
    return transition(
        machine=PAYMENT_MACHINE,
        instance=payment,
        to=to,
        actor=actor,
        note=note[:1000],
        fields=fields,
    )


def booking_closed_for_payments(booking: Booking) -> bool:
    """The booking ended and owes nothing: money arriving for it goes back. A dispute resolved
    `release_to_technician` leaves the full price owed (README "Disputes: every outcome in every state")."""
    return booking.status in CLOSED_BOOKING_STATUSES and not booking_owes_price(booking)


def _amount_due(booking: Booking, purpose: str) -> Decimal:
    return booking.deposit_amount if purpose == PaymentPurpose.DEPOSIT else booking.balance_amount


def _check_due(booking: Booking, purpose: str) -> None:
    paid = Payment.objects.filter(
        booking=booking, purpose=purpose, status=PaymentStatus.SUCCEEDED
    ).exists()
    if paid or (purpose == PaymentPurpose.DEPOSIT and booking.deposit_paid_at):
        raise errors.AlreadyPaid()
    if purpose == PaymentPurpose.DEPOSIT:
        due = booking.status in DEPOSIT_STATUSES
    else:
        due = booking.status in BALANCE_STATUSES or booking_owes_price(booking)
    if not due or _amount_due(booking, purpose) <= 0:
        raise errors.PaymentNotDue()
    if purpose == PaymentPurpose.BALANCE and not booking.deposit_paid_at:
        raise errors.PaymentNotDue("The booking fee has to be paid first.")


def _payment_window(method: str) -> timedelta:
    if method == PaymentMethod.CARD:  # card checkouts (3-D Secure) take longer than a PIN prompt
        return rules.CARD_EXPIRY
    return rules.STK_EXPIRY


def payment_pending_body(payment: Payment) -> dict:
    """The open payment as error bodies show it (`PaymentPending`, `PaymentProviderRejected`): the one shape
    every request path (deposit, balance, tip; M-Pesa or card) hands back, so a client can resume it."""
    return {
        "id": payment.pk,
        "status": payment.status,
        "method": payment.method,
        "phone": payment.phone,
        # Local time, as every time the API shows (the payment's own expiresAt included).
        "expires_at": timezone.localtime(payment.expires_at).isoformat()
        if payment.expires_at
        else None,
    }


def _trusted_phones(payer) -> set[str]:
    """Numbers an STK prompt may go to without the customer confirming them: their own number once verified,
    and any number that already paid one of their M-Pesa payments (its owner entered the PIN)."""
    trusted = set(
        Payment.objects.filter(
            payer=payer, method=PaymentMethod.MPESA, status=PaymentStatus.SUCCEEDED
        )
        .exclude(phone="")
        .values_list("phone", flat=True)
    )
    if payer.phone_number and payer.is_phone_verified:
        trusted.add(normalize_phone(payer.phone_number))
    return trusted


def _stk_phone(*, booking: Booking, payer, phone: str | None, confirm_phone: bool) -> str:
    """The number to prompt. Rule: the customer's own verified number (or one that has paid for them
    before) as is; any other number only when the request confirms it (`confirm_phone`)."""
    earlier = (
        Payment.objects.filter(
            booking=booking, method=PaymentMethod.MPESA, status=PaymentStatus.SUCCEEDED
        )
        .exclude(phone="")
        .values_list("phone", flat=True)
        .first()
    )
    number = normalize_phone(phone or earlier or payer.phone_number)
    if not confirm_phone and number not in _trusted_phones(payer):
        raise errors.PhoneConfirmationRequired()
    return number


def payment_open(
    *,
    booking_id: int,
    payer,
    purpose: str,
    method: str,
    phone: str | None,
    idempotency_key: str | None,
    confirm_phone: bool = False,
    supersede: bool = False,
    amount: Decimal | None = None,
) -> tuple[Payment, bool]:
    """Create the Payment row for a new request, or return the one this request already made (`created`
    False): the one way a deposit, balance or tip request (M-Pesa or card) opens its payment. Owns its
    transaction and takes the booking lock; sends nothing (the caller sends the prompt or intent after it
    returns, outside any transaction). Raises `BookingNotFoundForPayment` (not the payer's booking),
    `IdempotencyKeyReused`, `PaymentNotDue`/`TipNotAllowed` (nothing due) and `PhoneConfirmationRequired`.

    While a request for the same booking and purpose is open, a new one is refused (`PaymentPending`, with the
    open payment) unless `supersede`: an open M-Pesa request is then cancelled (a history row) and replaced.
    `amount` is the tip's (purpose `tip`, payments/services/tips.py); the deposit and balance are the booking's.
    """
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
            if idempotency_key and active.idempotency_key == idempotency_key:
                return active, False
            if method != PaymentMethod.MPESA:
                return active, False  # card checkout: the open intent is handed back (card.py)
            if not (supersede and active.method == PaymentMethod.MPESA):
                # A prompt is already on the customer's phone: never push a second one unasked.
                raise errors.PaymentPending(extra={"payment": payment_pending_body(active)})
        if purpose == PaymentPurpose.TIP:
            tips.tip_check_allowed(booking)
        else:
            _check_due(booking, purpose)
        number = ""
        if method == PaymentMethod.MPESA:
            number = _stk_phone(
                booking=booking, payer=payer, phone=phone, confirm_phone=confirm_phone
            )
        if active is not None:
            payment_transition(
                payment=lock_payment(active.pk),
                to=PaymentStatus.CANCELLED,
                actor=payer,
                note="superseded by a new payment request",
                completed_at=now(),
            )
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    booking=booking,
                    payer=payer,
                    purpose=purpose,
                    method=method,
                    amount=amount
                    if purpose == PaymentPurpose.TIP
                    else _amount_due(booking, purpose),
                    currency=booking.currency,
                    phone=number,
                    idempotency_key=idempotency_key or None,
                    expires_at=now() + _payment_window(method),
                )
        except IntegrityError:
            payment = None
        if payment is not None:
            status_history_append(
                machine=PAYMENT_MACHINE,
                instance=payment,
                from_status="",
                to_status=payment.status,
                actor=payer,
                note="requested",
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
    confirm_phone: bool = False,
    supersede: bool = False,
) -> Payment:
    """Ask the customer's phone for the deposit or balance (STK push). Idempotent per key.

    Raises `PaymentPending` while a request is open (unless `supersede`), `PhoneConfirmationRequired` for a
    number that is not the payer's verified one (unless `confirm_phone`), `PaymentProviderUnavailable` when
    Daraja cannot be reached (nothing is kept) and `PaymentProviderRejected` when Daraja refuses the push (the
    failed payment is kept). A lost answer leaves the payment `outcome_unknown`.
    The Daraja call happens after the Payment row is committed and outside any transaction.
    """
    payment, created = payment_open(
        booking_id=booking_id,
        payer=payer,
        purpose=purpose,
        method=PaymentMethod.MPESA,
        phone=phone,
        idempotency_key=idempotency_key,
        confirm_phone=confirm_phone,
        supersede=supersede,
    )
    if not created:
        if payment.method != PaymentMethod.MPESA:
            raise errors.PaymentNotDue("A card payment for this is in progress.")
        return payment
    return payment_stk_send(payment=payment)


def deposit_prompt_request(*, booking_id: int) -> str:
    """Send the booking's automatic deposit prompt (the request task and the sweep both call this, so they
    share one idempotency key `auto-deposit-<id>`: at most one push). Call outside any transaction.

    Returns the payment's status, or why nothing was sent: `booking_not_found` or an error code
    (`payment_not_due`, `payment_pending`, `phone_confirmation_required`: the customer confirms a number in
    the app, `payment_provider_unavailable`: nothing kept, ask again later, ...). The balance's counterpart is
    `balance_prompt_request` (payments/services/balance.py).
    """
    booking = Booking.objects.select_related("customer").filter(pk=booking_id).first()
    if booking is None:
        return "booking_not_found"
    try:
        payment = payment_request_stk(
            booking_id=booking.pk,
            payer=booking.customer,
            purpose=PaymentPurpose.DEPOSIT,
            idempotency_key=f"auto-deposit-{booking.pk}",
        )
    except ApplicationError as exc:
        # Nothing due (already paid, cancelled meanwhile), a request already open, no usable phone
        # (unverified: the customer confirms it in the app), or Daraja unavailable/refusing.
        logger.info("no deposit STK for booking %s: %s", booking_id, exc.code)
        return exc.code
    return payment.status


def payment_stk_send(*, payment: Payment) -> Payment:
    """Send the STK prompt of a payment `payment_open` just created, and record what Daraja answered.

    Call outside any transaction. Accepted: the payment is pending with its CheckoutRequestID. A lost answer:
    `outcome_unknown` (suspense matching or the window decides). Nothing reached Daraja: the row is deleted
    and `PaymentProviderUnavailable` raised. Refused: the payment fails and `PaymentProviderRejected` is raised.
    """
    try:
        accepted = common.mpesa_client().stk_push(
            phone_msisdn=to_msisdn(payment.phone),
            amount=to_mpesa_amount(payment.amount),
            account_reference=payment_account_reference(payment.pk),
            description=_DESCRIPTIONS[payment.purpose],
            callback_url=callback_url(DARAJA_CALLBACK_PATHS["stk_result"]),
        )
    except DarajaOutcomeUnknown as exc:
        # Daraja may have prompted the customer: wait for the money (suspense matching) or the window.
        return _payment_mark_outcome_unknown(payment, note=f"STK push outcome unknown: {exc}")
    except (DarajaBusy, DarajaConfigurationError) as exc:
        # Nothing reached Daraja (unreachable, rate-limited, or our configuration): keep nothing.
        log = logger.error if isinstance(exc, DarajaConfigurationError) else logger.warning
        log("STK push for payment %s not sent: %s", payment.pk, exc)
        _payment_discard_unsent(payment)
        raise errors.PaymentProviderUnavailable() from exc
    except DarajaError as exc:
        payment_fail_request(payment=payment, exc=exc, note="STK push rejected")
        raise errors.PaymentProviderRejected(
            extra={"payment": payment_pending_body(Payment.objects.get(pk=payment.pk))}
        ) from exc

    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status in (PaymentStatus.INITIATED, PaymentStatus.OUTCOME_UNKNOWN):
            payment_transition(
                payment=payment,
                to=PaymentStatus.PENDING,
                note=accepted.customer_message or "STK push accepted",
                checkout_request_id=accepted.checkout_request_id,
                merchant_request_id=accepted.merchant_request_id,
                requested_at=now(),
            )
        elif not payment.checkout_request_id:
            # Closed meanwhile (expired/superseded): keep the id anyway so a late callback still finds it.
            Payment.objects.filter(pk=payment.pk).update(
                checkout_request_id=accepted.checkout_request_id,
                merchant_request_id=accepted.merchant_request_id,
                requested_at=now(),
            )
    _payment_apply_early_callback(payment.pk, accepted.checkout_request_id)
    payment.refresh_from_db()
    return payment


def _payment_apply_early_callback(payment_id: int, checkout_request_id: str) -> None:
    """The callback may have overtaken the synchronous answer: apply it now that it can be matched.

    A success that overtook it was put into suspense (it matched nothing then); a failure waits `unmatched`.
    """
    held = (
        SuspenseItem.objects.filter(
            checkout_request_id=checkout_request_id, status=SuspenseStatus.HELD
        )
        .values_list("pk", flat=True)
        .first()
    )
    if held is not None:
        suspense.suspense_item_match(
            item_id=held, payment_id=payment_id, note="callback before push answer"
        )
        return
    callbacks.stk_callbacks_apply_waiting(
        payment_id=payment_id, checkout_request_id=checkout_request_id
    )


def _payment_mark_outcome_unknown(payment: Payment, *, note: str, sent_at=None) -> Payment:
    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status != PaymentStatus.INITIATED:
            return payment
        payment_transition(
            payment=payment,
            to=PaymentStatus.OUTCOME_UNKNOWN,
            note=note,
            requested_at=sent_at or now(),
        )
    logger.warning("payment %s: %s", payment.pk, note)
    # Its money may already be waiting in suspense (the callback overtook the lost answer).
    suspense.suspense_match_for_payment(payment_id=payment.pk)
    payment.refresh_from_db()
    return payment


def _payment_discard_unsent(payment: Payment) -> None:
    """Remove the request row of a push that never reached Daraja (the client is told to retry)."""
    with transaction.atomic():
        lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        if payment.status == PaymentStatus.INITIATED and not payment.checkout_request_id:
            payment.delete()  # its "requested" history row goes with it (on_delete=CASCADE)


def payment_fail_request(*, payment: Payment, exc: Exception, note: str) -> Payment:
    """The provider refused to start this payment (STK push, card intent): an `initiated` payment becomes
    `failed` with the provider's code and message, and `PaymentFailed` is published after commit. A payment
    that moved on meanwhile (a callback got there first) is left as it is. Call outside any transaction."""
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
                events.PaymentFailed(payment_id=payment.pk, booking_id=payment.booking_id)
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
    result_code: str = "",
    result_desc: str = "",
    checkout_request_id: str | None = None,
) -> Payment:
    """Credit a payment into the booking's escrow and take the next step of the money flow.

    Caller holds the booking and payment locks inside a transaction and has verified amount and payer.
    `result_code`/`result_desc` are the provider's (M-Pesa: "0" / "The service request is processed
    successfully."); `checkout_request_id` is stored when the money was matched to a push that had none.
    A tip goes to the technician's tips account instead of escrow (payments/services/tips.py).
    """
    is_tip = payment.purpose == PaymentPurpose.TIP
    if not is_tip:
        lock_escrow(booking.pk)
    extra = {"checkout_request_id": checkout_request_id} if checkout_request_id else {}
    payment_transition(
        payment=payment,
        to=PaymentStatus.SUCCEEDED,
        note=note or "paid",
        mpesa_receipt=receipt or None,
        paid_amount=paid_amount if paid_amount is not None else payment.amount,
        paid_phone=paid_phone or "",
        provider_paid_at=provider_paid_at,
        completed_at=now(),
        result_code=result_code[:32],
        result_desc=result_desc[:255],
        **extra,
    )
    if is_tip:
        tips.tip_credit(booking=booking, payment=payment)
        publish_after_commit(events.PaymentSucceeded(payment_id=payment.pk, booking_id=booking.pk))
        return payment
    ledger_post(
        kind=LedgerTransactionKind.PAYMENT_RECEIVED,
        reference=f"payment:{payment.pk}:received",
        lines=transfer(payment.amount, source=CUSTOMER_CLEARING, to=escrow_code(booking.pk)),
        booking_id=booking.pk,
        payment_id=payment.pk,
        memo=f"{payment.purpose} by {payment.method} for {booking.number}",
        currency=payment.currency,
    )
    publish_after_commit(events.PaymentSucceeded(payment_id=payment.pk, booking_id=booking.pk))
    duplicate = (
        Payment.objects.filter(
            booking=booking, purpose=payment.purpose, status=PaymentStatus.SUCCEEDED
        )
        .exclude(pk=payment.pk)
        .exists()
    )
    if duplicate or booking_closed_for_payments(booking):
        reason = "booking closed" if not duplicate else "paid twice"
        escrow.escrow_refund_payment(booking=booking, payment=payment, reason=reason)
        return payment
    if payment.purpose == PaymentPurpose.DEPOSIT:
        _booking_mark_deposit_paid(booking, payment)
    else:
        escrow.escrow_release_if_complete(booking=booking)
    return payment


def _booking_mark_deposit_paid(booking: Booking, payment: Payment) -> None:
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
    publish_after_commit(events.PaymentFailed(payment_id=payment.pk, booking_id=payment.booking_id))
    return payment


def payment_query_status(*, payment_id: int) -> Payment:
    """Resolve an open payment whose callback never came; expire any payment whose window closed (a
    payment that later succeeds is still credited). Safe to call any time (beat job, polling clients).

    - pending M-Pesa payment: STK Query (an answer about another CheckoutRequestID is refused);
    - `initiated` for longer than a push can take: the push was cut off midway → `outcome_unknown`;
    - `outcome_unknown` (no CheckoutRequestID, nothing to query): its money is looked for in suspense.
    """
    payment = Payment.objects.select_related("booking").get(pk=payment_id)
    if payment.status not in ACTIVE_PAYMENT_STATUSES:
        return payment
    if payment.method != PaymentMethod.MPESA:
        return _payment_expire_if_due(payment)
    if payment.status == PaymentStatus.INITIATED and not payment.checkout_request_id:
        cutoff = now() - timedelta(seconds=STK_PUSH_IN_FLIGHT_SECONDS)
        if payment.created_at < cutoff:
            payment = _payment_mark_outcome_unknown(
                payment,
                note="STK push never answered (cut off midway): outcome unknown",
                sent_at=payment.created_at,
            )
    if not payment.checkout_request_id:
        if payment.status == PaymentStatus.OUTCOME_UNKNOWN:
            suspense.suspense_match_for_payment(payment_id=payment.pk)
            payment.refresh_from_db()
        return (
            _payment_expire_if_due(payment)
            if payment.status in ACTIVE_PAYMENT_STATUSES
            else payment
        )
    if _apply_waiting_callback(payment):
        return Payment.objects.select_related("booking").get(pk=payment.pk)
    result = _stk_query(payment)
    if result is None or result.state == "pending":
        return _payment_expire_if_due(payment)
    return _payment_apply_query(payment, result, closed_ok=False)


def _apply_waiting_callback(payment: Payment) -> bool:
    """Its callback already came and waits unmatched (stored before the payment had the id): apply it
    instead of asking Daraja."""
    return (
        callbacks.stk_callbacks_apply_waiting(
            payment_id=payment.pk, checkout_request_id=payment.checkout_request_id
        )
        is not None
    )


def payment_check_status(*, payment_id: int, actor=None) -> Payment:
    """Staff (or the payer) ask for a fresh status check of a payment that is not final.

    Open payments are resolved as by the beat job. A closed one (expired, failed, cancelled) can only still
    turn out paid: its STK Query answer or its money in suspense credits it; anything else leaves it as is.
    Raises `PaymentFinal` for succeeded and flagged payments.
    """
    payment = Payment.objects.select_related("booking").get(pk=payment_id)
    if payment.status in FINAL_PAYMENT_STATUSES:
        raise errors.PaymentFinal()
    logger.info(
        "status check of payment %s requested by %s", payment.pk, getattr(actor, "pk", None)
    )
    if payment.status in ACTIVE_PAYMENT_STATUSES or payment.method != PaymentMethod.MPESA:
        return payment_query_status(payment_id=payment.pk)
    if not payment.checkout_request_id:
        if (
            payment.requested_at is not None
        ):  # a push whose answer was lost: its money may be in suspense
            suspense.suspense_match_for_payment(payment_id=payment.pk)
            payment.refresh_from_db()
        return payment
    if _apply_waiting_callback(payment):
        return Payment.objects.select_related("booking").get(pk=payment.pk)
    result = _stk_query(payment)
    if result is None or result.state != "succeeded":
        return payment
    return _payment_apply_query(payment, result, closed_ok=True)


def _stk_query(payment: Payment):
    """STK Query for the payment's CheckoutRequestID; None when Daraja gave no usable answer (logged)."""
    try:
        result = common.mpesa_client().stk_query(checkout_request_id=payment.checkout_request_id)
    except DarajaError as exc:
        logger.info("STK query for payment %s failed: %s", payment.pk, exc)
        return None
    if result.state != "pending" and result.checkout_request_id != payment.checkout_request_id:
        # Only an answer about the request we asked about may change this payment.
        logger.warning(
            "STK query answer for payment %s refused: asked about %s, answer is about %s",
            payment.pk,
            payment.checkout_request_id,
            result.checkout_request_id,
        )
        return None
    return result


def _payment_apply_query(payment: Payment, result, *, closed_ok: bool) -> Payment:
    with transaction.atomic():
        booking = lock_booking(payment.booking_id)
        payment = lock_payment(payment.pk)
        open_ = payment.status in ACTIVE_PAYMENT_STATUSES
        if payment.status in FINAL_PAYMENT_STATUSES or not (open_ or closed_ok):
            return payment
        if result.state == "succeeded":
            # The query carries no receipt or amount: we trust the amount we asked for.
            payment_mark_succeeded(
                booking=booking,
                payment=payment,
                note="confirmed by STK query",
                result_code=str(result.result_code or "0"),
                result_desc=result.result_desc or "",
            )
        elif open_:
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
        if payment.status == PaymentStatus.OUTCOME_UNKNOWN:
            # Nothing heard in its window: we still do not know. Not failed, not expired; late money is
            # matched and credited (once: a second payment for the purpose goes back).
            payment_transition(
                payment=payment,
                to=PaymentStatus.UNRESOLVED,
                note="payment window closed with the push's outcome still unknown",
                completed_at=now(),
            )
            # No "payment failed, try again": the customer may have paid. The booking's `money` shows
            # the amount due again, so the app offers a new prompt.
        elif payment.status in ACTIVE_PAYMENT_STATUSES:
            payment_transition(
                payment=payment,
                to=PaymentStatus.EXPIRED,
                note="payment window closed",
                completed_at=now(),
            )
            publish_after_commit(
                events.PaymentFailed(payment_id=payment.pk, booking_id=payment.booking_id)
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
