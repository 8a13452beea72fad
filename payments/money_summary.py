"""Where a booking's money stands, as every booking representation shows it (`money`).

`booking_money_summary(booking)` says, for the deposit and the balance, whether it is due, being requested,
waiting on a payment, paid or no longer collected; how much is due now; the payment waiting for the customer
(id and phone); whether an overdue balance went to support; and the one thing the client should offer next:

| nextAction | when |
|---|---|
| `wait_for_prompt` | an M-Pesa prompt is waiting on the customer's phone, or an automatic one is being sent (the deposit after booking, the balance after confirmation, to a number prompts may go to unasked) |
| `pay_deposit` / `pay_balance` | due and nothing waits: pay from the app (`POST /payments/mpesa/stk-push` with an Idempotency-Key, or the card checkout, whose open intent is resumed) |
| `none` | nothing is due now (paid, not due yet, or the booking ended) |

It is the same for every viewer except the waiting payment's phone, hidden when the viewer may not see the
customer's contacts (bookings.serializers.contacts_shown). It reads only the booking, its customer, its
payments, its balance collection row and, for a resolved booking, whether its dispute was released to the
technician (then the balance is owed, README "Disputes"; annotated by bookings_displayed as
`released_by_dispute`, else one query): exactly the rows whose versions the rendered cache's key holds
(bookings.selectors.booking_representation_version), so a cached representation is never stale. Nothing here
depends on the clock: a prompt whose window passed shows as waiting until the beat job expires it (a row
change), which is when paying again becomes possible.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist

from bookings.models import BookingStatus
from payments.models import ACTIVE_PAYMENT_STATUSES, PaymentMethod, PaymentPurpose, PaymentStatus
from payments.selectors.balances import booking_owes_price

# Status of the deposit or the balance.
NOT_DUE = "not_due"  # the balance before the job is confirmed
REQUESTING = "requesting"  # due; the automatic prompt is on its way
PENDING = "pending"  # a payment is open (prompt on the phone, answer lost, card checkout)
DUE = "due"  # due and nothing open: the customer pays from the app
PAID = "paid"
NOT_COLLECTED = "not_collected"  # the booking ended without it (cancelled, expired, disputed, resolved by a refund)
PART_STATUSES = (NOT_DUE, REQUESTING, PENDING, DUE, PAID, NOT_COLLECTED)

PAY_DEPOSIT = "pay_deposit"
PAY_BALANCE = "pay_balance"
WAIT_FOR_PROMPT = "wait_for_prompt"
NONE = "none"
NEXT_ACTIONS = (PAY_DEPOSIT, PAY_BALANCE, WAIT_FOR_PROMPT, NONE)

_OWED = (REQUESTING, PENDING, DUE)
_BEFORE_CONFIRMATION = (
    BookingStatus.PENDING,
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.ARRIVED,
    BookingStatus.IN_PROGRESS,
)
_UNTIL_CONFIRMATION = (*_BEFORE_CONFIRMATION, BookingStatus.COMPLETED)


def _payments(booking) -> list:
    """The booking's payments oldest first (prefetched by bookings.selectors.bookings_displayed)."""
    return sorted(booking.payments.all(), key=lambda payment: payment.pk)


def _collection(booking):
    try:
        return booking.balance_collection
    except ObjectDoesNotExist:
        return None


def _part(payments, purpose):
    """(succeeded, open, latest) payment of one purpose."""
    mine = [payment for payment in payments if payment.purpose == purpose]
    succeeded = next((p for p in mine if p.status == PaymentStatus.SUCCEEDED), None)
    open_ = next((p for p in reversed(mine) if p.status in ACTIVE_PAYMENT_STATUSES), None)
    return succeeded, open_, (mine[-1] if mine else None)


def _automatic_prompt_possible(booking, payments) -> bool:
    """Whether the automatic request has a number it may prompt unasked (payments.services.payments
    `_stk_phone`): the customer's verified phone, or, for the balance, the number that paid this booking."""
    if booking.customer.is_phone_verified:
        return True
    return any(
        p.status == PaymentStatus.SUCCEEDED and p.method == PaymentMethod.MPESA and p.phone
        for p in payments
    )


