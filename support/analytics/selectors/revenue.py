"""Money lines (definitions.REVENUE_LINES) per period, from the payments ledger and the bookings paid for."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from django.db.models import F, Sum

from bookings.models import Booking
from payments.models import EntrySide, LedgerEntry, PaymentPurpose
from payments.services.ledger import PLATFORM_REVENUE, REFUNDS_PAYABLE
from support.analytics.definitions import REVENUE_LINES
from support.analytics.selectors.common import (
    NAIROBI,
    PERIOD_TRUNCS,
    account_group,
    in_range,
    ledger_event,
    local_date,
    money_sum,
)

logger = logging.getLogger(__name__)

REVENUE_METRICS = tuple(REVENUE_LINES)
# Money out of escrow, by event (each a credit to `escrow:booking:*`).
_ESCROW_OUT = {
    "release": "released_on_completion",
    "cancel_fee": "cancellation_fees",
    "dispute_release": "dispute_releases",
    "cancel_refund": "cancellation_refunds",
    "dispute_refund": "dispute_refunds",
    "payment_refund": "payment_refunds",
}
# Account groups whose every posting belongs to an event line (others, like suspense, have net lines only).
_EVENT_LINED_GROUPS = (
    "escrow",
    "technician_payable",
    "technician_receivable",
    REFUNDS_PAYABLE,
    "tips_payable",
)
_COLLECTED = {
    PaymentPurpose.DEPOSIT: "deposits_collected",
    PaymentPurpose.BALANCE: "balances_collected",
}


def _lines_of(*, group: str, event: str, side: str, purpose: str | None, amount: Decimal):
    """(line, value) pairs one group of ledger entries contributes to (definitions.REVENUE_LINES)."""
    signed = amount if side == EntrySide.DEBIT else -amount
    if group == "escrow":
        yield "escrow_held", signed
        if event == "payment_received":
            yield "customer_payments", signed
            if purpose in _COLLECTED:
                yield _COLLECTED[purpose], signed
        elif event in _ESCROW_OUT:
            yield _ESCROW_OUT[event], -signed
    elif group == PLATFORM_REVENUE:
        yield "platform_fees", signed
    elif group == "technician_payable":
        yield "technician_owed", signed
        if event == "payout_paid":
            yield "technician_payouts", -signed
        elif event == "recovery_withheld":
            yield "recoveries_withheld", -signed
        elif event != "tip_carried":  # a tip is not earnings (its own lines below)
            yield "technician_earnings", signed
    elif group == "technician_receivable":  # negative while owed: a credit is a new debt
        yield "technician_debt", -signed
        if event == "dispute_clawback":
            yield "dispute_recoveries", -signed
        elif event == "payout_overpaid":
            yield "payout_overpayments", -signed
    elif group == "tips_payable":  # tips: the technician's, never platform revenue
        yield "tips_owed", signed
        if event == "payment_received":
            yield "tips_received", signed
        elif event == "payout_paid":
            yield "tips_paid_out", -signed
        elif event == "tip_carried":
            yield "tips_carried", -signed
    elif group == REFUNDS_PAYABLE:
        yield "refunds_owed", signed
        if event == "payout_paid":
            yield "refunds_sent", -signed
        elif event == "dispute_clawback":
            yield "dispute_clawbacks", signed
        elif event == "suspense_refund":
            yield "suspense_refunds", signed


def _ledger_series(*, period: str, date_from, date_to) -> dict[date, dict[str, Decimal]]:
    """{period start: {line: amount}} from one aggregate over the ledger entries posted in the range."""
    trunc = PERIOD_TRUNCS[period]
    rows = (
        in_range(LedgerEntry.objects.order_by(), "transaction__created_at", date_from, date_to)
        .annotate(
            bucket=trunc("transaction__created_at", tzinfo=NAIROBI),
            group=account_group(),
            event=ledger_event(),
            purpose=F("transaction__payment__purpose"),
        )
        .values("bucket", "group", "event", "side", "purpose")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    series: dict[date, dict[str, Decimal]] = {}
    for row in rows:
        if row["event"] == "other" and row["group"] in _EVENT_LINED_GROUPS:
            logger.warning(
                "analytics: %s %s of %s posted under a reference no revenue line knows; "
                "the lines will not reconcile until LEDGER_EVENTS has it",
                row["side"],
                row["total"],
                row["group"],
            )
        lines = series.setdefault(local_date(row["bucket"]), {})
        for line, value in _lines_of(
            group=row["group"],
            event=row["event"],
            side=row["side"],
            purpose=row["purpose"],
            amount=row["total"],
        ):
            lines[line] = lines.get(line, Decimal("0.00")) + value
    return series


def _gross_booking_value(*, period: str, date_from, date_to) -> dict[date, Decimal]:
    trunc = PERIOD_TRUNCS[period]
    rows = (
        in_range(
            Booking.objects.filter(deposit_paid_at__isnull=False).order_by(),
            "deposit_paid_at",
            date_from,
            date_to,
        )
        .annotate(bucket=trunc("deposit_paid_at", tzinfo=NAIROBI))
        .values("bucket")
        .annotate(total=money_sum("price"))
        .order_by()
    )
    return {local_date(row["bucket"]): row["total"] for row in rows}


def revenue_analytics(
    *, period: str = "day", date_from: date | None = None, date_to: date | None = None
) -> dict:
    """Money lines (definitions.REVENUE_LINES) per period and in total. Two queries whatever the range."""
    series = _ledger_series(period=period, date_from=date_from, date_to=date_to)
    for bucket, value in _gross_booking_value(
        period=period, date_from=date_from, date_to=date_to
    ).items():
        series.setdefault(bucket, {})["gross_booking_value"] = value
    zero = Decimal("0.00")
    periods = [
        {"period_start": bucket, **{m: series[bucket].get(m, zero) for m in REVENUE_METRICS}}
        for bucket in sorted(series)
    ]
    totals = {m: sum((p[m] for p in periods), zero) for m in REVENUE_METRICS}
    return {
        "period": period,
        "date_from": date_from,
        "date_to": date_to,
        "currency": "KES",
        "totals": totals,
        "periods": periods,
    }
