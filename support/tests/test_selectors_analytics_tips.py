"""Tips in /analytics/revenue: their own lines, never customer payments or platform fees, and they reconcile
with the ledger (payments/services/tips.py)."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from payments.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.selectors.balances import account_balance, account_balances
from payments.services.common import lock_booking, lock_payment
from payments.services.payments import payment_mark_succeeded
from payments.services.payouts import payout_send
from payments.tests.fakes.pytest_plugin import *  # noqa: F403  (fake_daraja)
from payments.tests.helpers import (
    CALLBACK_TOKEN,
    deliver_b2c_result_twice,
    make_booking,
    paid_payment,
    set_status,
)
from support.analytics import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _payments_settings(settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.MPESA_CALLBACK_BASE_URL = "https://api.dumuwaks.test"
    settings.MPESA_ALLOWED_IPS = []
    settings.PAYOUT_REVIEW_THRESHOLD_KES = 50_000


def _tip(booking, amount: str, method: str = PaymentMethod.MPESA) -> Payment:
    payment = Payment.objects.create(
        booking=booking,
        payer=booking.customer,
        purpose=PaymentPurpose.TIP,
        method=method,
        amount=Decimal(amount),
        phone=booking.customer.phone_number,
        status=PaymentStatus.PENDING,
    )
    with transaction.atomic():
        payment_mark_succeeded(booking=lock_booking(booking.pk), payment=lock_payment(payment.pk))
    return payment


def test_tips_have_their_own_lines_and_reconcile(fake_daraja, customer, technician):
    done = make_booking(customer, technician)
    paid_payment(done)
    set_status(done, "completed", completed_at=timezone.now())
    _tip(done, "150")  # deferred: goes with the next payout
    at_once = _tip(done, "500")  # paid at once
    tip_payout = Payout.objects.get(kind=PayoutKind.TIP, source_payment=at_once)
    assert payout_send(payout_id=tip_payout.pk) == "accepted"
    tip_payout.refresh_from_db()
    deliver_b2c_result_twice(fake_daraja, tip_payout)
    # The technician's next job releases a payout that carries the small tip.
    other = make_booking(customer, technician)
    paid_payment(other)
    set_status(other, "confirmed", completed_at=timezone.now(), confirmed_at=timezone.now())
    paid_payment(other, purpose=PaymentPurpose.BALANCE)

    lines = {
        k: Decimal(str(v)) for k, v in selectors.revenue_analytics(period="month")["totals"].items()
    }
    assert (
        lines["tips_received"],
        lines["tips_paid_out"],
        lines["tips_carried"],
        lines["tips_owed"],
    ) == (Decimal("650.00"), Decimal("500.00"), Decimal("150.00"), Decimal("0.00"))
    # Not customer payments into escrow, not the platform's, not job earnings.
    deposits_and_balance = done.deposit_amount + other.price
    assert lines["customer_payments"] == deposits_and_balance
    assert lines["platform_fees"] == account_balance("platform_revenue") == other.platform_fee
    assert lines["technician_earnings"] == other.technician_share
    # The lines reconcile with each other and with the ledger.
    assert lines["tips_received"] == (
        lines["tips_paid_out"] + lines["tips_carried"] + lines["tips_owed"]
    )
    assert lines["technician_earnings"] + lines["tips_carried"] == (
        lines["technician_payouts"] + lines["recoveries_withheld"] + lines["technician_owed"]
    )
    assert lines["tips_owed"] == sum(account_balances("tips_payable:").values(), Decimal(0))
    assert -account_balance("customer_clearing") == (
        lines["customer_payments"] + lines["tips_received"]
    )


def test_technician_analytics_show_tips_apart_from_earnings(
    fake_daraja, customer, technician, other_technician, admin_client_api
):
    done = make_booking(customer, technician)
    paid_payment(done)
    set_status(done, "completed", completed_at=timezone.now())
    _tip(done, "150")  # deferred, then carried by the next payout
    _tip(done, "500")  # paid at once
    card = _tip(done, "200", method=PaymentMethod.CARD)
    other = make_booking(customer, technician)
    paid_payment(other)
    set_status(other, "confirmed", completed_at=timezone.now(), confirmed_at=timezone.now())
    paid_payment(other, purpose=PaymentPurpose.BALANCE)
    carrier = Payout.objects.get(kind=PayoutKind.TECHNICIAN_PAYOUT, booking=other)
    assert carrier.amount == other.technician_share + Decimal("350.00")  # both small tips carried
    assert Payout.objects.get(source_payment=card).status == PayoutStatus.CARRIED

    row = selectors.technician_performance().get(pk=technician.pk)
    assert (row.tips, row.tips_total, row.currency) == (3, Decimal("850.00"), "KES")
    # Carried tips moved into technician_payable are still tips, not earnings.
    assert row.earnings == row.earnings_jobs == other.technician_share
    assert row.owed == carrier.amount

    body = admin_client_api.get("/api/v1/analytics/technicians?ordering=-tipsTotal").json()
    first, second = body["results"][:2]
    assert (first["technicianId"], first["tips"], first["tipsTotal"], first["currency"]) == (
        technician.pk,
        3,
        "850.00",
        "KES",
    )
    assert first["earnings"] == str(other.technician_share)
    assert (second["technicianId"], second["tips"], second["tipsTotal"]) == (
        other_technician.pk,
        0,
        "0.00",
    )
