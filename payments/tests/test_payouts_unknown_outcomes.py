"""B2C is never paid twice (issue 15 item 4, payout parts of item 5).

Against the fake Daraja server (the real client, real wire format): a result that does not say definitively
"failed" leaves the attempt unknown and is checked with Transaction Status; late and out-of-order results are
applied to the attempt they name; no attempt N+1 while an earlier one is open; staff can check any open
payout; shares below the B2C minimum are carried into the technician's next payout.
"""

import threading
from datetime import timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.utils import timezone

from bookings.models import BookingStatus
from payments import rules as payments_rules
from payments import tasks
from payments.daraja import payloads
from payments.daraja.result_codes import (
    B2C_DEFINITIVE_FAILURES,
    Outcome,
    b2c_result_outcome,
    transaction_status_outcome,
)
from payments.daraja.security import B2C_MIN_AMOUNT
from payments.models import (
    CallbackEvent,
    CallbackStatus,
    LedgerTransaction,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutStatus,
    PayoutStatusHistory,
)
from payments.selectors.balances import account_balance
from payments.services.ledger import PLATFORM_REVENUE, ledger_account, technician_payable_code
from payments.services.payouts import (
    MPESA_B2C_MIN_KES,
    payout_process,
    payout_send,
    payouts_stale_ids,
)
from payments.tasks import payout_send_task
from payments.tests.factories import PayoutFactory
from payments.tests.fakes.daraja import PATH_B2C, PATH_TRANSACTION_STATUS
from payments.tests.helpers import (
    assert_reconciled,
    make_booking,
    paid_payment,
    post_callback,
    set_status,
)

pytestmark = pytest.mark.django_db

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _released_payout(booking) -> Payout:
    """Deposit and balance paid, booking confirmed: escrow released and the payout created (queued, its
    send task not run)."""
    paid_payment(booking, "deposit")
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, "balance")
    return Payout.objects.get(booking=booking)


@pytest.fixture
def sent_payout(mpesa, booking):
    """A technician payout whose attempt 1 Daraja accepted (awaiting its result)."""
    payout = _released_payout(booking)
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT
    return payout


def _payable(user) -> Decimal:
    return account_balance(f"technician_payable:{user.pk}")


def _status_query_ids(mpesa) -> list[str]:
    return [r.json["OriginalConversationID"] for r in mpesa.requests_to(PATH_TRANSACTION_STATUS)]


def _answer_status_queries(mpesa, anon_client, payout, result_code="0"):
    for query_id in list(mpesa.status_queries):
        body = mpesa.transaction_status_result_payload(query_id, result_code)
        assert post_callback(anon_client, "status-callback", body, payout=payout.pk).json() == (
            ACCEPTED
        )


# --- the result-code table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(B2C_DEFINITIVE_FAILURES))
def test_only_documented_refusals_are_definitive_failures(code):
    assert b2c_result_outcome(result_code=code, result_desc="whatever") == Outcome.FAILED


@pytest.mark.parametrize(
    ("code", "desc", "result_type"),
    [
        ("1037", "DS timeout user cannot be reached", 0),  # a timeout code
        ("1", "The service request has timed out.", 0),  # queue-timeout body at the result URL
        ("2001", "Request timeout", 0),  # a definitive code, but the text says timed out
        ("26", "System busy", 0),
        ("1001", "Unable to lock subscriber", 0),
        ("500.001.1001", "Internal error", 0),
        ("9999", "", None),  # never seen
        ("0", "The service request is processed successfully.", 1),  # not final yet
        ("2001", "The initiator information is invalid.", 1),
    ],
)
def test_timeouts_system_errors_and_unknown_codes_are_unknown(code, desc, result_type):
    assert (
        b2c_result_outcome(result_code=code, result_desc=desc, result_type=result_type)
        == Outcome.UNKNOWN
    )


