"""STK pushes whose outcome is unknown, money that matches no payment (suspense), provider outages, query
answers about the wrong request, and staff status checks.

Everything runs the real DarajaClient against the local fake Daraja (`mpesa`): a "hang" is a push Daraja
processed whose answer never came back (the client times out after 3 s).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.test import Client
from django.utils import timezone

from payments import errors, tasks
from payments.daraja.errors import DarajaOutcomeUnknown
from payments.models import (
    CallbackEvent,
    Payment,
    PaymentStatus,
    PaymentStatusHistory,
    Payout,
    PayoutKind,
    SuspenseItem,
    SuspenseStatus,
)
from payments.selectors.balances import account_balance
from payments.services.payments import deposit_prompt_request, payment_request_stk
from payments.services.suspense import suspense_item_match
from payments.tasks import (
    STK_REQUEST_MAX_RETRIES,
    STK_REQUEST_RETRY_BACKOFF_MAX_SECONDS,
    STK_REQUEST_RETRY_BACKOFF_SECONDS,
    StkProviderUnavailable,
)
from payments.tests.fakes.daraja import PATH_STK_PUSH, PATH_STK_QUERY
from payments.tests.helpers import (
    assert_reconciled,
    escrow,
    make_booking,
    paid_payment,
    post_callback,
)

pytestmark = pytest.mark.django_db

STK_PUSH = "/api/v1/payments/mpesa/stk-push"
SUCCESS_DESC = "The service request is processed successfully."


def _the_prompt(mpesa) -> str:
    """CheckoutRequestID Daraja gave the one push it received (we never saw it when the answer was lost)."""
    (checkout_id,) = mpesa.stk.keys()
    return checkout_id


def _age(payment, **delta) -> None:
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(**delta))


def _suspense() -> Decimal:
    return account_balance("mpesa_suspense")


# --- a push whose answer was lost ----------------------------------------------------------------------------


def test_hanging_push_is_outcome_unknown_never_failed_and_never_pushed_again(
    mpesa, booking, customer_client, domain_events, django_capture_on_commit_callbacks
):
    mpesa.fail_next(PATH_STK_PUSH, "hang")
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "outcome_unknown"
    assert body["checkoutRequestId"] is None
    assert body["resultDesc"] == ""  # no exception text for the client
    payment = Payment.objects.get()
    assert payment.requested_at is not None
    assert list(payment.status_history.values_list("to_status", flat=True)) == [
        "initiated",
        "outcome_unknown",
    ]
    assert domain_events == []  # no "payment.failed" for the customer

    # The customer taps "pay" again: the open request is named, no second prompt goes out.
    again = customer_client.post(STK_PUSH, {"bookingId": booking.pk})
    assert again.status_code == 409
    assert again.json()["code"] == "payment_pending"
    assert again.json()["payment"]["id"] == payment.pk
    assert again.json()["payment"]["status"] == "outcome_unknown"

    # The beat job has nothing to query (no CheckoutRequestID) and never pushes.
    _age(payment, minutes=3)
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.OUTCOME_UNKNOWN
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    assert mpesa.requests_to(PATH_STK_QUERY) == []


def test_paying_the_lost_prompt_is_matched_from_suspense_and_credited(
    mpesa, booking, customer, anon_client
):
    mpesa.fail_next(PATH_STK_PUSH, "hang")
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert payment.status == PaymentStatus.OUTCOME_UNKNOWN
    checkout_id = _the_prompt(mpesa)
    # The customer entered the PIN on the first prompt; its callback names a request we never heard of.
    response = post_callback(anon_client, "callback", mpesa.stk_callback_payload(checkout_id, "0"))
    assert response.status_code == 200

    payment.refresh_from_db()
    booking.refresh_from_db()
    item = SuspenseItem.objects.get()
    assert (item.status, item.payment_id) == (SuspenseStatus.MATCHED, payment.pk)
    assert item.checkout_request_id == checkout_id
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.checkout_request_id == checkout_id
    assert payment.mpesa_receipt == mpesa.stk[checkout_id]["receipt"]
    assert (payment.result_code, payment.result_desc) == ("0", SUCCESS_DESC)
    assert booking.deposit_paid_at is not None
    assert escrow(booking) == Decimal("1000.00")
    assert _suspense() == Decimal("0.00")  # in and out of suspense
    event = CallbackEvent.objects.get()
    assert event.outcome == f"suspense_{item.pk}_matched_to_payment_{payment.pk}"
    assert_reconciled()
    # Daraja delivers the callback again: nothing moves.
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(checkout_id, "0"))
    assert SuspenseItem.objects.count() == 1
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_callback_that_overtook_the_lost_answer_is_matched_when_the_push_gives_up(
    mpesa, booking, customer, anon_client, intercept_daraja
):
    def paid_while_waiting(stk_push, **kwargs):
        mpesa.fail_next(PATH_STK_PUSH, "hang")
        try:
            return stk_push(**kwargs)
        except DarajaOutcomeUnknown:
            checkout_id = _the_prompt(mpesa)
            post_callback(anon_client, "callback", mpesa.stk_callback_payload(checkout_id, "0"))
            # Held: the payment was still `initiated`, not a candidate yet.
            assert SuspenseItem.objects.get().status == SuspenseStatus.HELD
            assert _suspense() == Decimal("1000.00")
            raise

    intercept_daraja(stk_push=paid_while_waiting)
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert SuspenseItem.objects.get().status == SuspenseStatus.MATCHED
    assert _suspense() == Decimal("0.00")
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_push_cut_off_midway_is_resolved_by_the_beat_job_from_suspense(
    mpesa, booking, customer, anon_client, intercept_daraja
):
    """The worker died while Daraja was processing the push: the row stays `initiated`. The money arrives
    (held: an `initiated` payment is not a candidate while its push may still answer); the beat job then
    treats the payment as an unknown outcome and credits it."""

    def dies_after_sending(stk_push, **kwargs):
        stk_push(**kwargs)
        raise SystemExit("worker killed")

    intercept_daraja(stk_push=dies_after_sending)
    with pytest.raises(SystemExit):
        payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    intercept_daraja.stop()
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.INITIATED
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(_the_prompt(mpesa), "0"))
    assert SuspenseItem.objects.get().status == SuspenseStatus.HELD

    _age(payment, minutes=4)
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert list(payment.status_history.values_list("to_status", flat=True)) == [
        "initiated",
        "outcome_unknown",
        "succeeded",
    ]
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    assert escrow(booking) == Decimal("1000.00")
    assert _suspense() == Decimal("0.00")
    assert_reconciled()


def test_unknown_push_nobody_paid_ends_unresolved_and_late_money_is_still_credited(
    mpesa, booking, customer, anon_client
):
    mpesa.fail_next(PATH_STK_PUSH, "hang")
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=6),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    # The window closed with nothing heard: `unresolved`, never `failed` (nor `expired`: it may be paid).
    assert payment.status == PaymentStatus.UNRESOLVED
    assert not payment.status_history.filter(to_status=PaymentStatus.FAILED).exists()
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(_the_prompt(mpesa), "0"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


# --- money nobody can be matched to ---------------------------------------------------------------------------


@pytest.fixture
def admin_browser(admin_user) -> Client:
    browser = Client()
    browser.force_login(admin_user)
    return browser


def _admin_action(browser, action: str, item: SuspenseItem, **extra):
    return browser.post(
        "/admin/payments/suspenseitem/",
        {"action": action, "_selected_action": [item.pk], **extra},
        follow=True,
    )


def test_money_matching_no_push_stays_in_suspense_and_staff_refund_it(
    mpesa, booking, customer, anon_client, admin_browser
):
    paid_payment(booking)  # the customer's earlier payment from this number
    # A success callback for a request we never made (no push of ours fits it).
    payload = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "m-1",
                "CheckoutRequestID": "ws_CO_0000000000000000001",
                "ResultCode": 0,
                "ResultDesc": SUCCESS_DESC,
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 700.0},
                        {"Name": "MpesaReceiptNumber", "Value": "SUS0000001"},
                        {"Name": "TransactionDate", "Value": 20261201101500},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }
    assert post_callback(anon_client, "callback", payload).status_code == 200
    item = SuspenseItem.objects.get()
    assert (item.status, item.amount, item.phone) == ("held", Decimal("700.00"), "+254712345678")
    assert _suspense() == Decimal("700.00")
    assert_reconciled()

    page = admin_browser.get("/admin/payments/suspenseitem/?status__exact=held")
    assert page.status_code == 200
    assert "SUS0000001" in page.content.decode()

    response = _admin_action(admin_browser, "refund_selected_items", item)
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == SuspenseStatus.REFUNDED
    payout = item.refund_payout
    assert (payout.kind, payout.amount, payout.phone) == (
        PayoutKind.REFUND,
        Decimal("700.00"),
        "+254712345678",
    )
    assert payout.recipient_id == customer.pk
    assert _suspense() == Decimal("0.00")
    assert_reconciled()
    # Refunding twice is refused; nothing more moves.
    _admin_action(admin_browser, "refund_selected_items", item)
    assert Payout.objects.filter(kind=PayoutKind.REFUND).count() == 1


def test_ambiguous_money_is_left_for_staff_who_match_it_in_the_admin(
    mpesa, customer, technician, service_category, anon_client, admin_browser
):
    first = make_booking(customer, technician, category=service_category)
    second = make_booking(customer, technician, category=service_category)
    lost = []
    for booking in (first, second):
        mpesa.fail_next(PATH_STK_PUSH, "hang")
        lost.append(payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit"))
    assert [p.status for p in lost] == ["outcome_unknown", "outcome_unknown"]
    # Same phone, same amount, same minutes: the money could be either booking's deposit.
    checkout_id = next(iter(mpesa.stk))
    post_callback(anon_client, "callback", mpesa.stk_callback_payload(checkout_id, "0"))
    item = SuspenseItem.objects.get()
    assert item.status == SuspenseStatus.HELD
    assert {p.status for p in Payment.objects.all()} == {"outcome_unknown"}

    form = _admin_action(admin_browser, "match_to_payment", item)
    assert "Credit to this payment" in form.content.decode()
    _admin_action(
        admin_browser, "match_to_payment", item, apply="1", payment_id=lost[1].pk, note="per call"
    )
    item.refresh_from_db()
    assert (item.status, item.payment_id) == (SuspenseStatus.MATCHED, lost[1].pk)
    assert item.resolved_by is not None and item.resolution_note == "per call"
    assert Payment.objects.get(pk=lost[1].pk).status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(pk=lost[0].pk).status == PaymentStatus.OUTCOME_UNKNOWN
    assert escrow(second) == Decimal("1000.00") and escrow(first) == Decimal("0.00")
    assert _suspense() == Decimal("0.00")
    assert_reconciled()


def test_staff_cannot_credit_money_to_a_payment_of_another_amount(
    mpesa, booking, customer, anon_client
):
    mpesa.fail_next(PATH_STK_PUSH, "hang")
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    payload = mpesa.stk_callback_payload(_the_prompt(mpesa), "0", amount=999)
    post_callback(anon_client, "callback", payload)
    item = SuspenseItem.objects.get()
    assert item.status == SuspenseStatus.HELD  # 999 is not the 1000 asked for: no automatic match
    with pytest.raises(errors.SuspenseMatchRefused):
        suspense_item_match(item_id=item.pk, payment_id=payment.pk, actor=customer)
    item.refresh_from_db()
    payment.refresh_from_db()
    assert item.status == SuspenseStatus.HELD
    assert payment.status == PaymentStatus.OUTCOME_UNKNOWN
    assert _suspense() == Decimal("999.00")
    assert_reconciled()


# --- provider outage -------------------------------------------------------------------------------------------


@pytest.fixture
def daraja_down(mpesa, settings):
    settings.MPESA_BASE_URL_OVERRIDE = "http://127.0.0.1:9"  # discard port: connection refused
    return mpesa


@pytest.mark.parametrize("failure", ["connection_refused", "busy", "quota"])
def test_outage_answers_503_and_keeps_nothing(
    mpesa, settings, booking, customer_client, failure, django_capture_on_commit_callbacks
):
    if failure == "connection_refused":
        settings.MPESA_BASE_URL_OVERRIDE = "http://127.0.0.1:9"
    else:
        mpesa.fail_next(PATH_STK_PUSH, failure)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = customer_client.post(
            STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="deposit-1"
        )
    assert response.status_code == 503
    assert response.json() == {
        "code": "payment_provider_unavailable",
        "message": "M-Pesa cannot be reached right now. Nothing was charged; please try again shortly.",
    }
    assert response["Retry-After"] == "30"
    assert Payment.objects.count() == 0
    assert PaymentStatusHistory.objects.count() == 0
    assert callbacks == []  # no payment.failed, nothing announced
    # Daraja is back: the same request (same key) goes through.
    settings.MPESA_BASE_URL_OVERRIDE = mpesa.base_url
    again = customer_client.post(
        STK_PUSH, {"bookingId": booking.pk}, HTTP_IDEMPOTENCY_KEY="deposit-1"
    )
    assert again.status_code == 201
    assert again.json()["status"] == "pending"


def _run_with_retries(task, *args, max_runs: int = 20):
    """Run a task the way a worker would: each Celery Retry is run again as the next attempt. Returns the
    last result or exception and the countdowns the retries asked for."""
    countdowns = []
    for attempt in range(max_runs):
        try:
            return task.apply(args=args, retries=attempt, throw=True).get(), countdowns
        except Retry as retry:
            countdowns.append(retry.when)
        except Exception as exc:  # retries exhausted: the task fails with the last error
            return exc, countdowns
    raise AssertionError("the task never stopped retrying")


def test_deposit_request_retries_while_daraja_is_busy(mpesa, booking):
    mpesa.fail_next(PATH_STK_PUSH, "busy", times=2)
    outcome, countdowns = _run_with_retries(tasks.payment_request_deposit_task, booking.pk)
    assert outcome == "pending"
    assert len(countdowns) == 2
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PENDING
    assert payment.idempotency_key == f"auto-deposit-{booking.pk}"
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 3  # two refusals, then the push


def test_deposit_request_retries_are_bounded_with_backoff_and_leave_nothing(daraja_down, booking):
    outcome, countdowns = _run_with_retries(tasks.payment_request_deposit_task, booking.pk)
    assert isinstance(outcome, StkProviderUnavailable)
    assert len(countdowns) == STK_REQUEST_MAX_RETRIES
    for attempt, countdown in enumerate(countdowns):  # exponential, with full jitter, capped
        ceiling = min(
            STK_REQUEST_RETRY_BACKOFF_SECONDS * 2**attempt, STK_REQUEST_RETRY_BACKOFF_MAX_SECONDS
        )
        assert 0 <= countdown <= ceiling
    assert Payment.objects.count() == 0  # the sweep requests it later (no deposit ever attempted)


def test_sweep_path_reports_the_outage_without_raising(daraja_down, booking):
    assert deposit_prompt_request(booking_id=booking.pk) == "payment_provider_unavailable"
    assert Payment.objects.count() == 0


# --- STK Query answers -----------------------------------------------------------------------------------------


def test_query_answer_about_another_request_is_refused(mpesa, booking, customer, caplog):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    mpesa.answer_stk_query_about(payment.checkout_request_id, "ws_CO_somebody_else")
    _age(payment, minutes=3)
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert escrow(booking) == Decimal("0.00")
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 1
    assert "ws_CO_somebody_else" in caplog.text
    # The same answer for a failure is refused too.
    mpesa.resolve_stk(payment.checkout_request_id, "1032")
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_query_success_carries_the_result_code_and_description(mpesa, booking, customer):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    _age(payment, minutes=3)
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.result_code, payment.result_desc) == ("0", SUCCESS_DESC)


# --- staff status checks ---------------------------------------------------------------------------------------


def _check(client, payment):
    return client.post(f"/api/v1/payments/mpesa/{payment.pk}/query")


def test_staff_check_any_open_payment_and_final_ones_are_409(
    mpesa, booking, customer, support_client, other_customer_client
):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert _check(other_customer_client, payment).status_code == 404
    assert mpesa.requests_to(PATH_STK_QUERY) == []
    response = _check(support_client, payment)
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    response = _check(support_client, payment)  # staff are not rate-limited
    assert response.json()["status"] == "succeeded"
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 2
    final = _check(support_client, payment)
    assert final.status_code == 409
    assert final.json()["code"] == "payment_final"
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 2


def test_staff_check_finds_an_expired_payment_was_paid_after_all(
    mpesa, booking, customer, support_client
):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    _age(payment, minutes=10)
    tasks.payments_resolve_stale_task.apply().get()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    # The customer did pay; Safaricom's callback never reached us.
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    response = _check(support_client, payment)
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_owner_may_check_too_but_only_once_per_ten_seconds(
    mpesa, booking, customer, customer_client
):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert _check(customer_client, payment).status_code == 200
    assert _check(customer_client, payment).status_code == 200
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 1


def test_admin_action_checks_selected_payments(mpesa, booking, customer, admin_browser):
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    mpesa.resolve_stk(payment.checkout_request_id, "0")
    response = admin_browser.post(
        "/admin/payments/payment/",
        {"action": "check_status_of_selected_payments", "_selected_action": [payment.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"#{payment.pk} succeeded" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
