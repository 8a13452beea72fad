"""M-Pesa money that matched no payment: held in the `mpesa_suspense` ledger account until it is credited to
the payment it belongs to or refunded.

It arises when an STK push's answer was lost (`outcome_unknown`: we never learnt its CheckoutRequestID) and
the customer paid the prompt anyway, or when a callback overtakes the push's answer. Such money is matched
automatically when exactly one push fits it (same phone, same amount, sent within
`SUSPENSE_AUTO_MATCH_WINDOW` before the payment) and that push fits no other held money; otherwise staff match
it to a payment or refund it in the admin.

Ledger: customer_clearing → mpesa_suspense when held (`suspense:<id>:received`); mpesa_suspense →
customer_clearing when matched (`suspense:<id>:matched`, followed by the payment's own
`payment:<id>:received`); mpesa_suspense → refunds_payable when refunded (`suspense:<id>:refund`, followed by
the refund payout). Lock order: booking → payment → suspense item → escrow → payout.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.state_machine import transition
from payments import errors
from payments.daraja.parsing import parse_stk_callback
from payments.models import (
    SUSPENSE_MACHINE,
    CallbackEvent,
    CallbackStatus,
    LedgerTransactionKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PayoutKind,
    SuspenseItem,
    SuspenseStatus,
)

# A module import: payments calls back into this module (an import cycle).
from payments.services import payments as payment_services
from payments.services.common import lock_booking, lock_payment, now
from payments.services.ledger import (
    CUSTOMER_CLEARING,
    MPESA_SUSPENSE,
    REFUNDS_PAYABLE,
    ledger_post,
    transfer,
)
from payments.services.payouts import payout_create

logger = logging.getLogger(__name__)

# A push is a candidate for money paid up to this long after it was sent (the prompt itself lives about a
# minute; Daraja may deliver the callback late) ...
SUSPENSE_AUTO_MATCH_WINDOW = timedelta(minutes=10)
# ... and for money stamped slightly before it (Daraja's TransactionDate clock against ours).
SUSPENSE_CLOCK_SKEW = timedelta(minutes=2)
# Pushes whose answer was lost and that could still be paid: unknown, or closed without ever being answered
# (expired; superseded by a new push). `requested_at` set and no CheckoutRequestID means "sent, answer lost".
_MATCHABLE_UNKNOWN = (
    PaymentStatus.OUTCOME_UNKNOWN,
    PaymentStatus.UNRESOLVED,
    PaymentStatus.EXPIRED,
    PaymentStatus.CANCELLED,
)
# Staff may credit money to any payment that may still become succeeded.
_MATCHABLE_BY_STAFF = (
    PaymentStatus.INITIATED,
    PaymentStatus.PENDING,
    PaymentStatus.OUTCOME_UNKNOWN,
    PaymentStatus.UNRESOLVED,
    PaymentStatus.EXPIRED,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELLED,
)


def lock_suspense_item(item_id: int) -> SuspenseItem:
    """Caller holds the booking (and payment) lock when it has one: booking → payment → suspense item."""
    return SuspenseItem.objects.select_for_update(of=("self",)).get(pk=item_id)


def _resolve(item: SuspenseItem, *, to: str, actor, note: str, **fields) -> None:
    if not SUSPENSE_MACHINE.allows(item.status, to):
        raise errors.SuspenseItemResolved()
    transition(
        machine=SUSPENSE_MACHINE,
        instance=item,
        to=to,
        actor=actor,
        fields={
            "resolved_by": actor,
            "resolved_at": now(),
            "resolution_note": note[:255],
            **fields,
        },
    )


def suspense_hold_stk_money(*, event: CallbackEvent, callback) -> SuspenseItem:
    """Hold the money of a successful STK callback that matched no payment. Idempotent per callback.

    `callback` is the parsed StkCallback of `event` with a result code of "0" and an amount.
    """
    amount = Decimal(callback.amount).quantize(Decimal("0.01"))
    existing = SuspenseItem.objects.filter(callback_event=event).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            item = SuspenseItem.objects.create(
                callback_event=event,
                checkout_request_id=callback.checkout_request_id[:64],
                amount=amount,
                phone=callback.phone_number or "",
                receipt=(callback.receipt_number or "")[:32],
                paid_at=callback.transaction_date,
            )
            ledger_post(
                kind=LedgerTransactionKind.SUSPENSE,
                reference=f"suspense:{item.pk}:received",
                lines=transfer(amount, source=CUSTOMER_CLEARING, to=MPESA_SUSPENSE),
                memo=f"M-Pesa {callback.receipt_number or '-'} for unknown {callback.checkout_request_id}",
            )
            CallbackEvent.objects.filter(pk=event.pk).update(
                status=CallbackStatus.PROCESSED,
                outcome=f"held_in_suspense:{item.pk}",
                processed_at=now(),
            )
    except IntegrityError:  # the same money delivered twice at once
        return SuspenseItem.objects.get(checkout_request_id=callback.checkout_request_id[:64])
    logger.warning(
        "M-Pesa money %s from %s (%s) matches no payment: held in suspense item %s",
        amount,
        item.phone or "unknown phone",
        callback.checkout_request_id,
        item.pk,
    )
    return item


def _candidate_payments(item: SuspenseItem) -> QuerySet:
    """Pushes whose answer was lost that this money fits (phone, amount, time)."""
    if not item.phone:
        return Payment.objects.none()
    paid_at = item.paid_at or item.created_at
    return Payment.objects.filter(
        method=PaymentMethod.MPESA,
        checkout_request_id__isnull=True,
        requested_at__isnull=False,
        status__in=_MATCHABLE_UNKNOWN,
        phone=item.phone,
        amount=item.amount,
        requested_at__gte=paid_at - SUSPENSE_AUTO_MATCH_WINDOW,
        requested_at__lte=paid_at + SUSPENSE_CLOCK_SKEW,
    )


def _candidate_items(payment: Payment) -> QuerySet:
    if not payment.phone or payment.requested_at is None:
        return SuspenseItem.objects.none()
    return SuspenseItem.objects.annotate(paid=Coalesce("paid_at", "created_at")).filter(
        status=SuspenseStatus.HELD,
        phone=payment.phone,
        amount=payment.amount,
        paid__gte=payment.requested_at - SUSPENSE_CLOCK_SKEW,
        paid__lte=payment.requested_at + SUSPENSE_AUTO_MATCH_WINDOW,
    )


def suspense_match_for_item(*, item_id: int) -> Payment | None:
    """Credit held money to the one push it fits, if exactly one fits and that push fits no other money."""
    item = SuspenseItem.objects.get(pk=item_id)
    if item.status != SuspenseStatus.HELD:
        return None
    candidates = list(_candidate_payments(item).values_list("pk", flat=True)[:2])
    if len(candidates) != 1:
        if candidates:
            logger.warning("suspense item %s fits several payments: left for staff", item.pk)
        return None
    payment = Payment.objects.get(pk=candidates[0])
    if _candidate_items(payment).count() != 1:
        logger.warning("payment %s fits several suspense items: left for staff", payment.pk)
        return None
    try:
        return suspense_item_match(
            item_id=item.pk, payment_id=payment.pk, note="matched automatically"
        )
    except (
        ApplicationError
    ) as exc:  # the payment moved meanwhile (e.g. paid by other money): staff look
        logger.warning("suspense item %s not matched to payment %s: %s", item.pk, payment.pk, exc)
        return None


def suspense_match_for_payment(*, payment_id: int) -> bool:
    """For a push whose answer was lost: credit it with held money that fits it (and only it)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.checkout_request_id or payment.status not in _MATCHABLE_UNKNOWN:
        return False
    items = list(_candidate_items(payment).values_list("pk", flat=True)[:2])
    if len(items) != 1:
        return False
    return suspense_match_for_item(item_id=items[0]) is not None


