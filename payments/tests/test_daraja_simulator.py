"""The offline simulator backend: Daraja-like answers now, realistic callbacks to our URLs a few seconds later."""

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
import time_machine
from celery import current_app

from dumuwaks.core.phone import InvalidPhoneNumber
from payments.daraja import (
    DarajaDuplicateRequest,
    get_mpesa_client,
    parse_b2c_result,
    parse_queue_timeout,
    parse_stk_callback,
    parse_transaction_status_result,
    simulator,
)
from payments.tests.fakes.pytest_plugin import *  # noqa: F403


@pytest.fixture(autouse=True)
def _simulator(settings):
    settings.MPESA_BACKEND = "simulator"
    settings.MPESA_SIMULATOR_DELAY_SECONDS = 3


def push(receiver, **overrides):
    kwargs = dict(
        phone_msisdn="254712345678",
        amount=300,
        account_reference="BK42",
        description="Deposit",
        callback_url=receiver.url("/api/v1/payments/mpesa/callback?token=t"),
    )
    kwargs.update(overrides)
    return get_mpesa_client().stk_push(**kwargs)


def payout(receiver, **overrides):
    kwargs = dict(
        originator_conversation_id="payout-9-1",
        phone_msisdn="254712345678",
        amount=1275,
        remarks="Job payout",
        occasion="BK42",
        result_url=receiver.url("/b2c-callback"),
        timeout_url=receiver.url("/b2c-timeout"),
    )
    kwargs.update(overrides)
    return get_mpesa_client().b2c_payment(**kwargs)


def test_tasks_have_explicit_names_and_are_registered():
    assert simulator.deliver_stk_callback.name == "payments.daraja.simulator.deliver_stk_callback"
    assert "payments.daraja.simulator.deliver_b2c_result" in current_app.tasks
    assert "payments.daraja.simulator.deliver_transaction_status_result" in current_app.tasks


def test_stk_push_success_flow(callback_receiver):
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        accepted = push(callback_receiver)
        assert accepted.checkout_request_id.startswith("ws_CO_")
        assert accepted.response_code == "0"
        assert accepted.customer_message == "Success. Request accepted for processing"
        client = get_mpesa_client()
        assert client.stk_query(checkout_request_id=accepted.checkout_request_id).state == "pending"
        # Eager Celery (tests): nothing is posted until asked, so the caller can store the ids first.
        assert callback_receiver.requests == []
        assert simulator.deliver_pending_callbacks() == 1
        assert simulator.deliver_pending_callbacks() == 0
        traveller.shift(dt.timedelta(seconds=1))
        query = client.stk_query(checkout_request_id=accepted.checkout_request_id)
    (request,) = callback_receiver.requests
    assert request.method == "POST"
    assert request.path == "/api/v1/payments/mpesa/callback"
    assert request.query == {"token": ["t"]}
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.raw)
    assert isinstance(body["Body"]["stkCallback"]["ResultCode"], int)
    callback = parse_stk_callback(body)
    assert callback.checkout_request_id == accepted.checkout_request_id
    assert callback.merchant_request_id == accepted.merchant_request_id
    assert callback.result_code == "0"
    assert callback.amount == Decimal("300.00")
    assert callback.phone_number == "+254712345678"
    assert len(callback.receipt_number) == 10
    assert callback.transaction_date is not None
    assert (query.state, query.result_code) == ("succeeded", "0")


def test_query_resolves_after_the_delay_even_without_delivery(callback_receiver):
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        accepted = push(callback_receiver, phone_msisdn="254700000098")  # "callback never arrives"
        client = get_mpesa_client()
        assert client.stk_query(checkout_request_id=accepted.checkout_request_id).state == "pending"
        traveller.shift(dt.timedelta(seconds=4))
        assert client.stk_query(checkout_request_id=accepted.checkout_request_id).state == (
            "succeeded"
        )
        simulator.deliver_pending_callbacks()
    assert callback_receiver.requests == []


@pytest.mark.parametrize(
    ("overrides", "code", "state"),
    [
        ({"amount": 301}, "1032", "failed"),
        ({"amount": 1}, "1032", "failed"),
        ({"phone_msisdn": "0700000099"}, "1", "failed"),
        ({"phone_msisdn": "254700000037"}, "1037", "failed"),
        ({"amount": 1500}, "0", "succeeded"),
    ],
)
def test_demo_switches(callback_receiver, overrides, code, state):
    accepted = push(callback_receiver, **overrides)
    simulator.deliver_pending_callbacks()
    callback = parse_stk_callback(json.loads(callback_receiver.requests[0].raw))
    assert callback.result_code == code
    if code != "0":
        assert callback.amount is None and callback.receipt_number is None
    query = get_mpesa_client().stk_query(checkout_request_id=accepted.checkout_request_id)
    assert (query.state, query.result_code) == (state, code)


def test_simulator_validates_like_daraja(callback_receiver):
    with pytest.raises(InvalidPhoneNumber):
        push(callback_receiver, phone_msisdn="12345")
    with pytest.raises(ValueError):
        push(callback_receiver, amount=Decimal("10.50"))
    with pytest.raises(ValueError):
        push(callback_receiver, account_reference="--")


