"""M-Pesa callbacks: authentication, replay, mismatch, result-code types, out-of-order and timeouts."""

import json
from decimal import Decimal

import pytest

from bookings.models import BookingStatus
from payments.daraja.errors import DarajaBusy
from payments.models import (
    CallbackEvent,
    CallbackStatus,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    SuspenseItem,
)
from payments.selectors.balances import account_balance
from payments.services.payments import payment_request_stk
from payments.services.payouts import payout_process, payout_send
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_QUERY, PATH_TRANSACTION_STATUS
from payments.tests.helpers import (
    assert_reconciled,
    callback_path,
    escrow,
    paid_payment,
    payout_result,
    post_callback,
    set_status,
)

pytestmark = pytest.mark.django_db

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


@pytest.fixture
def pending_deposit(mpesa, booking, customer):
    return payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")


def test_success_callback_answers_pascal_case_and_credits_escrow(
    mpesa, pending_deposit, booking, anon_client
):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    response = post_callback(anon_client, "callback", payload)
    assert response.status_code == 200
    assert json.loads(response.content) == ACCEPTED  # not camelCased
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.SUCCEEDED
    assert escrow(booking) == Decimal("1000.00")
    event = CallbackEvent.objects.get()
    assert event.status == CallbackStatus.PROCESSED
    assert event.provider_key == pending_deposit.checkout_request_id
    assert_reconciled()


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_forged_callback_is_rejected_and_nothing_is_stored(
    mpesa, pending_deposit, booking, anon_client, token
):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    response = post_callback(anon_client, "callback", payload, token=token)
    assert response.status_code == 403
    assert CallbackEvent.objects.count() == 0
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.PENDING
    assert LedgerTransaction.objects.count() == 0


def test_callback_from_an_address_outside_the_allow_list_is_rejected(
    mpesa, pending_deposit, anon_client, settings
):
    settings.MPESA_ALLOWED_IPS = ["196.201.214.200"]
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    response = post_callback(anon_client, "callback", payload)
    assert response.status_code == 403
    assert CallbackEvent.objects.count() == 0
    response = anon_client.post(
        callback_path("callback"), data=payload, format="json", REMOTE_ADDR="196.201.214.200"
    )
    assert response.status_code == 200
    assert CallbackEvent.objects.count() == 1


def test_replayed_callback_changes_nothing(mpesa, pending_deposit, booking, anon_client):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    post_callback(anon_client, "callback", payload)
    entries = LedgerEntry.objects.count()
    history = pending_deposit.status_history.count()
    for _ in range(2):
        response = post_callback(anon_client, "callback", payload)
        assert response.status_code == 200
        assert response.json() == ACCEPTED
    assert LedgerEntry.objects.count() == entries
    assert pending_deposit.status_history.count() == history
    assert escrow(booking) == Decimal("1000.00")
    event = CallbackEvent.objects.get()
    assert event.replay_count == 2
    assert_reconciled()


def test_amount_mismatch_is_flagged_and_never_credited(
    mpesa, pending_deposit, booking, anon_client
):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0", amount=10)
    response = post_callback(anon_client, "callback", payload)
    assert response.json() == ACCEPTED
    pending_deposit.refresh_from_db()
    booking.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.FLAGGED
    assert pending_deposit.paid_amount == Decimal("10.00")
    assert booking.deposit_paid_at is None
    assert LedgerTransaction.objects.count() == 0
    assert CallbackEvent.objects.get().outcome == "flagged_amount_mismatch"
    # A later genuine-looking replay cannot un-flag it.
    good = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    post_callback(anon_client, "callback", good)
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.FLAGGED
    assert LedgerTransaction.objects.count() == 0


