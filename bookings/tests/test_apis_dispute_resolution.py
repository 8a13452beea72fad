"""Resolving a dispute through the API: the refund amount is validated against what the customer paid, and
the amount stored is the amount the ledger moves (README "Disputes: every outcome in every state").

Price 3000: deposit 600, balance 2400.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import (
    BookingStatus,
    BookingStatusHistory,
    Dispute,
    DisputeStatus,
    DisputeStatusHistory,
)
from bookings.services import dispute_open
from bookings.tests.factories import BookingFactory
from payments.models import EntrySide, LedgerEntry, LedgerTransaction, Payment, Payout
from payments.tasks import payout_send_task
from payments.tests.helpers import assert_reconciled, paid_payment, set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispute(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    paid_payment(booking)  # KES 600
    set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
    return dispute_open(booking=booking, opened_by=customer, reason="The sink still leaks")


def _resolve(client, dispute, body):
    return client.post(f"/api/v1/bookings/disputes/{dispute.pk}/resolve", body, format="json")


def _everything(dispute) -> dict:
    booking = dispute.booking
    booking.refresh_from_db()
    fresh = Dispute.objects.get(pk=dispute.pk)
    return {
        "dispute": (fresh.status, fresh.outcome, fresh.refund_amount, fresh.resolved_by_id),
        "booking": booking.status,
        "dispute_history": DisputeStatusHistory.objects.count(),
        "booking_history": BookingStatusHistory.objects.count(),
        "ledger": LedgerTransaction.objects.count(),
        "payouts": Payout.objects.count(),
        "payments": Payment.objects.count(),
    }


def _ledger_refund(dispute) -> Decimal:
    return sum(
        (
            e.amount
            for e in LedgerEntry.objects.filter(
                account__code="refunds_payable",
                side=EntrySide.DEBIT,
                transaction__reference__startswith=f"dispute:{dispute.pk}:",
            )
        ),
        Decimal(0),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"outcome": "partial_refund", "refundAmount": "601"},
            "At most 600.00 KES: what the customer paid for this booking and was not refunded.",
        ),
        (
            {"outcome": "partial_refund", "refundAmount": "999999"},
            "At most 600.00 KES: what the customer paid for this booking and was not refunded.",
        ),
        ({"outcome": "partial_refund"}, "A partial refund needs the amount to refund."),
        (
            {"outcome": "partial_refund", "refundAmount": None},
            "A partial refund needs the amount to refund.",
        ),
        (
            {"outcome": "partial_refund", "refundAmount": "100.50"},
            "A refund is a whole number of shillings above 0.",
        ),
        (
            {"outcome": "partial_refund", "refundAmount": "0"},
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            {"outcome": "full_refund", "refundAmount": "600"},
            "Only a partial refund takes an amount.",
        ),
        (
            {"outcome": "release_to_technician", "refundAmount": "100"},
            "Only a partial refund takes an amount.",
        ),
    ],
)
def test_invalid_refund_amounts_are_refused_and_nothing_is_written(
    support_client, dispute, django_capture_on_commit_callbacks, body, message
):
    before = _everything(dispute)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _resolve(support_client, dispute, body)
    assert response.status_code == 400, response.json()
    assert response.json() == {
        "code": "validation_error",
        "message": response.json()["message"],
        "fields": {"refundAmount": [message]},
    }
    assert callbacks == []  # no event, no task
    assert _everything(dispute) == before
    assert before["dispute"] == (DisputeStatus.OPEN, "", None, None)


def test_a_refund_of_everything_paid_is_accepted_and_what_is_stored_is_what_moves(
    support_client, dispute, django_capture_on_commit_callbacks, task_outbox
):
    task_outbox.hold(payout_send_task)
    with django_capture_on_commit_callbacks(execute=True):
        response = _resolve(
            support_client, dispute, {"outcome": "partial_refund", "refundAmount": "600"}
        )
    assert response.status_code == 200, response.json()
    assert response.json()["refundAmount"] == "600.00"
    dispute.refresh_from_db()
    assert dispute.refund_amount == _ledger_refund(dispute) == Decimal(600)
    assert_reconciled()


def test_a_full_refund_stores_the_amount_it_refunds(
    support_client, dispute, django_capture_on_commit_callbacks, task_outbox
):
    task_outbox.hold(payout_send_task)
    with django_capture_on_commit_callbacks(execute=True):
        response = _resolve(support_client, dispute, {"outcome": "full_refund"})
    assert response.status_code == 200, response.json()
    assert response.json()["refundAmount"] == "600.00"
    dispute.refresh_from_db()
    assert _ledger_refund(dispute) == dispute.refund_amount


def test_release_stores_no_refund(support_client, dispute, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = _resolve(support_client, dispute, {"outcome": "release_to_technician"})
    assert response.status_code == 200, response.json()
    assert response.json()["refundAmount"] is None


def test_the_limit_counts_every_payment_and_every_refund(
    support_client, dispute, django_capture_on_commit_callbacks
):
    booking = dispute.booking
    paid_payment(booking)  # the deposit paid twice while disputed: refunded at once
    paid_payment(booking, "balance")  # the balance, paid before the dispute was opened
    response = _resolve(
        support_client, dispute, {"outcome": "partial_refund", "refundAmount": "3001"}
    )
    assert response.status_code == 400
    assert response.json()["fields"]["refundAmount"] == [
        "At most 3000.00 KES: what the customer paid for this booking and was not refunded."
    ]
    with django_capture_on_commit_callbacks():
        response = _resolve(
            support_client, dispute, {"outcome": "partial_refund", "refundAmount": "3000"}
        )
    assert response.status_code == 200, response.json()
