"""Helpers shared by the payments tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import BookingStatus
from bookings.services import dispute_open
from bookings.tests.factories import BookingFactory
from payments.daraja.result_codes import Outcome
from payments.models import (
    EntrySide,
    LedgerEntry,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutStatus,
)
from payments.selectors.balances import account_balance
from payments.selectors.reconciliation import ledger_reconciliation_check
from payments.services.common import lock_booking, lock_payment
from payments.services.payments import payment_mark_succeeded
from payments.services.payouts import payout_attempt_record_result

CALLBACK_TOKEN = "test-callback-token-0123456789abcdef"
PRICE = Decimal("5000.00")  # deposit 1000, balance 4000, platform fee 750, technician 4250


def make_booking(customer, technician, **kwargs):
    kwargs.setdefault("price", PRICE)
    return BookingFactory(customer=customer, technician=technician, **kwargs)


def callback_path(name: str, token: str = CALLBACK_TOKEN, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
    return f"/api/v1/payments/mpesa/{name}?{query}"


def post_callback(client, name: str, payload, token: str = CALLBACK_TOKEN, **params):
    return client.post(
        callback_path(name, token, **params), data=payload, format="json", REMOTE_ADDR="127.0.0.1"
    )


def set_status(booking, status: str, **fields) -> None:
    """Move a booking without the bookings workflow (setup only; publishes no event)."""
    type(booking).objects.filter(pk=booking.pk).update(status=status, **fields)
    booking.refresh_from_db()


def paid_payment(booking, purpose=PaymentPurpose.DEPOSIT, **kwargs) -> Payment:
    """A succeeded payment credited to escrow through the real success path."""
    amount = booking.deposit_amount if purpose == PaymentPurpose.DEPOSIT else booking.balance_amount
    payment = Payment.objects.create(
        booking=booking,
        payer=booking.customer,
        purpose=purpose,
        amount=amount,
        phone=booking.customer.phone_number,
        status=PaymentStatus.PENDING,
        **kwargs,
    )
    with transaction.atomic():
        locked_booking = lock_booking(booking.pk)
        payment = lock_payment(payment.pk)
        payment_mark_succeeded(booking=locked_booking, payment=payment)
    booking.refresh_from_db()
    payment.refresh_from_db()
    return payment


def payout_result(*, payout_id: int, paid: bool, result_code: str, result_desc: str) -> str:
    """A final answer about the payout's current attempt (its attempt row made if the test skipped the
    send), applied as every B2C result is (`payout_attempt_record_result`)."""
    payout = Payout.objects.get(pk=payout_id)
    attempt, _ = PayoutAttempt.objects.get_or_create(
        payout=payout,
        number=payout.attempt,
        defaults={
            "originator_conversation_id": payout.originator_id_for(payout.attempt),
            "amount": payout.amount,
            "outcome": PayoutAttemptOutcome.AWAITING_RESULT,
        },
    )
    return payout_attempt_record_result(
        attempt_id=attempt.pk,
        outcome=Outcome.PAID if paid else Outcome.FAILED,
        result_code=result_code,
        result_desc=result_desc,
    )


def escrow(booking) -> Decimal:
    return account_balance(f"escrow:booking:{booking.pk}")


def assert_reconciled() -> None:
    report = ledger_reconciliation_check()
    assert report.ok, report


def deliver_b2c_result_twice(fake_daraja, payout) -> None:
    """Safaricom's result for the payout's one B2C request, posted twice as Daraja retries callbacks; the
    payout must end `paid`."""
    result = fake_daraja.b2c_result_payload(payout.originator_conversation_id)
    api = APIClient()
    for _ in range(2):
        assert post_callback(api, "b2c-callback", result).status_code == 200
    payout.refresh_from_db()
    assert payout.status == "paid"


# The states a dispute can be opened in (bookings/services/disputes.py DISPUTABLE_STATUSES: completed,
# confirmed), by where the money is: test_dispute_matrix.py and the tests built on it open disputes in them.
COMPLETED_UNPAID = "completed, balance unpaid"
COMPLETED_PAID = "completed, balance paid"
CONFIRMED_UNPAID = "confirmed, balance unpaid"
RELEASED_UNSENT = "confirmed, released, technician payout not sent"
RELEASED_PAID = "confirmed, released, technician payout paid"
STATES = [COMPLETED_UNPAID, COMPLETED_PAID, CONFIRMED_UNPAID, RELEASED_UNSENT, RELEASED_PAID]


def _mark_paid(payout: Payout) -> None:
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.AWAITING_RESULT)
    assert (
        payout_result(payout_id=payout.pk, paid=True, result_code="0", result_desc="ok") == "paid"
    )


def arrange(state: str, booking, customer):
    """Bring the booking to `state` through the payment services, then open the dispute (real service)."""
    paid_payment(booking)
    if state in (COMPLETED_UNPAID, COMPLETED_PAID):
        set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
        if state == COMPLETED_PAID:
            paid_payment(booking, PaymentPurpose.BALANCE)  # completed: held, not released
    else:
        set_status(booking, BookingStatus.CONFIRMED, completed_at=timezone.now())
        if state != CONFIRMED_UNPAID:
            paid_payment(booking, PaymentPurpose.BALANCE)  # confirmed: released on payment
            payout = Payout.objects.get(booking=booking)
            if state == RELEASED_PAID:
                _mark_paid(payout)
    return dispute_open(booking=booking, opened_by=customer, reason="The sink still leaks")


def postings_since(before: set[int]) -> dict[str, dict[str, Decimal]]:
    """Every ledger transaction posted after `before` (transaction ids), as signed amounts per account."""
    moved: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    entries = LedgerEntry.objects.exclude(transaction_id__in=before).select_related(
        "transaction", "account"
    )
    for entry in entries:
        sign = 1 if entry.side == EntrySide.DEBIT else -1
        moved[entry.transaction.reference][entry.account.code] += sign * entry.amount
    return {reference: dict(lines) for reference, lines in moved.items()}