def test_b2c_result_and_duplicate(callback_receiver):
    accepted = payout(callback_receiver)
    assert accepted.conversation_id.startswith("AG_")
    with pytest.raises(DarajaDuplicateRequest):
        payout(callback_receiver)
    assert simulator.deliver_pending_callbacks() == 1
    (request,) = callback_receiver.requests
    assert request.path == "/b2c-callback"
    result = parse_b2c_result(json.loads(request.raw))
    assert result.originator_conversation_id == "payout-9-1"
    assert result.conversation_id == accepted.conversation_id
    assert result.result_code == "0"
    assert result.amount == Decimal("1275.00")
    assert result.receiver_msisdn == "+254712345678"


def test_b2c_insufficient_funds_and_queue_timeout(callback_receiver):
    payout(callback_receiver, originator_conversation_id="p-1", phone_msisdn="254700000099")
    payout(callback_receiver, originator_conversation_id="p-2", phone_msisdn="254700000098")
    assert simulator.deliver_pending_callbacks() == 2
    by_path = {r.path: json.loads(r.raw) for r in callback_receiver.requests}
    assert parse_b2c_result(by_path["/b2c-callback"]).result_code == "1"
    timeout = parse_queue_timeout(by_path["/b2c-timeout"])
    assert timeout.originator_conversation_id == "p-2"


def test_transaction_status_reports_the_payout(callback_receiver):
    accepted = payout(callback_receiver)
    status = get_mpesa_client().transaction_status(
        originator_conversation_id="payout-9-1",
        result_url=callback_receiver.url("/status-result"),
        timeout_url=callback_receiver.url("/status-timeout"),
    )
    assert simulator.deliver_pending_callbacks() == 2
    body = next(json.loads(r.raw) for r in callback_receiver.requests if r.path == "/status-result")
    result = parse_transaction_status_result(body)
    assert result.originator_conversation_id == status.originator_conversation_id
    assert result.original_originator_conversation_id == "payout-9-1"
    assert result.original_conversation_id == accepted.conversation_id
    assert result.transaction_status == "Completed"


def test_transaction_status_for_unknown_payout(callback_receiver):
    get_mpesa_client().transaction_status(
        originator_conversation_id="never-sent",
        result_url=callback_receiver.url("/status-result"),
        timeout_url=callback_receiver.url("/status-timeout"),
    )
    simulator.deliver_pending_callbacks()
    result = parse_transaction_status_result(json.loads(callback_receiver.requests[0].raw))
    assert result.result_code != "0"


def test_custom_post_function_for_in_process_delivery(callback_receiver):
    push(callback_receiver)
    delivered = []
    simulator.deliver_pending_callbacks(post=lambda url, payload: delivered.append((url, payload)))
    assert delivered[0][0].endswith("/api/v1/payments/mpesa/callback?token=t")
    assert callback_receiver.requests == []


@pytest.mark.django_db
def test_with_a_worker_the_callback_is_scheduled_after_commit(
    callback_receiver, django_capture_on_commit_callbacks, task_outbox, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        accepted = push(callback_receiver)
        assert task_outbox.queued == []  # not before the caller's transaction commits
    assert [(q.name, q.args, q.countdown) for q in task_outbox.queued] == [
        (simulator.deliver_stk_callback.name, (accepted.checkout_request_id,), 3)
    ]
    # What the worker then runs:
    simulator.deliver_stk_callback.run(accepted.checkout_request_id)
    assert len(callback_receiver.requests) == 1
    simulator.deliver_stk_callback.run(accepted.checkout_request_id)  # a redelivery is a no-op
    assert len(callback_receiver.requests) == 1


def test_worker_delivery_failure_keeps_the_callback_pending(callback_receiver):
    accepted = push(callback_receiver)
    checkout_id = accepted.checkout_request_id
    callback_receiver.fail_next()  # our endpoint is down for a moment

    simulator.deliver_stk_callback.apply(args=[checkout_id])  # eager: logs the 503, no raise
    simulator.deliver_stk_callback.apply(args=[checkout_id])  # the worker's retry delivers it
    simulator.deliver_stk_callback.apply(args=[checkout_id])  # a redelivery is a no-op

    bodies = [json.loads(request.raw) for request in callback_receiver.requests]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert parse_stk_callback(bodies[1]).checkout_request_id == checkout_id
    assert simulator.deliver_pending_callbacks() == 0  # nothing is owed any more


def test_failed_delivery_stays_queued_for_the_next_flush(callback_receiver):
    push(callback_receiver, callback_url="http://127.0.0.1:9/down")  # nothing listens on port 9
    push(callback_receiver)
    with pytest.raises(httpx.ConnectError):
        simulator.deliver_pending_callbacks()
    assert callback_receiver.requests == []
    delivered = []
    assert simulator.deliver_pending_callbacks(post=lambda url, body: delivered.append(url)) == 2
    assert len(delivered) == 2
