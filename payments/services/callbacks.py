"""Provider callbacks: stored first under their unique provider key, then applied under the owner's row lock.

A replay (same provider key) finds the stored event and changes nothing. Callers have already authenticated the
request (token + optional IP allow-list) before anything here runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from django.db import IntegrityError, transaction
from django.db.models import F

from dumuwaks.core.money import to_decimal
from dumuwaks.core.side_effects import enqueue_after_commit
from dumuwaks.core.state_machine import status_history_append
from payments import errors, tasks
from payments.daraja.parsing import (
    MalformedCallback,
    parse_b2c_result,
    parse_queue_timeout,
    parse_stk_callback,
    parse_transaction_status_result,
)
from payments.daraja.result_codes import Outcome
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    PAYMENT_MACHINE,
    PAYOUT_ATTEMPT_OPEN_OUTCOMES,
    CallbackEvent,
    CallbackKind,
    CallbackProvider,
    CallbackStatus,
    Payment,
    PaymentStatus,
    Payout,
    PayoutAttempt,
)

# Module imports, names looked up when called: payments imports this module (an import cycle), and so
# does suspense through payments.
from payments.services import payments as payment_services
from payments.services import suspense
from payments.services.common import lock_booking, lock_payment, now
from payments.services.payouts import payout_attempt_record_result, payout_attempt_recover

logger = logging.getLogger(__name__)

_OUR_ORIGINATOR = re.compile(r"^DW-PO-(\d+)-(\d+)$")
# STK callbacks not applied yet: just stored, or stored and matching no payment so far.
_WAITING = (CallbackStatus.RECEIVED, CallbackStatus.UNMATCHED)


def _body_key(payload) -> str:
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def callback_event_store(
    *, provider: str, kind: str, provider_key: str, payload, remote_addr: str | None = None
) -> tuple[CallbackEvent, bool]:
    """Insert the event; on a replay return the stored one (and count the replay)."""
    try:
        with transaction.atomic():
            event = CallbackEvent.objects.create(
                provider=provider,
                kind=kind,
                provider_key=provider_key[:128],
                payload=payload,
                remote_addr=remote_addr,
            )
        return event, True
    except IntegrityError:
        stored = CallbackEvent.objects.filter(
            provider=provider, kind=kind, provider_key=provider_key[:128]
        ).first()
        if stored is not None and stored.payload != payload:
            # Same key, different content (e.g. a failure then a success): never applied twice, but a
            # person must look at it.
            logger.error("conflicting redelivery for %s/%s %s", provider, kind, provider_key)
        CallbackEvent.objects.filter(
            provider=provider, kind=kind, provider_key=provider_key[:128]
        ).update(replay_count=F("replay_count") + 1)
        return CallbackEvent.objects.get(
            provider=provider, kind=kind, provider_key=provider_key[:128]
        ), False


def callback_event_finish(event_id: int, status: str, outcome: str) -> None:
    """Record what processing did with a stored delivery. Not a state-machine transition: see
    `CallbackEvent` for why its status has no map or history."""
    CallbackEvent.objects.filter(pk=event_id).update(
        status=status, outcome=outcome[:255], processed_at=now()
    )


def _mpesa_callback_store_parsed(*, kind: str, parse, key_of, payload, remote_addr: str | None):
    """Parse and store an M-Pesa callback under its provider key.

    Returns `(event, created, parsed)`. A malformed body is still stored (under a hash of the body, so its
    replays are recognised too) and marked failed; `parsed` is then None and there is nothing to apply.
    """
    try:
        parsed = parse(payload)
    except MalformedCallback as exc:
        event, created = callback_event_store(
            provider=CallbackProvider.MPESA,
            kind=kind,
            provider_key=_body_key(payload),
            payload=payload,
            remote_addr=remote_addr,
        )
        if created:
            callback_event_finish(event.pk, CallbackStatus.FAILED, f"malformed: {exc}")
        return event, False, None
    event, created = callback_event_store(
        provider=CallbackProvider.MPESA,
        kind=kind,
        provider_key=key_of(parsed) or _body_key(payload),
        payload=payload,
        remote_addr=remote_addr,
    )
    return event, created, parsed


# --- STK ----------------------------------------------------------------------------------------------------------


def mpesa_stk_callback_record(*, payload, remote_addr: str | None = None) -> CallbackEvent:
    event, created, callback = _mpesa_callback_store_parsed(
        kind=CallbackKind.STK,
        parse=parse_stk_callback,
        key_of=lambda parsed: parsed.checkout_request_id,
        payload=payload,
        remote_addr=remote_addr,
    )
    if callback is None:
        return event
    if created or event.status in _WAITING:
        mpesa_stk_callback_apply(event_id=event.pk)
        event.refresh_from_db()
    return event


def mpesa_stk_callback_apply(*, event_id: int) -> str:
    """Apply a stored STK callback to its payment.

    No payment has its CheckoutRequestID (the callback overtook the push's answer, or the answer was lost):
    money it reports is held in suspense and matched to the push it fits (payments/services/suspense.py);
    a failure (which carries no phone or amount to match by) is kept `unmatched` under its CheckoutRequestID,
    listed for staff, and applied as soon as a payment learns that id (`stk_callbacks_apply_waiting`: the
    push's answer, a status check, staff attaching it).
    """
    event = CallbackEvent.objects.get(pk=event_id)
    callback = parse_stk_callback(event.payload)
    row = (
        Payment.objects.filter(checkout_request_id=callback.checkout_request_id)
        .values_list("pk", "booking_id")
        .first()
    )
    if row is None:
        if callback.is_success and callback.amount is not None and callback.amount > 0:
            item = suspense.suspense_hold_stk_money(event=event, callback=callback)
            matched = suspense.suspense_match_for_item(item_id=item.pk)
            return f"matched_payment_{matched.pk}" if matched else "held_in_suspense"
        CallbackEvent.objects.filter(pk=event_id, status__in=_WAITING).update(
            status=CallbackStatus.UNMATCHED,
            outcome="unmatched: no payment has this CheckoutRequestID yet",
        )
        logger.warning(
            "STK callback %s (%s) matches no payment: kept unmatched",
            callback.checkout_request_id,
            callback.result_code,
        )
        return "unmatched"
    payment_id, booking_id = row
    with transaction.atomic():
        booking = lock_booking(booking_id)
        payment = lock_payment(payment_id)
        event = CallbackEvent.objects.select_for_update().get(pk=event_id)
        if event.status not in _WAITING:
            return event.outcome
        outcome = _apply_stk(booking, payment, callback)
        status = (
            CallbackStatus.IGNORED if outcome.startswith("already_") else CallbackStatus.PROCESSED
        )
        callback_event_finish(event_id, status, outcome)
    return outcome


def stk_callbacks_apply_waiting(*, payment_id: int, checkout_request_id: str) -> str | None:
    """A payment has just learnt (or been given) its CheckoutRequestID: apply the STK callback stored under
    it that matched no payment when it arrived (it waited as `received`/`unmatched`). Returns the outcome,
    or None when none waits."""
    waiting = (
        CallbackEvent.objects.filter(
            provider=CallbackProvider.MPESA,
            kind=CallbackKind.STK,
            provider_key=checkout_request_id,
            status__in=_WAITING,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is None:
        return None
    outcome = mpesa_stk_callback_apply(event_id=waiting)
    logger.info("waiting STK callback %s applied to payment %s: %s", waiting, payment_id, outcome)
    return outcome


def stk_callback_attach(*, event_id: int, payment_id: int, actor) -> str:
    """Staff: an unmatched STK callback answers this push, whose own answer was lost (no CheckoutRequestID;
    staff know it from the org portal or the customer). The payment takes the callback's CheckoutRequestID
    and the callback is applied to it (a failure closes it failed or cancelled, money credits it).

    `CallbackNotAttachable` (409) when the callback is not unmatched or the payment already has a
    CheckoutRequestID or was never pushed.
    """
    event = CallbackEvent.objects.filter(pk=event_id, kind=CallbackKind.STK).first()
    if event is None or event.status not in _WAITING:
        raise errors.CallbackNotAttachable("This callback is not waiting for a payment.")
    booking_id = Payment.objects.filter(pk=payment_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise errors.PaymentNotFound()
    with transaction.atomic():
        lock_booking(booking_id)
        payment = lock_payment(payment_id)
        if payment.checkout_request_id or payment.requested_at is None:
            raise errors.CallbackNotAttachable(
                "Only a push whose answer was lost (sent, no CheckoutRequestID) can take a callback."
            )
        if Payment.objects.filter(checkout_request_id=event.provider_key).exists():
            raise errors.CallbackNotAttachable("Another payment has this CheckoutRequestID.")
        Payment.objects.filter(pk=payment.pk).update(
            checkout_request_id=event.provider_key, updated_at=now()
        )
        status_history_append(
            machine=PAYMENT_MACHINE,
            instance=payment,
            from_status=payment.status,
            to_status=payment.status,
            actor=actor,
            note=f"STK callback {event.pk} ({event.provider_key}) attached by staff",
        )
    return mpesa_stk_callback_apply(event_id=event.pk)


def _apply_stk(booking, payment: Payment, callback) -> str:
    # Money for a closed (expired, failed, cancelled or superseded) payment is still credited.
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED):
        return f"already_{payment.status}"
    if callback.result_code != "0":
        # An unresolved push learns what happened to it; other closed payments keep their answer.
        if payment.status not in (*ACTIVE_PAYMENT_STATUSES, PaymentStatus.UNRESOLVED):
            return f"already_{payment.status}"
        payment_services.payment_mark_failed(
            payment=payment,
            result_code=callback.result_code,
            result_desc=callback.result_desc or "failed",
        )
        return payment.status
    paid_amount = to_decimal(callback.amount) if callback.amount is not None else None
    fields = {
        "result_code": "0",
        "result_desc": (callback.result_desc or "")[:255],
        "paid_amount": paid_amount,
        "paid_phone": callback.phone_number or "",
        "provider_paid_at": callback.transaction_date,
        "completed_at": now(),
    }
    if paid_amount != payment.amount:
        payment_services.payment_flag(
            payment=payment, note=f"amount mismatch: paid {paid_amount}", **fields
        )
        return "flagged_amount_mismatch"
    if callback.phone_number and payment.phone and callback.phone_number != payment.phone:
        payment_services.payment_flag(
            payment=payment, note=f"phone mismatch: paid from {callback.phone_number}", **fields
        )
        return "flagged_phone_mismatch"
    receipt = callback.receipt_number or None
    if receipt and Payment.objects.filter(mpesa_receipt=receipt).exclude(pk=payment.pk).exists():
        payment_services.payment_flag(
            payment=payment, note=f"receipt {receipt} already used", **fields
        )
        return "flagged_duplicate_receipt"
    payment_services.payment_mark_succeeded(
        booking=booking,
        payment=payment,
        receipt=receipt,
        paid_amount=paid_amount,
        paid_phone=callback.phone_number or "",
        provider_paid_at=callback.transaction_date,
        note=f"M-Pesa receipt {receipt}" if receipt else "paid",
        result_code="0",
        result_desc=callback.result_desc or "",
    )
    return "succeeded"


def mpesa_stk_timeout_record(*, payload, remote_addr: str | None = None) -> CallbackEvent:
    """Not a Daraja STK feature, kept for parity with the old API: store it and query the payment."""
    checkout_id = _find_key(payload, "CheckoutRequestID")
    event, created = callback_event_store(
        provider=CallbackProvider.MPESA,
        kind=CallbackKind.STK_TIMEOUT,
        provider_key=checkout_id or _body_key(payload),
        payload=payload,
        remote_addr=remote_addr,
    )
    if not created:
        return event
    payment_id = (
        Payment.objects.filter(checkout_request_id=checkout_id).values_list("pk", flat=True).first()
        if checkout_id
        else None
    )
    if payment_id is None:
        callback_event_finish(event.pk, CallbackStatus.IGNORED, "payment_not_found")
        return event
    enqueue_after_commit(tasks.payment_query_status_task, payment_id)
    callback_event_finish(event.pk, CallbackStatus.PROCESSED, "query_scheduled")
    return event


def _find_key(payload, key: str):
    if isinstance(payload, dict):
        for name, value in payload.items():
            if name == key and isinstance(value, str | int):
                return str(value)
            found = _find_key(value, key)
            if found:
                return found
    elif isinstance(payload, list):
        for item in payload:
            found = _find_key(item, key)
            if found:
                return found
    return None


# --- B2C ----------------------------------------------------------------------------------------------------------
# One payout may have several attempts, each with its own OriginatorConversationID; every result is applied to
# the attempt it names (payout_attempt_record_result), whenever it arrives. What a result code means is decided
# in payments/daraja/result_codes.py: only definitive codes fail an attempt, the rest leave it unknown.


def _attempt_for(originator_id: str | None, conversation_id: str | None) -> PayoutAttempt | None:
    if originator_id:
        found = PayoutAttempt.objects.filter(
            originator_conversation_id=originator_id
        ).first() or payout_attempt_recover(originator_conversation_id=originator_id)
        if found:
            return found
    if conversation_id:
        return PayoutAttempt.objects.filter(conversation_id=conversation_id).first()
    return None


def _b2c_result_key(result) -> str:
    """Daraja may post several different results for one OriginatorConversationID (a "request timed out"
    result, then the real one): each is its own event. A redelivery of the same result is a replay."""
    return ":".join(
        (result.originator_conversation_id or result.conversation_id, result.result_code)
        + ((result.transaction_id,) if result.transaction_id else ())
    )


def _finish_attempt_event(event: CallbackEvent, outcome: str) -> None:
    quiet = outcome.startswith(("already_", "conflicting_"))
    callback_event_finish(
        event.pk, CallbackStatus.IGNORED if quiet else CallbackStatus.PROCESSED, outcome
    )


def mpesa_b2c_result_record(*, payload, remote_addr: str | None = None) -> CallbackEvent:
    event, created, result = _mpesa_callback_store_parsed(
        kind=CallbackKind.B2C_RESULT,
        parse=parse_b2c_result,
        key_of=_b2c_result_key,
        payload=payload,
        remote_addr=remote_addr,
    )
    if result is None:
        return event
    if not created and event.status != CallbackStatus.RECEIVED:
        return event
    attempt = _attempt_for(result.originator_conversation_id, result.conversation_id)
    if attempt is None:
        old = _OUR_ORIGINATOR.match(result.originator_conversation_id or "")
        if old and Payout.objects.filter(pk=int(old.group(1))).exists():
            # Ours, but no attempt was ever recorded under this id: a person must look at it.
            logger.critical(
                "B2C result for unrecorded attempt %s", result.originator_conversation_id
            )
        callback_event_finish(event.pk, CallbackStatus.FAILED, "payout_not_found")
        return event
    outcome = payout_attempt_record_result(
        attempt_id=attempt.pk,
        outcome=result.outcome,
        result_code=result.result_code,
        result_desc=result.result_desc or "",
        receipt=result.receipt_number or result.transaction_id or "",
        conversation_id=result.conversation_id or "",
        receiver_name=result.receiver_name or "",
        paid_at=result.completed_at,
        amount=result.amount,
    )
    _finish_attempt_event(event, outcome)
    event.refresh_from_db()
    return event


def mpesa_b2c_timeout_record(*, payload, remote_addr: str | None = None) -> CallbackEvent:
    """Queue timeout: the request may or may not have been executed. The attempt's outcome is unknown (asked
    with Transaction Status), never failed and never resent."""
    timeout = parse_queue_timeout(payload)
    event, created = callback_event_store(
        provider=CallbackProvider.MPESA,
        kind=CallbackKind.B2C_TIMEOUT,
        provider_key=timeout.originator_conversation_id
        or timeout.conversation_id
        or _body_key(payload),
        payload=payload,
        remote_addr=remote_addr,
    )
    if not created:
        return event
    attempt = _attempt_for(timeout.originator_conversation_id, timeout.conversation_id)
    if attempt is None:
        callback_event_finish(event.pk, CallbackStatus.FAILED, "payout_not_found")
        return event
    outcome = payout_attempt_record_result(
        attempt_id=attempt.pk,
        outcome=Outcome.UNKNOWN,
        result_code=timeout.result_code or "",
        result_desc=f"queue timeout: {timeout.result_desc}".strip(),
        conversation_id=timeout.conversation_id or "",
    )
    _finish_attempt_event(event, outcome)
    return event


def mpesa_status_result_record(
    *, payload, payout_id: int | None, remote_addr: str | None = None
) -> CallbackEvent:
    """Transaction Status answer about one of our B2C attempts (named by its OriginatorConversationID in the
    result parameters; else the payout in the ResultURL, whose one open attempt it must be about)."""
    event, created, result = _mpesa_callback_store_parsed(
        kind=CallbackKind.STATUS_RESULT,
        parse=parse_transaction_status_result,
        key_of=lambda parsed: parsed.conversation_id or parsed.originator_conversation_id,
        payload=payload,
        remote_addr=remote_addr,
    )
    if result is None:
        return event
    if not created and event.status != CallbackStatus.RECEIVED:
        return event
    attempt = _attempt_for(
        result.original_originator_conversation_id, result.original_conversation_id
    )
    if attempt is None and payout_id is not None:
        open_attempts = list(
            PayoutAttempt.objects.filter(
                payout_id=payout_id, outcome__in=PAYOUT_ATTEMPT_OPEN_OUTCOMES
            )[:2]
        )
        attempt = open_attempts[0] if len(open_attempts) == 1 else None
    if attempt is None:
        callback_event_finish(event.pk, CallbackStatus.FAILED, "payout_not_found")
        return event
    if result.outcome != Outcome.PAID:
        # About the query, not the payout (or not final yet): the attempt stays open and is asked again.
        callback_event_finish(
            event.pk,
            CallbackStatus.PROCESSED,
            f"inconclusive: {result.result_code} {result.transaction_status or ''}".strip(),
        )
        return event
    outcome = payout_attempt_record_result(
        attempt_id=attempt.pk,
        outcome=Outcome.PAID,
        result_code=result.result_code,
        result_desc=result.result_desc or (result.transaction_status or ""),
        receipt=result.receipt_number or result.transaction_id or "",
        paid_at=result.finalised_at,
        amount=result.amount,
    )
    _finish_attempt_event(event, outcome)
    event.refresh_from_db()
    return event


def mpesa_status_timeout_record(
    *, payload, payout_id: int | None, remote_addr: str | None = None
) -> CallbackEvent:
    event, created = callback_event_store(
        provider=CallbackProvider.MPESA,
        kind=CallbackKind.STATUS_TIMEOUT,
        provider_key=_body_key(payload),
        payload=payload,
        remote_addr=remote_addr,
    )
    if created:
        # The periodic reconciliation task asks again; nothing to change now.
        callback_event_finish(
            event.pk, CallbackStatus.IGNORED, f"status query timed out for payout {payout_id}"
        )
    return event
