"""Every dispute outcome in every state a dispute can be opened in (README "Disputes: every outcome in every
state"), through the real services: the dispute opened with `dispute_open`, resolved with `dispute_resolve`,
settled by the task `dispute.resolved` starts. Each case asserts the exact ledger postings, the payouts created
or cancelled, the balances and that nothing else moved.

Price 5000: deposit 1000, balance 4000, platform fee 750, technician share 4250.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from bookings.models import BookingStatus, DisputeOutcome
from bookings.services import dispute_resolve
from payments.daraja.result_codes import Outcome
from payments.models import (
    EntrySide,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutAttempt,
    PayoutAttemptOutcome,
    PayoutKind,
    PayoutStatus,
    RecoveryReason,
    TechnicianRecovery,
)
from payments.selectors.balances import account_balance, technician_owed
from payments.selectors.owed_steps import OwedStep
from payments.selectors.recoveries import technician_recovery_list
from payments.services.balance import BALANCE_OVERDUE_AFTER, balance_collection_run
from payments.services.escrow import dispute_settle
from payments.services.payouts import payout_attempt_record_result
from payments.services.sweep import payments_sweep
from payments.tasks import payout_send_task
from payments.tests.fakes.daraja import PATH_STK_PUSH
from payments.tests.helpers import (
    COMPLETED_PAID,
    COMPLETED_UNPAID,
    CONFIRMED_UNPAID,
    RELEASED_PAID,
    RELEASED_UNSENT,
    STATES,
    arrange,
    assert_reconciled,
    escrow,
    make_booking,
    paid_payment,
    post_callback,
    postings_since,
    set_status,
)
from support.models import SupportTicket

pytestmark = pytest.mark.django_db

RELEASE = DisputeOutcome.RELEASE_TO_TECHNICIAN
FULL = DisputeOutcome.FULL_REFUND
PARTIAL = DisputeOutcome.PARTIAL_REFUND

# The partial refund asked for in each state: less than what was paid (deposit 1000, or the price 5000).
PARTIAL_AMOUNT = {
    COMPLETED_UNPAID: Decimal(400),
    CONFIRMED_UNPAID: Decimal(400),
    COMPLETED_PAID: Decimal(1000),
    RELEASED_UNSENT: Decimal(1000),
    RELEASED_PAID: Decimal(1000),
}

# (state, outcome) -> what settling moves:
#   postings: {reference: {account: signed amount (debit +, credit -)}}, with <d> the dispute id,
#     <b> the booking id and accounts escrow / payable / receivable (the technician's) / platform / refunds;
#   new_payouts: sorted [(kind, amount, status)];
#   cancelled: how many of the booking's earlier technician payouts become cancelled;
#   refund: the dispute's stored refund (== what the ledger refunds);
#   owed: the recovery recorded for the technician;
#   balance_requested: the balance STK push sent to the customer.
_REFUND_1000_HELD = {"escrow": Decimal(-1000), "refunds": Decimal(1000)}
MATRIX = {
    # The customer owes the full price, as if confirmed: the balance is requested, nothing moves yet.
    (COMPLETED_UNPAID, RELEASE): {"balance_requested": True},
    (CONFIRMED_UNPAID, RELEASE): {"balance_requested": True},
    (COMPLETED_PAID, RELEASE): {
        "postings": {
            "booking:<b>:release": {
                "escrow": Decimal(-5000),
                "payable": Decimal(4250),
                "platform": Decimal(750),
            }
        },
        "new_payouts": [(PayoutKind.TECHNICIAN_PAYOUT, Decimal(4250), PayoutStatus.QUEUED)],
    },
    (RELEASED_UNSENT, RELEASE): {},  # released before: the technician keeps it, the payout goes on
    (RELEASED_PAID, RELEASE): {},
    # Everything paid goes back; the balance is no longer owed.
    (COMPLETED_UNPAID, FULL): {
        "postings": {"dispute:<d>:refund": _REFUND_1000_HELD},
        "new_payouts": [(PayoutKind.REFUND, Decimal(1000), PayoutStatus.QUEUED)],
        "refund": Decimal(1000),
    },
    (CONFIRMED_UNPAID, FULL): {
        "postings": {"dispute:<d>:refund": _REFUND_1000_HELD},
        "new_payouts": [(PayoutKind.REFUND, Decimal(1000), PayoutStatus.QUEUED)],
        "refund": Decimal(1000),
    },
    (COMPLETED_PAID, FULL): {
        "postings": {"dispute:<d>:refund": {"escrow": Decimal(-5000), "refunds": Decimal(5000)}},
        "new_payouts": [(PayoutKind.REFUND, Decimal(5000), PayoutStatus.QUEUED)],
        "refund": Decimal(5000),
    },
    (RELEASED_UNSENT, FULL): {
        "postings": {
            "dispute:<d>:clawback": {
                "refunds": Decimal(5000),
                "platform": Decimal(-750),
                "payable": Decimal(-4250),
            }
        },
        "new_payouts": [(PayoutKind.REFUND, Decimal(5000), PayoutStatus.QUEUED)],
        "cancelled": 1,
        "refund": Decimal(5000),
    },
    (RELEASED_PAID, FULL): {
        "postings": {
            "dispute:<d>:clawback": {
                "refunds": Decimal(5000),
                "platform": Decimal(-750),
                "receivable": Decimal(-4250),
            }
        },
        "new_payouts": [(PayoutKind.REFUND, Decimal(5000), PayoutStatus.QUEUED)],
        "refund": Decimal(5000),
        "owed": Decimal(4250),
    },
    # The refund goes back; what is left of what was paid is released 85/15; the balance is closed.
    (COMPLETED_UNPAID, PARTIAL): {
        "postings": {
            "dispute:<d>:refund": {"escrow": Decimal(-400), "refunds": Decimal(400)},
            "dispute:<d>:release": {
                "escrow": Decimal(-600),
                "payable": Decimal(510),
                "platform": Decimal(90),
            },
        },
        "new_payouts": [
            (PayoutKind.REFUND, Decimal(400), PayoutStatus.QUEUED),
            (PayoutKind.TECHNICIAN_PAYOUT, Decimal(510), PayoutStatus.QUEUED),
        ],
        "refund": Decimal(400),
    },
    (CONFIRMED_UNPAID, PARTIAL): {
        "postings": {
            "dispute:<d>:refund": {"escrow": Decimal(-400), "refunds": Decimal(400)},
            "dispute:<d>:release": {
                "escrow": Decimal(-600),
                "payable": Decimal(510),
                "platform": Decimal(90),
            },
        },
        "new_payouts": [
            (PayoutKind.REFUND, Decimal(400), PayoutStatus.QUEUED),
            (PayoutKind.TECHNICIAN_PAYOUT, Decimal(510), PayoutStatus.QUEUED),
        ],
        "refund": Decimal(400),
    },
    (COMPLETED_PAID, PARTIAL): {
        "postings": {
            "dispute:<d>:refund": _REFUND_1000_HELD,
            "dispute:<d>:release": {
                "escrow": Decimal(-4000),
                "payable": Decimal(3400),
                "platform": Decimal(600),
            },
        },
        "new_payouts": [
            (PayoutKind.REFUND, Decimal(1000), PayoutStatus.QUEUED),
            (PayoutKind.TECHNICIAN_PAYOUT, Decimal(3400), PayoutStatus.QUEUED),
        ],
        "refund": Decimal(1000),
    },
    # After release the refund splits like a release: 150 from the platform, 850 from the technician.
    (RELEASED_UNSENT, PARTIAL): {
        "postings": {
            "dispute:<d>:clawback": {
                "refunds": Decimal(1000),
                "platform": Decimal(-150),
                "payable": Decimal(-850),
            }
        },
        "new_payouts": [
            (PayoutKind.REFUND, Decimal(1000), PayoutStatus.QUEUED),
            (PayoutKind.TECHNICIAN_PAYOUT, Decimal(3400), PayoutStatus.QUEUED),
        ],
        "cancelled": 1,
        "refund": Decimal(1000),
    },
    (RELEASED_PAID, PARTIAL): {
        "postings": {
            "dispute:<d>:clawback": {
                "refunds": Decimal(1000),
                "platform": Decimal(-150),
                "receivable": Decimal(-850),
            }
        },
        "new_payouts": [(PayoutKind.REFUND, Decimal(1000), PayoutStatus.QUEUED)],
        "refund": Decimal(1000),
        "owed": Decimal(850),
    },
}


@pytest.fixture
def sent(task_outbox):
    """The payout send tasks queued, held in the outbox (the send itself is not run; other tasks run)."""
    task_outbox.hold(payout_send_task)
    return task_outbox


def _accounts(booking) -> dict[str, str]:
    technician = booking.technician_id
    return {
        "escrow": f"escrow:booking:{booking.pk}",
        "payable": f"technician_payable:{technician}",
        "receivable": f"technician_receivable:{technician}",
        "platform": "platform_revenue",
        "refunds": "refunds_payable",
    }


def expected_postings(spec: dict, booking, dispute) -> dict[str, dict[str, Decimal]]:
    accounts = _accounts(booking)
    return {
        reference.replace("<d>", str(dispute.pk)).replace("<b>", str(booking.pk)): {
            accounts[name]: amount for name, amount in lines.items()
        }
        for reference, lines in spec.get("postings", {}).items()
    }


def _ledger_refund(dispute) -> Decimal:
    """What the ledger refunded for this dispute (from escrow and taken back after release)."""
    return sum(
        (
            entry.amount
            for entry in LedgerEntry.objects.filter(
                account__code="refunds_payable",
                side=EntrySide.DEBIT,
                transaction__reference__startswith=f"dispute:{dispute.pk}:",
            )
        ),
        Decimal(0),
    )


@pytest.mark.parametrize("outcome", [RELEASE, FULL, PARTIAL])
@pytest.mark.parametrize("state", STATES)
def test_every_outcome_in_every_state(
    mpesa,
    booking,
    customer,
    technician,
    support_agent,
    sent,
    django_capture_on_commit_callbacks,
    state,
    outcome,
):
    dispute = arrange(state, booking, customer)
    spec = MATRIX[(state, outcome)]
    before_txns = set(LedgerTransaction.objects.values_list("pk", flat=True))
    before_payouts = dict(Payout.objects.values_list("pk", "status"))
    before_balances = {name: account_balance(code) for name, code in _accounts(booking).items()}
    sent.queued.clear()
    refund_amount = PARTIAL_AMOUNT[state] if outcome == PARTIAL else None

    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(
            dispute=dispute, actor=support_agent, outcome=outcome, refund_amount=refund_amount
        )

    dispute.refresh_from_db()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESOLVED
    # The ledger: exactly these postings, nothing else.
    moved = postings_since(before_txns)
    assert moved == expected_postings(spec, booking, dispute)
    # Balances follow from the postings.
    accounts = _accounts(booking)
    for name, code in accounts.items():
        delta = sum((lines.get(code, Decimal(0)) for lines in moved.values()), Decimal(0))
        assert account_balance(code) == before_balances[name] + delta, name
    # Payouts: exactly these new ones (their send queued unless held), earlier ones cancelled or untouched.
    new = Payout.objects.exclude(pk__in=before_payouts).order_by("kind", "amount")
    assert sorted((p.kind, p.amount, p.status) for p in new) == sorted(spec.get("new_payouts", []))
    for payout in new:
        expected_recipient = customer if payout.kind == PayoutKind.REFUND else technician
        assert payout.recipient_id == expected_recipient.pk
    assert sorted(sent.ids_of(payout_send_task)) == sorted(
        p.pk for p in new if p.status == PayoutStatus.QUEUED
    )
    after = dict(Payout.objects.filter(pk__in=before_payouts).values_list("pk", "status"))
    cancelled = [pk for pk, status in after.items() if status != before_payouts[pk]]
    assert len(cancelled) == spec.get("cancelled", 0)
    assert all(after[pk] == PayoutStatus.CANCELLED for pk in cancelled)
    # The stored refund is what the ledger refunded.
    assert dispute.refund_amount == spec.get("refund")
    assert _ledger_refund(dispute) == (spec.get("refund") or Decimal(0))
    # A recovery is recorded exactly when the technician had been paid.
    recoveries = list(TechnicianRecovery.objects.all())
    if spec.get("owed"):
        (recovery,) = recoveries
        assert (recovery.technician_id, recovery.booking_id, recovery.dispute_id) == (
            technician.pk,
            booking.pk,
            dispute.pk,
        )
        assert (recovery.amount, recovery.reason) == (spec["owed"], RecoveryReason.DISPUTE_REFUND)
        assert recovery.ledger_reference == f"dispute:{dispute.pk}:clawback"
        assert technician_owed(technician.pk) == spec["owed"]
    else:
        assert recoveries == []
        assert technician_owed(technician.pk) == 0
    # The balance is requested only when the technician won with the balance unpaid.
    balance_pushes = [
        r
        for r in mpesa.requests_to(PATH_STK_PUSH)
        if r.json["Amount"] == int(booking.balance_amount)
    ]
    assert len(balance_pushes) == (1 if spec.get("balance_requested") else 0)
    assert_reconciled()

    # Settling again (a retried task, the sweep) moves nothing more.
    again_txns = set(LedgerTransaction.objects.values_list("pk", flat=True))
    payouts_now = Payout.objects.count()
    dispute_settle(dispute_id=dispute.pk)
    assert postings_since(again_txns) == {}
    assert Payout.objects.count() == payouts_now


@pytest.mark.parametrize("state", [COMPLETED_UNPAID, CONFIRMED_UNPAID])
def test_release_with_the_balance_unpaid_releases_the_full_price_once_the_balance_is_paid(
    mpesa,
    booking,
    customer,
    technician,
    support_agent,
    sent,
    anon_client,
    django_capture_on_commit_callbacks,
    state,
):
    dispute = arrange(state, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=RELEASE)
    balance = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert (balance.amount, balance.status) == (booking.balance_amount, PaymentStatus.PENDING)
    assert escrow(booking) == booking.deposit_amount

    # The customer enters the PIN: the callback credits the balance and releases the price.
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callback(
            anon_client, "callback", mpesa.stk_callback_payload(balance.checkout_request_id)
        )
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    balance.refresh_from_db()
    assert balance.status == PaymentStatus.SUCCEEDED
    assert escrow(booking) == Decimal("0.00")
    assert account_balance(f"technician_payable:{technician.pk}") == booking.technician_share
    assert account_balance("platform_revenue") == booking.platform_fee
    (payout,) = Payout.objects.filter(booking=booking)
    assert (payout.kind, payout.amount, payout.recipient_id) == (
        PayoutKind.TECHNICIAN_PAYOUT,
        booking.technician_share,
        technician.pk,
    )
    assert LedgerTransaction.objects.filter(reference=f"booking:{booking.pk}:release").exists()
    assert Payout.objects.filter(kind=PayoutKind.REFUND).count() == 0
    assert_reconciled()


@pytest.mark.parametrize("outcome", [FULL, PARTIAL])
def test_a_balance_paid_after_a_refund_outcome_goes_back_in_full(
    mpesa, booking, customer, support_agent, sent, django_capture_on_commit_callbacks, outcome
):
    dispute = arrange(CONFIRMED_UNPAID, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=outcome,
            refund_amount=Decimal(400) if outcome == PARTIAL else None,
        )
    before = set(LedgerTransaction.objects.values_list("pk", flat=True))
    late = paid_payment(
        booking, PaymentPurpose.BALANCE
    )  # the balance prompt from confirmation, paid late
    refunds = postings_since(before)
    assert refunds[f"payment:{late.pk}:refund"] == {
        f"escrow:booking:{booking.pk}": Decimal(-4000),
        "refunds_payable": Decimal(4000),
    }
    assert escrow(booking) == Decimal("0.00")
    dispute.refresh_from_db()
    assert _ledger_refund(dispute) == dispute.refund_amount  # the late payment is not the dispute's
    assert_reconciled()


def test_refund_after_payout_is_recovered_from_the_technicians_next_payouts(
    mpesa,
    booking,
    customer,
    technician,
    support_agent,
    service_category,
    sent,
    django_capture_on_commit_callbacks,
    admin_user,
):
    dispute = arrange(RELEASED_PAID, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=FULL)
    recovery = TechnicianRecovery.objects.get()
    assert technician_owed(technician.pk) == Decimal(4250)
    (row,) = technician_recovery_list(open_only=True)
    assert (row.pk, row.outstanding, row.repaid) == (recovery.pk, Decimal(4250), Decimal(0))

    # Staff see it: in the admin and in `manage.py reconcile` (which still exits 0: nothing drifts).
    web = Client()
    web.force_login(admin_user)
    page = web.get("/admin/payments/technicianrecovery/?open=yes")
    assert page.status_code == 200
    assert booking.number in page.content.decode()
    assert "4,250.00" in page.content.decode() or "4250.00" in page.content.decode()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert (
        f"OPEN RECOVERY {recovery.pk}: technician {technician.pk} ({technician.email}) owes "
        f"4250.00 KES of 4250.00 for booking {booking.pk} ({booking.number})"
    ) in out.getvalue()

    # Next job (price 3000: share 2550): all of it is withheld, no payout.
    second = make_booking(customer, technician, category=service_category, price=Decimal(3000))
    _release(second)
    assert Payout.objects.filter(booking=second).count() == 0
    assert technician_owed(technician.pk) == Decimal(1700)
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    withheld = LedgerTransaction.objects.get(reference=f"booking:{second.pk}:release:recovery")
    assert withheld.kind == "recovery"

    # The job after (price 5000: share 4250): 1700 withheld, 2550 paid out.
    third = make_booking(customer, technician, category=service_category, price=Decimal(5000))
    _release(third)
    (payout,) = Payout.objects.filter(booking=third)
    assert (payout.amount, payout.status) == (Decimal(2550), PayoutStatus.QUEUED)
    assert "KES 1700.00 withheld" in payout.status_history.get().note
    assert technician_owed(technician.pk) == Decimal(0)
    assert account_balance(f"technician_receivable:{technician.pk}") == Decimal("0.00")
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal(2550)
    assert list(technician_recovery_list(open_only=True)) == []
    (row,) = technician_recovery_list()
    assert (row.outstanding, row.repaid) == (Decimal(0), Decimal(4250))
    assert_reconciled()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "OPEN RECOVERY" not in out.getvalue()


def _release(booking) -> None:
    paid_payment(booking)
    set_status(booking, BookingStatus.CONFIRMED, completed_at=timezone.now())
    paid_payment(booking, PaymentPurpose.BALANCE)


def test_debts_are_repaid_oldest_first(
    mpesa,
    customer,
    technician,
    support_agent,
    service_category,
    sent,
    django_capture_on_commit_callbacks,
):
    first = make_booking(customer, technician, category=service_category)
    second = make_booking(customer, technician, category=service_category)
    disputes = [arrange(RELEASED_PAID, booking, customer) for booking in (first, second)]
    for dispute, amount in zip(disputes, (Decimal(1000), Decimal(2000)), strict=True):
        with django_capture_on_commit_callbacks(execute=True):
            dispute_resolve(
                dispute=dispute, actor=support_agent, outcome=PARTIAL, refund_amount=amount
            )
    assert technician_owed(technician.pk) == Decimal(850 + 1700)
    third = make_booking(customer, technician, category=service_category, price=Decimal(1200))
    _release(third)  # share 1020, all withheld
    rows = {row.booking_id: row for row in technician_recovery_list()}
    assert (rows[first.pk].outstanding, rows[second.pk].outstanding) == (Decimal(0), Decimal(1530))
    assert [row.booking_id for row in technician_recovery_list(open_only=True)] == [second.pk]
    assert_reconciled()


def test_deferred_share_of_the_disputed_booking_is_taken_back_not_owed(
    mpesa,
    customer,
    technician,
    support_agent,
    service_category,
    sent,
    django_capture_on_commit_callbacks,
):
    """A share below the B2C minimum waits as `deferred`: it was never sent, so a refund takes it back."""
    booking = make_booking(customer, technician, category=service_category, price=Decimal(10))
    dispute = arrange(RELEASED_UNSENT, booking, customer)  # share 8 < 10: deferred
    deferred = Payout.objects.get(booking=booking)
    assert deferred.status == PayoutStatus.DEFERRED
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=FULL)
    deferred.refresh_from_db()
    assert deferred.status == PayoutStatus.CANCELLED
    assert TechnicianRecovery.objects.count() == 0
    assert account_balance(f"technician_payable:{technician.pk}") == Decimal("0.00")
    refund = Payout.objects.get(kind=PayoutKind.REFUND)
    assert refund.amount == Decimal(10)
    assert_reconciled()


def test_payout_in_flight_at_settlement_counts_as_paid(
    mpesa, booking, customer, technician, support_agent, sent, django_capture_on_commit_callbacks
):
    """A payout already handed to M-Pesa (awaiting its result) cannot be stopped: its share is owed."""
    dispute = arrange(RELEASED_UNSENT, booking, customer)
    payout = Payout.objects.get(booking=booking)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.AWAITING_RESULT)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=FULL)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.AWAITING_RESULT
    assert technician_owed(technician.pk) == Decimal(4250)
    assert_reconciled()


def test_a_technician_payout_paid_twice_is_a_recovery(
    mpesa, booking, customer, technician, service_category, sent, anon_client
):
    _release(booking)
    payout = Payout.objects.get(booking=booking)
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.AWAITING_RESULT, attempt=2)
    attempts = [
        PayoutAttempt.objects.create(
            payout=payout,
            number=number,
            originator_conversation_id=payout.originator_id_for(number),
            amount=payout.amount,
            outcome=PayoutAttemptOutcome.AWAITING_RESULT,
        )
        for number in (1, 2)
    ]
    for attempt in attempts:
        payout_attempt_record_result(
            attempt_id=attempt.pk, outcome=Outcome.PAID, result_code="0", result_desc="ok"
        )
    payout.refresh_from_db()
    assert (payout.status, payout.overpaid_amount) == (PayoutStatus.PAID, Decimal(4250))
    recovery = TechnicianRecovery.objects.get()
    assert (recovery.reason, recovery.amount, recovery.payout_id) == (
        RecoveryReason.PAYOUT_OVERPAID,
        Decimal(4250),
        payout.pk,
    )
    assert account_balance("mpesa_b2c_disbursed") == Decimal(8500)  # what really went out
    assert technician_owed(technician.pk) == Decimal(4250)
    # A redelivered result records nothing more.
    payout_attempt_record_result(
        attempt_id=attempts[0].pk, outcome=Outcome.PAID, result_code="0", result_desc="ok"
    )
    assert TechnicianRecovery.objects.count() == 1
    assert_reconciled()

    second = make_booking(customer, technician, category=service_category, price=Decimal(6000))
    _release(second)  # share 5100: 4250 withheld, 850 paid out
    (next_payout,) = Payout.objects.filter(booking=second)
    assert next_payout.amount == Decimal(850)
    assert technician_owed(technician.pk) == Decimal(0)
    assert_reconciled()


@pytest.mark.parametrize(
    ("state", "step", "result"),
    [
        (COMPLETED_UNPAID, OwedStep.REQUEST_BALANCE, "pending"),
        (COMPLETED_PAID, OwedStep.RELEASE, "True"),
    ],
)
def test_the_sweep_completes_a_release_whose_message_was_lost(
    mpesa, booking, customer, technician, support_agent, sent, state, step, result
):
    dispute = arrange(state, booking, customer)
    dispute_resolve(
        dispute=dispute, actor=support_agent, outcome=RELEASE
    )  # on-commit work never runs
    swept = payments_sweep(booking_ids=[booking.pk], grace=timedelta(0))
    assert swept.completed == [(booking.pk, step, result)]
    assert payments_sweep(booking_ids=[booking.pk], grace=timedelta(0)).completed == []
    if step == OwedStep.RELEASE:
        assert account_balance(f"technician_payable:{technician.pk}") == booking.technician_share
    else:
        (push,) = mpesa.requests_to(PATH_STK_PUSH)
        assert push.json["Amount"] == int(booking.balance_amount)
    assert_reconciled()


def test_the_technician_sees_what_they_owe(
    mpesa,
    booking,
    customer,
    technician,
    support_agent,
    sent,
    technician_client,
    django_capture_on_commit_callbacks,
):
    dispute = arrange(RELEASED_PAID, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(
            dispute=dispute, actor=support_agent, outcome=PARTIAL, refund_amount=Decimal(1000)
        )
    totals = technician_client.get("/api/v1/payments/payouts/my-payouts").json()["totals"]
    assert (totals["totalOwed"], totals["payableBalance"]) == ("850.00", "0.00")


def _money(client, booking) -> dict:
    detail = client.get(f"/api/v1/bookings/{booking.pk}").json()["money"]
    (listed,) = [
        row["money"]
        for row in client.get("/api/v1/bookings").json()["results"]
        if row["id"] == booking.pk
    ]
    assert listed == detail
    return detail


def test_a_release_with_the_balance_unpaid_is_collected_like_a_confirmed_balance(
    mpesa,
    booking,
    customer,
    support_agent,
    sent,
    customer_client,
    anon_client,
    django_capture_on_commit_callbacks,
):
    """The booking shows the balance owed, a failed prompt is followed by reminders with new prompts, and
    a week after the resolution the case goes to support (payments/services/balance.py)."""
    dispute = arrange(COMPLETED_UNPAID, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(dispute=dispute, actor=support_agent, outcome=RELEASE)
    dispute.refresh_from_db()
    first = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert first.idempotency_key == f"auto-balance-{booking.pk}-1"
    money = _money(customer_client, booking)
    assert (money["balance"]["status"], money["amountDueNow"], money["nextAction"]) == (
        "pending",
        "4000.00",
        "wait_for_prompt",
    )

    # The customer cancels the prompt: the app offers to pay.
    cancelled = mpesa.stk_callback_payload(first.checkout_request_id, "1032")
    assert post_callback(anon_client, "callback", cancelled).status_code == 200
    money = _money(customer_client, booking)
    assert (money["balance"]["status"], money["nextAction"]) == ("due", "pay_balance")

    # A day later the reminder sends the second prompt; a week after the resolution, support takes over.
    with django_capture_on_commit_callbacks(execute=True):
        day_one = balance_collection_run(now=dispute.resolved_at + timedelta(days=1, minutes=1))
    assert day_one.steps == [(booking.pk, "reminded:pending")]
    assert Payment.objects.filter(
        booking=booking, idempotency_key=f"auto-balance-{booking.pk}-2"
    ).exists()
    with django_capture_on_commit_callbacks(execute=True):
        week = balance_collection_run(now=dispute.resolved_at + BALANCE_OVERDUE_AFTER)
    assert week.steps == [(booking.pk, "handed_to_support")]
    assert SupportTicket.objects.filter(related_booking=booking).count() == 1
    assert _money(customer_client, booking)["balanceOverdue"] is True


@pytest.mark.parametrize("outcome", [FULL, PARTIAL])
def test_after_a_refund_outcome_the_balance_is_not_collected(
    mpesa,
    booking,
    customer,
    support_agent,
    sent,
    customer_client,
    django_capture_on_commit_callbacks,
    outcome,
):
    dispute = arrange(CONFIRMED_UNPAID, booking, customer)
    with django_capture_on_commit_callbacks(execute=True):
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=outcome,
            refund_amount=Decimal(400) if outcome == PARTIAL else None,
        )
    dispute.refresh_from_db()
    money = _money(customer_client, booking)
    assert (money["balance"]["status"], money["amountDueNow"], money["nextAction"]) == (
        "not_collected",
        "0.00",
        "none",
    )
    assert balance_collection_run(now=dispute.resolved_at + timedelta(days=2)).steps == []
