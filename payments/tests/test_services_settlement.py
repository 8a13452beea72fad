"""Cancellation, expiry, dispute outcomes, late and double payments: ledger + payouts executed exactly once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingStatus, DisputeOutcome
from bookings.services import booking_cancel, dispute_resolve
from bookings.tests.factories import DisputeFactory
from payments import rules as payments_rules
from payments.models import (
    LedgerTransaction,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
    TechnicianRecovery,
)
from payments.selectors.balances import account_balance
from payments.services.escrow import booking_settle_cancellation, dispute_settle
from payments.tasks import payout_send_task
from payments.tests.fakes.daraja import PATH_B2C
from payments.tests.helpers import (
    assert_reconciled,
    escrow,
    paid_payment,
    payout_result,
    set_status,
)

pytestmark = pytest.mark.django_db


def _payouts(booking):
    return {(p.kind, p.recipient_id): p for p in Payout.objects.filter(booking=booking)}


def test_customer_cancellation_refunds_deposit_minus_fee_and_splits_the_fee(
    mpesa, booking, customer, technician, django_capture_on_commit_callbacks
):
    paid_payment(booking)
    start = timezone.now() + timedelta(hours=3)  # 2-6 h before start: 50 % of the deposit
    set_status(
        booking,
        BookingStatus.ACCEPTED,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, actor=customer, reason="Changed my mind")
    booking.refresh_from_db()
    assert booking.cancellation_fee == Decimal("500.00")
    assert escrow(booking) == Decimal("0.00")
    assert account_balance("platform_revenue") == Decimal("75.00")
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("425.00")
    assert account_balance("refunds_payable") == Decimal("500.00")
    payouts = _payouts(booking)
    refund = payouts[(PayoutKind.REFUND, customer.pk)]
    assert refund.amount == Decimal("500.00")
    assert refund.phone == customer.phone_number
    assert payouts[(PayoutKind.TECHNICIAN_PAYOUT, technician.pk)].amount == Decimal("425.00")
    sent = sorted(r.json["Amount"] for r in mpesa.requests_to(PATH_B2C))
    assert sent == [425, 500]
    assert_reconciled()

    # Running the settlement again (a retried task) posts and pays nothing more.
    assert booking_settle_cancellation(booking_id=booking.pk) is False
    assert Payout.objects.filter(booking=booking).count() == 2
    assert_reconciled()


def test_cancellation_before_the_deposit_was_paid_moves_no_money(booking, customer):
    set_status(booking, BookingStatus.CANCELLED)
    assert booking_settle_cancellation(booking_id=booking.pk) is False
    assert LedgerTransaction.objects.count() == 0
    assert Payout.objects.count() == 0


def test_expired_booking_with_a_paid_deposit_is_refunded_in_full(booking, customer):
    paid_payment(booking)
    set_status(booking, BookingStatus.EXPIRED)
    assert booking_settle_cancellation(booking_id=booking.pk) is True
    refund = Payout.objects.get(booking=booking)
    assert (refund.kind, refund.amount, refund.recipient_id) == (
        PayoutKind.REFUND,
        Decimal("1000.00"),
        customer.pk,
    )
    assert escrow(booking) == Decimal("0.00")
    assert_reconciled()


def test_deposit_arriving_after_cancellation_is_refunded_in_full(booking, customer):
    set_status(booking, BookingStatus.CANCELLED)
    payment = paid_payment(booking)
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = Payout.objects.get(booking=booking)
    assert refund.kind == PayoutKind.REFUND
    assert refund.amount == Decimal("1000.00")
    assert escrow(booking) == Decimal("0.00")
    assert_reconciled()


def test_deposit_paid_twice_refunds_the_second_payment(booking, customer):
    paid_payment(booking)
    paid_payment(booking)
    refund = Payout.objects.get(booking=booking)
    assert refund.kind == PayoutKind.REFUND
    assert refund.amount == Decimal("1000.00")
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_confirmed_booking_with_full_escrow_splits_with_the_stored_amounts(booking, technician):
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, PaymentPurpose.BALANCE)
    assert account_balance(f"technician_payable:{technician.pk}") == booking.technician_share
    assert account_balance("platform_revenue") == booking.platform_fee
    payout = Payout.objects.get(booking=booking)
    assert payout.amount == booking.technician_share
    assert payout.status == PayoutStatus.QUEUED
    assert_reconciled()


@pytest.fixture
def disputed(booking):
    paid_payment(booking)
    set_status(booking, BookingStatus.DISPUTED, completed_at=timezone.now())
    return DisputeFactory(booking=booking, opened_by=booking.customer)


# Release with the balance unpaid requests the balance instead: payments/tests/test_dispute_matrix.py.
@pytest.mark.parametrize(
    ("outcome", "refund_amount", "refund", "technician_part", "platform_part"),
    [
        (DisputeOutcome.FULL_REFUND, None, "1000.00", "0.00", "0.00"),
        (DisputeOutcome.PARTIAL_REFUND, "400", "400.00", "510.00", "90.00"),
    ],
)
def test_dispute_outcomes_execute_on_what_escrow_holds(
    disputed,
    booking,
    customer,
    technician,
    support_agent,
    django_capture_on_commit_callbacks,
    task_outbox,
    outcome,
    refund_amount,
    refund,
    technician_part,
    platform_part,
):
    task_outbox.hold(payout_send_task)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(
            dispute=disputed, actor=support_agent, outcome=outcome, refund_amount=refund_amount
        )
    assert escrow(booking) == Decimal("0.00")
    assert account_balance("refunds_payable") == Decimal(refund)
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal(technician_part)
    assert account_balance("platform_revenue") == Decimal(platform_part)
    payouts = _payouts(booking)
    if Decimal(refund):
        assert payouts[(PayoutKind.REFUND, customer.pk)].amount == Decimal(refund)
    if Decimal(technician_part):
        assert payouts[(PayoutKind.TECHNICIAN_PAYOUT, technician.pk)].amount == Decimal(
            technician_part
        )
    assert sorted(task_outbox.ids_of(payout_send_task)) == sorted(p.pk for p in payouts.values())
    assert_reconciled()
    # Settling again does nothing.
    assert dispute_settle(dispute_id=disputed.pk) == "already_settled"
    assert len(_payouts(booking)) == len(payouts)


def test_release_after_dispute_with_the_full_price_held_uses_the_stored_split(
    disputed, booking, technician, support_agent
):
    paid_payment(booking, PaymentPurpose.BALANCE)
    assert escrow(booking) == booking.price  # disputed: not released on payment
    dispute_resolve(
        dispute=disputed, actor=support_agent, outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN
    )
    assert dispute_settle(dispute_id=disputed.pk) == DisputeOutcome.RELEASE_TO_TECHNICIAN
    assert account_balance(f"technician_payable:{technician.pk}") == booking.technician_share
    assert account_balance("platform_revenue") == booking.platform_fee
    assert_reconciled()


def test_large_payouts_and_recent_phone_changes_wait_for_review(
    booking, technician, monkeypatch, task_outbox, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 4000)
    with django_capture_on_commit_callbacks(execute=True):
        paid_payment(booking)
        set_status(booking, BookingStatus.CONFIRMED)
        paid_payment(booking, PaymentPurpose.BALANCE)
    payout = Payout.objects.get(booking=booking)
    assert payout.status == PayoutStatus.PENDING_REVIEW
    assert "above" in payout.review_reason
    assert task_outbox.ids_of(payout_send_task) == []


def test_recent_phone_change_holds_the_payout(booking, technician):
    type(technician).objects.filter(pk=technician.pk).update(
        phone_changed_at=timezone.now() - timedelta(hours=2)
    )
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, PaymentPurpose.BALANCE)
    payout = Payout.objects.get(booking=booking)
    assert payout.status == PayoutStatus.PENDING_REVIEW
    assert "changed" in payout.review_reason


def test_dispute_after_the_technician_was_paid_refunds_in_full_and_records_what_the_technician_owes(
    booking, customer, technician, support_agent
):
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, PaymentPurpose.BALANCE)  # released on payment
    payout = Payout.objects.get(booking=booking)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.AWAITING_RESULT)
    payout_result(payout_id=payout.pk, paid=True, result_code="0", result_desc="ok")
    set_status(booking, BookingStatus.DISPUTED)
    dispute = DisputeFactory(booking=booking, opened_by=customer)
    dispute_resolve(dispute=dispute, actor=support_agent, outcome=DisputeOutcome.FULL_REFUND)
    assert dispute_settle(dispute_id=dispute.pk) == DisputeOutcome.FULL_REFUND
    refund = Payout.objects.get(kind=PayoutKind.REFUND)
    assert refund.amount == Decimal("5000.00")
    assert account_balance("platform_revenue") == Decimal("0.00")
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert account_balance(f"technician_receivable:{technician.pk}") == Decimal("-4250.00")
    recovery = TechnicianRecovery.objects.get()
    assert (recovery.technician_id, recovery.amount) == (technician.pk, Decimal("4250.00"))
    assert_reconciled()


@pytest.mark.parametrize(
    ("outcome", "refund_amount", "customer_gets", "technician_keeps", "platform_keeps"),
    [
        (DisputeOutcome.FULL_REFUND, None, "5000.00", "0.00", "0.00"),
        (DisputeOutcome.PARTIAL_REFUND, "1000", "1000.00", "3400.00", "600.00"),
    ],
)
def test_dispute_after_release_claws_back_a_payout_not_yet_sent(
    booking,
    customer,
    technician,
    support_agent,
    monkeypatch,
    outcome,
    refund_amount,
    customer_gets,
    technician_keeps,
    platform_keeps,
):
    # the technician payout waits for review
    monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 1000)
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, PaymentPurpose.BALANCE)
    held = Payout.objects.get(booking=booking)
    assert held.status == PayoutStatus.PENDING_REVIEW
    set_status(booking, BookingStatus.DISPUTED)
    dispute = DisputeFactory(booking=booking, opened_by=customer)
    dispute_resolve(
        dispute=dispute, actor=support_agent, outcome=outcome, refund_amount=refund_amount
    )
    assert dispute_settle(dispute_id=dispute.pk) == outcome
    held.refresh_from_db()
    assert held.status == PayoutStatus.CANCELLED
    refund = Payout.objects.get(kind=PayoutKind.REFUND)
    assert refund.amount == Decimal(customer_gets)
    assert account_balance("refunds_payable") == Decimal(customer_gets)
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal(technician_keeps)
    assert account_balance("platform_revenue") == Decimal(platform_keeps)
    remainder = Payout.objects.filter(
        kind=PayoutKind.TECHNICIAN_PAYOUT, status__in=[PayoutStatus.PENDING_REVIEW, "queued"]
    )
    assert sum(p.amount for p in remainder) == Decimal(technician_keeps)
    assert dispute_settle(dispute_id=dispute.pk) == "already_settled"
    assert_reconciled()
