"""Tips: after the job, the customer gives the technician extra money by M-Pesa STK push, or by card where
Stripe is configured.

A tip is a `Payment` of purpose `tip` (the same STK request, callbacks, query, expiry, suspense matching and
idempotency as the deposit and balance: payments/services/payments.py; by card the same PaymentIntent and
signed webhook as a card deposit: payments/services/card.py), with its own amount and its own ledger accounts, and a `Payout` of kind `tip` (the same B2C attempts, results and reconciliation as every
payout: payments/services/payouts.py). What differs:

- its money never enters escrow and no platform fee is taken: `customer_clearing → tips_payable:<technician>`
  under `payment:<id>:received`, exactly the amount paid;
- its payout: a tip of at least rules.TIP_PAYOUT_AT_ONCE_KES is paid at once (queued, or held for review by the
  same rules as other payouts); a smaller one is `deferred` and the technician's next payout includes it (it
  becomes `carried`, and `tips_payable → technician_payable` moves its money into the payout that sends it,
  `payout:<tip payout>:carried`). The unique `payout_one_per_tip` constraint means one payout per tip;
- the sweep (payments/services/sweep.py) creates the payout of a credited tip that has none, from the payment
  and the ledger alone, and pays a deferred tip on its own once it has waited rules.TIP_DEFERRED_MAX_WAIT
  for a payout to go with.

A card tip is posted exactly like an M-Pesa one: the technician gets the whole amount the customer was charged.
Stripe's processing fee is the platform's cost, as on card deposits and balances (it is settled on the
Stripe balance, outside this ledger): it is neither added to the customer's charge nor taken from the tip.

A dispute never claws a tip back: it is the customer's gift for a job already completed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from bookings.models import Booking, BookingStatus
from bookings.selectors import booking_visible_to
from dumuwaks.core.phone import is_valid_phone
from payments import errors, rules, stripe_gateway
from payments.models import (
    LedgerTransactionKind,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    Payout,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
)

# A module import: payments calls back into this module (an import cycle).
from payments.services import payments as payment_services
from payments.services.common import lock_booking, lock_payout, lock_technician_payable
from payments.services.ledger import (
    CUSTOMER_CLEARING,
    ledger_post,
    ledger_reference_exists,
    tips_payable_code,
    transfer,
)
from payments.services.payouts import (
    payout_insert,
    payout_review_reason,
    payout_send_enqueue,
    payout_transition,
)

# A tip can be given once the work is done (completed by the technician, or confirmed by the customer).
TIP_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED)


def tip_check_allowed(booking: Booking) -> None:
    """Raises `TipNotAllowed` (409) unless the booking's job is done and it has a technician."""
    if booking.status not in TIP_STATUSES or booking.technician_id is None:
        raise errors.TipNotAllowed()


def tip_request_stk(
    *,
    booking_id: int,
    payer,
    amount: Decimal,
    phone: str | None = None,
    idempotency_key: str | None = None,
    confirm_phone: bool = False,
    supersede: bool = False,
) -> Payment:
    """Send the customer an STK prompt for a tip of `amount` (validated by the caller: rules.TIP_MIN_KES ..
    rules.TIP_MAX_KES, whole shillings). The same rules and errors as `payment_request_stk` (404 for a booking
    that is not the payer's, 409 `payment_pending` while a tip prompt is open, 400
    `phone_confirmation_required`, 503 when Daraja is unreachable), plus 409 `tip_not_allowed` before the
    job is completed, and 403 `tip_only_by_customer` for the booking's technician and staff (who may see
    the booking but not tip on the customer's behalf)."""
    _tip_check_payer(booking_id=booking_id, payer=payer)
    payment, created = payment_services.payment_open(
        booking_id=booking_id,
        payer=payer,
        purpose=PaymentPurpose.TIP,
        method=PaymentMethod.MPESA,
        phone=phone,
        idempotency_key=idempotency_key,
        confirm_phone=confirm_phone,
        supersede=supersede,
        amount=amount,
    )
    if not created:
        return payment
    return payment_services.payment_stk_send(payment=payment)


def tip_request_card(
    *, booking_id: int, payer, amount: Decimal, idempotency_key: str | None = None
) -> tuple[Payment, str]:
    """A card tip of `amount` (validated by the caller, as for `tip_request_stk`) through a Stripe
    PaymentIntent: returns the payment and the client secret for Stripe.js. The signed webhook credits it
    (payments/services/card.py), then `tip_credit` posts and pays it out exactly like an M-Pesa tip.

    The same 404/403/409 rules as `tip_request_stk`, plus 409 `stripe_disabled` where Stripe is not
    configured and 502 `card_provider_error` when Stripe refuses. An open card tip of the same amount is
    handed back (a double click); an open tip of another amount or by M-Pesa is 409 `payment_pending`
    (a card checkout cannot be superseded: the customer may still complete it). Call outside a transaction."""
    from payments.services.card import payment_card_intent_send  # cycle: card -> payments -> tips

    _tip_check_payer(booking_id=booking_id, payer=payer)
    if not stripe_gateway.stripe_enabled():
        raise errors.StripeDisabled()
    payment, created = payment_services.payment_open(
        booking_id=booking_id,
        payer=payer,
        purpose=PaymentPurpose.TIP,
        method=PaymentMethod.CARD,
        phone=None,
        idempotency_key=idempotency_key,
        amount=amount,
    )
    if not created:
        is_replay = bool(idempotency_key) and payment.idempotency_key == idempotency_key
        if is_replay and payment.method != PaymentMethod.CARD:
            raise errors.IdempotencyKeyReused()
        if not is_replay and (payment.method != PaymentMethod.CARD or payment.amount != amount):
            raise errors.PaymentPending(
                extra={"payment": payment_services.payment_pending_body(payment)}
            )
    return payment_card_intent_send(payment)