def test_phone_mismatch_is_flagged(mpesa, pending_deposit, booking, anon_client):
    payload = mpesa.stk_callback_payload(
        pending_deposit.checkout_request_id, "0", phone_msisdn="254799999999"
    )
    post_callback(anon_client, "callback", payload)
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.FLAGGED
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1032, PaymentStatus.CANCELLED),
        ("1032", PaymentStatus.CANCELLED),
        (1, PaymentStatus.FAILED),
        ("SFC_IC0003", PaymentStatus.FAILED),
    ],
)
def test_failure_codes_int_or_string(mpesa, pending_deposit, booking, anon_client, code, expected):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    payload["Body"]["stkCallback"]["ResultCode"] = code
    payload["Body"]["stkCallback"].pop("CallbackMetadata")
    response = post_callback(anon_client, "callback", payload)
    assert response.json() == ACCEPTED
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == expected
    assert pending_deposit.result_code == str(code)
    assert LedgerTransaction.objects.count() == 0
    booking.refresh_from_db()
    assert booking.deposit_paid_at is None


def test_success_code_as_string_is_success(mpesa, pending_deposit, anon_client):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    payload["Body"]["stkCallback"]["ResultCode"] = "0"
    post_callback(anon_client, "callback", payload)
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"Body": {}}'])
def test_garbage_is_acknowledged_without_effect(mpesa, pending_deposit, anon_client, body):
    response = anon_client.generic(
        "POST", callback_path("callback"), body, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == ACCEPTED
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.PENDING
    assert CallbackEvent.objects.exclude(status=CallbackStatus.FAILED).count() == 0


def test_callback_overtaking_the_stk_response_is_applied_once_the_id_is_stored(
    mpesa, booking, customer, anon_client, intercept_daraja
):
    """Daraja's callback can reach us before our own STK push call has returned: its money waits in
    suspense (it matches nothing yet) and is credited once the push's CheckoutRequestID is stored."""

    def callback_first(stk_push, **kwargs):
        accepted = stk_push(**kwargs)
        payload = mpesa.stk_callback_payload(accepted.checkout_request_id, "0")
        post_callback(anon_client, "callback", payload)
        event = CallbackEvent.objects.get()
        assert event.status == CallbackStatus.PROCESSED
        assert event.outcome.startswith("held_in_suspense")
        assert account_balance("mpesa_suspense") == Decimal("1000.00")
        return accepted

    intercept_daraja(stk_push=callback_first)
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.result_code == "0"
    assert SuspenseItem.objects.get().payment_id == payment.pk
    assert account_balance("mpesa_suspense") == Decimal("0.00")
    assert escrow(booking) == Decimal("1000.00")
    assert_reconciled()


def test_failure_callback_overtaking_the_stk_response_is_applied_once_the_id_is_stored(
    mpesa, booking, customer, anon_client, intercept_daraja
):
    def callback_first(stk_push, **kwargs):
        accepted = stk_push(**kwargs)
        payload = mpesa.stk_callback_payload(accepted.checkout_request_id, "1032")
        post_callback(anon_client, "callback", payload)
        event = CallbackEvent.objects.get()
        # Kept, waiting for the payment that will have this CheckoutRequestID.
        assert event.status == CallbackStatus.UNMATCHED
        assert event.outcome.startswith("unmatched")
        return accepted

    intercept_daraja(stk_push=callback_first)
    payment = payment_request_stk(booking_id=booking.pk, payer=customer, purpose="deposit")
    assert payment.status == PaymentStatus.CANCELLED
    assert CallbackEvent.objects.get().status == CallbackStatus.PROCESSED
    assert LedgerTransaction.objects.count() == 0


def test_unknown_checkout_id_is_held_in_suspense_for_staff(mpesa, pending_deposit, anon_client):
    payload = mpesa.stk_callback_payload(pending_deposit.checkout_request_id, "0")
    payload["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_unknown"
    post_callback(anon_client, "callback", payload)
    event = CallbackEvent.objects.get()
    assert event.status == CallbackStatus.PROCESSED
    item = SuspenseItem.objects.get()
    assert (item.status, item.amount, item.payment_id) == ("held", Decimal("1000.00"), None)
    assert event.outcome == f"held_in_suspense:{item.pk}"
    assert account_balance("mpesa_suspense") == Decimal("1000.00")
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.PENDING  # it has its own CheckoutRequestID
    assert_reconciled()


# --- B2C ----------------------------------------------------------------------------------------------------


def _confirmed_and_paid(booking, technician):
    paid_payment(booking, "deposit")
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, "balance")
    return Payout.objects.get(booking=booking)


def test_b2c_result_before_the_sync_response_is_stored(
    mpesa, booking, technician, anon_client, intercept_daraja
):
    payout = _confirmed_and_paid(booking, technician)
    assert payout.status == PayoutStatus.QUEUED

    def result_first(b2c_payment, **kwargs):
        accepted = b2c_payment(**kwargs)
        result = mpesa.b2c_result_payload(kwargs["originator_conversation_id"], "0")
        post_callback(anon_client, "b2c-callback", result)
        return accepted

    intercept_daraja(b2c_payment=result_first)
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.conversation_id
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_b2c_failure_keeps_the_money_payable_and_staff_retry_uses_a_new_attempt(
    mpesa, booking, technician, anon_client, admin_user, django_capture_on_commit_callbacks
):
    payout = _confirmed_and_paid(booking, technician)
    payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    first_id = payout.originator_conversation_id
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "2001"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert payout.result_code == "2001"
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("4250.00")
    assert_reconciled()

    with django_capture_on_commit_callbacks(execute=True):
        payout_process(payout_id=payout.pk, actor=admin_user)
    payout.refresh_from_db()
    assert payout.attempt == 2
    assert payout.originator_conversation_id == f"DW-PO-{payout.pk}-2"
    assert payout.status == PayoutStatus.AWAITING_RESULT
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "0"),
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert len(mpesa.requests_to(PATH_B2C)) == 2
    assert_reconciled()


