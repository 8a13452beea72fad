"""Platform analytics for staff, computed in PostgreSQL (aggregate/annotate, Trunc* in Africa/Nairobi).

Date filters are inclusive calendar days in Nairobi time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    DecimalField,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round, TruncDay, TruncMonth, TruncWeek

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus

NAIROBI = ZoneInfo(settings.TIME_ZONE)
ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
PERIOD_TRUNCS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
# The payments ledger account that receives the platform's fee when escrow is released.
PLATFORM_REVENUE_ACCOUNT = "platform_revenue"
COMPLETED_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED, BookingStatus.RESOLVED)


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


def _money_sum(expression) -> Coalesce:
    return Coalesce(Sum(expression), ZERO)


def _local_date(value) -> date:
    return value.astimezone(NAIROBI).date() if isinstance(value, datetime) else value


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

REVENUE_METRICS = (
    "gross_booking_value",
    "deposits_collected",
    "balances_collected",
    "platform_fees",
    "payouts",
)


def _series(qs: QuerySet, *, field: str, value, period: str, date_from, date_to) -> dict:
    """{period_start_date: sum(value)} over rows of `qs` whose `field` falls in the range."""
    trunc = PERIOD_TRUNCS[period]
    rows = (
        _in_range(qs.order_by(), field, date_from, date_to)
        .annotate(bucket=trunc(field, tzinfo=NAIROBI))
        .values("bucket")
        .annotate(total=_money_sum(value))
        .order_by("bucket")
    )
    return {_local_date(row["bucket"]): row["total"] for row in rows}


def _payments_available() -> bool:
    try:
        from payments.models import LedgerEntry, Payment, Payout  # noqa: F401
    except ImportError:  # payments not in this build yet
        return False
    return True


def _booking_estimate_series(*, period, date_from, date_to) -> dict[str, dict]:
    """Until payments are recorded: confirmed bookings' own amounts, bucketed by confirmation time."""
    confirmed = Booking.objects.filter(status=BookingStatus.CONFIRMED, confirmed_at__isnull=False)
    common = {"field": "confirmed_at", "period": period, "date_from": date_from, "date_to": date_to}
    return {
        "gross_booking_value": _series(confirmed, value="price", **common),
        "deposits_collected": _series(confirmed, value="deposit_amount", **common),
        "balances_collected": _series(confirmed, value="balance_amount", **common),
        "platform_fees": _series(confirmed, value="platform_fee", **common),
        "payouts": _series(confirmed, value="technician_share", **common),
    }


def _payments_series(*, period, date_from, date_to) -> dict[str, dict]:
    from payments.models import (
        EntrySide,
        LedgerEntry,
        Payment,
        PaymentPurpose,
        PaymentStatus,
        Payout,
        PayoutStatus,
    )

    common = {"period": period, "date_from": date_from, "date_to": date_to}
    succeeded = Payment.objects.filter(status=PaymentStatus.SUCCEEDED, completed_at__isnull=False)
    paid_value = Coalesce(F("paid_amount"), F("amount"))
    return {
        # A booking counts towards gross value when its deposit is paid: the customer committed.
        "gross_booking_value": _series(
            Booking.objects.filter(deposit_paid_at__isnull=False),
            field="deposit_paid_at",
            value="price",
            **common,
        ),
        "deposits_collected": _series(
            succeeded.filter(purpose=PaymentPurpose.DEPOSIT),
            field="completed_at",
            value=paid_value,
            **common,
        ),
        "balances_collected": _series(
            succeeded.filter(purpose=PaymentPurpose.BALANCE),
            field="completed_at",
            value=paid_value,
            **common,
        ),
        # Ledger convention: money moving into an account debits it; refunds out of revenue credit it.
        "platform_fees": _series(
            LedgerEntry.objects.filter(account__code=PLATFORM_REVENUE_ACCOUNT),
            field="created_at",
            value=Case(
                When(side=EntrySide.DEBIT, then=F("amount")),
                default=-F("amount"),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            **common,
        ),
        "payouts": _series(
            Payout.objects.filter(status=PayoutStatus.PAID, paid_at__isnull=False),
            field="paid_at",
            value="amount",
            **common,
        ),
    }


def revenue_analytics(
    *, period: str = "day", date_from: date | None = None, date_to: date | None = None
) -> dict:
    """Money by period. `source` says where the numbers come from:

    - `payments`: succeeded payments (deposits/balances), net platform-revenue ledger postings, paid payouts, and
      the price of bookings whose deposit was paid (gross booking value);
    - `bookings_estimate`: no payments app in this build — confirmed bookings' own price split (deposit,
      balance, platform fee, technician share as payouts), bucketed by confirmation time.
    """
    if _payments_available():
        source, series = (
            "payments",
            _payments_series(period=period, date_from=date_from, date_to=date_to),
        )
    else:
        source, series = (
            "bookings_estimate",
            _booking_estimate_series(period=period, date_from=date_from, date_to=date_to),
        )
    buckets = sorted({bucket for values in series.values() for bucket in values})
    zero = Decimal("0.00")
    periods = [
        {"period_start": bucket, **{m: series[m].get(bucket, zero) for m in REVENUE_METRICS}}
        for bucket in buckets
    ]
    totals = {m: sum(series[m].values(), zero) for m in REVENUE_METRICS}
    return {
        "source": source,
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
}


def technician_performance(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    ordering: str = "-jobs",
) -> QuerySet[User]:
    """Technicians annotated with jobs (bookings assigned, created in the range), completed_jobs
    (completed/confirmed/resolved), cancelled_jobs, completion_rate (% of jobs completed; NULL with no jobs),
    avg_response (accepted_at − created_at over accepted jobs), earnings (technician share of confirmed
    jobs) and the profile rating."""
    start, end = _bounds(date_from, date_to)
    in_range = Q()
    if start:
        in_range &= Q(assigned_bookings__created_at__gte=start)
    if end:
        in_range &= Q(assigned_bookings__created_at__lt=end)
    completed = in_range & Q(assigned_bookings__status__in=COMPLETED_STATUSES)
    qs = (
        User.objects.filter(role=Role.TECHNICIAN, technician_profile__isnull=False)
        .select_related("technician_profile")
        .annotate(
            jobs=Count("assigned_bookings", filter=in_range),
            completed_jobs=Count("assigned_bookings", filter=completed),
            cancelled_jobs=Count(
                "assigned_bookings",
                filter=in_range & Q(assigned_bookings__status=BookingStatus.CANCELLED),
            ),
            avg_response=Avg(
                F("assigned_bookings__accepted_at") - F("assigned_bookings__created_at"),
                filter=in_range & Q(assigned_bookings__accepted_at__isnull=False),
            ),
            earnings=_money_sum(
                Case(
                    When(
                        in_range & Q(assigned_bookings__status=BookingStatus.CONFIRMED),
                        then=F("assigned_bookings__technician_share"),
                    ),
                    default=None,
                )
            ),
            rating=F("technician_profile__rating_average"),
            rating_count=F("technician_profile__rating_count"),
        )
        .annotate(
            completion_rate=Case(
                When(jobs=0, then=None),
                default=Round(
                    Cast(F("completed_jobs"), FloatField()) * 100.0 / Cast(F("jobs"), FloatField()),
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