def _tip_check_payer(*, booking_id: int, payer) -> None:
    """404 for a booking the payer cannot see; 403 for one they see without being its customer (its
    technician, staff), who may not tip on the customer's behalf."""
    parties = Booking.objects.filter(pk=booking_id).values("customer_id", "technician_id").first()
    if parties is None or not booking_visible_to(payer, booking_id=booking_id, **parties):
        raise errors.BookingNotFoundForPayment()
    if parties["customer_id"] != payer.pk:
        raise errors.TipOnlyByCustomer()


def tip_credit(*, booking: Booking, payment: Payment) -> Payout | None:
    """Post a succeeded tip to the technician's tips account and create its payout.

    Caller holds the booking and payment locks and has marked the payment succeeded."""
    ledger_post(
        kind=LedgerTransactionKind.TIP,
        reference=f"payment:{payment.pk}:received",
        lines=transfer(
            payment.amount, source=CUSTOMER_CLEARING, to=tips_payable_code(booking.technician_id)
        ),
        booking_id=booking.pk,
        payment_id=payment.pk,
        memo=f"tip by {payment.method} for {booking.number}",
        currency=payment.currency,
    )
    return tip_payout_create(booking=booking, payment=payment)


def tip_payout_create(*, booking: Booking, payment: Payment) -> Payout | None:
    """The payout of a credited tip; None when it already has one (or is not credited). Idempotent.

    Caller holds the booking lock. Takes the technician payable lock, as every technician payout does,
    so a payout being created at the same moment sees this tip if it is deferred."""
    technician = booking.technician
    if technician is None or not ledger_reference_exists(f"payment:{payment.pk}:received"):
        return None
    lock_technician_payable(technician.pk)
    if Payout.objects.filter(kind=PayoutKind.TIP, source_payment=payment).exists():
        return None
    phone = technician.phone_number or ""
    if payment.amount >= rules.TIP_PAYOUT_AT_ONCE_KES:
        reason = payout_review_reason(
            recipient=technician, amount=payment.amount, channel=PayoutChannel.MPESA, phone=phone
        )
        status = PayoutStatus.PENDING_REVIEW if reason else PayoutStatus.QUEUED
        note = reason or f"tip of KES {payment.amount} (payment #{payment.pk}), paid at once"
    else:
        reason = (
            f"tip below KES {rules.TIP_PAYOUT_AT_ONCE_KES}: paid with the technician's next payout"
        )
        status, note = PayoutStatus.DEFERRED, reason
    try:
        with transaction.atomic():
            payout = payout_insert(
                booking=booking,
                kind=PayoutKind.TIP,
                channel=PayoutChannel.MPESA,
                recipient=technician,
                phone=phone,
                amount=payment.amount,
                status=status,
                reason=reason,
                source_payment=payment,
                note=note,
            )
    except IntegrityError:  # payout_one_per_tip: made meanwhile
        return None
    if status == PayoutStatus.QUEUED:
        payout_send_enqueue(payout=payout)
    return payout


def tip_payout_recover(*, payment_id: int) -> Payout | None:
    """The sweep's step: create the missing payout of a credited tip (a no-op when it exists)."""
    payment = Payment.objects.get(pk=payment_id)
    with transaction.atomic():
        booking = lock_booking(payment.booking_id)
        return tip_payout_create(booking=booking, payment=payment)


def tip_payout_release_deferred(*, payout_id: int) -> Payout | None:
    """The sweep's step: a tip payout `deferred` for rules.TIP_DEFERRED_MAX_WAIT (the technician had no other
    payout to carry it) is paid on its own from tips_payable: queued, or held for review by the same rules
    as every payout, to the technician's current M-Pesa number. None when it is no longer deferred (a payout
    carried it meanwhile). The guard on the edge refuses it earlier than the bound (409).

    Takes no booking lock: a payout being created for another of the technician's bookings holds the
    technician payable lock and may post this tip's carry; waiting for that lock while holding this
    tip's booking would deadlock with it. The technician payable lock alone decides (payout_create takes
    it before carrying deferred payouts): either that payout carries this tip or this sends it."""
    payout = Payout.objects.select_related("recipient").get(pk=payout_id)
    technician = payout.recipient
    with transaction.atomic():
        lock_technician_payable(technician.pk)
        payout = lock_payout(payout_id)
        if payout.kind != PayoutKind.TIP or payout.status != PayoutStatus.DEFERRED:
            return None
        phone = technician.phone_number or ""
        reason = payout_review_reason(
            recipient=technician, amount=payout.amount, channel=PayoutChannel.MPESA, phone=phone
        )
        status = PayoutStatus.PENDING_REVIEW if reason else PayoutStatus.QUEUED
        payout_transition(
            payout=payout,
            to=status,
            note=reason
            or f"tip waited {rules.TIP_DEFERRED_MAX_WAIT.days} days for a payout: paid on its own",
            phone=phone if is_valid_phone(phone) else "",
            review_reason=reason,
        )
        if status == PayoutStatus.QUEUED:
            payout_send_enqueue(payout=payout)
    return payout
