"""Tips (payments/services/tips.py): an STK push of purpose `tip` after the job, 100 % to the technician through
tips_payable, paid out at once from TIP_PAYOUT_AT_ONCE_KES or with the technician's next payout."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments import tasks
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.receipts import receipt_text
from payments.rules import TIP_PAYOUT_AT_ONCE_KES
from payments.selectors.balances import account_balance
from payments.services.ledger import CUSTOMER_CLEARING, ledger_post, tips_payable_code, transfer
from payments.services.sweep import payments_sweep
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import (
    assert_reconciled,
    deliver_b2c_result_twice,
    make_booking,
    paid_payment,
    post_callback,
    set_status,
)

pytestmark = pytest.mark.django_db


def _tips_url(booking) -> str:
    return f"/api/v1/bookings/{booking.pk}/tips"


@pytest.fixture
def done(booking):
    """The customer persona's booking, paid and completed by the technician persona."""
    paid_payment(booking)
    set_status(booking, "completed", completed_at=timezone.now())
    return booking


def _tip(client, booking, amount="200", **extra):
    return client.post(_tips_url(booking), {"amount": amount}, format="json", **extra)


def _pay(mpesa, anon_client, payment_id: int) -> Payment:
    payment = Payment.objects.get(pk=payment_id)
    payload = mpesa.stk_callback_payload(payment.checkout_request_id, "0")
    assert post_callback(anon_client, "callback", payload).status_code == 200
    payment.refresh_from_db()
    return payment


def _entries(reference: str) -> list[tuple[str, str, Decimal]]:
    return sorted(
        LedgerEntry.objects.filter(transaction__reference=reference).values_list(
            "account__code", "side", "amount"
        )
    )


def test_tip_goes_to_the_technicians_tips_account_with_no_fee(
    mpesa, done, customer_client, anon_client, technician
):
    escrow_entries = LedgerEntry.objects.filter(account__code__startswith="escrow:").count()
    revenue = account_balance("platform_revenue")
    response = _tip(customer_client, done, "200")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["purpose"], body["amount"], body["currency"], body["status"]) == (
        "tip",
        "200.00",
        "KES",
        "pending",
    )
    push = mpesa.requests_to(PATH_STK_PUSH)[-1].json
    assert (push["Amount"], push["TransactionDesc"]) == (200, "Tip")

    payment = _pay(mpesa, anon_client, body["id"])
    assert payment.status == PaymentStatus.SUCCEEDED
    txn = LedgerTransaction.objects.get(reference=f"payment:{payment.pk}:received")
    assert txn.kind == "tip"
    assert _entries(txn.reference) == [
        (CUSTOMER_CLEARING, "credit", Decimal("200.00")),
        (tips_payable_code(technician.pk), "debit", Decimal("200.00")),
    ]
    # Never escrow, never the platform.
    assert LedgerEntry.objects.filter(account__code__startswith="escrow:").count() == escrow_entries
    assert account_balance("platform_revenue") == revenue
    payout = Payout.objects.get(kind=PayoutKind.TIP)
    assert (payout.source_payment_id, payout.recipient_id, payout.amount, payout.status) == (
        payment.pk,
        technician.pk,
        Decimal("200.00"),
        PayoutStatus.DEFERRED,
    )
    assert_reconciled()


def test_replayed_tip_callback_posts_once_and_makes_one_payout(
    mpesa, done, customer_client, anon_client
):
    payment = _pay(mpesa, anon_client, _tip(customer_client, done).json()["id"])
    payload = mpesa.stk_callback_payload(payment.checkout_request_id, "0")
    for _ in range(2):
        assert post_callback(anon_client, "callback", payload).status_code == 200
    assert LedgerTransaction.objects.filter(payment=payment).count() == 1
    assert Payout.objects.filter(kind=PayoutKind.TIP).count() == 1
    assert_reconciled()


def test_failed_tip_push_moves_no_money(mpesa, done, customer_client, anon_client):
    payment_id = _tip(customer_client, done).json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    payload = mpesa.stk_callback_payload(payment.checkout_request_id, "1032")
    assert post_callback(anon_client, "callback", payload).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert not LedgerTransaction.objects.filter(payment=payment).exists()
    assert not Payout.objects.filter(kind=PayoutKind.TIP).exists()


