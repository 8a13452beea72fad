"""Debts owed back to the platform (issue 15, gap 3): a customer refund paid twice is a recorded debt owed by
the customer (like a technician's), listed for staff and in `reconcile`; staff close any debt by recording
the debtor's M-Pesa repayment or by writing it off (audited, through the ledger).
"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from bookings.models import BookingStatus, DisputeOutcome
from bookings.services import dispute_resolve
from dumuwaks.core.errors import ValidationFailed
from payments.errors import RecoveryOlderOpen, RecoveryReceiptInUse, RecoverySettled
from payments.models import (
    LedgerTransaction,
    Payout,
    PayoutKind,
    PayoutStatus,
    RecoveryReason,
    RecoverySettlement,
    RecoverySettlementKind,
    TechnicianRecovery,
)
from payments.selectors.balances import account_balance
from payments.selectors.recoveries import debtor_owed, technician_recovery_list
from payments.services.escrow import booking_settle_cancellation, dispute_settle
from payments.services.payouts import payout_process, payout_send
from payments.services.recoveries import recovery_record_repayment, recovery_write_off
from payments.tests.helpers import (
    RELEASED_PAID,
    arrange,
    assert_reconciled,
    make_booking,
    paid_payment,
    post_callback,
    postings_since,
)

pytestmark = pytest.mark.django_db


def _ids() -> set[int]:
    return set(LedgerTransaction.objects.values_list("pk", flat=True))


@pytest.fixture
def double_refund(mpesa, booking, customer, admin_user, anon_client):
    """The deposit (1000) of a cancelled booking refunded by B2C twice: attempt 1 failed definitively, then
    attempt 2 was paid, then attempt 1's late success arrived after all."""
    paid_payment(booking)
    type(booking).objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancellation_fee=0
    )
    assert booking_settle_cancellation(booking_id=booking.pk)
    refund = Payout.objects.get(kind=PayoutKind.REFUND)
    assert payout_send(payout_id=refund.pk) == "accepted"
    first = f"DW-PO-{refund.pk}-1"
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first, "1"))
    payout_process(payout_id=refund.pk, actor=admin_user)
    payout_send(payout_id=refund.pk)
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(f"DW-PO-{refund.pk}-2"))
    before = _ids()
    post_callback(anon_client, "b2c-callback", mpesa.b2c_result_payload(first, "0"))
    refund.refresh_from_db()
    assert (refund.status, refund.overpaid_amount) == (PayoutStatus.PAID, Decimal(1000))
    return refund, before


def test_a_refund_paid_twice_is_a_debt_owed_by_the_customer(
    double_refund, customer, booking, admin_user
):
    refund, before = double_refund
    receivable = f"customer_receivable:{customer.pk}"
    assert postings_since(before) == {
        f"payout:{refund.pk}:overpaid:1000.00": {
            receivable: Decimal(-1000),
            "mpesa_b2c_disbursed": Decimal(1000),
        }
    }
    debt = TechnicianRecovery.objects.get()
    assert (debt.customer_id, debt.technician_id, debt.reason, debt.amount, debt.payout_id) == (
        customer.pk,
        None,
        RecoveryReason.REFUND_OVERPAID,
        Decimal(1000),
        refund.pk,
    )
    assert debtor_owed(receivable) == Decimal(1000)
    (row,) = technician_recovery_list(open_only=True)
    assert (row.pk, row.outstanding) == (debt.pk, Decimal(1000))
    assert_reconciled()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert (
        f"OPEN RECOVERY {debt.pk}: customer {customer.pk} ({customer.email}) owes 1000.00 KES of "
        f"1000.00 for booking {booking.pk}"
    ) in out.getvalue()
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get("/admin/payments/technicianrecovery/?open=yes")
    assert page.status_code == 200 and customer.email in page.content.decode()


