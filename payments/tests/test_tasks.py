"""Celery tasks: concurrent payout sending, stale STK payments, stale payouts, event subscriptions."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.db import connection
from django.utils import timezone

from bookings.models import BookingStatus
from dumuwaks.celery import collect_beat_schedule
from dumuwaks.core import events
from dumuwaks.core.side_effects import publish_after_commit
from payments import rules as payments_rules
from payments import tasks
from payments.models import (
    Payment,
    PaymentStatus,
    Payout,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
)
from payments.services.payments import payment_request_stk
from payments.tests.factories import PayoutFactory
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH, PATH_STK_QUERY
from payments.tests.helpers import assert_reconciled, escrow, make_booking, post_callback


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_one_payout_make_exactly_one_b2c_request(mpesa, booking, technician):
    payout = Payout.objects.create(
        kind=PayoutKind.TECHNICIAN_PAYOUT,
        channel=PayoutChannel.MPESA,
        booking=booking,
        recipient=technician,
        phone=technician.phone_number,
        amount=Decimal("4250.00"),
        status=PayoutStatus.QUEUED,
        attempt=1,
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(tasks.payout_send_task.apply(args=[payout.pk]).get())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "skipped_sending"] or sorted(outcomes) == [
        "accepted",
        "skipped_awaiting_result",
    ]
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT


@pytest.mark.django_db
def test_stale_pending_payment_is_resolved_by_stk_query(mpesa, booking, customer, settings):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    # Still waiting for the customer: Daraja answers "being processed" → stays pending.
    assert tasks.payments_resolve_stale_task.apply().get() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.mpesa_receipt is None  # the query carries no receipt
    assert booking.deposit_paid_at is not None
    assert escrow(booking) == Decimal("1000.00")
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 2
    assert_reconciled()


@pytest.mark.django_db
def test_stale_payment_reported_failed_by_query(mpesa, booking, customer):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    mpesa.resolve_stk(payment.checkout_request_id, "1032")
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert escrow(booking) == Decimal("0.00")


@pytest.mark.django_db
def test_payment_window_that_closed_expires_and_a_late_success_still_counts(
    mpesa, booking, customer, anon_client
):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=10),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    # The customer did pay after all: the money is credited, never lost.
    post_callback(
        anon_client, "callback", mpesa.stk_callback_payload(payment.checkout_request_id, "0")
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


@pytest.mark.django_db
def test_booking_created_event_requests_the_deposit(
    mpesa, customer, technician, service_category, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = make_booking(customer, technician, category=service_category)
        publish_after_commit(events.BookingCreated(booking_id=booking.pk))
    payment = Payment.objects.get(booking=booking)
    assert payment.status == PaymentStatus.PENDING
    assert payment.idempotency_key == f"auto-deposit-{booking.pk}"
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    # A duplicate event sends no second prompt.
    assert tasks.payment_request_deposit_task.apply(args=[booking.pk]).get() == "pending"
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.django_db
def test_balance_request_for_a_booking_not_confirmed_sends_nothing(mpesa, booking):
    assert tasks.payment_request_balance_task.apply(args=[booking.pk]).get() == "payment_not_due"
    assert mpesa.requests_to(PATH_STK_PUSH) == []


@pytest.mark.django_db
def test_stale_payouts_are_checked_with_transaction_status(mpesa, booking, technician):
    payout = Payout.objects.create(
        kind=PayoutKind.TECHNICIAN_PAYOUT,
        booking=booking,
        recipient=technician,
        phone=technician.phone_number,
        amount=Decimal("100.00"),
        status=PayoutStatus.AWAITING_RESULT,
        attempt=1,
    )
    Payout.objects.filter(pk=payout.pk).update(
        originator_conversation_id=f"DW-PO-{payout.pk}-1",
        updated_at=timezone.now() - timedelta(hours=1),
    )
    assert tasks.payouts_reconcile_stale_task.apply().get() == 1
    assert len(mpesa.status_queries) == 1


def test_beat_schedule_is_collected():
    schedule = collect_beat_schedule()
    assert schedule["payments-resolve-stale-stk"]["task"] == (
        "payments.tasks.payments_resolve_stale_task"
    )
    assert BookingStatus.CONFIRMED == "confirmed"


@pytest.mark.django_db
def test_payout_task_retries_when_daraja_is_busy(mpesa, booking, technician):
    payout = Payout.objects.create(
        kind=PayoutKind.TECHNICIAN_PAYOUT,
        booking=booking,
        recipient=technician,
        phone=technician.phone_number,
        amount=Decimal("4250.00"),
        status=PayoutStatus.QUEUED,
        attempt=1,
    )
    mpesa.fail_next(PATH_B2C, "busy")
    with pytest.raises(Retry):  # autoretry_for=DarajaBusy schedules a retry with backoff
        tasks.payout_send_task.apply(args=[payout.pk], throw=True)
    payout.refresh_from_db()
    assert (payout.status, payout.attempt) == (PayoutStatus.QUEUED, 1)
    # The retry sends the same attempt (same OriginatorConversationID).
    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "accepted"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT
    requests = mpesa.requests_to(PATH_B2C)
    assert len(requests) == 2
    assert {r.json["OriginatorConversationID"] for r in requests} == {f"DW-PO-{payout.pk}-1"}


@pytest.mark.django_db
def test_a_queued_payout_whose_task_was_lost_is_sent_once_by_the_sweeper(
    fake_daraja, settings, django_capture_on_commit_callbacks
):
    payout = PayoutFactory(status=PayoutStatus.QUEUED)
    long_ago = timezone.now() - timedelta(seconds=payments_rules.PAYOUT_RECONCILE_AFTER_SECONDS * 2)
    Payout.objects.filter(pk=payout.pk).update(updated_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.payouts_reconcile_stale_task.apply(throw=True)
        tasks.payouts_reconcile_stale_task.apply(
            throw=True
        )  # the next beat tick finds nothing to do

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT
    assert len(fake_daraja.requests_to(PATH_B2C)) == 1
