"""STK callbacks that match no payment when they arrive, and pushes whose outcome stays unknown (issue 15,
gap 2).

A failure callback (e.g. 1032) for a push whose answer was lost carries no phone or amount: it is stored under
its CheckoutRequestID as `unmatched` (never dropped), listed for staff, and applied as soon as a payment learns
that id (the push's answer, a status check, staff attaching it). An `outcome_unknown` push whose window closes
with nothing heard ends `unresolved`: never failed, and its late money is credited once.
"""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from payments import tasks
from payments.errors import CallbackNotAttachable
from payments.models import (
    CallbackEvent,
    CallbackStatus,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    PaymentStatusHistory,
    Payout,
    PayoutKind,
    SuspenseItem,
)
from payments.services.callbacks import stk_callback_attach
from payments.services.payments import payment_request_stk
from payments.tests.fakes.daraja import PATH_STK_PUSH, PATH_STK_QUERY
from payments.tests.helpers import assert_reconciled, escrow, post_callback

pytestmark = pytest.mark.django_db


def _lost_push(mpesa, booking, customer) -> tuple[Payment, str]:
    """A deposit push Daraja received whose answer never came back: (payment, its CheckoutRequestID)."""
    before = set(mpesa.stk)
    mpesa.fail_next(PATH_STK_PUSH, "hang")
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert payment.status == PaymentStatus.OUTCOME_UNKNOWN
    (checkout_id,) = set(mpesa.stk) - before
    return payment, checkout_id


def _close_window(payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=6),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()


def test_failure_for_a_lost_push_is_kept_unmatched_and_the_push_ends_unresolved(
    mpesa, booking, customer, anon_client, admin_user, customer_client
):
    payment, checkout_id = _lost_push(mpesa, booking, customer)
    cancelled = mpesa.stk_callback_payload(checkout_id, "1032")
    assert post_callback(anon_client, "callback", cancelled).status_code == 200
    event = CallbackEvent.objects.get()
    assert (event.provider_key, event.status) == (checkout_id, CallbackStatus.UNMATCHED)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.OUTCOME_UNKNOWN  # nothing links it: not failed
    # Daraja redelivers it: still one stored event, still waiting.
    post_callback(anon_client, "callback", cancelled)
    event.refresh_from_db()
    assert (event.status, event.replay_count) == (CallbackStatus.UNMATCHED, 1)
    # Staff see it.
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get("/admin/payments/callbackevent/?status__exact=unmatched")
    assert page.status_code == 200 and checkout_id in page.content.decode()
    out = StringIO()
    call_command("reconcile", stdout=out)  # listed, not a failure
    assert f"UNMATCHED CALLBACK {event.pk}: stk {checkout_id}" in out.getvalue()

    _close_window(payment)
    assert payment.status == PaymentStatus.UNRESOLVED
    assert not payment.status_history.filter(
        to_status__in=[PaymentStatus.FAILED, PaymentStatus.EXPIRED]
    ).exists()
    # The customer is asked to pay again (nothing is open any more) and can.
    money = customer_client.get(f"/api/v1/bookings/{booking.pk}").json()["money"]
    assert (money["deposit"]["status"], money["nextAction"]) == ("due", "pay_deposit")
    response = customer_client.post(
        "/api/v1/payments/mpesa/stk-push", {"bookingId": booking.pk, "confirmPhone": True}
    )
    assert response.status_code == 201
    assert response.json()["status"] == PaymentStatus.PENDING
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 2


def test_unresolved_push_paid_late_after_a_new_one_is_credited_once(
    mpesa, booking, customer, anon_client
):
    first, first_checkout = _lost_push(mpesa, booking, customer)
    _close_window(first)
    assert first.status == PaymentStatus.UNRESOLVED
    second = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(second.checkout_request_id))
    second.refresh_from_db()
    assert second.status == PaymentStatus.SUCCEEDED
    # The first prompt was paid too, later: matched to the unresolved push, credited, and sent back.
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(first_checkout, "0"))
    first.refresh_from_db()
    assert first.status == PaymentStatus.SUCCEEDED
    (refund,) = Payout.objects.filter(kind=PayoutKind.REFUND)
    assert refund.amount == Decimal("1000.00")
    assert escrow(booking) == Decimal("1000.00")  # the deposit once
    assert_reconciled()