def test_success_and_transaction_status_classification():
    assert b2c_result_outcome(result_code="0", result_desc="ok", result_type=0) == Outcome.PAID
    assert (
        transaction_status_outcome(result_code="0", transaction_status="Completed") == Outcome.PAID
    )
    # A failed query says nothing about the payout; neither does a status we do not know.
    assert (
        transaction_status_outcome(result_code="2001", transaction_status=None) == Outcome.UNKNOWN
    )
    assert (
        transaction_status_outcome(result_code="0", transaction_status="Pending") == Outcome.UNKNOWN
    )


def test_the_b2c_minimum_is_the_clients_own():
    assert MPESA_B2C_MIN_KES == Decimal(B2C_MIN_AMOUNT) == Decimal(10)


# --- a timeout is not a failure; a late success is applied ------------------------------------------------


def test_timed_out_result_then_late_success_pays_once(
    mpesa, sent_payout, technician, anon_client, django_capture_on_commit_callbacks
):
    payout = sent_payout
    first_id = payout.originator_conversation_id
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(anon_client, "b2c-callback", mpesa.b2c_timeout_payload(first_id))
    assert response.json() == ACCEPTED
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION  # not failed
    attempt = payout.attempts.get()
    assert attempt.outcome == PayoutAttemptOutcome.UNKNOWN
    assert _status_query_ids(mpesa) == [first_id]  # asked, not resent
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert _payable(technician) == Decimal("4250.00")

    # The real result for the same OriginatorConversationID arrives later: applied, not a replay.
    success = mpesa.b2c_result_payload(first_id, "0")
    assert post_callback(anon_client, "b2c-callback", success).json() == ACCEPTED
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.receipt == mpesa.b2c[first_id]["receipt"]
    assert payout.overpaid_amount == 0
    assert _payable(technician) == Decimal("0.00")
    # Daraja redelivers it; and Transaction Status answers the earlier query: nothing more happens.
    assert post_callback(anon_client, "b2c-callback", success).json() == ACCEPTED
    _answer_status_queries(mpesa, anon_client, payout)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    events = CallbackEvent.objects.filter(kind="b2c_result").order_by("id")
    assert [(e.status, e.outcome, e.replay_count) for e in events] == [
        (CallbackStatus.PROCESSED, "unknown", 0),
        (CallbackStatus.PROCESSED, "paid", 1),
    ]
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_queue_timeout_then_transaction_status_completed_pays_once(
    mpesa, sent_payout, anon_client, django_capture_on_commit_callbacks
):
    payout = sent_payout
    with django_capture_on_commit_callbacks(execute=True):
        post_callback(
            anon_client, "b2c-timeout", mpesa.b2c_timeout_payload(payout.originator_conversation_id)
        )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    _answer_status_queries(mpesa, anon_client, payout)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.attempts.get().outcome == PayoutAttemptOutcome.PAID
    # The B2C result itself arrives after all: already paid, nothing posted twice.
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "0"),
    )
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_duplicate_and_out_of_order_results_change_nothing_after_success(
    mpesa, sent_payout, anon_client, caplog
):
    payout = sent_payout
    oid = payout.originator_conversation_id
    success = mpesa.b2c_result_payload(oid, "0")
    for _ in range(2):
        post_callback(anon_client, "b2c-callback", success)
    # Out of order: a failure, a timed-out result and a queue timeout after the success.
    with caplog.at_level("ERROR"):
        post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(oid, "2001"))
    post_callback(anon_client, "b2c-callback", mpesa.b2c_timeout_payload(oid))
    post_callback(anon_client, "b2c-timeout", mpesa.b2c_timeout_payload(oid))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.attempts.get().outcome == PayoutAttemptOutcome.PAID
    outcomes = list(CallbackEvent.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["paid", "conflicting_paid", "already_paid", "already_paid"]
    assert CallbackEvent.objects.get(outcome="paid").replay_count == 1
    assert "failed result after paid ignored" in caplog.text
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    assert mpesa.requests_to(PATH_TRANSACTION_STATUS) == []
    assert_reconciled()


def test_failure_result_then_contradicting_success_is_applied(mpesa, sent_payout, anon_client):
    """A definitive failure that turns out wrong (success arrives later) still pays, once."""
    payout = sent_payout
    oid = payout.originator_conversation_id
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(oid, "2001"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(oid, "0"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.overpaid_amount == 0
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    assert_reconciled()


# --- no attempt N+1 while an earlier one is open ------------------------------------------------------------


def test_staff_process_while_attempt_1_is_unknown_queries_and_sends_nothing(
    mpesa, sent_payout, anon_client, admin_client_api, django_capture_on_commit_callbacks
):
    payout = sent_payout
    post_callback(
        anon_client, "b2c-callback", mpesa.b2c_timeout_payload(payout.originator_conversation_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert response.status_code == 200
    assert response.json()["status"] == PayoutStatus.NEEDS_RECONCILIATION
    assert response.json()["attempts"][0]["outcome"] == "unknown"
    assert _status_query_ids(mpesa) == [payout.originator_conversation_id]
    assert len(mpesa.requests_to(PATH_B2C)) == 1  # the fake got no second payment request
    payout.refresh_from_db()
    assert payout.attempt == 1
    # Batch-process and the admin action take the same path.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(
            "/api/v1/payments/payouts/batch-process", {"payoutIds": [payout.pk]}
        )
    assert response.json()["results"][0]["status"] == PayoutStatus.NEEDS_RECONCILIATION
    assert len(mpesa.requests_to(PATH_B2C)) == 1


@pytest.mark.parametrize("code", ["1", "2001", "2040", "SFC_IC0003"])
def test_definitive_failure_allows_attempt_2(
    mpesa,
    sent_payout,
    technician,
    anon_client,
    admin_user,
    django_capture_on_commit_callbacks,
    code,
):
    payout = sent_payout
    first_id = payout.originator_conversation_id
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, code))
    payout.refresh_from_db()
    assert (payout.status, payout.result_code) == (PayoutStatus.FAILED, code)
    with django_capture_on_commit_callbacks(execute=True):
        payout_process(payout_id=payout.pk, actor=admin_user)
    payout.refresh_from_db()
    assert payout.attempt == 2
    assert payout.status == PayoutStatus.AWAITING_RESULT
    sent = [r.json["OriginatorConversationID"] for r in mpesa.requests_to(PATH_B2C)]
    assert sent == [first_id, f"DW-PO-{payout.pk}-2"]
    assert mpesa.requests_to(PATH_TRANSACTION_STATUS) == []
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(sent[1], "0"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert [a.outcome for a in payout.attempts.all()] == ["failed", "paid"]
    assert _payable(technician) == Decimal("0.00")
    assert_reconciled()


@pytest.mark.parametrize("code", ["1037", "26", "17", "9999"])
def test_non_definitive_codes_park_the_payout_instead_of_failing_it(
    mpesa, sent_payout, anon_client, admin_client_api, code
):
    payout = sent_payout
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, code),
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert response.status_code == 200
    payout.refresh_from_db()
    assert payout.attempt == 1
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def _legacy_failed_with_open_attempt_1(payout) -> None:
    """A payout failed under the old rules (a timeout taken for a failure) and waiting for a retry: the
    migration records its attempt 1 as unknown."""
    attempt = payout.attempts.get()
    PayoutAttempt.objects.filter(pk=attempt.pk).update(outcome=PayoutAttemptOutcome.UNKNOWN)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.FAILED)


def test_retry_is_refused_while_an_earlier_attempt_is_open(
    mpesa, sent_payout, admin_client_api, django_capture_on_commit_callbacks
):
    payout = sent_payout
    _legacy_failed_with_open_attempt_1(payout)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert response.status_code == 409
    assert response.json()["code"] == "payout_outcome_unknown"
    payout.refresh_from_db()
    assert (payout.status, payout.attempt) == (PayoutStatus.FAILED, 1)
    assert _status_query_ids(mpesa) == [f"DW-PO-{payout.pk}-1"]
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def test_queued_attempt_2_waits_for_attempt_1_then_goes_out_once_it_failed(
    mpesa, sent_payout, anon_client, django_capture_on_commit_callbacks
):
    """The beat job re-sending a queued payout (or a retried task) checks attempt 1 first."""
    payout = sent_payout
    first_id = payout.originator_conversation_id
    PayoutAttempt.objects.filter(payout=payout).update(outcome=PayoutAttemptOutcome.UNKNOWN)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.QUEUED, attempt=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "held_earlier_attempt_open"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    assert _status_query_ids(mpesa) == [first_id]
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    # Transaction Status cannot tell (its own query failed): still held, nothing sent.
    _answer_status_queries(mpesa, anon_client, payout, result_code="1")
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    # Attempt 1's definitive result arrives: attempt 2 goes out, once.
    with django_capture_on_commit_callbacks(execute=True):
        post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "2001"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT
    sent = [r.json["OriginatorConversationID"] for r in mpesa.requests_to(PATH_B2C)]
    assert sent == [first_id, f"DW-PO-{payout.pk}-2"]
    assert_reconciled()


def test_queued_attempt_2_is_never_sent_when_attempt_1_turns_out_paid(
    mpesa, sent_payout, anon_client, technician, django_capture_on_commit_callbacks
):
    payout = sent_payout
    PayoutAttempt.objects.filter(payout=payout).update(outcome=PayoutAttemptOutcome.UNKNOWN)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.QUEUED, attempt=2)
    with django_capture_on_commit_callbacks(execute=True):
        payout_send(payout_id=payout.pk)
    _answer_status_queries(mpesa, anon_client, payout)  # Completed
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout_send(payout_id=payout.pk) == "skipped_paid"
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert _payable(technician) == Decimal("0.00")
    assert_reconciled()


