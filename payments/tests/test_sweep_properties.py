"""Property test: whatever order booking and payment events come in, and whichever after-commit messages are
lost, the sweep keeps the ledger balanced and leaves every final booking's escrow at zero, and repeating it
changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import BookingStatus, Dispute, DisputeOutcome
from bookings.services import (
    booking_cancel,
    booking_transition,
    dispute_open,
    dispute_resolve,
)
from dumuwaks.core.events import BookingCreated
from payments import events, tasks
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    LedgerTransaction,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
)
from payments.services.common import lock_booking, lock_payment
from payments.services.payments import payment_mark_succeeded
from payments.services.sweep import payments_sweep
from payments.tests.fakes.daraja import PATH_STK_PUSH
from payments.tests.helpers import assert_reconciled, escrow, make_booking

pytestmark = pytest.mark.django_db

# "progress" takes the next step of the ordinary life of a booking (pay the deposit, do the job, confirm, pay
# the balance); "step" moves the job one status along (accepted, en route, arrived, in progress), so a booking
# can be cancelled on the way; the others interleave payments arriving early, late or twice, cancellations,
# expiry, disputes and sweeps.
EVENTS = [
    "progress",
    "progress",
    "progress",
    "progress",
    "step",
    "pay_deposit",
    "pay_balance",
    "cancel",
    "expire",
    "dispute",
    "resolve",
    "sweep",
]
R, FULL, PARTIAL = (
    DisputeOutcome.RELEASE_TO_TECHNICIAN,
    DisputeOutcome.FULL_REFUND,
    DisputeOutcome.PARTIAL_REFUND,
)
OUTCOMES = [R, FULL, PARTIAL]
ORDINARY = (
    BookingStatus.PENDING,
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.ARRIVED,
    BookingStatus.IN_PROGRESS,
    BookingStatus.COMPLETED,
)
# A customer may cancel until the work starts (a fee once the technician is en route).
CANCELLABLE = (
    BookingStatus.PENDING,
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.ARRIVED,
)
FINAL = (
    BookingStatus.CONFIRMED,
    BookingStatus.CANCELLED,
    BookingStatus.EXPIRED,
    BookingStatus.RESOLVED,
)


class Scenario:
    def __init__(self, mpesa, capture, support_agent, created_delivered: bool):
        self.mpesa = mpesa
        self.capture = capture
        self.support_agent = support_agent
        self.customer = CustomerFactory(is_phone_verified=True)
        self.technician = TechnicianFactory()
        self.booking = make_booking(self.customer, self.technician, price=Decimal(7_777))
        self.dispute = None
        self.pushes_before = len(mpesa.requests_to(PATH_STK_PUSH))
        if created_delivered:  # booking.created reached payments
            events.on_booking_created(BookingCreated(booking_id=self.booking.pk))

    @property
    def status(self):
        self.booking.refresh_from_db()
        return self.booking.status

    def _pay(self, purpose):
        """The customer's money arrives (whatever the booking's state: late and double payments too)."""
        payment = Payment.objects.filter(
            booking=self.booking, purpose=purpose, status__in=ACTIVE_PAYMENT_STATUSES
        ).first()
        if payment is None:
            payment = Payment.objects.create(
                booking=self.booking,
                payer=self.customer,
                purpose=purpose,
                amount=(
                    self.booking.deposit_amount
                    if purpose == PaymentPurpose.DEPOSIT
                    else self.booking.balance_amount
                ),
                phone=self.customer.phone_number,
                status=PaymentStatus.PENDING,
            )
        with transaction.atomic():
            booking = lock_booking(self.booking.pk)
            payment_mark_succeeded(booking=booking, payment=lock_payment(payment.pk))

    def _next_ordinary_step(self, status) -> str:
        if status == BookingStatus.PENDING:
            return "advance" if self.booking.deposit_paid_at else "pay_deposit"
        if status in ORDINARY[1:-1]:
            return "advance"
        if status == BookingStatus.COMPLETED:
            return "confirm"
        if status == BookingStatus.CONFIRMED:
            return "pay_balance"
        return "sweep"

    def _sweep(self):
        result = payments_sweep(booking_ids=[self.booking.pk], grace=timedelta(0))
        assert not result.failed
        for _booking_id, step, outcome in result.completed:
            statistic(f"sweep: {step} -> {outcome}")  # --hypothesis-show-statistics

    def apply(self, event: str, delivered: bool, outcome: str = DisputeOutcome.FULL_REFUND):
        """`delivered`: whether the change's after-commit messages reach payments or are lost."""
        status = self.status
        booking = self.booking
        if event == "progress":
            event = self._next_ordinary_step(status)
        with self.capture(execute=delivered):
            if event == "pay_deposit":
                self._pay(PaymentPurpose.DEPOSIT)
            elif event == "pay_balance":
                self._pay(PaymentPurpose.BALANCE)
            elif event == "advance" and booking.deposit_paid_at and status in ORDINARY:
                for to in ORDINARY[ORDINARY.index(status) + 1 :]:
                    booking_transition(booking=booking, to=to, actor=self.technician)
            elif event == "step" and booking.deposit_paid_at and status in ORDINARY[:-1]:
                to = ORDINARY[ORDINARY.index(status) + 1]
                booking_transition(booking=booking, to=to, actor=self.technician)
            elif event == "confirm" and status == BookingStatus.COMPLETED:
                booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=self.customer)
            elif event == "cancel" and status in CANCELLABLE:
                booking_cancel(booking=booking, actor=self.customer, reason="Plans changed")
            elif event == "expire" and status == BookingStatus.PENDING:
                booking_transition(booking=booking, to=BookingStatus.EXPIRED, actor=None)
            elif event == "dispute" and status in (
                BookingStatus.COMPLETED,
                BookingStatus.CONFIRMED,
            ):
                self.dispute = dispute_open(
                    booking=booking, opened_by=self.customer, reason="Still leaks"
                )
            elif event == "resolve" and status == BookingStatus.DISPUTED:
                dispute_resolve(
                    dispute=self.dispute,
                    actor=self.support_agent,
                    outcome=outcome,
                    refund_amount=Decimal(333)
                    if outcome == DisputeOutcome.PARTIAL_REFUND
                    else None,
                )
            elif event == "sweep":
                self._sweep()

    def check(self):
        assert_reconciled()
        assert escrow(self.booking) >= 0

    def finish(self):
        """End the booking (messages lost), let the customer pay what is asked, and sweep."""
        if self.status in CANCELLABLE:
            self.apply("cancel", delivered=False)
        if self.status == BookingStatus.IN_PROGRESS:
            self.apply("advance", delivered=False)
        if self.status == BookingStatus.COMPLETED:
            self.apply("confirm", delivered=False)
        if self.status == BookingStatus.DISPUTED:
            self.apply("resolve", delivered=False)
        self._sweep()  # asks for the balance if nobody did
        balance_paid = Payment.objects.filter(
            booking=self.booking, purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED
        ).exists()
        # A dispute resolved `release_to_technician` owes the full price like a confirmed booking: its
        # deposit stays in escrow ("awaiting_balance") until the balance the sweep asked for is paid.
        owes_price = self.status == BookingStatus.CONFIRMED or (
            self.status == BookingStatus.RESOLVED
            and Dispute.objects.filter(booking=self.booking, outcome=R).exists()
        )
        if owes_price and not balance_paid:
            assert Payment.objects.filter(
                booking=self.booking, purpose=PaymentPurpose.BALANCE
            ).exists()
            self._pay(PaymentPurpose.BALANCE)
        self._sweep()
        assert self.status in FINAL
        assert escrow(self.booking) == Decimal("0.00")
        self.check()

        state = (
            sorted(LedgerTransaction.objects.values_list("reference", flat=True)),
            sorted(Payout.objects.values_list("pk", "amount", "status")),
            sorted(Payment.objects.values_list("pk", "status")),
            len(self.mpesa.requests_to(PATH_STK_PUSH)),
        )
        self._sweep()
        tasks.payments_sweep_task.apply().get()
        assert state == (
            sorted(LedgerTransaction.objects.values_list("reference", flat=True)),
            sorted(Payout.objects.values_list("pk", "amount", "status")),
            sorted(Payment.objects.values_list("pk", "status")),
            len(self.mpesa.requests_to(PATH_STK_PUSH)),
        )
        # At most one automatic prompt per purpose: the event path and the sweep never both prompted.
        assert len(self.mpesa.requests_to(PATH_STK_PUSH)) - self.pushes_before <= 2


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    created_delivered=st.booleans(),
    steps=st.lists(
        st.tuples(st.sampled_from(EVENTS), st.booleans(), st.sampled_from(OUTCOMES)),
        min_size=1,
        max_size=25,
    ),
)
# The paths the sweep exists for, always tried: release after a lost confirmation (balance paid early),
# a lost dispute settlement while escrow holds the price, and one after release (a claw-back).
@example(
    created_delivered=False,
    steps=[
        ("progress", True, R),
        ("progress", True, R),
        ("pay_balance", True, R),
        ("progress", False, R),
        ("sweep", True, R),
    ],
)
@example(
    created_delivered=True,
    steps=[
        ("progress", True, R),
        ("progress", True, R),
        ("pay_balance", True, R),
        ("dispute", True, R),
        ("resolve", False, PARTIAL),
        ("sweep", True, R),
    ],
)
@example(
    created_delivered=True,
    steps=[("progress", True, R)] * 4 + [("dispute", True, R), ("resolve", False, FULL)],
)
# Cancelled after the technician arrived (the en-route fee), its messages lost.
@example(
    created_delivered=True,
    steps=[("progress", True, R)] + [("step", True, R)] * 3 + [("cancel", False, R)],
)
def test_any_order_of_events_and_lost_messages_ends_with_empty_escrow(
    mpesa, support_agent, django_capture_on_commit_callbacks, created_delivered, steps
):
    scenario = Scenario(mpesa, django_capture_on_commit_callbacks, support_agent, created_delivered)
    for event, delivered, outcome in steps:
        scenario.apply(event, delivered, outcome)
        scenario.check()
    scenario.finish()