def test_rejected_tip_push_is_a_502(mpesa, done, customer_client):
    mpesa.fail_next(PATH_STK_PUSH, "invalid_token", times=2)
    response = _tip(customer_client, done)
    assert response.status_code == 502
    assert response.json()["code"] == "payment_provider_rejected"
    assert response.json()["payment"]["status"] == "failed"


def test_unreachable_mpesa_is_a_503_and_keeps_nothing(mpesa, done, customer_client):
    mpesa.fail_next(PATH_STK_PUSH, "busy", times=3)
    response = _tip(customer_client, done)
    assert response.status_code == 503
    assert response.json()["code"] == "payment_provider_unavailable"
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()


def test_open_tip_prompt_is_409_and_idempotency_key_returns_the_same_tip(
    mpesa, done, customer_client
):
    first = _tip(customer_client, done, HTTP_IDEMPOTENCY_KEY="tip-key-0001")
    again = _tip(customer_client, done, HTTP_IDEMPOTENCY_KEY="tip-key-0001")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1
    response = _tip(customer_client, done, "300")
    assert response.status_code == 409
    assert response.json()["code"] == "payment_pending"
    assert response.json()["payment"]["id"] == first.json()["id"]
    assert len(mpesa.requests_to(PATH_STK_PUSH)) == 1


@pytest.mark.parametrize("status", ["pending", "accepted", "in_progress", "cancelled"])
def test_no_tip_before_completion(mpesa, booking, customer_client, status):
    set_status(booking, status)
    response = _tip(customer_client, booking)
    assert response.status_code == 409
    assert response.json()["code"] == "tip_not_allowed"
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()
    assert mpesa.requests_to(PATH_STK_PUSH) == []


def test_confirmed_booking_can_be_tipped(mpesa, done, customer_client):
    set_status(done, "confirmed")
    assert _tip(customer_client, done).status_code == 201


@pytest.mark.parametrize("amount", ["9", "20001", "150.50", "-5", "abc", None])
def test_tip_amount_is_validated(mpesa, done, customer_client, amount):
    body = {} if amount is None else {"amount": amount}
    response = customer_client.post(_tips_url(done), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["fields"]) == ["amount"]
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()
    assert mpesa.requests_to(PATH_STK_PUSH) == []


@pytest.mark.parametrize(
    "persona, expected",
    [
        ("anon_client", 401),
        ("other_customer_client", 404),
        ("other_technician_client", 404),
        ("technician_client", 403),
        ("support_client", 403),
        ("admin_client_api", 403),
    ],
)
def test_only_the_bookings_customer_can_tip(mpesa, done, request, persona, expected):
    response = _tip(request.getfixturevalue(persona), done)
    assert response.status_code == expected
    assert not Payment.objects.filter(purpose=PaymentPurpose.TIP).exists()
    assert mpesa.requests_to(PATH_STK_PUSH) == []


def test_unknown_booking_is_404(mpesa, customer_client):
    response = customer_client.post("/api/v1/bookings/999999/tips", {"amount": "100"})
    assert response.status_code == 404


def test_tip_at_the_threshold_is_paid_at_once_from_tips_payable(
    mpesa, done, customer_client, anon_client, technician
):
    amount = str(TIP_PAYOUT_AT_ONCE_KES)
    payment = _pay(mpesa, anon_client, _tip(customer_client, done, amount).json()["id"])
    payout = Payout.objects.get(kind=PayoutKind.TIP, source_payment=payment)
    assert payout.status == PayoutStatus.QUEUED
    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "accepted"
    assert mpesa.requests_to(PATH_B2C)[-1].json["Amount"] == int(TIP_PAYOUT_AT_ONCE_KES)
    payout.refresh_from_db()
    deliver_b2c_result_twice(mpesa, payout)
    assert _entries(f"payout:{payout.pk}:paid") == sorted(
        [
            (tips_payable_code(technician.pk), "credit", TIP_PAYOUT_AT_ONCE_KES),
            ("mpesa_b2c_disbursed", "debit", TIP_PAYOUT_AT_ONCE_KES),
        ]
    )
    assert account_balance(tips_payable_code(technician.pk)) == 0
    assert_reconciled()