def test_staff_record_a_repayment_then_write_off_the_rest(double_refund, customer, admin_user):
    debt = TechnicianRecovery.objects.get()
    receivable = f"customer_receivable:{customer.pk}"
    before = _ids()
    repaid = recovery_record_repayment(
        recovery_id=debt.pk, amount="600", receipt="qkr1abc234", actor=admin_user
    )
    assert (repaid.kind, repaid.amount, repaid.receipt, repaid.actor_id) == (
        RecoverySettlementKind.REPAID,
        Decimal(600),
        "QKR1ABC234",
        admin_user.pk,
    )
    assert postings_since(before) == {
        f"recovery:{debt.pk}:repaid:QKR1ABC234": {
            "mpesa_repayments": Decimal(-600),
            receivable: Decimal(600),
        }
    }
    assert technician_recovery_list().get(pk=debt.pk).outstanding == Decimal(400)
    # The same receipt again: the same settlement, nothing posted.
    again = recovery_record_repayment(
        recovery_id=debt.pk, amount="600", receipt="QKR1ABC234", actor=admin_user
    )
    assert again.pk == repaid.pk and RecoverySettlement.objects.count() == 1
    with pytest.raises(RecoveryReceiptInUse):
        recovery_record_repayment(
            recovery_id=debt.pk, amount="100", receipt="QKR1ABC234", actor=admin_user
        )

    with pytest.raises(ValidationFailed):  # more than is owed
        recovery_record_repayment(
            recovery_id=debt.pk, amount="500", receipt="QKR1ABC999", actor=admin_user
        )
    with pytest.raises(ValidationFailed):  # a reason is required
        recovery_write_off(recovery_id=debt.pk, actor=admin_user, reason="  ")

    before = _ids()
    written = recovery_write_off(
        recovery_id=debt.pk, actor=admin_user, reason="Customer unreachable for 90 days"
    )
    assert (written.kind, written.amount) == (RecoverySettlementKind.WRITTEN_OFF, Decimal(400))
    assert postings_since(before) == {
        f"recovery:{debt.pk}:write-off": {
            "recoveries_written_off": Decimal(-400),
            receivable: Decimal(400),
        }
    }
    assert recovery_write_off(recovery_id=debt.pk, actor=admin_user, reason="again").pk == (
        written.pk
    )
    with pytest.raises(RecoverySettled):
        recovery_record_repayment(
            recovery_id=debt.pk, amount="1", receipt="QKR1ABC777", actor=admin_user
        )
    assert account_balance(receivable) == Decimal("0.00")
    assert list(technician_recovery_list(open_only=True)) == []
    assert_reconciled()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "OPEN RECOVERY" not in out.getvalue()


def test_technician_debts_are_written_off_oldest_first(
    mpesa, customer, technician, support_agent, service_category, admin_user, task_outbox
):
    debts = []
    # Both jobs paid out first (a later release would repay the earlier debt), then both disputed.
    disputes = [
        arrange(
            RELEASED_PAID, make_booking(customer, technician, category=service_category), customer
        )
        for _ in range(2)
    ]
    for dispute in disputes:
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=DisputeOutcome.PARTIAL_REFUND,
            refund_amount=Decimal(1000),
        )
        dispute_settle(dispute_id=dispute.pk)
        debts.append(TechnicianRecovery.objects.get(dispute=dispute))
    older, newer = debts
    with pytest.raises(RecoveryOlderOpen):
        recovery_write_off(recovery_id=newer.pk, actor=admin_user, reason="goodwill")
    receivable = f"technician_receivable:{technician.pk}"
    before = _ids()
    recovery_write_off(recovery_id=older.pk, actor=admin_user, reason="goodwill")
    assert postings_since(before) == {
        f"recovery:{older.pk}:write-off": {
            "recoveries_written_off": Decimal(-850),
            receivable: Decimal(850),
        }
    }
    rows = {row.pk: row.outstanding for row in technician_recovery_list()}
    assert rows == {older.pk: Decimal(0), newer.pk: Decimal(850)}
    assert_reconciled()


def test_admin_actions_write_off_and_record_repayment(double_refund, admin_user, support_agent):
    debt = TechnicianRecovery.objects.get()
    browser = Client()
    browser.force_login(admin_user)
    url = "/admin/payments/technicianrecovery/"
    form = browser.post(url, {"action": "record_repayment", "_selected_action": [debt.pk]})
    assert form.status_code == 200 and b"receipt" in form.content
    response = browser.post(
        url,
        {
            "action": "record_repayment",
            "_selected_action": [debt.pk],
            "apply": "1",
            "amount": "250",
            "receipt": "QKR1ABC555",
            "note": "",
        },
    )
    assert response.status_code == 302
    response = browser.post(
        url,
        {
            "action": "write_off",
            "_selected_action": [debt.pk],
            "apply": "1",
            "reason": "Small balance, not worth chasing",
        },
    )
    assert response.status_code == 302
    assert list(
        RecoverySettlement.objects.order_by("id").values_list("kind", "amount", "actor_id")
    ) == [
        (RecoverySettlementKind.REPAID, Decimal(250), admin_user.pk),
        (RecoverySettlementKind.WRITTEN_OFF, Decimal(750), admin_user.pk),
    ]
    page = browser.get(f"/admin/payments/technicianrecovery/{debt.pk}/change/")
    assert b"QKR1ABC555" in page.content
    # Support agents may look but not move money.
    agent = Client()
    agent.force_login(support_agent)
    agent.post(
        url,
        {"action": "write_off", "_selected_action": [debt.pk], "apply": "1", "reason": "x"},
    )
    assert RecoverySettlement.objects.count() == 2
    assert_reconciled()
