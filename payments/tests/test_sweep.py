"""The money sweep: a step whose after-commit message was lost to a broker outage is completed from durable
state, exactly once, however often the sweep runs (payments/services/sweep.py)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus, DisputeOutcome
from bookings.services import (
    booking_cancel,
    booking_create,
    booking_transition,
    dispute_open,
    dispute_resolve,
)
from payments import tasks
from payments.models import (
    LedgerTransaction,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.selectors.owed_steps import OwedStep, owed_step_list
from payments.services import escrow as escrow_services
from payments.services.sweep import SWEEP_GRACE, payments_sweep
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import (
    PRICE,
    assert_reconciled,
    escrow,
    make_booking,
    paid_payment,
    set_status,
)
from payments.tests.outage import broker_unreachable

LOST = "broker unavailable: payments.tasks.{}"


def _past_grace(booking) -> None:
    """The booking last changed just over the grace period ago (the normal path had its chance)."""
    Booking.objects.filter(pk=booking.pk).update(
        updated_at=timezone.now() - SWEEP_GRACE - timedelta(seconds=5)
    )


def _sweep() -> dict:
    return tasks.payments_sweep_task.apply().get()


def _money_state(mpesa) -> tuple:
    """Everything a repeated sweep must leave alone."""
    return (
        sorted(LedgerTransaction.objects.values_list("reference", flat=True)),
        sorted(Payout.objects.values_list("pk", "kind", "amount", "status")),
        sorted(Payment.objects.values_list("pk", "purpose", "amount", "status")),
        len(mpesa.requests_to(PATH_STK_PUSH)),
        len(mpesa.requests_to(PATH_B2C)),
    )


def _completed_booking(booking, *, balance_paid: bool):
    paid_payment(booking)
    if balance_paid:
        paid_payment(booking, PaymentPurpose.BALANCE)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    return booking


@pytest.fixture
def verified_customer(customer):
    """Automatic STK requests go to the customer's own number once it is verified."""
    type(customer).objects.filter(pk=customer.pk).update(is_phone_verified=True)
    customer.refresh_from_db()
    return customer


@pytest.fixture
def lost_log(caplog):
    caplog.set_level(logging.ERROR, logger="dumuwaks.core.side_effects")
    return caplog


@pytest.mark.django_db(transaction=True)
def test_release_lost_to_a_broker_outage_is_completed_by_the_sweep_once(
    mpesa, booking, customer, technician, lost_log
):
    _completed_booking(booking, balance_paid=True)
    with broker_unreachable():
        booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)

    assert LOST.format("booking_release_if_complete_task") in lost_log.text
    assert escrow(booking) == PRICE
    assert not Payout.objects.exists()
    assert not LedgerTransaction.objects.filter(reference=f"booking:{booking.pk}:release").exists()

    # Inside the grace period the sweep leaves the booking to the normal path.
    before = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == before

    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    assert escrow(booking) == Decimal("0.00")
    payout = Payout.objects.get()
    assert (payout.kind, payout.recipient_id, payout.amount) == (
        PayoutKind.TECHNICIAN_PAYOUT,
        technician.pk,
        Decimal("4250.00"),
    )
    assert payout.status == PayoutStatus.AWAITING_RESULT  # the broker is back: B2C went out
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()

    after = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == after


