"""A technician payout already with M-Pesa when a dispute refund recorded the technician's debt for it, that
then fails definitively (issue 15, gap 4): the payout is cancelled (never retried), the money it leaves in
technician_payable offsets that debt, and what the technician keeps goes out as a new payout.

Price 5000: deposit 1000, balance 4000, platform fee 750, technician share 4250.
"""

from decimal import Decimal

import pytest

from bookings.models import DisputeOutcome
from bookings.services import dispute_resolve
from payments.models import (
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutStatus,
    RecoveryReason,
    TechnicianRecovery,
)
from payments.selectors.balances import account_balance, technician_owed
from payments.selectors.recoveries import technician_recovery_list
from payments.services.escrow import dispute_settle
from payments.services.payouts import payout_send
from payments.tests.fakes.daraja import PATH_B2C
from payments.tests.helpers import (
    RELEASED_UNSENT,
    arrange,
    assert_reconciled,
    post_callback,
    postings_since,
)

pytestmark = pytest.mark.django_db


def _in_flight_then_refunded(booking, customer, support_agent, outcome, refund_amount=None):
    """Released; the technician payout accepted by Daraja (awaiting its result); then the dispute refund."""
    dispute = arrange(RELEASED_UNSENT, booking, customer)
    payout = Payout.objects.get(booking=booking)
    assert payout_send(payout_id=payout.pk) == "accepted"
    dispute_resolve(
        dispute=dispute, actor=support_agent, outcome=outcome, refund_amount=refund_amount
    )

    dispute_settle(dispute_id=dispute.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT  # cannot be stopped: counted as paid
    return dispute, payout


def _ids():
    return set(LedgerTransaction.objects.values_list("pk", flat=True))


def test_full_refund_then_definitive_failure_cancels_the_payout_and_clears_the_debt(
    mpesa, booking, customer, technician, support_agent, anon_client, admin_client_api
):
    _dispute, payout = _in_flight_then_refunded(
        booking, customer, support_agent, DisputeOutcome.FULL_REFUND
    )
    recovery = TechnicianRecovery.objects.get()
    assert (recovery.reason, recovery.amount, recovery.payout_id) == (
        RecoveryReason.DISPUTE_REFUND,
        Decimal(4250),
        payout.pk,
    )
    assert technician_owed(technician.pk) == Decimal(4250)
    before = _ids()

    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "2001"),
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.CANCELLED
    receivable = f"technician_receivable:{technician.pk}"
    payable = f"technician_payable:{technician.pk}"
    assert postings_since(before) == {
        f"payout:{payout.pk}:failed:offset": {payable: Decimal(-4250), receivable: Decimal(4250)}
    }
    assert technician_owed(technician.pk) == Decimal(0)
    assert account_balance(payable) == Decimal("0.00")
    assert account_balance(receivable) == Decimal("0.00")
    (row,) = technician_recovery_list()
    assert row.outstanding == Decimal(0)
    assert Payout.objects.filter(kind=PayoutKind.TECHNICIAN_PAYOUT).count() == 1  # nothing new
    # Not retryable: staff cannot send it again.
    response = admin_client_api.post(f"/api/v1/payments/payouts/{payout.pk}/process")
    assert (response.status_code, response.json()["code"]) == (409, "payout_not_processable")
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    # A redelivered failure changes nothing.
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "2001"),
    )
    assert set(postings_since(before)) == {f"payout:{payout.pk}:failed:offset"}
    assert_reconciled()

    # If M-Pesa later says it was paid after all, the technician owes it again (a recorded recovery).
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "0"),
    )
    payout.refresh_from_db()
    assert (payout.status, payout.overpaid_amount) == (PayoutStatus.CANCELLED, Decimal(4250))
    assert technician_owed(technician.pk) == Decimal(4250)
    assert_reconciled()


def test_partial_refund_then_definitive_failure_offsets_the_debt_and_pays_the_rest(
    mpesa, booking, customer, technician, support_agent, anon_client
):
    _dispute, payout = _in_flight_then_refunded(
        booking, customer, support_agent, DisputeOutcome.PARTIAL_REFUND, Decimal(1000)
    )
    assert technician_owed(technician.pk) == Decimal(850)
    before = _ids()
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "2040"),
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.CANCELLED
    payable = f"technician_payable:{technician.pk}"
    receivable = f"technician_receivable:{technician.pk}"
    assert postings_since(before) == {
        f"payout:{payout.pk}:failed:offset": {payable: Decimal(-850), receivable: Decimal(850)}
    }
    (rest,) = Payout.objects.filter(kind=PayoutKind.TECHNICIAN_PAYOUT).exclude(pk=payout.pk)
    assert (rest.amount, rest.status, rest.booking_id) == (
        Decimal(3400),
        PayoutStatus.QUEUED,
        booking.pk,
    )
    assert technician_owed(technician.pk) == Decimal(0)
    assert account_balance(payable) == Decimal(3400)  # exactly what the new payout sends
    assert_reconciled()


def test_a_failure_of_a_payout_without_a_debt_stays_retryable(
    mpesa, booking, customer, technician, anon_client
):
    arrange(RELEASED_UNSENT, booking, customer)
    payout = Payout.objects.get(booking=booking)
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    before = _ids()
    post_callback(
        anon_client,
        "b2c-callback",
        mpesa.b2c_result_payload(payout.originator_conversation_id, "2001"),
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert postings_since(before) == {}
    assert_reconciled()
