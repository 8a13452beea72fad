"""Property test: random sequences of booking and payment events never break the ledger invariants.

After every step: every transaction balances and all balances sum to zero; each escrow equals succeeded
payments − releases − refunds and is never negative; payable accounts hold exactly the payouts not yet paid;
paid payouts are posted exactly once.
"""

import itertools
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import BookingStatus, Dispute, DisputeOutcome, DisputeStatus
from payments.daraja import payloads
from payments.models import Payment, PaymentStatus, Payout, PayoutKind, PayoutStatus
from payments.selectors.balances import account_balance
from payments.selectors.reconciliation import ledger_reconciliation_check
from payments.services import callbacks, escrow
from payments.services.common import lock_booking, now
from payments.services.payouts import payout_send
from payments.tests.helpers import make_booking, set_status

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)

EVENTS = [
    "request_deposit",
    "request_balance",
    "stk_success",
    "stk_success_replay",
    "stk_failure",
    "stk_wrong_amount",
    "complete",
    "confirm",
    "cancel",
    "expire",
    "dispute",
    "resolve",
    "send_payouts",
    "b2c_success",
    "b2c_failure",
]


class Scenario:
    def __init__(self, mpesa):
        self.mpesa = mpesa
        self.customer = CustomerFactory()
        self.technician = TechnicianFactory()
        self.booking = make_booking(self.customer, self.technician, price=Decimal(7_777))
        self.last_callback = None
        self.dispute = None

    # --- helpers -------------------------------------------------------------------------------------------
    def refresh(self):
        self.booking.refresh_from_db()

    def _request(self, purpose):
        active = Payment.objects.filter(
            booking=self.booking, purpose=purpose, status__in=["initiated", "pending"]
        ).exists()
        if active:
            return
        amount = (
            self.booking.deposit_amount if purpose == "deposit" else self.booking.balance_amount
        )
        n = next(_ids)
        Payment.objects.create(
            booking=self.booking,
            payer=self.customer,
            purpose=purpose,
            amount=amount,
            phone=self.customer.phone_number,
            status=PaymentStatus.PENDING,
            checkout_request_id=f"ws_CO_prop_{n}",
            merchant_request_id=f"m-{n}",
            expires_at=now(),
        )

    def _pending(self):
        return (
            Payment.objects.filter(booking=self.booking, status=PaymentStatus.PENDING)
            .order_by("?")
            .first()
        )

    def _stk(self, code, amount=None):
        payment = self._pending()
        if payment is None:
            return
        payload = payloads.stk_callback(
            merchant_id=payment.merchant_request_id,
            checkout_id=payment.checkout_request_id,
            result_code=code,
            amount=amount if amount is not None else int(payment.amount),
            receipt=f"R{next(_ids):09d}",
            phone_msisdn=payment.phone.removeprefix("+"),
        )
        callbacks.mpesa_stk_callback_record(payload=payload)
        self.last_callback = payload

    # --- events --------------------------------------------------------------------------------------------
    def apply(self, event):
        self.refresh()
        status = self.booking.status
        if event == "request_deposit" and status == BookingStatus.PENDING:
            if not self.booking.deposit_paid_at:
                self._request("deposit")
        elif event == "request_balance" and status == BookingStatus.CONFIRMED:
            if not Payment.objects.filter(
                booking=self.booking, purpose="balance", status="succeeded"
            ).exists():
                self._request("balance")
        elif event == "stk_success":
            self._stk("0")
        elif event == "stk_success_replay" and self.last_callback is not None:
            callbacks.mpesa_stk_callback_record(payload=self.last_callback)
        elif event == "stk_failure":
            self._stk("1032")
        elif event == "stk_wrong_amount":
            self._stk("0", amount=1)
        elif event == "complete" and status == BookingStatus.PENDING:
            if self.booking.deposit_paid_at:
                set_status(self.booking, BookingStatus.COMPLETED, completed_at=timezone.now())
        elif event == "confirm" and status == BookingStatus.COMPLETED:
            set_status(self.booking, BookingStatus.CONFIRMED)
            self._settle(lambda b: escrow.escrow_release_if_complete(booking=b))
        elif event == "cancel" and status == BookingStatus.PENDING:
            fee = self.booking.deposit_amount / 2 if self.booking.deposit_paid_at else 0
            set_status(self.booking, BookingStatus.CANCELLED, cancellation_fee=fee)
            escrow.booking_settle_cancellation(booking_id=self.booking.pk)
        elif event == "expire" and status == BookingStatus.PENDING:
            set_status(self.booking, BookingStatus.EXPIRED)
            escrow.booking_settle_cancellation(booking_id=self.booking.pk)
        elif event == "dispute" and status in (BookingStatus.COMPLETED, BookingStatus.CONFIRMED):
            set_status(self.booking, BookingStatus.DISPUTED)
            self.dispute = Dispute.objects.create(
                booking=self.booking, opened_by=self.customer, reason="bad job"
            )
        elif event == "resolve" and status == BookingStatus.DISPUTED:
            outcome = [
                DisputeOutcome.RELEASE_TO_TECHNICIAN,
                DisputeOutcome.FULL_REFUND,
                DisputeOutcome.PARTIAL_REFUND,
            ][next(_ids) % 3]
            Dispute.objects.filter(pk=self.dispute.pk).update(
                status=DisputeStatus.RESOLVED,
                outcome=outcome,
                refund_amount=Decimal(333) if outcome == DisputeOutcome.PARTIAL_REFUND else None,
            )
            set_status(self.booking, BookingStatus.RESOLVED)
            escrow.dispute_settle(dispute_id=self.dispute.pk)
        elif event == "send_payouts":
            for payout_id in Payout.objects.filter(
                booking=self.booking, status=PayoutStatus.QUEUED
            ).values_list("pk", flat=True):
                payout_send(payout_id=payout_id)
        elif event in ("b2c_success", "b2c_failure"):
            payout = Payout.objects.filter(
                booking=self.booking, status=PayoutStatus.AWAITING_RESULT
            ).first()
            if payout is not None:
                code = "0" if event == "b2c_success" else "2001"
                result = self.mpesa.b2c_result_payload(payout.originator_conversation_id, code)
                callbacks.mpesa_b2c_result_record(payload=result)

    def _settle(self, fn):
        with transaction.atomic():
            fn(lock_booking(self.booking.pk))

    # --- invariants ----------------------------------------------------------------------------------------
    def check(self):
        report = ledger_reconciliation_check()
        assert report.ok, report
        assert account_balance(f"escrow:booking:{self.booking.pk}") >= 0
        open_tech = sum(
            (
                p.amount
                for p in Payout.objects.filter(
                    recipient=self.technician, kind=PayoutKind.TECHNICIAN_PAYOUT
                ).exclude(status__in=[PayoutStatus.PAID, PayoutStatus.CANCELLED])
            ),
            Decimal(0),
        )
        assert account_balance(f"technician_payable:{self.technician.pk}") == open_tech
        open_refunds = sum(
            (
                p.amount
                for p in Payout.objects.filter(kind=PayoutKind.REFUND).exclude(
                    status__in=[PayoutStatus.PAID, PayoutStatus.CANCELLED]
                )
            ),
            Decimal(0),
        )
        assert account_balance("refunds_payable") == open_refunds
        paid_in = sum(
            (p.amount for p in Payment.objects.filter(booking=self.booking, status="succeeded")),
            Decimal(0),
        )
        # Nothing leaves the booking's escrow beyond what came in.
        assert account_balance(f"escrow:booking:{self.booking.pk}") <= paid_in
        self.refresh()
        if self.booking.status == BookingStatus.CONFIRMED and paid_in == self.booking.price:
            assert account_balance(f"escrow:booking:{self.booking.pk}") == 0


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(st.sampled_from(EVENTS), min_size=1, max_size=25))
def test_random_event_sequences_keep_the_ledger_consistent(mpesa, events):
    scenario = Scenario(mpesa)
    for event in events:
        scenario.apply(event)
        scenario.check()


def test_happy_path_sequence_reaches_a_fully_paid_out_booking(mpesa):
    scenario = Scenario(mpesa)
    for event in [
        "request_deposit",
        "stk_success",
        "stk_success_replay",
        "complete",
        "confirm",
        "request_balance",
        "stk_success",
        "send_payouts",
        "b2c_success",
    ]:
        scenario.apply(event)
        scenario.check()
    assert account_balance(f"technician_payable:{scenario.technician.pk}") == Decimal(0)
    assert Payout.objects.get(booking=scenario.booking).status == PayoutStatus.PAID