@pytest.mark.django_db(transaction=True)
def test_cancellation_refund_lost_to_a_broker_outage_is_settled_by_the_sweep_once(
    mpesa, booking, customer, technician, lost_log
):
    # Cancelled 3 h before the start: the customer keeps half the deposit, the other half is the fee.
    start = timezone.now() + timedelta(hours=3)
    Booking.objects.filter(pk=booking.pk).update(
        scheduled_start=start, scheduled_end=start + timedelta(hours=1)
    )
    booking.refresh_from_db()
    paid_payment(booking)
    with broker_unreachable():
        booking_cancel(booking=booking, actor=customer, reason="Found someone closer")

    assert LOST.format("booking_settle_cancellation_task") in lost_log.text
    assert escrow(booking) == Decimal("1000.00")
    assert not Payout.objects.exists()

    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    assert escrow(booking) == Decimal("0.00")
    payouts = {p.kind: p for p in Payout.objects.all()}
    assert payouts[PayoutKind.REFUND].amount == Decimal("500.00")
    assert payouts[PayoutKind.REFUND].recipient_id == customer.pk
    assert payouts[PayoutKind.TECHNICIAN_PAYOUT].amount == Decimal("425.00")
    assert len(mpesa.requests_to(PATH_B2C)) == 2
    assert_reconciled()

    after = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == after


@pytest.mark.django_db(transaction=True)
def test_expired_booking_refund_lost_to_a_broker_outage_is_settled_by_the_sweep(
    mpesa, booking, customer, lost_log
):
    paid_payment(booking)
    with broker_unreachable():
        booking_transition(booking=booking, to=BookingStatus.EXPIRED, actor=None)
    assert LOST.format("booking_settle_cancellation_task") in lost_log.text

    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    refund = Payout.objects.get()
    assert (refund.kind, refund.amount, refund.recipient_id) == (
        PayoutKind.REFUND,
        Decimal("1000.00"),
        customer.pk,
    )
    assert escrow(booking) == Decimal("0.00")
    assert _sweep() == {"completed": 0, "failed": 0}
    assert Payout.objects.count() == 1
    assert_reconciled()


@pytest.mark.django_db(transaction=True)
def test_dispute_settlement_lost_to_a_broker_outage_is_executed_by_the_sweep_once(
    mpesa, booking, customer, technician, support_agent, lost_log
):
    _completed_booking(booking, balance_paid=True)
    dispute = dispute_open(booking=booking, opened_by=customer, reason="The sink still leaks")
    with broker_unreachable():
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=DisputeOutcome.PARTIAL_REFUND,
            refund_amount=Decimal(1500),
        )

    assert LOST.format("dispute_settle_task") in lost_log.text
    assert escrow(booking) == PRICE

    assert _sweep() == {"completed": 0, "failed": 0}  # just resolved: inside the grace
    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    assert escrow(booking) == Decimal("0.00")
    refund = Payout.objects.get(kind=PayoutKind.REFUND)
    assert (refund.amount, refund.recipient_id) == (Decimal("1500.00"), customer.pk)
    earned = Payout.objects.get(kind=PayoutKind.TECHNICIAN_PAYOUT)
    assert earned.amount == Decimal("2975.00")  # 85 % of the 3500 released
    assert (
        LedgerTransaction.objects.filter(reference__startswith=f"dispute:{dispute.pk}:").count()
        == 2
    )
    assert_reconciled()

    after = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == after


@pytest.mark.django_db(transaction=True)
def test_deposit_request_lost_to_a_broker_outage_is_sent_by_the_sweep_once(
    mpesa, verified_customer, service_category, lost_log
):
    customer = verified_customer
    with broker_unreachable():
        booking = booking_create(
            customer=customer,
            category=service_category,
            title="Fix the kitchen tap",
            address="Kilimani, Nairobi",
            scheduled_start=timezone.now() + timedelta(days=2),
            duration_minutes=60,
            price=PRICE,
        )
    assert LOST.format("payment_request_deposit_task") in lost_log.text
    assert not Payment.objects.exists()
    assert not mpesa.requests_to(PATH_STK_PUSH)

    assert _sweep() == {"completed": 0, "failed": 0}
    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    pushes = mpesa.requests_to(PATH_STK_PUSH)
    assert len(pushes) == 1
    assert pushes[0].json["Amount"] == 1000
    assert pushes[0].json["PhoneNumber"] == "254712345678"
    payment = Payment.objects.get()
    assert (payment.purpose, payment.status, payment.idempotency_key) == (
        PaymentPurpose.DEPOSIT,
        PaymentStatus.PENDING,
        f"auto-deposit-{booking.pk}",  # the event path's key: its late task would find this payment
    )
    assert tasks.payment_request_deposit_task.apply(args=[booking.pk]).get() == "pending"

    after = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == after


