"""Collecting the balance (payments/services/balance.py): a new attempt after a failed prompt, never a second
prompt for the same attempt, reminders on their schedule, and the hand-over to support once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Booking, BookingStatus
from bookings.services import booking_transition, dispute_open
from dumuwaks.celery import collect_beat_schedule
from notifications.models import Notification
from payments import tasks
from payments.models import BalanceCollection, Payment, PaymentPurpose, PaymentStatus
from payments.services import balance
from payments.services.balance import (
    BALANCE_MAX_AUTOMATIC_PROMPTS,
    BALANCE_OVERDUE_AFTER,
    BALANCE_REMINDER_SCHEDULE,
    balance_collection_run,
    balance_collection_step,
    balance_prompt_key,
    balance_prompt_request,
)
from payments.services.payments import payment_request_stk
from payments.tests.fakes.daraja import PATH_STK_PUSH
from payments.tests.helpers import paid_payment, post_callback, set_status
from support.models import SupportTicket, TicketCategory, TicketPriority

pytestmark = pytest.mark.django_db


def _confirm(booking, customer, capture):
    """Deposit paid, job done, the customer confirms: the event path asks for the balance (prompt 1)."""
    paid_payment(booking)
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    with capture(execute=True):
        booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=customer)
    booking.refresh_from_db()
    return booking


def _balances(booking) -> list[tuple[str, str]]:
    return list(
        Payment.objects.filter(booking=booking, purpose=PaymentPurpose.BALANCE)
        .order_by("id")
        .values_list("idempotency_key", "status")
    )


def _fail(mpesa, payment, code="1032") -> None:
    """The customer cancels the prompt (1032), or it fails otherwise: Daraja's callback says so."""
    payload = mpesa.stk_callback_payload(payment.checkout_request_id, code)
    assert post_callback(APIClient(), "callback", payload).status_code == 200
    payment.refresh_from_db()
    assert payment.status in (PaymentStatus.CANCELLED, PaymentStatus.FAILED)


def _open_balance(booking) -> Payment:
    return Payment.objects.get(
        booking=booking, purpose=PaymentPurpose.BALANCE, status=PaymentStatus.PENDING
    )


def _pushes(mpesa) -> list[int]:
    return [push.json["Amount"] for push in mpesa.requests_to(PATH_STK_PUSH)]


# --- prompts: a new attempt after a failure, never a second one for the same attempt ----------------------------