def suspense_item_match(
    *, item_id: int, payment_id: int, actor=None, note: str = ""
) -> Payment | None:
    """Credit held money to `payment` (moving it out of suspense) and take the payment's next step.

    Refused (`SuspenseMatchRefused`) when the amount differs, the payment is final or the receipt was
    already used; `SuspenseItemResolved` when the item is no longer held. Returns None if the item was
    resolved meanwhile by an automatic match racing this one.
    """
    payment_row = Payment.objects.filter(pk=payment_id).values_list("booking_id", flat=True).first()
    if payment_row is None:
        raise errors.PaymentNotFound()
    with transaction.atomic():
        booking = lock_booking(payment_row)
        payment = lock_payment(payment_id)
        item = lock_suspense_item(item_id)
        if item.status != SuspenseStatus.HELD:
            if actor is None:
                return None
            raise errors.SuspenseItemResolved()
        if payment.status not in _MATCHABLE_BY_STAFF:
            raise errors.SuspenseMatchRefused(f"Payment {payment.pk} is {payment.status}.")
        if payment.amount != item.amount:
            raise errors.SuspenseMatchRefused(
                f"The money ({item.amount}) is not the payment's amount ({payment.amount}); refund it."
            )
        receipt = item.receipt or None
        if (
            receipt
            and Payment.objects.filter(mpesa_receipt=receipt).exclude(pk=payment.pk).exists()
        ):
            raise errors.SuspenseMatchRefused(f"Receipt {receipt} is already on another payment.")
        checkout_taken = Payment.objects.filter(
            checkout_request_id=item.checkout_request_id
        ).exists()
        ledger_post(
            kind=LedgerTransactionKind.SUSPENSE,
            reference=f"suspense:{item.pk}:matched",
            lines=transfer(item.amount, source=MPESA_SUSPENSE, to=CUSTOMER_CLEARING),
            booking_id=booking.pk,
            payment_id=payment.pk,
            memo=f"suspense item {item.pk} credited to payment {payment.pk}",
            currency=item.currency,
        )
        why = note or ("matched by staff" if actor else "matched automatically")
        payment_services.payment_mark_succeeded(
            booking=booking,
            payment=payment,
            receipt=receipt,
            paid_amount=item.amount,
            paid_phone=item.phone,
            provider_paid_at=item.paid_at,
            note=f"M-Pesa {receipt or '-'} from suspense item {item.pk} ({why})",
            result_code="0",
            result_desc=_result_desc(item),
            checkout_request_id=None if checkout_taken else item.checkout_request_id,
        )
        _resolve(item, to=SuspenseStatus.MATCHED, actor=actor, note=why, payment=payment)
        CallbackEvent.objects.filter(pk=item.callback_event_id).update(
            outcome=f"suspense_{item.pk}_matched_to_payment_{payment.pk}"
        )
    logger.info("suspense item %s credited to payment %s (%s)", item.pk, payment.pk, why)
    return payment