def test_a_second_paid_attempt_is_a_visible_double_payment(
    mpesa, sent_payout, anon_client, admin_user, technician
):
    payout = sent_payout
    first_id = payout.originator_conversation_id
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "1"))
    payout_process(payout_id=payout.pk, actor=admin_user)
    payout_send(payout_id=payout.pk)
    second_id = f"DW-PO-{payout.pk}-2"
    # Both succeed after all, in reverse order.
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(second_id, "0"))
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "0"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.receipt == mpesa.b2c[second_id]["receipt"]
    assert payout.overpaid_amount == payout.amount
    note = PayoutStatusHistory.objects.filter(payout=payout, note__contains="DOUBLE PAYMENT")
    assert note.count() == 1
    # Recorded once, whatever is redelivered.
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "0"))
    payout.refresh_from_db()
    assert payout.overpaid_amount == payout.amount
    assert note.count() == 1
    # Paid once, and the second payment recorded once as money the technician owes back.
    assert sorted(
        LedgerTransaction.objects.filter(payout=payout).values_list("kind", flat=True)
    ) == [
        "payout_sent",
        "recovery",
    ]
    assert payout.recoveries.get().amount == payout.amount
    assert _payable(technician) == Decimal("0.00")
    assert_reconciled()


def test_paid_payout_with_an_open_attempt_is_watched_by_the_beat(
    mpesa, sent_payout, anon_client, admin_user, settings
):
    payout = sent_payout
    first_id = payout.originator_conversation_id
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "1"))
    payout_process(payout_id=payout.pk, actor=admin_user)
    payout_send(payout_id=payout.pk)
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first_id, "0"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID  # attempt 2 still awaiting its result
    PayoutAttempt.objects.filter(payout=payout).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    assert payouts_stale_ids(older_than_seconds=payments_rules.PAYOUT_RECONCILE_AFTER_SECONDS) == [
        payout.pk
    ]

    tasks.payouts_reconcile_stale_task.apply(throw=True)
    assert _status_query_ids(mpesa) == [f"DW-PO-{payout.pk}-2"]


