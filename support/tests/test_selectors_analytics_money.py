"""Revenue lines and technician earnings against the ledger: a realistic month of money posted through
the real services.

Bookings (price → deposit 20 %, platform fee 15 %):
  A  technician, 5000: deposit + balance, released on confirmation (4250 / 750), payout sent on 1 Dec
  B  technician, 3000: customer cancels 3 h before the start → fee 300 (255 / 45), refund 300 sent
  C  other_technician, 4000: deposit 800 held, dispute → refund 200, release 600 (510 / 90)
  D  technician, 2000: deposit paid twice → the second (400) refunded and sent; 400 still in escrow
  F  other_technician, 1000: released on confirmation (850 / 150), payout held for review, then a dispute
     refunds 300 from released money (clawback: 255 technician, 45 platform; payout 850 → 595)
  plus 150 of M-Pesa money matching no payment, refunded by staff.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import BookingStatus, DisputeOutcome
from bookings.services import booking_cancel, booking_transition, dispute_open, dispute_resolve
from payments import rules as payments_rules
from payments.daraja import payloads
from payments.models import (
    LedgerTransactionKind,
    PaymentPurpose,
    Payout,
    PayoutKind,
    PayoutStatus,
    SuspenseItem,
)
from payments.selectors.balances import account_balance, account_balances
from payments.services.escrow import booking_settle_cancellation, dispute_settle
from payments.services.ledger import REFUNDS_PAYABLE, escrow_code, ledger_post, transfer
from payments.services.payouts import payout_send
from payments.services.suspense import suspense_item_refund
from payments.tests.fakes.pytest_plugin import *  # noqa: F403  (fake_daraja)
from payments.tests.helpers import (
    CALLBACK_TOKEN,
    assert_reconciled,
    make_booking,
    paid_payment,
    post_callback,
    set_status,
)
from support.analytics import selectors
from support.analytics.definitions import REVENUE_LINES

pytestmark = pytest.mark.django_db

NBO = ZoneInfo("Africa/Nairobi")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NBO)


@pytest.fixture(autouse=True)
def _payments_settings(settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.MPESA_CALLBACK_BASE_URL = "https://api.dumuwaks.test"
    settings.MPESA_ALLOWED_IPS = []


def _send_and_pay(fake_daraja, payout: Payout) -> None:
    """B2C to the fake Daraja, then Safaricom's success result through the callback endpoint."""
    assert payout_send(payout_id=payout.pk) == "accepted"
    payout.refresh_from_db()
    result = fake_daraja.b2c_result_payload(payout.originator_conversation_id)
    assert post_callback(APIClient(), "b2c-callback", result).status_code == 200
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID


def _payout(booking, kind, status=None) -> Payout:
    qs = Payout.objects.filter(booking=booking, kind=kind)
    return qs.get(status=status) if status else qs.get()