def _killed_once_the_checkout_id_is_stored():
    """A database execute wrapper standing for a worker killed between two steps: once the transaction that
    stored the push's CheckoutRequestID is done (its UPDATE, the history INSERT, the commit), the worker dies
    at its next read, so nothing after that step runs."""
    stored = False

    def wrapper(execute, sql, params, many, context):
        nonlocal stored
        if stored and sql.lstrip().upper().startswith("SELECT"):
            raise SystemExit("worker killed")
        result = execute(sql, params, many, context)
        if sql.startswith('UPDATE "payments_payment"') and '"checkout_request_id"' in sql:
            stored = True
        return result

    return wrapper


def test_a_status_check_applies_the_failure_that_waited_for_the_push(
    mpesa, booking, customer, anon_client, intercept_daraja
):
    """Daraja's failure (1032) overtakes the push's answer and waits `unmatched`; the worker is killed right
    after storing the push's CheckoutRequestID, before it applies the waiting callback. The next status check
    (beat) applies it, without asking Daraja."""

    def cancelled_while_waiting(stk_push, **kwargs):
        accepted = stk_push(**kwargs)
        body = mpesa.stk_callback_payload(accepted.checkout_request_id, "1032")
        assert post_callback(anon_client, "callback", body).status_code == 200
        return accepted

    intercept_daraja(stk_push=cancelled_while_waiting)
    killed = _killed_once_the_checkout_id_is_stored()
    with connection.execute_wrapper(killed), pytest.raises(SystemExit):
        payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    intercept_daraja.stop()
    (checkout_id,) = mpesa.stk
    payment = Payment.objects.get()
    assert (payment.status, payment.checkout_request_id) == (PaymentStatus.PENDING, checkout_id)
    event = CallbackEvent.objects.get()
    assert (event.provider_key, event.status) == (checkout_id, CallbackStatus.UNMATCHED)

    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert (payment.status, payment.result_code) == (PaymentStatus.CANCELLED, "1032")
    assert list(payment.status_history.order_by("id").values_list("from_status", "to_status")) == [
        ("", PaymentStatus.INITIATED),
        (PaymentStatus.INITIATED, PaymentStatus.PENDING),
        (PaymentStatus.PENDING, PaymentStatus.CANCELLED),
    ]
    event.refresh_from_db()
    assert (event.status, event.outcome, event.replay_count) == (
        CallbackStatus.PROCESSED,
        PaymentStatus.CANCELLED,
        0,
    )
    assert mpesa.requests_to(PATH_STK_QUERY) == []
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    assert LedgerTransaction.objects.count() == 0
    assert SuspenseItem.objects.count() == 0


@pytest.mark.parametrize("window_closed", [False, True])
def test_staff_attach_an_unmatched_failure_to_the_lost_push(
    mpesa, booking, customer, anon_client, admin_user, window_closed
):
    payment, checkout_id = _lost_push(mpesa, booking, customer)
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(checkout_id, "1032"))
    if window_closed:
        _close_window(payment)
        assert payment.status == PaymentStatus.UNRESOLVED
    event = CallbackEvent.objects.get()
    browser = Client()
    browser.force_login(admin_user)
    form = browser.post(
        "/admin/payments/callbackevent/",
        {"action": "attach_to_payment", "_selected_action": [event.pk]},
    )
    assert form.status_code == 200 and b"payment_id" in form.content
    response = browser.post(
        "/admin/payments/callbackevent/",
        {
            "action": "attach_to_payment",
            "_selected_action": [event.pk],
            "apply": "1",
            "payment_id": payment.pk,
        },
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.checkout_request_id) == (PaymentStatus.CANCELLED, checkout_id)
    assert PaymentStatusHistory.objects.filter(
        payment=payment, actor=admin_user, note__contains="attached by staff"
    ).exists()
    event.refresh_from_db()
    assert event.status == CallbackStatus.PROCESSED
    # Again: the callback no longer waits; refused, nothing changes.
    with pytest.raises(CallbackNotAttachable):
        stk_callback_attach(event_id=event.pk, payment_id=payment.pk, actor=admin_user)
    assert escrow(booking) == Decimal("0.00")
    assert_reconciled()