def test_a_failed_balance_prompt_is_followed_by_a_new_attempt_with_a_new_key(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    first = _open_balance(booking)
    assert (
        first.idempotency_key == balance_prompt_key(booking.pk, 1) == f"auto-balance-{booking.pk}-1"
    )
    _fail(mpesa, first)

    # The same request again (a late duplicate event, the task retried) used to return the failed payment.
    assert tasks.payment_request_balance_task.apply(args=[booking.pk]).get() == "pending"
    second = _open_balance(booking)
    assert second.pk != first.pk
    assert second.idempotency_key == f"auto-balance-{booking.pk}-2"
    assert _pushes(mpesa) == [4000, 4000]  # deposit paid via the helper: two balance prompts

    # While it is open, nothing sends a third.
    assert balance_prompt_request(booking_id=booking.pk) == "pending"
    assert tasks.payment_request_balance_task.apply(args=[booking.pk]).get() == "pending"
    assert len(_pushes(mpesa)) == 2
    assert _balances(booking) == [
        (f"auto-balance-{booking.pk}-1", "cancelled"),
        (f"auto-balance-{booking.pk}-2", "pending"),
    ]


def test_the_same_attempt_asked_twice_is_the_same_payment(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    first = _open_balance(booking)
    _fail(mpesa, first)
    key = balance_prompt_key(booking.pk, 2)
    one = payment_request_stk(
        booking_id=booking.pk, payer=customer, purpose="balance", idempotency_key=key
    )
    two = payment_request_stk(
        booking_id=booking.pk, payer=customer, purpose="balance", idempotency_key=key
    )
    assert one.pk == two.pk
    assert len(_pushes(mpesa)) == 2  # the first attempt's prompt and this one's
    # The automatic request now sees attempt 2 open: no attempt 3.
    assert balance_prompt_request(booking_id=booking.pk) == "pending"
    assert len(_pushes(mpesa)) == 2


def test_no_prompt_once_the_balance_is_paid(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    payment = _open_balance(booking)
    payload = mpesa.stk_callback_payload(payment.checkout_request_id, "0")
    post_callback(APIClient(), "callback", payload)
    assert balance_prompt_request(booking_id=booking.pk) == "already_paid"
    assert len(_pushes(mpesa)) == 1


def test_automatic_prompts_stop_after_the_maximum(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    for attempt in range(1, BALANCE_MAX_AUTOMATIC_PROMPTS + 1):
        payment = _open_balance(booking)
        assert payment.idempotency_key == f"auto-balance-{booking.pk}-{attempt}"
        _fail(mpesa, payment)
        outcome = balance_prompt_request(booking_id=booking.pk)
    assert outcome == "automatic_prompts_used"
    assert len(_pushes(mpesa)) == BALANCE_MAX_AUTOMATIC_PROMPTS
    # The customer can still pay from the app: their own request is a new payment.
    own = payment_request_stk(
        booking_id=booking.pk, payer=customer, purpose="balance", idempotency_key="app-1"
    )
    assert own.status == PaymentStatus.PENDING
    assert len(_pushes(mpesa)) == BALANCE_MAX_AUTOMATIC_PROMPTS + 1


def test_the_first_prompt_of_old_bookings_counts_as_attempt_one(mpesa, booking, customer):
    """Before attempts were numbered the first prompt's key was `auto-balance-<id>`."""
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED, confirmed_at=timezone.now())
    Payment.objects.create(
        booking=booking,
        payer=customer,
        purpose=PaymentPurpose.BALANCE,
        amount=booking.balance_amount,
        phone=customer.phone_number,
        status=PaymentStatus.FAILED,
        idempotency_key=f"auto-balance-{booking.pk}",
    )
    assert balance_prompt_request(booking_id=booking.pk) == "pending"
    assert _open_balance(booking).idempotency_key == f"auto-balance-{booking.pk}-2"


@pytest.mark.django_db(transaction=True)
def test_two_automatic_requests_at_once_send_one_prompt(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    _fail(mpesa, _open_balance(booking))
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(balance_prompt_request(booking_id=booking.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One sent attempt 2; the other found it open (still being sent, or sent) or raced into it.
    assert "pending" in outcomes and set(outcomes) <= {"pending", "initiated", "payment_pending"}
    assert len(_pushes(mpesa)) == 2  # attempt 1 and exactly one attempt 2
    assert _balances(booking) == [
        (f"auto-balance-{booking.pk}-1", "cancelled"),
        (f"auto-balance-{booking.pk}-2", "pending"),
    ]


# --- reminders on their schedule ------------------------------------------------------------------------------


@pytest.fixture
def confirmed(mpesa, booking, customer, django_capture_on_commit_callbacks):
    """Confirmed a moment ago; its first prompt was cancelled by the customer."""
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    _fail(mpesa, _open_balance(booking))
    return booking


def _run_at(booking, offset, capture) -> list:
    with capture(execute=True):
        result = balance_collection_run(now=booking.confirmed_at + offset)
    return result.steps


def _reminders(booking) -> list[str]:
    return list(
        Notification.objects.filter(
            user=booking.customer, type__startswith="payment.balance", data__booking_id=booking.pk
        )
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_reminders_follow_the_schedule_and_resend_the_prompt_a_limited_number_of_times(
    mpesa, confirmed, django_capture_on_commit_callbacks
):
    booking = confirmed
    capture = django_capture_on_commit_callbacks
    day = timedelta(days=1)
    assert (day, 3 * day, 5 * day) == BALANCE_REMINDER_SCHEDULE

    assert _run_at(booking, day - timedelta(minutes=1), capture) == []  # not yet
    assert _reminders(booking) == []
    assert _run_at(booking, day, capture) == [(booking.pk, "reminded:pending")]
    assert _open_balance(booking).idempotency_key == f"auto-balance-{booking.pk}-2"
    assert _reminders(booking) == ["payment.balance_prompt"]  # a prompt waits on the phone
    assert _run_at(booking, day + timedelta(hours=6), capture) == []  # once per step
    _fail(mpesa, _open_balance(booking))

    assert _run_at(booking, 3 * day, capture) == [(booking.pk, "reminded:pending")]
    assert _open_balance(booking).idempotency_key == f"auto-balance-{booking.pk}-3"
    _fail(mpesa, _open_balance(booking))

    # Three automatic prompts were sent: the last reminder only asks to pay in the app.
    assert _run_at(booking, 5 * day, capture) == [(booking.pk, "reminded:automatic_prompts_used")]
    assert _reminders(booking) == [
        "payment.balance_prompt",
        "payment.balance_prompt",
        "payment.balance_due",
    ]
    assert len(_pushes(mpesa)) == BALANCE_MAX_AUTOMATIC_PROMPTS
    collection = BalanceCollection.objects.get(booking=booking)
    assert (collection.reminders_sent, collection.overdue_at) == (3, None)
    assert collection.due_since == booking.confirmed_at
    assert _run_at(booking, 6 * day, capture) == []
    assert not SupportTicket.objects.exists()


def test_reminders_missed_while_beat_was_down_are_one_reminder(
    mpesa, confirmed, django_capture_on_commit_callbacks
):
    booking = confirmed
    steps = _run_at(booking, timedelta(days=4), django_capture_on_commit_callbacks)
    assert steps == [(booking.pk, "reminded:pending")]
    assert _reminders(booking) == ["payment.balance_prompt"]
    assert BalanceCollection.objects.get(booking=booking).reminders_sent == 2
    assert len(_pushes(mpesa)) == 2


def test_reminders_are_in_the_customers_language(
    mpesa, confirmed, django_capture_on_commit_callbacks
):
    booking = confirmed
    type(booking.customer).objects.filter(pk=booking.customer_id).update(preferred_language="sw")
    _run_at(booking, timedelta(days=1), django_capture_on_commit_callbacks)
    notification = Notification.objects.get(type="payment.balance_prompt")
    assert notification.title == "Salio linadaiwa"
    assert "KES 4000.00" in notification.body and booking.number in notification.body
    assert "PIN" in notification.body


def test_a_paid_or_disputed_balance_gets_no_reminder(
    mpesa, confirmed, customer, django_capture_on_commit_callbacks
):
    booking = confirmed
    dispute_open(
        booking=Booking.objects.get(pk=booking.pk), opened_by=customer, reason="Leaks again"
    )
    assert _run_at(booking, timedelta(days=1), django_capture_on_commit_callbacks) == []
    assert balance_collection_step(
        booking_id=booking.pk, now=booking.confirmed_at + BALANCE_OVERDUE_AFTER
    ) == ("not_outstanding")
    assert _reminders(booking) == []
    assert not SupportTicket.objects.exists()
    assert len(_pushes(mpesa)) == 1


def test_a_balance_paid_after_a_reminder_stops_the_reminders(
    mpesa, confirmed, django_capture_on_commit_callbacks
):
    booking = confirmed
    _run_at(booking, timedelta(days=1), django_capture_on_commit_callbacks)
    payment = _open_balance(booking)
    with django_capture_on_commit_callbacks(execute=True):
        post_callback(
            APIClient(), "callback", mpesa.stk_callback_payload(payment.checkout_request_id, "0")
        )
    assert _run_at(booking, timedelta(days=3), django_capture_on_commit_callbacks) == []
    assert _run_at(booking, BALANCE_OVERDUE_AFTER, django_capture_on_commit_callbacks) == []
    assert _reminders(booking) == ["payment.balance_prompt"]
    assert not SupportTicket.objects.exists()


# --- the deadline: support takes over, once -------------------------------------------------------------------


def test_the_deadline_hands_the_case_to_support_once(
    mpesa, confirmed, support_agent, django_capture_on_commit_callbacks
):
    booking = confirmed
    capture = django_capture_on_commit_callbacks
    assert timedelta(days=7) == BALANCE_OVERDUE_AFTER
    assert _run_at(booking, BALANCE_OVERDUE_AFTER - timedelta(minutes=1), capture) == [
        (booking.pk, "reminded:pending")
    ]
    assert _run_at(booking, BALANCE_OVERDUE_AFTER, capture) == [(booking.pk, "handed_to_support")]
    ticket = SupportTicket.objects.get()
    assert (ticket.category, ticket.priority) == (TicketCategory.PAYMENT, TicketPriority.HIGH)
    assert ticket.related_booking_id == booking.pk
    assert ticket.created_by_id == booking.customer_id
    assert ticket.subject == f"Balance overdue: {booking.number}"
    assert "KES 4000.00" in ticket.description
    assert ticket.related_payment_id == (
        Payment.objects.filter(booking=booking, purpose="balance").latest("id").pk
    )
    collection = BalanceCollection.objects.get(booking=booking)
    assert collection.overdue_at == booking.confirmed_at + BALANCE_OVERDUE_AFTER
    assert collection.support_ticket_id == ticket.pk
    notified = sorted(
        Notification.objects.filter(
            type__in=["payment.balance_overdue", "payment.balance_with_support"]
        ).values_list("user_id", "type")
    )
    assert notified == sorted(
        [
            (booking.customer_id, "payment.balance_overdue"),
            (booking.technician_id, "payment.balance_with_support"),
        ]
    )
    overdue = Notification.objects.get(type="payment.balance_overdue")
    assert ticket.number in overdue.body

    # Later runs: nothing more (no second ticket, no reminders, no prompts).
    pushes = len(_pushes(mpesa))
    assert _run_at(booking, BALANCE_OVERDUE_AFTER + timedelta(days=1), capture) == []
    assert (
        balance_collection_step(booking_id=booking.pk, now=timezone.now() + timedelta(days=9))
        == "with_support"
    )
    assert SupportTicket.objects.count() == 1
    assert len(_pushes(mpesa)) == pushes


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_deadline_open_one_ticket(
    mpesa, booking, customer, django_capture_on_commit_callbacks
):
    _confirm(booking, customer, django_capture_on_commit_callbacks)
    _fail(mpesa, _open_balance(booking))
    at = booking.confirmed_at + BALANCE_OVERDUE_AFTER
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(balance_collection_step(booking_id=booking.pk, now=at))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["handed_to_support", "with_support"]
    assert SupportTicket.objects.count() == 1
    assert BalanceCollection.objects.get(booking=booking).support_ticket is not None


def test_the_beat_entry_runs_the_collection():
    entry = collect_beat_schedule()["payments-balance-collection"]
    assert entry["task"] == "payments.tasks.balance_collection_task"
    assert entry["schedule"] == timedelta(minutes=30)


def test_the_task_reports_what_it_did(mpesa, confirmed, monkeypatch):
    real = balance.balance_collection_run
    monkeypatch.setattr(
        balance,
        "balance_collection_run",
        lambda: real(now=confirmed.confirmed_at + timedelta(days=1)),
    )
    assert tasks.balance_collection_task.apply().get() == {"steps": 1, "failed": 0}