@pytest.mark.django_db(transaction=True)
def test_balance_request_lost_to_a_broker_outage_is_sent_by_the_sweep_once(
    mpesa, booking, verified_customer, lost_log
):
    customer = verified_customer
    _completed_booking(booking, balance_paid=False)
    with broker_unreachable():
        booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)
    assert LOST.format("payment_request_balance_task") in lost_log.text
    assert not Payment.objects.filter(purpose=PaymentPurpose.BALANCE).exists()

    _past_grace(booking)
    assert _sweep() == {"completed": 1, "failed": 0}
    pushes = mpesa.requests_to(PATH_STK_PUSH)
    assert [push.json["Amount"] for push in pushes] == [4000]
    balance = Payment.objects.get(purpose=PaymentPurpose.BALANCE)
    assert balance.idempotency_key == f"auto-balance-{booking.pk}-1"  # the first automatic attempt
    assert escrow(booking) == Decimal("1000.00")  # the deposit waits for the balance

    after = _money_state(mpesa)
    assert _sweep() == {"completed": 0, "failed": 0}
    assert _money_state(mpesa) == after


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_release_once_and_prompt_once(mpesa, verified_customer, technician):
    customer = verified_customer
    released = make_booking(customer, technician)
    _completed_booking(released, balance_paid=True)
    set_status(released, BookingStatus.CONFIRMED)  # the confirmation's message never arrived
    unrequested = make_booking(customer, technician)  # booking.created never arrived
    for booking in (released, unrequested):
        _past_grace(booking)
    ids = [released.pk, unrequested.pk]
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(payments_sweep(booking_ids=ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 2
    assert all(not result.failed for result in results)
    assert LedgerTransaction.objects.filter(reference=f"booking:{released.pk}:release").count() == 1
    assert Payout.objects.filter(booking=released).count() == 1
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    assert Payment.objects.filter(booking=unrequested).count() == 1
    assert escrow(released) == Decimal("0.00")
    assert_reconciled()


@pytest.mark.django_db
def test_a_failing_booking_does_not_stop_the_sweep(mpesa, customer, technician, monkeypatch):
    bookings = []
    for _ in range(2):
        booking = _completed_booking(make_booking(customer, technician), balance_paid=True)
        set_status(booking, BookingStatus.CONFIRMED)
        _past_grace(booking)
        bookings.append(booking)
    broken, fine = bookings
    real_release = escrow_services.escrow_release_if_complete

    def release(*, booking):
        if booking.pk == broken.pk:
            raise RuntimeError("database hiccup")
        return real_release(booking=booking)

    monkeypatch.setattr(escrow_services, "escrow_release_if_complete", release)
    result = payments_sweep(booking_ids=[broken.pk, fine.pk])
    assert result.failed == [broken.pk]
    assert result.completed == [(fine.pk, OwedStep.RELEASE, "True")]
    assert escrow(broken) == PRICE
    assert escrow(fine) == Decimal("0.00")

    monkeypatch.setattr(escrow_services, "escrow_release_if_complete", real_release)
    result = payments_sweep(booking_ids=[broken.pk, fine.pk])
    assert result.completed == [(broken.pk, OwedStep.RELEASE, "True")]
    assert escrow(broken) == Decimal("0.00")
    assert_reconciled()


@pytest.mark.django_db
def test_owed_steps_are_found_in_one_query_and_only_where_money_is_owed(
    mpesa, customer, technician, support_agent, django_assert_num_queries
):
    # Activity before the lookback: not a candidate any more (`reconcile` reports such money).
    old = make_booking(customer, technician)
    paid_payment(old)
    set_status(old, BookingStatus.CANCELLED)
    since = timezone.now()

    def history(booking, to):
        booking.status_history.create(from_status="", to_status=to)

    owed = {}
    verified = {"is_phone_verified": True}  # automatic prompts go only to a verified number
    b = make_booking(CustomerFactory(**verified), TechnicianFactory())  # booking.created lost
    history(b, BookingStatus.PENDING)
    owed[b.pk] = OwedStep.REQUEST_DEPOSIT
    b = _completed_booking(
        make_booking(CustomerFactory(**verified), TechnicianFactory()), balance_paid=False
    )
    set_status(b, BookingStatus.CONFIRMED)
    owed[b.pk] = OwedStep.REQUEST_BALANCE
    b = _completed_booking(make_booking(CustomerFactory(), TechnicianFactory()), balance_paid=True)
    set_status(b, BookingStatus.CONFIRMED)
    owed[b.pk] = OwedStep.RELEASE
    b = make_booking(CustomerFactory(), TechnicianFactory())
    paid_payment(b)
    set_status(b, BookingStatus.CANCELLED)
    owed[b.pk] = OwedStep.SETTLE_CANCELLATION
    b = _completed_booking(make_booking(CustomerFactory(), TechnicianFactory()), balance_paid=True)
    dispute = dispute_open(booking=b, opened_by=b.customer, reason="Leaks")
    dispute_resolve(dispute=dispute, actor=support_agent, outcome=DisputeOutcome.FULL_REFUND)
    owed[b.pk] = OwedStep.SETTLE_DISPUTE
    # Nothing owed: deposit asked for; deposit window closed; cancelled with nothing held; released;
    # no verified phone to prompt (that customer pays from the app, the sweep would only retry in vain).
    b = make_booking(CustomerFactory(is_phone_verified=False), TechnicianFactory())
    history(b, BookingStatus.PENDING)
    b = make_booking(customer, technician)
    history(b, BookingStatus.PENDING)
    Payment.objects.create(
        booking=b, payer=customer, purpose=PaymentPurpose.DEPOSIT, amount=b.deposit_amount
    )
    b = make_booking(customer, technician, payment_due_at=since - timedelta(minutes=1))
    history(b, BookingStatus.PENDING)
    b = make_booking(customer, technician)
    set_status(b, BookingStatus.CANCELLED)
    history(b, BookingStatus.CANCELLED)
    b = _completed_booking(make_booking(customer, technician), balance_paid=True)
    set_status(b, BookingStatus.CONFIRMED)
    payments_sweep(booking_ids=[b.pk], grace=timedelta(0))
    assert escrow(b) == Decimal("0.00")

    now = timezone.now()
    with django_assert_num_queries(1):
        items = owed_step_list(now=now, since=since, changed_before=now)
    assert {item.booking_id: item.step for item in items} == owed
    assert [item.dispute_id for item in items if item.dispute_id] == [dispute.pk]
    # Named explicitly, the old booking is found whatever its age.
    [item] = owed_step_list(now=now, since=now, changed_before=now, booking_ids=[old.pk])
    assert (item.booking_id, item.step) == (old.pk, OwedStep.SETTLE_CANCELLATION)


@pytest.mark.django_db
def test_a_run_out_of_time_stops_between_bookings_and_the_next_run_goes_on(
    customer, technician, monkeypatch
):
    booking = _completed_booking(make_booking(customer, technician), balance_paid=True)
    set_status(booking, BookingStatus.CONFIRMED)
    _past_grace(booking)

    monkeypatch.setattr("payments.services.sweep.SWEEP_TIME_BUDGET_SECONDS", -1)
    result = payments_sweep(booking_ids=[booking.pk])
    assert (result.stopped_early, result.completed, result.failed) == (True, [], [])
    assert escrow(booking) == PRICE

    monkeypatch.undo()
    result = payments_sweep(booking_ids=[booking.pk])
    assert result.completed == [(booking.pk, OwedStep.RELEASE, "True")]
    assert escrow(booking) == Decimal("0.00")