@pytest.fixture
def month(
    fake_daraja,
    customer,
    other_customer,
    technician,
    other_technician,
    support_agent,
    monkeypatch,
):
    with time_machine.travel(_at("2026-11-02 10:00"), tick=False):
        a, b, c, d, f = (
            make_booking(
                booking_customer,
                booking_technician,
                price=Decimal(price),
                scheduled_start=_at("2026-12-14 08:00") + timedelta(hours=2 * slot),
                scheduled_end=_at("2026-12-14 09:00") + timedelta(hours=2 * slot),
            )
            for slot, (booking_customer, booking_technician, price) in enumerate(
                [
                    (customer, technician, "5000"),
                    (customer, technician, "3000"),
                    (other_customer, other_technician, "4000"),
                    (other_customer, technician, "2000"),
                    (customer, other_technician, "1000"),
                ]
            )
        )
        for booking in (a, b, c, d, f):
            paid_payment(booking)

    with time_machine.travel(_at("2026-11-05 09:00"), tick=False):
        start = timezone.now() + timedelta(hours=3, minutes=7)  # 2–6 h before: 50 % of the deposit
        set_status(
            b,
            BookingStatus.ACCEPTED,
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=1),
        )
        booking_cancel(booking=b, actor=customer, reason="Found someone closer")
        assert booking_settle_cancellation(booking_id=b.pk) is True
    with time_machine.travel(_at("2026-11-06 09:00"), tick=False):
        _send_and_pay(fake_daraja, _payout(b, PayoutKind.REFUND))

    with time_machine.travel(_at("2026-11-10 09:00"), tick=False):
        for booking, payer in ((a, customer), (f, customer)):
            set_status(booking, BookingStatus.COMPLETED, completed_at=timezone.now())
            booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=payer)
            threshold = 500 if booking is f else 50_000
            monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", threshold)
            paid_payment(booking, PaymentPurpose.BALANCE)  # escrow full: released
        assert _payout(f, PayoutKind.TECHNICIAN_PAYOUT).status == PayoutStatus.PENDING_REVIEW
        monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 50_000)

    with time_machine.travel(_at("2026-11-20 10:00"), tick=False):
        set_status(c, BookingStatus.COMPLETED, completed_at=timezone.now())
        dispute = dispute_open(booking=c, opened_by=other_customer, reason="Half the wiring left")
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=DisputeOutcome.PARTIAL_REFUND,
            refund_amount="200",
        )
        assert dispute_settle(dispute_id=dispute.pk) == DisputeOutcome.PARTIAL_REFUND
        paid_payment(d)  # the same deposit a second time: refunded straight away
    with time_machine.travel(_at("2026-11-21 09:00"), tick=False):
        _send_and_pay(fake_daraja, _payout(d, PayoutKind.REFUND))

    with time_machine.travel(_at("2026-11-16 09:00"), tick=False):  # within 7 days of completion
        f.refresh_from_db()
        dispute = dispute_open(booking=f, opened_by=customer, reason="Tap drips again")
        dispute_resolve(
            dispute=dispute,
            actor=support_agent,
            outcome=DisputeOutcome.PARTIAL_REFUND,
            refund_amount="300",
        )
        assert dispute_settle(dispute_id=dispute.pk) == DisputeOutcome.PARTIAL_REFUND
        assert _payout(f, PayoutKind.TECHNICIAN_PAYOUT, PayoutStatus.CANCELLED).amount == 850
        assert _payout(f, PayoutKind.TECHNICIAN_PAYOUT, PayoutStatus.QUEUED).amount == 595

    with time_machine.travel(_at("2026-11-28 09:00"), tick=False):
        callback = payloads.stk_callback(
            merchant_id="29115-34620561-1",
            checkout_id="ws_CO_matches_nothing",
            result_code=0,
            amount=150,
            receipt="TKS1ABC2DE",
            phone_msisdn=customer.phone_number.lstrip("+"),
        )
        assert post_callback(APIClient(), "callback", callback).status_code == 200
        item = SuspenseItem.objects.get()
        suspense_item_refund(item_id=item.pk, actor=support_agent)

    with time_machine.travel(_at("2026-12-01 08:00"), tick=False):
        _send_and_pay(fake_daraja, _payout(a, PayoutKind.TECHNICIAN_PAYOUT))
    assert_reconciled()
    return {"a": a, "b": b, "c": c, "d": d, "f": f}


