"""`manage.py reconcile` reports money left in the escrow of a booking that is over, and exits 1 for it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Booking, BookingStatus, BookingStatusHistory, DisputeOutcome
from bookings.services import booking_cancel, booking_transition, dispute_open, dispute_resolve
from payments import tasks
from payments.models import Payment, PaymentPurpose, PaymentStatus
from payments.services.sweep import ESCROW_AGEING_THRESHOLD, payments_sweep
from payments.tests.helpers import escrow, make_booking, paid_payment, set_status

pytestmark = pytest.mark.django_db


def reconcile(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def last_status_change_ago(booking, age: timedelta) -> None:
    then = timezone.now() - age
    BookingStatusHistory.objects.filter(booking=booking).update(created_at=then)
    Booking.objects.filter(pk=booking.pk).update(updated_at=then)


def aged_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("AGED ESCROW")]


@pytest.fixture
def cancelled_unsettled(booking, customer):
    """Deposit paid, then cancelled by the customer; the settlement message never ran (no on-commit work
    runs in these tests)."""
    paid_payment(booking)
    booking_cancel(booking=booking, actor=customer, reason="Plans changed")
    assert escrow(booking) == Decimal("1000.00")
    return booking


def test_clean_ledger_exits_0(mpesa, booking, customer, technician):
    paid_payment(booking)
    paid_payment(booking, PaymentPurpose.BALANCE)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)
    payments_sweep(booking_ids=[booking.pk], grace=timedelta(0))  # the release
    last_status_change_ago(booking, timedelta(days=3))
    assert escrow(booking) == Decimal("0.00")

    code, output = reconcile()
    assert code == 0
    assert aged_lines(output) == []
    assert "no drift, no aged escrow" in output


def test_money_left_in_a_cancelled_booking_past_the_threshold_is_reported_and_exits_1(
    cancelled_unsettled,
):
    booking = cancelled_unsettled
    last_status_change_ago(booking, ESCROW_AGEING_THRESHOLD + timedelta(hours=1))

    code, output = reconcile()
    assert code == 1
    assert aged_lines(output) == [
        f"AGED ESCROW booking {booking.pk} ({booking.number}, cancelled): 1000.00 KES held "
        f"1d 1h since its last status change; sweep: settle_cancellation (refund escrow minus the "
        f"cancellation fee; the sweep retries it every run: its log says why it has not succeeded)"
    ]
    assert "UNBALANCED" not in output and "DRIFT" not in output  # the ledger itself is fine

    # The sweep settles it; reconcile is clean again.
    assert tasks.payments_sweep_task.apply().get() == {"completed": 1, "failed": 0}
    assert escrow(booking) == Decimal("0.00")
    code, output = reconcile()
    assert (code, aged_lines(output)) == (0, [])


def test_money_inside_the_threshold_is_not_reported(cancelled_unsettled):
    last_status_change_ago(cancelled_unsettled, ESCROW_AGEING_THRESHOLD - timedelta(minutes=5))
    code, output = reconcile()
    assert (code, aged_lines(output)) == (0, [])


def test_money_of_running_bookings_and_open_disputes_is_not_reported(booking, customer, technician):
    paid_payment(booking)
    booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=technician)
    disputed = make_booking(customer, technician)
    paid_payment(disputed)
    paid_payment(disputed, PaymentPurpose.BALANCE)
    set_status(disputed, BookingStatus.COMPLETED, completed_at=timezone.now())
    dispute_open(booking=disputed, opened_by=customer, reason="Still leaks")
    for running in (booking, disputed):
        last_status_change_ago(running, timedelta(days=5))

    code, output = reconcile()
    assert (code, aged_lines(output)) == (0, [])


def test_money_no_step_can_move_is_reported_for_staff(booking, customer):
    # Confirmed, the balance was asked for and never paid: the deposit waits in escrow.
    paid_payment(booking)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)
    Payment.objects.create(
        booking=booking,
        payer=customer,
        purpose=PaymentPurpose.BALANCE,
        amount=booking.balance_amount,
        status=PaymentStatus.EXPIRED,
    )
    last_status_change_ago(booking, timedelta(days=2))

    code, output = reconcile()
    assert code == 1
    assert aged_lines(output) == [
        f"AGED ESCROW booking {booking.pk} ({booking.number}, confirmed): 1000.00 KES held 2d 0h "
        "since its last status change; sweep: none (no automatic step applies: staff settle it)"
    ]


def test_settle_aged_runs_the_sweep_step_for_money_older_than_the_lookback(
    mpesa, booking, customer, technician, support_agent
):
    paid_payment(booking)
    paid_payment(booking, PaymentPurpose.BALANCE)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    dispute = dispute_open(booking=booking, opened_by=customer, reason="Still leaks")
    dispute_resolve(dispute=dispute, actor=support_agent, outcome=DisputeOutcome.FULL_REFUND)
    last_status_change_ago(booking, timedelta(days=10))

    code, output = reconcile("--booking", str(booking.pk))
    assert code == 1
    [line] = aged_lines(output)
    assert line.startswith(
        f"AGED ESCROW booking {booking.pk} ({booking.number}, resolved): 5000.00"
    )
    assert line.endswith(
        "sweep: settle_dispute (execute the resolved dispute's outcome; older than the sweep's "
        "lookback: run with --settle-aged)"
    )

    code, output = reconcile("--settle-aged")
    assert code == 0, output
    assert f"SETTLED booking {booking.pk}: settle_dispute -> full_refund" in output
    assert aged_lines(output) == []
    assert escrow(booking) == Decimal("0.00")