def test_queue_timeout_is_reconciled_by_transaction_status_never_resent(
    mpesa, booking, technician, anon_client, django_capture_on_commit_callbacks
):
    payout = _confirmed_and_paid(booking, technician)
    payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(
            anon_client, "b2c-timeout", mpesa.b2c_timeout_payload(payout.originator_conversation_id)
        )
    assert response.json() == ACCEPTED
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    queries = mpesa.requests_to(PATH_TRANSACTION_STATUS)
    assert len(queries) == 1
    query = queries[0].json
    assert query["OriginalConversationID"] == payout.originator_conversation_id
    assert f"payout={payout.pk}" in query["ResultURL"]
    assert len(mpesa.requests_to(PATH_B2C)) == 1  # never resent

    (query_id,) = mpesa.status_queries
    result = mpesa.transaction_status_result_payload(query_id, "0")
    response = post_callback(anon_client, "status-callback", result, payout=payout.pk)
    assert response.json() == ACCEPTED
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert_reconciled()


def test_unknown_outcome_parks_the_payout_and_queries(
    mpesa, booking, technician, django_capture_on_commit_callbacks
):
    payout = _confirmed_and_paid(booking, technician)
    mpesa.fail_next(PATH_B2C, "reset")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert payout_send(payout_id=payout.pk) == "unknown"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    assert len(callbacks) == 1  # the Transaction Status query task, not a resend
    # A second send attempt (e.g. a retried task) does nothing.
    assert payout_send(payout_id=payout.pk) == "skipped_needs_reconciliation"
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def test_busy_daraja_puts_the_payout_back_in_the_queue_with_the_same_attempt(
    mpesa, booking, technician
):
    payout = _confirmed_and_paid(booking, technician)
    mpesa.fail_next(PATH_B2C, "busy")
    with pytest.raises(DarajaBusy):
        payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.QUEUED
    assert payout.attempt == 1
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    assert payout.originator_conversation_id == f"DW-PO-{payout.pk}-1"