def _deposit_status(booking, payments, succeeded, open_) -> str:
    if succeeded is not None or booking.deposit_paid_at is not None:
        return PAID
    if booking.status != BookingStatus.PENDING:
        return NOT_COLLECTED
    if open_ is not None:
        return PENDING
    deposits = [p for p in payments if p.purpose == PaymentPurpose.DEPOSIT]
    if not deposits and booking.customer.is_phone_verified:
        return REQUESTING
    return DUE


def _balance_status(booking, payments, succeeded, open_) -> str:
    if succeeded is not None:
        return PAID
    # An agreed price at or below the paid deposit (bookings.pricing.price_change_breakdown) leaves no
    # balance: the deposit paid all of it.
    if (
        booking.balance_amount <= 0
        and booking.deposit_paid_at is not None
        and (booking_owes_price(booking) or booking.status in _UNTIL_CONFIRMATION)
    ):
        return PAID
    # Confirmed, or resolved `release_to_technician`: the customer owes the full price.
    if booking_owes_price(booking) and booking.deposit_paid_at is not None:
        if open_ is not None:
            return PENDING
        balances = [p for p in payments if p.purpose == PaymentPurpose.BALANCE]
        if not balances and _automatic_prompt_possible(booking, payments):
            return REQUESTING
        return DUE
    if booking.status == BookingStatus.COMPLETED:
        return PENDING if open_ is not None else NOT_DUE  # payable early, asked for at confirmation
    if booking.status in _BEFORE_CONFIRMATION:
        return NOT_DUE
    return NOT_COLLECTED


def _payment_id(succeeded, open_, latest) -> int | None:
    chosen = succeeded or open_ or latest
    return chosen.pk if chosen is not None else None


def _next_action(status: str, open_, pay: str) -> str:
    if status == REQUESTING:
        return WAIT_FOR_PROMPT
    if status == PENDING:
        # A card checkout waits for the customer in the app, not on their phone.
        return pay if open_ is not None and open_.method == PaymentMethod.CARD else WAIT_FOR_PROMPT
    return pay if status == DUE else NONE


def _pending_payment(payment, *, show_phone: bool) -> dict:
    """The waiting payment as the booking's `money.pendingPayment` shows it (BookingMoneySerializer formats
    it). Not the 409 `payment_pending` body (payments.services.payments.payment_pending_body): this one
    names the purpose, and hides the phone from a viewer who may not see the customer's contacts."""
    return {
        "id": payment.pk,
        "purpose": payment.purpose,
        "method": payment.method,
        "status": payment.status,
        "phone": (payment.phone or None) if show_phone else None,
        "expires_at": payment.expires_at,
    }


def booking_money_summary(booking, *, show_phone: bool = True) -> dict:
    """The `money` object of a booking's representation (bookings.serializers.BookingMoneySerializer
    formats it).

    `show_phone`: whether the viewer may see the customer's contacts (the waiting payment's phone).
    """
    payments = _payments(booking)
    deposit_paid, deposit_open, deposit_latest = _part(payments, PaymentPurpose.DEPOSIT)
    balance_paid, balance_open, balance_latest = _part(payments, PaymentPurpose.BALANCE)
    deposit = _deposit_status(booking, payments, deposit_paid, deposit_open)
    balance = _balance_status(booking, payments, balance_paid, balance_open)

    due_now = Decimal(0)
    waiting = None
    next_action = NONE
    if deposit in _OWED:
        due_now = booking.deposit_amount
        waiting = deposit_open
        next_action = _next_action(deposit, deposit_open, PAY_DEPOSIT)
    elif balance in _OWED:
        due_now = booking.balance_amount
        waiting = balance_open
        next_action = _next_action(balance, balance_open, PAY_BALANCE)
    collection = _collection(booking)
    return {
        "currency": booking.currency,
        "deposit": {
            "amount": booking.deposit_amount,
            "status": deposit,
            "payment_id": _payment_id(deposit_paid, deposit_open, deposit_latest),
        },
        "balance": {
            "amount": booking.balance_amount,
            "status": balance,
            "payment_id": _payment_id(balance_paid, balance_open, balance_latest),
        },
        "amount_due_now": due_now,
        "pending_payment": _pending_payment(waiting, show_phone=show_phone) if waiting else None,
        "balance_overdue": bool(
            collection is not None and collection.overdue_at is not None and balance in _OWED
        ),
        "next_action": next_action,
    }