EXPECTED_TOTALS = {
    "customer_payments": "8200.00",  # A 5000, B 600, C 800, D 400 + 400, F 1000
    "deposits_collected": "3400.00",
    "balances_collected": "4800.00",
    "released_on_completion": "6000.00",  # A 5000, F 1000
    "cancellation_fees": "300.00",
    "dispute_releases": "600.00",
    "cancellation_refunds": "300.00",
    "dispute_refunds": "200.00",
    "payment_refunds": "400.00",
    "escrow_held": "400.00",  # D's first deposit
    "dispute_clawbacks": "300.00",
    "dispute_recoveries": "0.00",  # F's payout had not been sent: nothing owed back
    "payout_overpayments": "0.00",
    "recoveries_withheld": "0.00",
    "technician_debt": "0.00",
    "platform_fees": "990.00",  # 750 + 150 + 45 + 90 − 45
    "technician_earnings": "5610.00",  # 4250 + 850 + 255 + 510 − 255
    "technician_payouts": "4250.00",
    "technician_owed": "1360.00",  # B 255, C 510, F 595
    "suspense_refunds": "150.00",
    "refunds_sent": "700.00",  # B 300, D 400
    "refunds_owed": "650.00",  # C 200, F 300, suspense 150
    "gross_booking_value": "15000.00",
    # No tips this month (test_selectors_analytics_tips.py has them).
    "tips_received": "0.00",
    "tips_paid_out": "0.00",
    "tips_carried": "0.00",
    "tips_owed": "0.00",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _decimals(body: dict) -> dict:
    return {name: Decimal(body[_camel(name)]) for name in REVENUE_LINES}


def test_every_line_has_its_exact_amount(month, admin_client_api):
    body = admin_client_api.get("/api/v1/analytics/revenue?period=month").json()
    assert body["totals"] == {_camel(k): v for k, v in EXPECTED_TOTALS.items()}
    november, december = body["periods"]
    assert (november["periodStart"], december["periodStart"]) == ("2026-11-01", "2026-12-01")
    assert {k: v for k, v in december.items() if v != "0.00"} == {
        "periodStart": "2026-12-01",
        "technicianPayouts": "4250.00",
        "technicianOwed": "-4250.00",
    }
    assert november["technicianOwed"] == "5610.00"
    assert november["technicianPayouts"] == "0.00"


def test_lines_equal_the_ledger_movement_of_their_accounts_and_reconcile(month):
    lines = {
        k: Decimal(str(v)) for k, v in selectors.revenue_analytics(period="month")["totals"].items()
    }

    def total(prefix: str) -> Decimal:
        return sum(account_balances(prefix).values(), Decimal("0.00"))

    # Each line is the movement of its accounts (no `from`: what they hold now).
    assert lines["escrow_held"] == total("escrow:booking:")
    assert lines["platform_fees"] == account_balance("platform_revenue")
    assert lines["technician_owed"] == total("technician_payable:")
    assert lines["refunds_owed"] == account_balance("refunds_payable")
    assert lines["technician_payouts"] + lines["refunds_sent"] == account_balance(
        "mpesa_b2c_disbursed"
    ) + account_balance("card_refunds_disbursed")
    # Customers' money in from outside = what reached escrow + what sits in or left suspense.
    assert -account_balance("customer_clearing") == (
        lines["customer_payments"] + account_balance("mpesa_suspense") + lines["suspense_refunds"]
    )
    for account, held in account_balances("technician_payable:").items():
        user_id = int(account.rsplit(":", 1)[1])
        assert held == Decimal(str(selectors.technician_performance().get(pk=user_id).owed)), (
            account
        )

    # Paid in = released + refunded + still held.
    released = (
        lines["released_on_completion"] + lines["cancellation_fees"] + lines["dispute_releases"]
    )
    refunded = lines["cancellation_refunds"] + lines["dispute_refunds"] + lines["payment_refunds"]
    assert lines["customer_payments"] == released + refunded + lines["escrow_held"]
    assert lines["customer_payments"] == lines["deposits_collected"] + lines["balances_collected"]
    # Released money went to the platform and technicians, less what disputes took back.
    assert released - lines["dispute_clawbacks"] == (
        lines["platform_fees"] + lines["technician_earnings"]
    )
    assert lines["technician_earnings"] == lines["technician_payouts"] + lines["technician_owed"]
    assert refunded + lines["dispute_clawbacks"] + lines["suspense_refunds"] == (
        lines["refunds_sent"] + lines["refunds_owed"]
    )


def test_periods_add_up_to_the_totals_and_ranges_cut_by_posting_time(month, admin_client_api):
    weekly = admin_client_api.get("/api/v1/analytics/revenue?period=week").json()
    for name in REVENUE_LINES:
        key = _camel(name)
        assert sum(Decimal(p[key]) for p in weekly["periods"]) == Decimal(weekly["totals"][key])
    # Monday-based Nairobi weeks with a posting: 2, 9, 16, 23, 30 Nov.
    assert [p["periodStart"] for p in weekly["periods"]] == [
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
        "2026-11-30",
    ]
    # From 10 Nov on: the releases and everything after, but not the deposits of 2 Nov or B's cancellation.
    later = _decimals(
        admin_client_api.get("/api/v1/analytics/revenue?from=2026-11-10&period=month").json()[
            "totals"
        ]
    )
    assert later["customer_payments"] == Decimal("5200.00")  # balances 4800 + D's second deposit
    assert later["cancellation_fees"] == Decimal("0.00")
    assert later["escrow_held"] == Decimal("5200.00") - Decimal("6000.00") - Decimal(
        "600.00"
    ) - Decimal("200.00") - Decimal("400.00")
    one_day = _decimals(
        admin_client_api.get("/api/v1/analytics/revenue?from=2026-11-05&to=2026-11-05").json()[
            "totals"
        ]
    )
    assert {k: v for k, v in one_day.items() if v} == {
        "cancellation_fees": Decimal("300.00"),
        "cancellation_refunds": Decimal("300.00"),
        "escrow_held": Decimal("-600.00"),
        "platform_fees": Decimal("45.00"),
        "technician_earnings": Decimal("255.00"),
        "technician_owed": Decimal("255.00"),
        "refunds_owed": Decimal("300.00"),
    }


def test_support_and_admin_see_the_same_lines(month, admin_client_api, support_client):
    url = "/api/v1/analytics/revenue?period=month"
    assert support_client.get(url).json() == admin_client_api.get(url).json()


def test_revenue_runs_the_same_queries_whatever_the_number_of_periods(month, admin_client_api):
    counts, sizes = [], []
    for period in ("month", "week", "day"):
        with CaptureQueriesContext(connection) as queries:
            body = admin_client_api.get(f"/api/v1/analytics/revenue?period={period}").json()
        counts.append(len(queries.captured_queries))
        sizes.append(len(body["periods"]))
    assert sizes == [2, 5, 9]
    assert counts[0] == counts[1] == counts[2]


EARNINGS = (
    "earningsJobs",
    "earningsCancellationFees",
    "earningsDisputeReleases",
    "earningsClawedBack",
    "earnings",
    "paidOut",
    "owed",
)


def _earnings(body, user) -> dict:
    (row,) = [r for r in body["results"] if r["technicianId"] == user.pk]
    return {k: row[k] for k in EARNINGS}


def test_technician_earnings_include_cancellation_fees_and_disputes(
    month, technician, other_technician, admin_client_api
):
    body = admin_client_api.get("/api/v1/analytics/technicians?ordering=-earnings").json()
    assert [r["technicianId"] for r in body["results"]] == [technician.pk, other_technician.pk]
    assert _earnings(body, technician) == {
        "earningsJobs": "4250.00",  # A
        "earningsCancellationFees": "255.00",  # B
        "earningsDisputeReleases": "0.00",
        "earningsClawedBack": "0.00",
        "earnings": "4505.00",
        "paidOut": "4250.00",
        "owed": "255.00",
    }
    assert _earnings(body, other_technician) == {
        "earningsJobs": "850.00",  # F
        "earningsDisputeReleases": "510.00",  # C
        "earningsCancellationFees": "0.00",
        "earningsClawedBack": "255.00",  # F's dispute
        "earnings": "1105.00",
        "paidOut": "0.00",
        "owed": "1105.00",
    }
    # Up to 30 November: A's payout was not sent yet, so all of it was still owed.
    november = admin_client_api.get("/api/v1/analytics/technicians?to=2026-11-30").json()
    assert {k: _earnings(november, technician)[k] for k in ("earnings", "paidOut", "owed")} == {
        "earnings": "4505.00",
        "paidOut": "0.00",
        "owed": "4505.00",
    }
    # December alone: the payout, nothing earned; owed is the balance at the end of the range.
    december = admin_client_api.get("/api/v1/analytics/technicians?from=2026-12-01").json()
    assert {k: _earnings(december, technician)[k] for k in ("earnings", "paidOut", "owed")} == {
        "earnings": "0.00",
        "paidOut": "4250.00",
        "owed": "255.00",
    }


def test_a_posting_no_line_knows_is_logged_and_still_counts_in_the_net_lines(
    customer, technician, caplog
):
    booking = make_booking(customer, technician)
    paid_payment(booking)
    ledger_post(
        kind=LedgerTransactionKind.REFUND,
        reference=f"booking:{booking.pk}:goodwill",
        lines=transfer(Decimal("100"), source=escrow_code(booking.pk), to=REFUNDS_PAYABLE),
        booking_id=booking.pk,
    )
    with caplog.at_level("WARNING", logger="support.analytics.selectors"):
        totals = selectors.revenue_analytics(period="month")["totals"]
    assert "no revenue line knows" in caplog.text
    assert totals["escrow_held"] == account_balance(escrow_code(booking.pk)) == Decimal("900.00")
    assert totals["refunds_owed"] == Decimal("100.00")
    assert totals["customer_payments"] == Decimal("1000.00")
    assert totals["cancellation_refunds"] == totals["payment_refunds"] == Decimal("0.00")


def test_technician_recoveries_have_their_lines_and_the_lines_still_reconcile(
    fake_daraja, customer, technician, support_agent, service_category, admin_client_api, caplog
):
    """A refund after the technician was paid is owed back by the technician and withheld from their next
    payout (payments/services/recoveries.py): analytics name both movements and nothing is left unexplained.

    X 5000: released (4250 / 750), payout paid, then a full refund: 750 from the platform, 4250 owed back.
    Y 3000: released (2550 / 450), all 2550 withheld against the 4250: no payout; 1700 still owed.
    """
    x = make_booking(customer, technician, category=service_category)
    y = make_booking(customer, technician, category=service_category, price=Decimal(3000))
    for booking in (x, y):
        paid_payment(booking)
    set_status(x, BookingStatus.CONFIRMED, completed_at=timezone.now())
    paid_payment(x, PaymentPurpose.BALANCE)
    _send_and_pay(fake_daraja, _payout(x, PayoutKind.TECHNICIAN_PAYOUT))
    dispute = dispute_open(booking=x, opened_by=customer, reason="Never fixed")
    dispute_resolve(dispute=dispute, actor=support_agent, outcome=DisputeOutcome.FULL_REFUND)
    assert dispute_settle(dispute_id=dispute.pk) == DisputeOutcome.FULL_REFUND
    set_status(y, BookingStatus.CONFIRMED, completed_at=timezone.now())
    paid_payment(y, PaymentPurpose.BALANCE)
    assert not Payout.objects.filter(booking=y).exists()
    assert_reconciled()

    with caplog.at_level("WARNING", logger="support.analytics.selectors"):
        lines = {
            k: Decimal(str(v))
            for k, v in selectors.revenue_analytics(period="month")["totals"].items()
        }
    assert "no revenue line knows" not in caplog.text
    assert {
        name: lines[name]
        for name in (
            "dispute_clawbacks",
            "dispute_recoveries",
            "payout_overpayments",
            "recoveries_withheld",
            "technician_debt",
            "technician_earnings",
            "technician_payouts",
            "technician_owed",
            "platform_fees",
        )
    } == {
        "dispute_clawbacks": Decimal(5000),
        "dispute_recoveries": Decimal(4250),
        "payout_overpayments": Decimal(0),
        "recoveries_withheld": Decimal(2550),
        "technician_debt": Decimal(1700),
        "technician_earnings": Decimal(6800),
        "technician_payouts": Decimal(4250),
        "technician_owed": Decimal(0),
        "platform_fees": Decimal(450),
    }
    released = (
        lines["released_on_completion"] + lines["cancellation_fees"] + lines["dispute_releases"]
    )
    assert released - (lines["dispute_clawbacks"] - lines["dispute_recoveries"]) == (
        lines["platform_fees"] + lines["technician_earnings"]
    )
    assert lines["technician_earnings"] == (
        lines["technician_payouts"] + lines["recoveries_withheld"] + lines["technician_owed"]
    )
    assert lines["technician_debt"] == (
        lines["dispute_recoveries"] + lines["payout_overpayments"] - lines["recoveries_withheld"]
    )
    assert lines["technician_debt"] == -sum(
        account_balances("technician_receivable:").values(), Decimal(0)
    )

    body = admin_client_api.get("/api/v1/analytics/technicians").json()
    (row,) = [r for r in body["results"] if r["technicianId"] == technician.pk]
    assert {k: row[k] for k in ("earnings", "paidOut", "withheld", "owed", "owesBack")} == {
        "earnings": "6800.00",
        "paidOut": "4250.00",
        "withheld": "2550.00",
        "owed": "0.00",
        "owesBack": "1700.00",
    }