def test_small_tip_is_paid_with_the_technicians_next_payout(
    mpesa, done, customer_client, anon_client, customer, technician
):
    payment = _pay(mpesa, anon_client, _tip(customer_client, done, "150").json()["id"])
    tip_payout = Payout.objects.get(kind=PayoutKind.TIP, source_payment=payment)
    assert tip_payout.status == PayoutStatus.DEFERRED
    assert mpesa.requests_to(PATH_B2C) == []

    # The technician's next job is confirmed and paid: its release creates the next payout.
    other = make_booking(customer, technician)
    paid_payment(other)
    set_status(other, "confirmed", completed_at=timezone.now(), confirmed_at=timezone.now())
    paid_payment(other, purpose=PaymentPurpose.BALANCE)
    payout = Payout.objects.get(kind=PayoutKind.TECHNICIAN_PAYOUT, booking=other)
    assert payout.amount == other.technician_share + Decimal("150.00")
    tip_payout.refresh_from_db()
    assert (tip_payout.status, tip_payout.carried_into_id) == (PayoutStatus.CARRIED, payout.pk)
    assert _entries(f"payout:{tip_payout.pk}:carried") == [
        (f"technician_payable:{technician.pk}", "debit", Decimal("150.00")),
        (tips_payable_code(technician.pk), "credit", Decimal("150.00")),
    ]
    assert account_balance(tips_payable_code(technician.pk)) == 0

    assert tasks.payout_send_task.apply(args=[payout.pk]).get() == "accepted"
    payout.refresh_from_db()
    deliver_b2c_result_twice(mpesa, payout)
    assert account_balance(f"technician_payable:{technician.pk}") == 0
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_sweep_creates_the_payout_of_a_tip_whose_payout_step_was_lost(done, customer, technician):
    # A credited tip without its payout: what a crash between the two steps would leave.
    payment = Payment.objects.create(
        booking=done,
        payer=customer,
        purpose=PaymentPurpose.TIP,
        amount=Decimal("700.00"),
        phone=customer.phone_number,
        status=PaymentStatus.SUCCEEDED,
        completed_at=timezone.now(),
    )
    ledger_post(
        kind="tip",
        reference=f"payment:{payment.pk}:received",
        lines=transfer(
            payment.amount, source=CUSTOMER_CLEARING, to=tips_payable_code(technician.pk)
        ),
        booking_id=done.pk,
        payment_id=payment.pk,
    )
    assert payments_sweep(now=timezone.now()).completed == []  # within the grace: not yet
    later = timezone.now() + timedelta(minutes=5)
    result = payments_sweep(now=later)
    payout = Payout.objects.get(kind=PayoutKind.TIP, source_payment=payment)
    assert (payout.amount, payout.status) == (Decimal("700.00"), PayoutStatus.QUEUED)
    assert (done.pk, "tip_payout", "queued") in result.completed
    # Run again: nothing more.
    assert payments_sweep(now=later).completed == []
    assert Payout.objects.filter(kind=PayoutKind.TIP).count() == 1
    assert_reconciled()


def test_tip_receipt_says_it_is_a_tip_all_for_the_technician(
    mpesa, done, customer_client, anon_client
):
    payment = _pay(mpesa, anon_client, _tip(customer_client, done, "150").json()["id"])
    text, _filename = receipt_text(payment)
    assert "Purpose: Tip for the technician" in text
    assert "100 % of it (KES 150.00) goes to the technician" in text
    assert "no fee" in text
    assert "paid to the technician with their next payout" in text
    assert "escrow" not in text.lower() and "Job price" not in text
    response = customer_client.get(
        f"/api/v1/payments/transactions/{payment.pk}/receipt", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    listed = customer_client.get("/api/v1/payments/transactions").json()["results"]
    assert {"id": payment.pk, "kind": "tip", "amount": "150.00"}.items() <= next(
        row for row in listed if row["id"] == payment.pk and row["type"] == "payment"
    ).items()


def test_technician_earnings_show_tips_apart(
    mpesa, done, customer_client, anon_client, technician_client
):
    small = _pay(mpesa, anon_client, _tip(customer_client, done, "150").json()["id"])
    body = technician_client.get("/api/v1/payments/payouts/my-payouts").json()
    assert (body["totals"]["tipsReceived"], body["totals"]["tipsAwaitingPayout"]) == (
        "150.00",
        "150.00",
    )
    tip_rows = [row for row in body["results"] if row["kind"] == "tip"]
    assert [(row["amount"], row["status"]) for row in tip_rows] == [("150.00", "deferred")]
    # Found from outside: a KES 150 tip read "Below the M-Pesa minimum, carried to the next payout".
    assert tip_rows[0]["statusDisplay"] == (
        "Paid with your next payout, or on its own within 7 days"
    )
    assert Payout.objects.get(kind=PayoutKind.TIP).source_payment_id == small.pk