# --- staff status check ----------------------------------------------------------------------------------


def test_staff_check_status_on_awaiting_result_sends_a_query(
    mpesa, sent_payout, support_client, support_agent, django_capture_on_commit_callbacks
):
    payout = sent_payout
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(f"/api/v1/payments/payouts/{payout.pk}/check-status")
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == payout.pk
    assert body["status"] == PayoutStatus.AWAITING_RESULT
    assert [a["originatorConversationId"] for a in body["attempts"]] == [
        payout.originator_conversation_id
    ]
    assert _status_query_ids(mpesa) == [payout.originator_conversation_id]
    assert PayoutStatusHistory.objects.filter(
        payout=payout, actor=support_agent, note__startswith="status check requested"
    ).exists()
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def test_check_status_codes(
    mpesa,
    sent_payout,
    anon_client,
    technician_client,
    admin_client_api,
    django_capture_on_commit_callbacks,
):
    url = f"/api/v1/payments/payouts/{sent_payout.pk}/check-status"
    assert anon_client.post(url).status_code == 401
    response = technician_client.post(url)  # the recipient is not staff
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert admin_client_api.post("/api/v1/payments/payouts/999999/check-status").status_code == 404
    assert mpesa.requests_to(PATH_TRANSACTION_STATUS) == []
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(sent_payout.originator_conversation_id, "0"),
    )
    response = admin_client_api.post(url)
    assert (response.status_code, response.json()["code"]) == (409, "payout_final")
    assert mpesa.requests_to(PATH_TRANSACTION_STATUS) == []


