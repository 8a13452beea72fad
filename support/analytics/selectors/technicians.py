"""Per-technician figures (definitions.TECHNICIAN_FIGURES): jobs from bookings, money from the ledger."""

from __future__ import annotations

from datetime import date

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round

from accounts.models import Role, User
from bookings.models import BookingStatus, BookingStatusHistory
from dumuwaks.core.money import DEFAULT_CURRENCY
from payments.models import EntrySide, LedgerEntry
from support.analytics.selectors.common import (
    COMPLETED_STATUSES,
    LEDGER_EVENTS,
    MONEY,
    TECHNICIAN_PAYABLE_PREFIX,
    TECHNICIAN_RECEIVABLE_PREFIX,
    TIPS_PAYABLE_PREFIX,
    ZERO,
    bounds,
    signed_amount,
)

TECHNICIAN_ORDERINGS = {
    "jobs": ("jobs",),
    "completedJobs": ("completed_jobs",),
    "completionRate": ("completion_rate",),
    "rating": ("rating",),
    "averageResponseMinutes": ("avg_response",),
    "earnings": ("earnings",),
    "owed": ("owed",),
    "tipsTotal": ("tips_total",),
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
    aggregate=Sum,
) -> Coalesce:
    """Σ`value` (or another `aggregate` of it) over the outer technician's `technician_payable` (or
    `prefix`) entries posted in [start, end), optionally only one event's (LEDGER_EVENTS) or all but some
    events', on one side."""
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
    total = entries.values("account__user_id").annotate(total=aggregate(value)).values("total")[:1]
    if aggregate is Count:
        return Coalesce(Subquery(total, output_field=IntegerField()), 0)
    return Coalesce(Subquery(total, output_field=MONEY), ZERO)


def _released_to_payable(event: str, *, start, end) -> Coalesce:
    return _payable_sum("amount", start=start, end=end, event=event, side=EntrySide.DEBIT)


def _tips_received(value, *, start, end, aggregate=Sum) -> Coalesce:
    """Over the tips credited to the technician in [start, end) (M-Pesa or card, payments/services/tips.py):
    each one `payment:<id>:received` into their `tips_payable`."""
    return _payable_sum(
        value,
        start=start,
        end=end,
        event="payment_received",
        side=EntrySide.DEBIT,
        prefix=TIPS_PAYABLE_PREFIX,
        aggregate=aggregate,
    )


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
    start, end = bounds(date_from, date_to)
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
                signed_amount(),
                start=start,
                end=end,
                # A small tip moved into the payout that sends it is a tip, not earnings (`tips`).
                except_events=("payout_paid", "recovery_withheld", "tip_carried"),
            ),
            paid_out=_payable_sum(
                "amount", start=start, end=end, event="payout_paid", side=EntrySide.CREDIT
            ),
            withheld=_payable_sum(
                "amount", start=start, end=end, event="recovery_withheld", side=EntrySide.CREDIT
            ),
            owed=_payable_sum(signed_amount(), start=None, end=end),
            owes_back=-_payable_sum(
                signed_amount(), start=None, end=end, prefix=TECHNICIAN_RECEIVABLE_PREFIX
            ),
            tips=_tips_received("id", start=start, end=end, aggregate=Count),
            tips_total=_tips_received("amount", start=start, end=end),
            currency=Value(DEFAULT_CURRENCY, output_field=CharField()),
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
