"""Platform analytics for staff, computed in PostgreSQL (aggregate/annotate, Trunc* in Africa/Nairobi).

Every figure is defined in support/analytics/definitions.py. Date filters are inclusive calendar days in
Nairobi time. Money comes from the payments ledger (accounts and references in payments/services/ledger.py).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round, TruncDay, TruncMonth, TruncWeek

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus, BookingStatusHistory
from payments.models import EntrySide, LedgerEntry, PaymentPurpose
from payments.services.ledger import PLATFORM_REVENUE, REFUNDS_PAYABLE
from support.analytics.definitions import REVENUE_LINES

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo(settings.TIME_ZONE)
_MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=_MONEY)
PERIOD_TRUNCS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
# A job the technician finished; a dispute is about the work, not about whether it was done.
COMPLETED_STATUSES = (
    BookingStatus.COMPLETED,
    BookingStatus.CONFIRMED,
    BookingStatus.DISPUTED,
    BookingStatus.RESOLVED,
)
ESCROW_PREFIX = "escrow:booking:"
TECHNICIAN_PAYABLE_PREFIX = "technician_payable:"
TECHNICIAN_RECEIVABLE_PREFIX = "technician_receivable:"

# Ledger references (the table in payments/services/ledger.py) by the business event they record. A posting
# whose reference matches none of these still counts in the net lines (held, owed, platform fees) but in no
# event line, so the reconciliation test fails until it is given a line.
LEDGER_EVENTS = {
    "payment_received": r"^payment:[0-9]+:received$",
    "release": r"^booking:[0-9]+:release$",
    "cancel_fee": r"^booking:[0-9]+:cancel-fee$",
    "cancel_refund": r"^booking:[0-9]+:cancel-refund$",
    "payment_refund": r"^payment:[0-9]+:refund$",
    "dispute_release": r"^dispute:[0-9]+:release$",
    "dispute_refund": r"^dispute:[0-9]+:refund$",
    "dispute_clawback": r"^dispute:[0-9]+:clawback$",
    "payout_paid": r"^payout:[0-9]+:paid$",
    "payout_overpaid": r"^payout:[0-9]+:overpaid:[0-9.]+$",
    "recovery_withheld": r"^(booking|dispute):[0-9]+:[a-z-]+:recovery$",
    "suspense_refund": r"^suspense:[0-9]+:refund$",
}


def _bounds(
    date_from: date | None, date_to: date | None
) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(date_from, time.min, tzinfo=NAIROBI) if date_from else None
    end = (
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=NAIROBI) if date_to else None
    )
    return start, end


def _in_range(qs: QuerySet, field: str, date_from: date | None, date_to: date | None) -> QuerySet:
    start, end = _bounds(date_from, date_to)
    if start:
        qs = qs.filter(**{f"{field}__gte": start})
    if end:
        qs = qs.filter(**{f"{field}__lt": end})
    return qs


def _money_sum(expression, **extra) -> Coalesce:
    return Coalesce(Sum(expression, **extra), ZERO)


def _local_date(value) -> date:
    return value.astimezone(NAIROBI).date() if isinstance(value, datetime) else value


def _signed_amount():
    """Ledger convention: money into an account is a debit, out of it a credit."""
    return Case(
        When(side=EntrySide.DEBIT, then=F("amount")), default=-F("amount"), output_field=_MONEY
    )


def _ledger_event():
    return Case(
        *(
            When(transaction__reference__regex=pattern, then=Value(event))
            for event, pattern in LEDGER_EVENTS.items()
        ),
        default=Value("other"),
        output_field=CharField(),
    )


def _account_group():
    return Case(
        When(account__code__startswith=ESCROW_PREFIX, then=Value("escrow")),
        When(account__code__startswith=TECHNICIAN_PAYABLE_PREFIX, then=Value("technician_payable")),
        When(
            account__code__startswith=TECHNICIAN_RECEIVABLE_PREFIX,
            then=Value("technician_receivable"),
        ),
        default=F("account__code"),
        output_field=CharField(),
    )


# --- Bookings ----------------------------------------------------------------------------------------------------


def booking_analytics(*, date_from: date | None = None, date_to: date | None = None) -> dict:
    """Bookings created in the range: totals, by status, by category, by Nairobi day."""
    qs = _in_range(Booking.objects.order_by(), "created_at", date_from, date_to)
    totals = qs.aggregate(total=Count("id"), gross_value=_money_sum("price"))
    by_status = [
        {"status": row["status"], "count": row["count"], "gross_value": row["gross_value"]}
        for row in qs.values("status")
        .annotate(count=Count("id"), gross_value=_money_sum("price"))
        .order_by("status")
    ]
    by_category = [
        {
            "category_id": row["category_id"],
            "slug": row["category__slug"],
            "name": row["category__name"],
            "count": row["count"],
            "gross_value": row["gross_value"],
        }
        for row in qs.values("category_id", "category__slug", "category__name")
        .annotate(count=Count("id"), gross_value=_money_sum("price"))
        .order_by("-count", "category__slug")
    ]
    by_day = [
        {"date": _local_date(row["day"]), "count": row["count"], "gross_value": row["gross_value"]}
        for row in qs.annotate(day=TruncDay("created_at", tzinfo=NAIROBI))
        .values("day")
        .annotate(count=Count("id"), gross_value=_money_sum("price"))
        .order_by("day")
    ]
    return {
        "date_from": date_from,
        "date_to": date_to,
        "total": totals["total"],
        "gross_value": totals["gross_value"],
        "by_status": by_status,
        "by_category": by_category,
        "by_day": by_day,
    }


# --- Revenue -----------------------------------------------------------------------------------------------------

REVENUE_METRICS = tuple(REVENUE_LINES)
LEDGER_LINES = tuple(m for m in REVENUE_METRICS if m != "gross_booking_value")
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
_EVENT_LINED_GROUPS = ("escrow", "technician_payable", "technician_receivable", REFUNDS_PAYABLE)
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
        else:
            yield "technician_earnings", signed
    elif group == "technician_receivable":  # negative while owed: a credit is a new debt
        yield "technician_debt", -signed
        if event == "dispute_clawback":
            yield "dispute_recoveries", -signed
        elif event == "payout_overpaid":
            yield "payout_overpayments", -signed
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
        _in_range(LedgerEntry.objects.order_by(), "transaction__created_at", date_from, date_to)
        .annotate(
            bucket=trunc("transaction__created_at", tzinfo=NAIROBI),
            group=_account_group(),
            event=_ledger_event(),
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
        lines = series.setdefault(_local_date(row["bucket"]), {})
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
        _in_range(
            Booking.objects.filter(deposit_paid_at__isnull=False).order_by(),
            "deposit_paid_at",
            date_from,
            date_to,
        )
        .annotate(bucket=trunc("deposit_paid_at", tzinfo=NAIROBI))
        .values("bucket")
        .annotate(total=_money_sum("price"))
        .order_by()
    )
    return {_local_date(row["bucket"]): row["total"] for row in rows}


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


# --- Technicians -------------------------------------------------------------------------------------------------

TECHNICIAN_ORDERINGS = {
    "jobs": ("jobs",),
    "completedJobs": ("completed_jobs",),
    "completionRate": ("completion_rate",),
    "rating": ("rating",),
    "averageResponseMinutes": ("avg_response",),
    "earnings": ("earnings",),
    "owed": ("owed",),
}


def _payable_sum(
    value,
    *,
    start,
    end,
    event: str | None = None,
    side: str | None = None,
    except_events: tuple[str, ...] = (),
    prefix: str = TECHNICIAN_PAYABLE_PREFIX,
) -> Coalesce:
    """Σ`value` over the outer technician's `technician_payable` (or `prefix`) entries posted in
    [start, end), optionally only one event's (LEDGER_EVENTS) or all but some events', on one side."""
    entries = LedgerEntry.objects.filter(
        account__user_id=OuterRef("pk"), account__code__startswith=prefix
    )
    if event:
        entries = entries.filter(transaction__reference__regex=LEDGER_EVENTS[event])
    for except_event in except_events:
        entries = entries.exclude(transaction__reference__regex=LEDGER_EVENTS[except_event])
    if side:
        entries = entries.filter(side=side)
    if start:
        entries = entries.filter(transaction__created_at__gte=start)
    if end:
        entries = entries.filter(transaction__created_at__lt=end)
    total = entries.values("account__user_id").annotate(total=Sum(value)).values("total")[:1]
    return Coalesce(Subquery(total, output_field=_MONEY), ZERO)


def _released_to_payable(event: str, *, start, end) -> Coalesce:
    return _payable_sum("amount", start=start, end=end, event=event, side=EntrySide.DEBIT)


def technician_performance(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    ordering: str = "-jobs",
) -> QuerySet[User]:
    """Technicians annotated with the figures of definitions.TECHNICIAN_FIGURES (one query).

    Job figures count bookings created in the range; money figures count ledger postings made in it, and
    `owed` is the balance at its end.
    """
    start, end = _bounds(date_from, date_to)
    in_range = Q()
    if start:
        in_range &= Q(assigned_bookings__created_at__gte=start)
    if end:
        in_range &= Q(assigned_bookings__created_at__lt=end)
    cancelled = in_range & Q(
        assigned_bookings__status=BookingStatus.CANCELLED,
        assigned_bookings__cancelled_by__isnull=False,
    )
    declines = BookingStatusHistory.objects.filter(
        actor_id=OuterRef("pk"),
        from_status=BookingStatus.ACCEPTED,
        to_status=BookingStatus.PENDING,
    )
    if start:
        declines = declines.filter(booking__created_at__gte=start)
    if end:
        declines = declines.filter(booking__created_at__lt=end)
    declines = declines.values("actor_id").annotate(n=Count("id")).values("n")[:1]
    qs = (
        User.objects.filter(role=Role.TECHNICIAN, technician_profile__isnull=False)
        .select_related("technician_profile")
        .annotate(
            jobs=Count("assigned_bookings", filter=in_range),
            completed_jobs=Count(
                "assigned_bookings",
                filter=in_range & Q(assigned_bookings__status__in=COMPLETED_STATUSES),
            ),
            customer_cancellations=Count(
                "assigned_bookings",
                filter=cancelled
                & Q(assigned_bookings__cancelled_by=F("assigned_bookings__customer")),
            ),
            # Cancelled by someone known who is not the customer: the technician or staff.
            technician_cancellations=Count("assigned_bookings", filter=cancelled)
            - F("customer_cancellations"),
            declines_after_accept=Coalesce(Subquery(declines), 0),
            avg_response=Avg(
                F("assigned_bookings__accepted_at") - F("assigned_bookings__created_at"),
                filter=in_range & Q(assigned_bookings__accepted_at__isnull=False),
            ),
            earnings_jobs=_released_to_payable("release", start=start, end=end),
            earnings_cancellation_fees=_released_to_payable("cancel_fee", start=start, end=end),
            earnings_dispute_releases=_released_to_payable("dispute_release", start=start, end=end),
            earnings_clawed_back=_payable_sum(
                "amount", start=start, end=end, event="dispute_clawback", side=EntrySide.CREDIT
            ),
            earnings=_payable_sum(
                _signed_amount(),
                start=start,
                end=end,
                except_events=("payout_paid", "recovery_withheld"),
            ),
            paid_out=_payable_sum(
                "amount", start=start, end=end, event="payout_paid", side=EntrySide.CREDIT
            ),
            withheld=_payable_sum(
                "amount", start=start, end=end, event="recovery_withheld", side=EntrySide.CREDIT
            ),
            owed=_payable_sum(_signed_amount(), start=None, end=end),
            owes_back=-_payable_sum(
                _signed_amount(), start=None, end=end, prefix=TECHNICIAN_RECEIVABLE_PREFIX
            ),
            rating=F("technician_profile__rating_average"),
            rating_count=F("technician_profile__rating_count"),
        )
        .annotate(
            attributable=F("completed_jobs")
            + F("technician_cancellations")
            + F("declines_after_accept"),
        )
        .annotate(
            completion_rate=Case(
                When(attributable=0, then=None),
                default=Round(
                    Cast(F("completed_jobs"), FloatField())
                    * 100.0
                    / Cast(F("attributable"), FloatField()),
                    2,
                ),
                output_field=FloatField(),
            )
        )
    )
    descending = ordering.startswith("-")
    key = ordering.lstrip("-")
    fields = TECHNICIAN_ORDERINGS.get(key, ("jobs",))
    order = [
        F(f).desc(nulls_last=True) if descending else F(f).asc(nulls_last=True) for f in fields
    ]
    return qs.order_by(*order, "id")
