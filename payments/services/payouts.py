"""Outbound money: technician payouts and refunds, sent by M-Pesa B2C (or Stripe refund for card payments).

Exactly-once sending: `payout_send` moves the row queued → sending under its lock before calling Daraja, so a
second worker finds it no longer queued. The OriginatorConversationID is derived from the row and the attempt
number (`DW-PO-<id>-<attempt>`); resending the same attempt is rejected by Daraja as a duplicate. An unknown
outcome (timeout) parks the payout in `needs_reconciliation` and asks Transaction Status; it is never resent
blindly. Only a definite failure lets staff queue a new attempt.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.money import to_decimal, to_mpesa_amount
from dumuwaks.core.phone import is_valid_phone, to_msisdn
from dumuwaks.core.side_effects import enqueue_after_commit, publish_after_commit
from payments import errors
from payments.models import (
    PAYOUT_ALLOWED_TRANSITIONS,
    LedgerTransactionKind,
    Payout,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
    PayoutStatusHistory,
)
from payments.services.common import (
    DARAJA_CALLBACK_PATHS,
    callback_url,
    lock_booking,
    lock_payout,
    now,
)
from payments.services.ledger import (
    CARD_REFUNDS_DISBURSED,
    MPESA_B2C_DISBURSED,
    REFUNDS_PAYABLE,
    ledger_post,
    technician_payable_code,
    transfer,
)

logger = logging.getLogger(__name__)

MPESA_B2C_MIN_KES = Decimal(10)
PHONE_CHANGE_HOLD = timedelta(hours=24)


def payout_transition(*, payout: Payout, to: str, actor=None, note: str = "", **fields) -> Payout:
    current = payout.status
    if to not in PAYOUT_ALLOWED_TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"A {current} payout cannot become {to}.")
    updated = Payout.objects.filter(pk=payout.pk, status=current).update(
        status=to, updated_at=now(), **fields
    )
    if not updated:
        raise InvalidTransition("The payout changed meanwhile; reload it.")
    PayoutStatusHistory.objects.create(
        payout=payout, actor=actor, from_status=current, to_status=to, note=note[:1000]
    )
    payout.status = to
    for name, value in fields.items():
        setattr(payout, name, value)
    return payout


def _review_reason(*, recipient, amount: Decimal, channel: str, phone: str) -> str:
    if amount > Decimal(settings.PAYOUT_REVIEW_THRESHOLD_KES):
        return f"amount above KES {settings.PAYOUT_REVIEW_THRESHOLD_KES:,}"
    if channel == PayoutChannel.MPESA:
        changed = recipient.phone_changed_at
        if changed and changed > now() - PHONE_CHANGE_HOLD:
            return "M-Pesa number changed in the last 24 hours"
        if not is_valid_phone(phone):
            return "recipient has no valid M-Pesa number"
        if amount < MPESA_B2C_MIN_KES:
            return f"below the M-Pesa B2C minimum of KES {MPESA_B2C_MIN_KES}"
    return ""


def payout_create(
    *,
    booking,
    kind: str,
    recipient,
    amount,
    phone: str = "",
    channel: str = PayoutChannel.MPESA,
    source_payment=None,
    note: str = "",
) -> Payout:
    """Create a payout for money already moved to a payable account. Caller holds the booking lock.

    Held for staff review when large or when the recipient's M-Pesa number changed recently.
    """
    amount = to_decimal(amount)
    reason = _review_reason(recipient=recipient, amount=amount, channel=channel, phone=phone)
    status = PayoutStatus.PENDING_REVIEW if reason else PayoutStatus.QUEUED
    payout = Payout.objects.create(
        kind=kind,
        channel=channel,
        booking=booking,
        recipient=recipient,
        phone=phone if is_valid_phone(phone) else "",
        amount=amount,
        currency=booking.currency,
        status=status,
        review_reason=reason,
        source_payment=source_payment,
        attempt=1,
    )
    PayoutStatusHistory.objects.create(payout=payout, to_status=status, note=reason or note)
    if status == PayoutStatus.QUEUED:
        _enqueue_send(payout)
    return payout


def _enqueue_send(payout: Payout) -> None:
    from payments.tasks import payout_send_task

    enqueue_after_commit(payout_send_task, payout.pk)


def payout_process(*, payout_id: int, actor) -> Payout:
    """Staff action: approve a held payout, retry a failed one (new attempt) or re-check an unknown one."""
    with transaction.atomic():
        booking_id = Payout.objects.values_list("booking_id", flat=True).get(pk=payout_id)
        lock_booking(booking_id)
        payout = lock_payout(payout_id)
        if payout.status == PayoutStatus.PENDING_REVIEW:
            if payout.channel == PayoutChannel.MPESA and (
                not is_valid_phone(payout.phone) or payout.amount < MPESA_B2C_MIN_KES
            ):
                raise errors.PayoutNotProcessable(
                    "This payout cannot go out by M-Pesa (no valid number or below the minimum)."
                )
            payout_transition(
                payout=payout,
                to=PayoutStatus.QUEUED,
                actor=actor,
                note="approved",
                approved_by=actor,
                approved_at=now(),
            )
            _enqueue_send(payout)
        elif payout.status == PayoutStatus.FAILED:
            payout_transition(
                payout=payout,
                to=PayoutStatus.QUEUED,
                actor=actor,
                note=f"retry as attempt {payout.attempt + 1}",
                attempt=payout.attempt + 1,
                approved_by=actor,
                approved_at=now(),
            )
            _enqueue_send(payout)
        elif payout.status == PayoutStatus.NEEDS_RECONCILIATION:
            from payments.tasks import payout_query_status_task

            enqueue_after_commit(payout_query_status_task, payout.pk)
        else:
            raise errors.PayoutNotProcessable()
    return payout


def payout_cancel(*, payout_id: int, actor, note: str = "") -> Payout:
    """Staff: do not send this payout. The money stays in the payable account."""
    with transaction.atomic():
        booking_id = Payout.objects.values_list("booking_id", flat=True).get(pk=payout_id)
        lock_booking(booking_id)
        payout = lock_payout(payout_id)
        return payout_transition(
            payout=payout, to=PayoutStatus.CANCELLED, actor=actor, note=note or "cancelled"
        )


def payout_send(*, payout_id: int) -> str:
    """Send one queued payout. Returns what happened; raises DarajaBusy for the task to retry later."""
    from payments.daraja.errors import (
        DarajaBusy,
        DarajaDuplicateRequest,
        DarajaError,
        DarajaOutcomeUnknown,
    )

    with transaction.atomic():
        payout = lock_payout(payout_id)
        if payout.status != PayoutStatus.QUEUED:
            return f"skipped_{payout.status}"
        originator = payout.originator_id_for(payout.attempt)
        payout_transition(
            payout=payout,
            to=PayoutStatus.SENDING,
            note=f"sending attempt {payout.attempt} as {originator}",
            originator_conversation_id=originator,
            sent_at=now(),
        )
    if payout.channel == PayoutChannel.CARD:
        return _payout_send_card(payout)

    from payments.services.common import mpesa_client

    try:
        accepted = mpesa_client().b2c_payment(
            originator_conversation_id=originator,
            phone_msisdn=to_msisdn(payout.phone),
            amount=to_mpesa_amount(payout.amount),
            remarks=_remarks(payout),
            occasion=payout.booking.number,
            result_url=callback_url(DARAJA_CALLBACK_PATHS["b2c_result"]),
            timeout_url=callback_url(DARAJA_CALLBACK_PATHS["b2c_timeout"]),
        )
    except DarajaDuplicateRequest:
        _after_send(payout_id, PayoutStatus.AWAITING_RESULT, "Daraja already has this attempt")
        return "duplicate"
    except DarajaOutcomeUnknown as exc:
        _after_send(payout_id, PayoutStatus.NEEDS_RECONCILIATION, f"outcome unknown: {exc}")
        from payments.tasks import payout_query_status_task

        enqueue_after_commit(payout_query_status_task, payout_id, countdown=60)
        return "unknown"
    except DarajaBusy as exc:
        _after_send(payout_id, PayoutStatus.QUEUED, f"Daraja busy: {exc}")
        raise
    except DarajaError as exc:
        _after_send(
            payout_id,
            PayoutStatus.FAILED,
            f"rejected: {exc}",
            result_code=str(exc.error_code)[:32],
            result_desc=str(exc.error_message)[:255],
        )
        publish_after_commit("payout.failed", payout_id=payout_id)
        return "rejected"
    _after_send(
        payout_id,
        PayoutStatus.AWAITING_RESULT,
        accepted.response_description or "accepted",
        conversation_id=accepted.conversation_id or "",
    )
    return "accepted"


def _remarks(payout: Payout) -> str:
    what = "Refund" if payout.kind == PayoutKind.REFUND else "Payout"
    return f"{what} for job {payout.booking.number}"


def _after_send(payout_id: int, to: str, note: str, **fields) -> None:
    """Record the synchronous answer, unless the result callback got here first (out of order)."""
    with transaction.atomic():
        payout = lock_payout(payout_id)
        if payout.status == PayoutStatus.SENDING:
            payout_transition(payout=payout, to=to, note=note, **fields)
        elif fields.get("conversation_id") and not payout.conversation_id:
            Payout.objects.filter(pk=payout_id).update(conversation_id=fields["conversation_id"])


def _payout_send_card(payout: Payout) -> str:
    from payments import stripe_gateway

    try:
        refund_id = stripe_gateway.create_refund(
            payment_intent_id=payout.source_payment.stripe_payment_intent_id,
            amount_minor=int(payout.amount * 100),
            idempotency_key=payout.originator_conversation_id,
        )
    except Exception as exc:  # Stripe errors are definite; the idempotency key makes a retry safe
        logger.warning("card refund for payout %s failed: %s", payout.pk, exc)
        _after_send(payout.pk, PayoutStatus.FAILED, f"card refund failed: {exc}")
        publish_after_commit("payout.failed", payout_id=payout.pk)
        return "rejected"
    payout_apply_result(
        payout_id=payout.pk,
        success=True,
        result_code="0",
        result_desc="card refund created",
        receipt=refund_id or "",
    )
    return "refunded"


def payout_apply_result(
    *,
    payout_id: int,
    success: bool,
    result_code: str,
    result_desc: str,
    receipt: str = "",
    conversation_id: str = "",
    receiver_name: str = "",
    paid_at=None,
    amount: Decimal | None = None,
) -> str:
    """A final answer from M-Pesa (B2C result or Transaction Status) or Stripe. Idempotent."""
    with transaction.atomic():
        booking_id = Payout.objects.values_list("booking_id", flat=True).get(pk=payout_id)
        lock_booking(booking_id)
        payout = lock_payout(payout_id)
        if payout.status in (PayoutStatus.PAID, PayoutStatus.CANCELLED, PayoutStatus.FAILED):
            return f"already_{payout.status}"
        if payout.status in (PayoutStatus.PENDING_REVIEW, PayoutStatus.QUEUED):
            return f"unexpected_{payout.status}"
        if not success:
            payout_transition(
                payout=payout,
                to=PayoutStatus.FAILED,
                note=result_desc,
                result_code=result_code[:32],
                result_desc=result_desc[:255],
                conversation_id=conversation_id or payout.conversation_id,
            )
            publish_after_commit("payout.failed", payout_id=payout.pk)
            return "failed"
        note = "paid"
        if amount is not None and to_decimal(amount) != payout.amount:
            note = f"paid; provider reported amount {amount}"
            logger.error("payout %s: provider amount %s != %s", payout.pk, amount, payout.amount)
        payout_transition(
            payout=payout,
            to=PayoutStatus.PAID,
            note=note,
            result_code=result_code[:32],
            result_desc=result_desc[:255],
            receipt=receipt[:64],
            receiver_name=receiver_name[:200],
            conversation_id=conversation_id or payout.conversation_id,
            paid_at=paid_at or now(),
        )
        source = (
            REFUNDS_PAYABLE
            if payout.kind == PayoutKind.REFUND
            else technician_payable_code(payout.recipient_id)
        )
        sink = (
            CARD_REFUNDS_DISBURSED if payout.channel == PayoutChannel.CARD else MPESA_B2C_DISBURSED
        )
        ledger_post(
            kind=LedgerTransactionKind.PAYOUT_SENT,
            reference=f"payout:{payout.pk}:paid",
            lines=transfer(payout.amount, source=source, to=sink),
            booking_id=payout.booking_id,
            payout_id=payout.pk,
            memo=f"{payout.kind} {receipt}".strip(),
            currency=payout.currency,
        )
        publish_after_commit("payout.paid", payout_id=payout.pk)
    return "paid"


def payout_mark_needs_reconciliation(*, payout_id: int, note: str) -> str:
    """Queue timeout: the request may or may not have been executed. Ask, never resend."""
    with transaction.atomic():
        payout = lock_payout(payout_id)
        if payout.status not in (PayoutStatus.SENDING, PayoutStatus.AWAITING_RESULT):
            return f"ignored_{payout.status}"
        payout_transition(payout=payout, to=PayoutStatus.NEEDS_RECONCILIATION, note=note)
        from payments.tasks import payout_query_status_task

        enqueue_after_commit(payout_query_status_task, payout.pk, countdown=60)
    return "needs_reconciliation"


def payout_query_status(*, payout_id: int) -> str:
    """Ask Transaction Status about the current attempt; the answer arrives at the status callback."""
    from payments.daraja.errors import DarajaError
    from payments.services.common import mpesa_client

    with transaction.atomic():
        payout = lock_payout(payout_id)
        if payout.status == PayoutStatus.SENDING:
            # The worker stopped between marking the payout sending and storing Daraja's answer: the
            # request may have gone out, so ask rather than resend.
            payout = payout_transition(
                payout=payout,
                to=PayoutStatus.NEEDS_RECONCILIATION,
                note="no answer stored after sending; checking with Transaction Status",
            )
    if (
        payout.status
        not in (
            PayoutStatus.NEEDS_RECONCILIATION,
            PayoutStatus.AWAITING_RESULT,
        )
        or not payout.originator_conversation_id
    ):
        return f"skipped_{payout.status}"
    try:
        mpesa_client().transaction_status(
            originator_conversation_id=payout.originator_conversation_id,
            result_url=callback_url(DARAJA_CALLBACK_PATHS["status_result"], payout=payout.pk),
            timeout_url=callback_url(DARAJA_CALLBACK_PATHS["status_timeout"], payout=payout.pk),
        )
    except DarajaError as exc:
        logger.warning("transaction status for payout %s failed: %s", payout.pk, exc)
        return "query_failed"
    return "queried"


def payouts_queued_stale_ids(*, older_than_seconds: int) -> list[int]:
    """Queued payouts whose send task was lost (broker down when it was queued)."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(
        Payout.objects.filter(status=PayoutStatus.QUEUED, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )


def payouts_stale_ids(*, older_than_seconds: int) -> list[int]:
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(
        Payout.objects.filter(
            status__in=[
                PayoutStatus.SENDING,
                PayoutStatus.NEEDS_RECONCILIATION,
                PayoutStatus.AWAITING_RESULT,
            ],
            channel=PayoutChannel.MPESA,
            updated_at__lt=cutoff,
        ).values_list("pk", flat=True)[:200]
    )
