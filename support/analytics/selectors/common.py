"""What every analytics figure shares: Nairobi day bounds, money sums and the ledger's vocabulary (account
groups and the business event each posting's reference records)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, CharField, DecimalField, F, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek

from bookings.models import BookingStatus
from payments.models import EntrySide

NAIROBI = ZoneInfo(settings.TIME_ZONE)
MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)
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
TIPS_PAYABLE_PREFIX = "tips_payable:"

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
    # Withheld from a release, or offset by a payout that failed after its debt was recorded.
    "recovery_withheld": (
        r"^((booking|dispute):[0-9]+:[a-z-]+:recovery|payout:[0-9]+:failed:offset(:recovery)?)$"
    ),
    "suspense_refund": r"^suspense:[0-9]+:refund$",
    # A deferred tip moved into the technician payout that sends it (payments/services/tips.py).
    "tip_carried": r"^payout:[0-9]+:carried$",
}


def bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(date_from, time.min, tzinfo=NAIROBI) if date_from else None
    end = (
        datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=NAIROBI) if date_to else None
    )
    return start, end


def in_range(qs: QuerySet, field: str, date_from: date | None, date_to: date | None) -> QuerySet:
    start, end = bounds(date_from, date_to)
    if start:
        qs = qs.filter(**{f"{field}__gte": start})
    if end:
        qs = qs.filter(**{f"{field}__lt": end})
    return qs


def money_sum(expression, **extra) -> Coalesce:
    return Coalesce(Sum(expression, **extra), ZERO)


def local_date(value) -> date:
    return value.astimezone(NAIROBI).date() if isinstance(value, datetime) else value


def signed_amount():
    """Ledger convention: money into an account is a debit, out of it a credit."""
    return Case(
        When(side=EntrySide.DEBIT, then=F("amount")), default=-F("amount"), output_field=MONEY
    )


def ledger_event():
    return Case(
        *(
            When(transaction__reference__regex=pattern, then=Value(event))
            for event, pattern in LEDGER_EVENTS.items()
        ),
        default=Value("other"),
        output_field=CharField(),
    )


def account_group():
    return Case(
        When(account__code__startswith=ESCROW_PREFIX, then=Value("escrow")),
        When(account__code__startswith=TECHNICIAN_PAYABLE_PREFIX, then=Value("technician_payable")),
        When(
            account__code__startswith=TECHNICIAN_RECEIVABLE_PREFIX,
            then=Value("technician_receivable"),
        ),
        When(account__code__startswith=TIPS_PAYABLE_PREFIX, then=Value("tips_payable")),
        default=F("account__code"),
        output_field=CharField(),
    )