def test_check_status_of_a_payout_with_nothing_sent_is_accepted_and_asks_nothing(
    mpesa, booking, support_client, django_capture_on_commit_callbacks
):
    payout = _released_payout(booking)
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(f"/api/v1/payments/payouts/{payout.pk}/check-status")
    assert response.status_code == 202
    assert response.json()["attempts"] == []
    assert mpesa.requests_to(PATH_TRANSACTION_STATUS) == []


def test_admin_action_checks_status(
    mpesa, sent_payout, admin_user, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payments/payout/",
            {"action": "check_status_of_selected_payouts", "_selected_action": [sent_payout.pk]},
        )
    assert response.status_code == 302
    assert _status_query_ids(mpesa) == [sent_payout.originator_conversation_id]
    page = client.get(f"/admin/payments/payout/{sent_payout.pk}/change/")
    assert sent_payout.originator_conversation_id in page.content.decode()
    assert client.get("/admin/payments/payout/?overpaid=yes").status_code == 200


# --- shares below the B2C minimum --------------------------------------------------------------------------


def test_sub_minimum_shares_accumulate_and_one_payout_covers_them(
    mpesa,
    customer,
    technician,
    service_category,
    anon_client,
    technician_client,
    django_capture_on_commit_callbacks,
):
    def release(price):
        booking = make_booking(customer, technician, category=service_category, price=price)
        with django_capture_on_commit_callbacks(execute=True):
            return _released_payout(booking)

    # KES 5 jobs: technician share 4 each (below the KES 10 minimum).
    first = release(Decimal("5.00"))
    assert (first.status, first.amount) == (PayoutStatus.DEFERRED, Decimal("4.00"))
    second = release(Decimal("5.00"))
    assert second.status == PayoutStatus.DEFERRED
    assert mpesa.requests_to(PATH_B2C) == []
    totals = technician_client.get("/api/v1/payments/payouts/my-payouts").json()["totals"]
    assert totals["totalDeferred"] == "8.00"
    assert totals["totalInProgress"] == "0.00"
    assert totals["payableBalance"] == "8.00"
    rows = technician_client.get("/api/v1/payments/payouts/my-payouts").json()["results"]
    assert {r["statusDisplay"] for r in rows} == {
        "Below the M-Pesa minimum, carried to the next payout"
    }

    third = release(Decimal("5.00"))  # 4 + 4 + 4 = 12 ≥ 10: one payout covers all three
    assert third.amount == Decimal("12.00")
    third.refresh_from_db()
    assert third.status == PayoutStatus.AWAITING_RESULT
    (request,) = mpesa.requests_to(PATH_B2C)
    assert request.json["Amount"] == 12
    for deferred in (first, second):
        deferred.refresh_from_db()
        assert (deferred.status, deferred.carried_into_id) == (PayoutStatus.CARRIED, third.pk)
    totals = technician_client.get("/api/v1/payments/payouts/my-payouts").json()["totals"]
    assert (totals["totalDeferred"], totals["totalInProgress"]) == ("0.00", "12.00")

    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(third.originator_conversation_id, "0"),
    )
    third.refresh_from_db()
    assert third.status == PayoutStatus.PAID
    assert _payable(technician) == Decimal("0.00")
    totals = technician_client.get("/api/v1/payments/payouts/my-payouts").json()["totals"]
    assert (totals["totalPaid"], totals["totalDeferred"]) == ("12.00", "0.00")
    assert_reconciled()