def test_b2c_result_for_an_unknown_payout_changes_nothing(mpesa, anon_client):
    response = post_callback(
        anon_client,
        "b2c-callback",
        {"Result": {"ResultCode": 0, "OriginatorConversationID": "DW-PO-999-1"}},
    )
    assert response.json() == ACCEPTED
    event = CallbackEvent.objects.get()
    assert (event.status, event.outcome) == (CallbackStatus.FAILED, "payout_not_found")
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    "name",
    ["callback", "timeout", "b2c-callback", "b2c-timeout", "status-callback", "status-timeout"],
)
@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Result": {}},
        {"Result": "x"},
        {"Result": {"ResultCode": "x", "OriginatorConversationID": None}},
        {"Body": {"stkCallback": {"CheckoutRequestID": 5, "ResultCode": None}}},
        {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}},
    ],
)
def test_every_callback_endpoint_survives_odd_bodies(anon_client, name, payload):
    response = post_callback(anon_client, name, payload)
    assert response.status_code == 200
    assert response.json() == ACCEPTED
    assert LedgerTransaction.objects.count() == 0


def test_stk_timeout_notice_triggers_a_query(
    mpesa, pending_deposit, anon_client, django_capture_on_commit_callbacks
):
    mpesa.resolve_stk(pending_deposit.checkout_request_id, "1037")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(
            anon_client,
            "timeout",
            {"CheckoutRequestID": pending_deposit.checkout_request_id, "ResultDesc": "timeout"},
        )
    assert response.json() == ACCEPTED
    assert len(mpesa.requests_to(PATH_STK_QUERY)) == 1
    pending_deposit.refresh_from_db()
    assert pending_deposit.status == PaymentStatus.FAILED
    assert pending_deposit.result_code == "1037"


def test_late_success_of_a_superseded_attempt_pays_once_and_flags_the_second(
    mpesa, booking, technician, anon_client, admin_user
):
    """Attempt 1 "failed", staff retried as attempt 2, then attempt 1's success arrives: it is applied (the
    payout is paid by attempt 1, once); attempt 2's success too is a double payment, flagged for staff."""
    payout = _confirmed_and_paid(booking, technician)
    payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    first_id = payout.originator_conversation_id
    payout_result(payout_id=payout.pk, paid=False, result_code="1", result_desc="failed")
    payout_process(payout_id=payout.pk, actor=admin_user)
    payout_send(payout_id=payout.pk)
    payout.refresh_from_db()
    second_id = payout.originator_conversation_id
    assert second_id == f"DW-PO-{payout.pk}-2"

    response = post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "0"))
    assert response.json() == ACCEPTED
    event = CallbackEvent.objects.get(provider_key__startswith=f"{first_id}:0")
    assert (event.status, event.outcome) == (CallbackStatus.PROCESSED, "paid")
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.overpaid_amount == Decimal("0.00")

    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(second_id, "0"))
    event = CallbackEvent.objects.get(provider_key__startswith=f"{second_id}:0")
    assert event.outcome == "double_payment"
    payout.refresh_from_db()
    assert payout.overpaid_amount == payout.amount
    # Paid once; the second payment is recorded as money the technician owes back.
    assert sorted(
        LedgerTransaction.objects.filter(payout=payout).values_list("kind", flat=True)
    ) == [
        "payout_sent",
        "recovery",
    ]
    assert account_balance(f"technician_receivable:{technician.pk}") == -payout.amount
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert_reconciled()


@pytest.mark.parametrize(
    "neutral_path,payload_kind",
    [("payments/daraja/stk/result", "stk"), ("payments/daraja/b2c/result", "b2c")],
)
def test_neutral_daraja_paths_need_the_token_like_the_documented_ones(
    anon_client, neutral_path, payload_kind
):
    payload = {"Body": {"stkCallback": {}}} if payload_kind == "stk" else {"Result": {}}
    forged = anon_client.post(f"/api/v1/{neutral_path}?token=wrong", payload, format="json")
    assert forged.status_code == 403
    assert not CallbackEvent.objects.exists()
