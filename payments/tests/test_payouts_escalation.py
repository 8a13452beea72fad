"""A payout attempt M-Pesa never confirms: bounded Transaction Status checks, then staff (issue 15, gap 1).

The beat job asks about an open attempt on a backoff schedule and, after PAYOUT_STATUS_CHECK_LIMIT checks
without a final answer, escalates the payout to staff (`escalated_at`, a support ticket) and stops asking.
Staff then confirm it paid (with the receipt from the M-Pesa statement) or not paid (with the evidence),
through the API or the admin: audited, idempotent, refused on an attempt that already ended.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import BookingStatus
from payments import rules as payments_rules
from payments import tasks
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutStatus,
    PayoutStatusHistory,
)
from payments.selectors.balances import account_balance
from payments.services.payouts import (
    PAYOUT_STATUS_CHECK_LIMIT,
    payout_query_status,
    payout_send,
    payouts_stale_ids,
)
from payments.tests.factories import PayoutFactory
from payments.tests.fakes.daraja import PATH_B2C, PATH_TRANSACTION_STATUS
from payments.tests.helpers import assert_reconciled, paid_payment, post_callback, set_status
from support.models import SupportTicket, TicketCategory, TicketPriority

pytestmark = pytest.mark.django_db

RECEIPT = "QKJ4XYZ123"


@pytest.fixture
def unknown_payout(mpesa, booking, anon_client):
    """A technician payout (KES 4250) whose attempt 1 timed out: outcome unknown."""
    paid_payment(booking, "deposit")
    set_status(booking, BookingStatus.CONFIRMED)
    paid_payment(booking, "balance")
    payout = Payout.objects.get(booking=booking)
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    post_callback(
        anon_client, "b2c-callback", mpesa.b2c_timeout_payload(payout.originator_conversation_id)
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    # Its last change was a while ago: the beat job's first check is due.
    PayoutAttempt.objects.filter(payout=payout).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    Payout.objects.filter(pk=payout.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    return payout


def _queries(mpesa) -> int:
    return len(mpesa.requests_to(PATH_TRANSACTION_STATUS))


def _make_next_check_due(payout) -> None:
    PayoutAttempt.objects.filter(payout=payout).update(
        next_check_at=timezone.now() - timedelta(seconds=1)
    )


def _escalate(payout, settings) -> None:
    for _ in range(PAYOUT_STATUS_CHECK_LIMIT):
        _make_next_check_due(payout)
        tasks.payouts_reconcile_stale_task.apply(throw=True)
    _make_next_check_due(payout)
    tasks.payouts_reconcile_stale_task.apply(throw=True)
    payout.refresh_from_db()
    assert payout.escalated_at is not None


def test_checks_back_off_then_the_payout_is_escalated_to_staff_once(
    mpesa, unknown_payout, settings
):
    payout = unknown_payout
    attempt = payout.attempts.get()
    cutoff = payments_rules.PAYOUT_RECONCILE_AFTER_SECONDS
    assert payouts_stale_ids(older_than_seconds=cutoff) == [payout.pk]
    tasks.payouts_reconcile_stale_task.apply(throw=True)
    assert _queries(mpesa) == 1
    # Not due again yet: the beat job does not ask (nor even pick the payout).
    assert payouts_stale_ids(older_than_seconds=cutoff) == []
    tasks.payouts_reconcile_stale_task.apply(throw=True)
    assert _queries(mpesa) == 1

    waits = []
    for checks in range(2, PAYOUT_STATUS_CHECK_LIMIT + 1):
        _make_next_check_due(payout)
        before = timezone.now()
        tasks.payouts_reconcile_stale_task.apply(throw=True)
        attempt.refresh_from_db()
        assert (attempt.status_checks, _queries(mpesa)) == (checks, checks)
        waits.append(round((attempt.next_check_at - before).total_seconds() / 60))
    # 10 min, 20, 40, ... doubling, never more than 4 h apart.
    assert waits == [10, 20, 40, 80, 160, 240, 240, 240, 240][: PAYOUT_STATUS_CHECK_LIMIT - 1]
    assert payout.escalated_at is None and not SupportTicket.objects.exists()

    # The next due check finds the checks spent: escalated, nothing asked.
    _make_next_check_due(payout)
    tasks.payouts_reconcile_stale_task.apply(throw=True)
    assert _queries(mpesa) == PAYOUT_STATUS_CHECK_LIMIT
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION  # still unknown, never failed
    assert payout.escalated_at is not None
    ticket = SupportTicket.objects.get()
    assert payout.escalation_ticket_id == ticket.pk
    assert (ticket.category, ticket.priority, ticket.related_booking_id) == (
        TicketCategory.PAYMENT,
        TicketPriority.HIGH,
        payout.booking_id,
    )
    assert payout.originator_conversation_id in ticket.related_transaction_ref
    assert PayoutStatusHistory.objects.filter(payout=payout, note__startswith="ESCALATED").exists()
    # From now on the beat job leaves it to staff, whatever the time.
    assert payouts_stale_ids(older_than_seconds=cutoff) == []
    tasks.payouts_reconcile_stale_task.apply(throw=True)
    _make_next_check_due(payout)
    assert payout_query_status(payout_id=payout.pk) == "escalated"
    assert _queries(mpesa) == PAYOUT_STATUS_CHECK_LIMIT
    assert SupportTicket.objects.count() == 1
    assert len(mpesa.requests_to(PATH_B2C)) == 1


def test_staff_checks_are_not_counted_and_still_work_after_escalation(
    mpesa, unknown_payout, support_client, settings, django_capture_on_commit_callbacks
):
    payout = unknown_payout
    _escalate(payout, settings)
    asked = _queries(mpesa)
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(f"/api/v1/payments/payouts/{payout.pk}/check-status")
    assert response.status_code == 202
    assert response.json()["escalatedAt"] is not None
    assert _queries(mpesa) == asked + 1
    assert payout.attempts.get().status_checks == PAYOUT_STATUS_CHECK_LIMIT
    # The answer says Completed: paid after all.
    query_id = list(mpesa.status_queries)[-1]
    body = mpesa.transaction_status_result_payload(query_id, "0")
    post_callback(support_client, "status-callback", body, payout=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID


def test_confirm_paid_pays_once_through_the_ledger_and_is_idempotent(
    mpesa, unknown_payout, admin_client_api, admin_user, technician, settings
):
    payout = unknown_payout
    _escalate(payout, settings)
    url = f"/api/v1/payments/payouts/{payout.pk}/confirm-paid"
    response = admin_client_api.post(url, {"receipt": RECEIPT.lower(), "note": "seen 10:02"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["receipt"]) == ("paid", RECEIPT)
    assert body["attempts"][0]["outcome"] == "paid"
    attempt = payout.attempts.get()
    assert (attempt.outcome, attempt.receipt, attempt.confirmed_by_id) == (
        PayoutAttemptOutcome.PAID,
        RECEIPT,
        admin_user.pk,
    )
    txn = LedgerTransaction.objects.get(reference=f"payout:{payout.pk}:paid")
    assert sorted(
        LedgerEntry.objects.filter(transaction=txn).values_list("account__code", "side", "amount")
    ) == [
        ("mpesa_b2c_disbursed", "debit", Decimal("4250.00")),
        (f"technician_payable:{technician.pk}", "credit", Decimal("4250.00")),
    ]
    assert PayoutStatusHistory.objects.filter(
        payout=payout, actor=admin_user, note__contains="confirmed paid by staff"
    ).exists()
    # Again: 200, nothing new.
    assert admin_client_api.post(url, {"receipt": RECEIPT}).status_code == 200
    assert LedgerTransaction.objects.filter(payout=payout).count() == 1
    # Another receipt, or "not paid": the attempt is final.
    response = admin_client_api.post(url, {"receipt": "QKJ4XYZ999"})
    assert (response.status_code, response.json()["code"]) == (409, "payout_attempt_final")
    response = admin_client_api.post(
        f"/api/v1/payments/payouts/{payout.pk}/confirm-not-paid", {"evidence": "not seen"}
    )
    assert (response.status_code, response.json()["code"]) == (409, "payout_attempt_final")
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_confirm_not_paid_fails_the_attempt_so_a_new_one_may_go_out(
    mpesa,
    unknown_payout,
    admin_client_api,
    admin_user,
    technician,
    anon_client,
    settings,
    django_capture_on_commit_callbacks,
):
    payout = unknown_payout
    _escalate(payout, settings)
    url = f"/api/v1/payments/payouts/{payout.pk}/confirm-not-paid"
    response = admin_client_api.post(url, {"evidence": "   "})
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    response = admin_client_api.post(url, {"evidence": "Not on the statement 1-3 March (Akinyi)"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    attempt = payout.attempts.get()
    assert (attempt.outcome, attempt.confirmed_by_id) == (
        PayoutAttemptOutcome.FAILED,
        admin_user.pk,
    )
    assert "Akinyi" in attempt.result_desc
    assert not LedgerTransaction.objects.filter(payout=payout).exists()  # nothing moved
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("4250.00")
    # Repeating it changes nothing; "paid" is refused now.
    assert admin_client_api.post(url, {"evidence": "again"}).status_code == 200
    response = admin_client_api.post(
        f"/api/v1/payments/payouts/{payout.pk}/confirm-paid", {"receipt": RECEIPT}
    )
    assert (response.status_code, response.json()["code"]) == (409, "payout_attempt_final")
    # A new attempt may go out now, and pays once.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert response.status_code == 200
    sent = [r.json["OriginatorConversationID"] for r in mpesa.requests_to(PATH_B2C)]
    assert sent == [f"DW-PO-{payout.pk}-1", f"DW-PO-{payout.pk}-2"]
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(sent[1], "0"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    assert_reconciled()


def test_confirm_codes(mpesa, unknown_payout, admin_client_api, support_client, anon_client):
    payout = unknown_payout
    url = f"/api/v1/payments/payouts/{payout.pk}/confirm-paid"
    assert anon_client.post(url, {"receipt": RECEIPT}).status_code == 401
    assert support_client.post(url, {"receipt": RECEIPT}).status_code == 403  # admins move money
    assert (
        admin_client_api.post(
            "/api/v1/payments/payouts/999999/confirm-paid", {"receipt": RECEIPT}
        ).status_code
        == 404
    )
    response = admin_client_api.post(url, {"receipt": "short"})
    assert (response.status_code, list(response.json()["fields"])) == (400, ["receipt"])
    response = admin_client_api.post(url, {"receipt": RECEIPT, "attempt": 7})
    assert (response.status_code, response.json()["code"]) == (400, "payout_attempt_required")
    # A receipt already recorded on another payout's attempt.
    other = PayoutFactory(booking=payout.booking, recipient=payout.recipient, status="paid")
    PayoutAttempt.objects.create(
        payout=other,
        number=1,
        originator_conversation_id=other.originator_id_for(1),
        amount=other.amount,
        outcome=PayoutAttemptOutcome.PAID,
        receipt=RECEIPT,
    )
    response = admin_client_api.post(url, {"receipt": RECEIPT})
    assert (response.status_code, response.json()["code"]) == (409, "payout_receipt_in_use")
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.NEEDS_RECONCILIATION
    assert not LedgerTransaction.objects.filter(payout=payout).exists()


def test_admin_confirm_actions_and_escalated_filter(mpesa, unknown_payout, admin_user, settings):
    payout = unknown_payout
    _escalate(payout, settings)
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/payments/payout/?escalated=open")
    assert page.status_code == 200
    assert f"/admin/payments/payout/{payout.pk}/change/" in page.content.decode()
    # The action first asks for the receipt ...
    form = client.post(
        "/admin/payments/payout/",
        {"action": "confirm_paid", "_selected_action": [payout.pk]},
    )
    assert form.status_code == 200
    assert b"receipt" in form.content
    # ... then applies it.
    response = client.post(
        "/admin/payments/payout/",
        {
            "action": "confirm_paid",
            "_selected_action": [payout.pk],
            "apply": "1",
            "receipt": RECEIPT,
            "note": "",
        },
    )
    assert response.status_code == 302
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert PayoutStatusHistory.objects.filter(payout=payout, actor=admin_user).exists()
    assert (
        f"/admin/payments/payout/{payout.pk}/change/"
        not in client.get("/admin/payments/payout/?escalated=open").content.decode()
    )
    assert_reconciled()