def test_deferred_payout_is_not_processable_but_can_be_cancelled(
    mpesa, customer, technician, service_category, admin_client_api
):
    booking = make_booking(customer, technician, category=service_category, price=Decimal("5"))
    payout = _released_payout(booking)
    assert payout.status == PayoutStatus.DEFERRED
    response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert (response.status_code, response.json()["code"]) == (409, "payout_not_processable")
    assert mpesa.requests_to(PATH_B2C) == []


# --- migration ----------------------------------------------------------------------------------------------


def test_migration_records_earlier_attempts_as_unknown_and_defers_held_small_shares(
    booking, technician
):
    backfill = import_module("payments.migrations.0003_payout_attempts_deferred").backfill
    failed = PayoutFactory(booking=booking, status=PayoutStatus.FAILED, attempt=2)
    Payout.objects.filter(pk=failed.pk).update(
        originator_conversation_id=f"DW-PO-{failed.pk}-2", result_code="1"
    )
    small = PayoutFactory(
        booking=booking,
        amount=Decimal("4.00"),
        review_reason="below the M-Pesa B2C minimum of KES 10",
    )
    backfill(apps, None)
    assert [(a.number, a.outcome) for a in failed.attempts.all()] == [
        (1, "unknown"),
        (2, "failed"),
    ]
    small.refresh_from_db()
    assert small.status == PayoutStatus.DEFERRED


def test_b2c_result_payload_for_a_timeout_is_what_daraja_samples_show():
    body = payloads.b2c_queue_timeout(originator_id="DW-PO-1-1", conversation="AG_1")
    assert body["Result"]["ResultCode"] == 1  # the same code as "insufficient balance"


@pytest.fixture
def slow_payout_inserts(transactional_db):
    """Every payout insert takes half a second more (a row trigger), widening the window between reading
    the technician's deferred shares and committing the new payout."""
    table = Payout._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION dw_test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER dw_test_slow_insert AFTER INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION dw_test_slow_insert()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER dw_test_slow_insert ON {table}")
        cursor.execute("DROP FUNCTION dw_test_slow_insert()")


@pytest.mark.django_db(transaction=True)
def test_sub_minimum_shares_released_at_the_same_moment_are_seen_together(
    customer, technician, service_category, task_outbox, slow_payout_inserts
):
    """Two jobs of one technician confirmed at once (shares 4 and 8, each below the minimum): the
    technician's payable account serialises them, so the second sees the first and one payout of 12 goes
    out instead of two shares deferred forever."""
    task_outbox.hold(payout_send_task)
    bookings = [
        make_booking(customer, technician, category=service_category, price=Decimal(price))
        for price in ("5", "10")
    ]
    for booking in bookings:
        paid_payment(booking, "deposit")
        set_status(booking, BookingStatus.CONFIRMED)
    # Accounts exist already (as for any technician after the first job): creating them is no lock.
    ledger_account(PLATFORM_REVENUE)
    ledger_account(technician_payable_code(technician.pk), user_id=technician.pk)
    barrier = threading.Barrier(2)
    errors = []

    def confirm(booking):
        try:
            barrier.wait()
            paid_payment(booking, "balance")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(b,)) for b in bookings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    carried, sent = sorted(Payout.objects.values_list("status", "amount"))
    assert sent == (PayoutStatus.QUEUED, Decimal("12.00"))
    assert task_outbox.ids_of(payout_send_task) == [
        Payout.objects.get(status=PayoutStatus.QUEUED).pk
    ]
    assert carried[0] == PayoutStatus.CARRIED and carried[1] in {Decimal("4.00"), Decimal("8.00")}
    assert_reconciled()