def _result_desc(item: SuspenseItem) -> str:
    try:
        return parse_stk_callback(item.callback_event.payload).result_desc or ""
    except ValueError:
        return ""


def suspense_item_refund(*, item_id: int, actor, note: str = "") -> SuspenseItem:
    """Send held money back to the number that paid it (a refund payout, through refunds_payable).

    The payout belongs to the customer whose latest M-Pesa payment used that number (Payout rows need a
    booking and a recipient); `SuspenseRefundNoCustomer` when there is none.
    """
    item = SuspenseItem.objects.get(pk=item_id)
    if item.status != SuspenseStatus.HELD:
        raise errors.SuspenseItemResolved()
    owner = (
        Payment.objects.filter(method=PaymentMethod.MPESA, phone=item.phone)
        .exclude(phone="")
        .select_related("payer")
        .order_by("-created_at", "-id")
        .first()
    )
    if owner is None:
        raise errors.SuspenseRefundNoCustomer()
    with transaction.atomic():
        booking = lock_booking(owner.booking_id)
        item = lock_suspense_item(item_id)
        if item.status != SuspenseStatus.HELD:
            raise errors.SuspenseItemResolved()
        memo = f"refund of suspense item {item.pk} (M-Pesa {item.receipt or '-'})"
        ledger_post(
            kind=LedgerTransactionKind.SUSPENSE,
            reference=f"suspense:{item.pk}:refund",
            lines=transfer(item.amount, source=MPESA_SUSPENSE, to=REFUNDS_PAYABLE),
            memo=memo,
            currency=item.currency,
        )
        payout = payout_create(
            booking=booking,
            kind=PayoutKind.REFUND,
            recipient=owner.payer,
            amount=item.amount,
            phone=item.phone,
            note=memo,
        )
        _resolve(
            item,
            to=SuspenseStatus.REFUNDED,
            actor=actor,
            note=note or "refunded by staff",
            refund_payout=payout,
        )
        CallbackEvent.objects.filter(pk=item.callback_event_id).update(
            outcome=f"suspense_{item.pk}_refunded_payout_{payout.pk}"
        )
    item.refresh_from_db()
    return item
