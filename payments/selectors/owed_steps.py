"""Money owed a step (the sweep completes them, `reconcile` reports aged ones) and balance collection candidates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat

from bookings.models import (
    Booking,
    BookingStatus,
    BookingStatusHistory,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    DisputeStatusHistory,
)
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentPurpose,
    PaymentStatus,
)
from payments.selectors.balances import (
    MONEY_TOTAL_FIELD,
    ZERO,
    ledger_signed_amount,
    released_by_dispute_at,
    released_by_dispute_exists,
)

# --- Money owed a step (payments/services/sweep.py completes them; `manage.py reconcile` reports aged ones) -------

ESCROW_CODE_PREFIX = "escrow:booking:"


class OwedStep(TextChoices):
    """The money step a booking waits for, derived from bookings, payments and the ledger only."""

    REQUEST_DEPOSIT = "request_deposit", "request the deposit (STK push)"
    REQUEST_BALANCE = "request_balance", "request the balance (STK push)"
    RELEASE = "release", "release escrow to the technician and the platform"
    SETTLE_CANCELLATION = "settle_cancellation", "refund escrow minus the cancellation fee"
    SETTLE_DISPUTE = "settle_dispute", "execute the resolved dispute's outcome"


@dataclass(frozen=True)
class OwedStepItem:
    booking_id: int
    step: str
    dispute_id: int | None


@dataclass(frozen=True)
class AgedEscrow:
    booking_id: int
    booking_number: str
    status: str
    held: Decimal
    currency: str
    last_status_change: datetime
    age: timedelta
    step: str  # an OwedStep value, or "" when no automatic step applies (staff look)


def _reference_posted(prefix: str, *suffixes: str) -> Exists:
    """A ledger transaction `<prefix>:<outer pk>:<suffix>` exists (looked up by the unique reference index)."""
    pk = Cast(OuterRef("pk"), CharField())
    wanted = Q()
    for suffix in suffixes:
        wanted |= Q(reference=Concat(Value(f"{prefix}:"), pk, Value(f":{suffix}")))
    return Exists(LedgerTransaction.objects.filter(wanted))


def _with_owed_step(bookings: QuerySet, *, now: datetime) -> QuerySet:
    """Annotate `escrow_held`, `dispute_to_settle` and `owed_step` ("" when none) on a Booking queryset.

    The conditions mirror what the services re-check under the booking lock (payments/services/escrow.py,
    payments/services/payments.py), so a booking listed here is one the service will act on:
    - settle_dispute: a resolved dispute refunding the customer (full or partial) with no `dispute:<id>:*`
      posting (a refund after release claws back, so escrow need not hold money);
    - release: the customer owes the full price (confirmed, or resolved `release_to_technician`: that
      outcome follows the confirmed rules), escrow holds exactly the price, no `booking:<id>:release`;
    - request_balance: owes the full price, deposit paid, a balance is due and no balance payment was ever
      attempted;
    - settle_cancellation: cancelled/expired, escrow holds money, no `booking:<id>:cancel-*` posting;
    - request_deposit: pending, unpaid, still inside its payment window, no deposit payment ever attempted.
    The two request steps need a verified customer phone: automatic prompts go only there
    (payments/services/payments.py `_stk_phone`); other customers pay from the app with `confirmPhone`.
    """
    held = (
        LedgerEntry.objects.filter(
            account__booking_id=OuterRef("pk"), account__code__startswith=ESCROW_CODE_PREFIX
        )
        .values("account_id")
        .annotate(total=Sum(ledger_signed_amount()))
        .values("total")[:1]
    )
    unsettled = (
        Dispute.objects.filter(booking_id=OuterRef("pk"), status=DisputeStatus.RESOLVED)
        .exclude(outcome="")
        .filter(~_reference_posted("dispute", "release", "refund", "clawback"))
        .order_by("pk")
    )
    attempted = Payment.objects.filter(booking_id=OuterRef("pk"))
    refund_outcomes = (DisputeOutcome.FULL_REFUND, DisputeOutcome.PARTIAL_REFUND)
    annotated = bookings.annotate(
        escrow_held=Coalesce(
            Subquery(held, output_field=MONEY_TOTAL_FIELD),
            Value(ZERO),
            output_field=MONEY_TOTAL_FIELD,
        ),
        release_posted=_reference_posted("booking", "release"),
        cancellation_settled=_reference_posted("booking", "cancel-refund", "cancel-fee"),
        deposit_attempted=Exists(attempted.filter(purpose=PaymentPurpose.DEPOSIT)),
        balance_attempted=Exists(attempted.filter(purpose=PaymentPurpose.BALANCE)),
        dispute_to_settle=Subquery(unsettled.values("pk")[:1]),
        dispute_outcome=Subquery(unsettled.values("outcome")[:1]),
        released_by_dispute=released_by_dispute_exists(),
    )
    owes_price = Q(status=BookingStatus.CONFIRMED) | Q(
        status=BookingStatus.RESOLVED, released_by_dispute=True
    )
    return annotated.annotate(
        owed_step=Case(
            When(
                dispute_to_settle__isnull=False,
                dispute_outcome__in=refund_outcomes,
                then=Value(OwedStep.SETTLE_DISPUTE),
            ),
            When(
                owes_price,
                technician__isnull=False,
                release_posted=False,
                escrow_held=F("price"),
                then=Value(OwedStep.RELEASE),
            ),
            When(
                owes_price,
                deposit_paid_at__isnull=False,
                balance_amount__gt=0,
                balance_attempted=False,
                escrow_held__lt=F("price"),
                customer__is_phone_verified=True,
                then=Value(OwedStep.REQUEST_BALANCE),
            ),
            When(
                status__in=(BookingStatus.CANCELLED, BookingStatus.EXPIRED),
                cancellation_settled=False,
                escrow_held__gt=0,
                then=Value(OwedStep.SETTLE_CANCELLATION),
            ),
            When(
                Q(payment_due_at__isnull=True) | Q(payment_due_at__gt=now),
                status=BookingStatus.PENDING,
                deposit_paid_at__isnull=True,
                deposit_amount__gt=0,
                deposit_attempted=False,
                customer__is_phone_verified=True,
                then=Value(OwedStep.REQUEST_DEPOSIT),
            ),
            default=Value(""),
            output_field=CharField(),
        )
    )


def owed_step_list(
    *,
    now: datetime,
    since: datetime,
    changed_before: datetime,
    booking_ids=None,
    limit: int = 500,
) -> list[OwedStepItem]:
    """Bookings whose money waits for a step an after-commit message should have started, oldest first.

    Candidates are the bookings whose status changed, whose money moved or whose dispute changed at or after
    `since` (each found through an indexed timestamp: status history, ledger transactions, dispute history),
    or exactly `booking_ids` when given; of those, only bookings last updated at or before `changed_before`
    (the normal after-commit path's grace). One query.
    """
    if booking_ids is not None:
        scope = Booking.objects.filter(pk__in=list(booking_ids))
    else:
        recent = (
            BookingStatusHistory.objects.filter(created_at__gte=since)
            .order_by()
            .values("booking_id")
            .union(
                LedgerTransaction.objects.filter(created_at__gte=since, booking_id__isnull=False)
                .order_by()
                .values("booking_id"),
                DisputeStatusHistory.objects.filter(created_at__gte=since)
                .order_by()
                .values("dispute__booking_id"),
            )
        )
        scope = Booking.objects.filter(pk__in=recent)
    # Cheap column tests first: running bookings (and pending ones already paid) owe no step. A resolved
    # dispute always leaves its booking `resolved`.
    could_owe = Q(status=BookingStatus.PENDING, deposit_paid_at__isnull=True) | Q(
        status__in=(
            BookingStatus.CONFIRMED,
            BookingStatus.CANCELLED,
            BookingStatus.EXPIRED,
            BookingStatus.RESOLVED,
        )
    )
    rows = (
        _with_owed_step(scope.filter(could_owe, updated_at__lte=changed_before), now=now)
        .exclude(owed_step="")
        .order_by("updated_at", "pk")
        .values_list("pk", "owed_step", "dispute_to_settle")[:limit]
    )
    return [OwedStepItem(booking_id=pk, step=step, dispute_id=d) for pk, step, d in rows]


def escrow_ageing_list(
    *, now: datetime, older_than: timedelta, booking_ids=None
) -> list[AgedEscrow]:
    """Money held in the escrow of a booking that is over (final status, no open dispute) and whose last
    status change is more than `older_than` ago, oldest first, with the step the sweep takes for it.

    Finds the non-zero escrows by summing every escrow entry (one query in all): an operator's check
    (`manage.py reconcile`), not for a request path or a frequent timer.
    """
    # The booking is over: nothing but the sweep or staff moves the money still in its escrow.
    final = (
        BookingStatus.CONFIRMED,
        BookingStatus.CANCELLED,
        BookingStatus.EXPIRED,
        BookingStatus.RESOLVED,
    )
    non_zero = (
        LedgerEntry.objects.filter(account__code__startswith=ESCROW_CODE_PREFIX)
        .values("account__booking_id")
        .annotate(balance=Sum(ledger_signed_amount()))
        .filter(balance__gt=0)
        .values("account__booking_id")
    )
    last_change = (
        BookingStatusHistory.objects.filter(booking_id=OuterRef("pk"))
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    open_dispute = Dispute.objects.filter(booking_id=OuterRef("pk")).exclude(
        status=DisputeStatus.RESOLVED
    )
    qs = (
        Booking.objects.filter(pk__in=non_zero, status__in=final)
        .filter(~Exists(open_dispute))
        .annotate(last_status_change=Coalesce(Subquery(last_change), F("updated_at")))
        .filter(last_status_change__lte=now - older_than)
    )
    if booking_ids is not None:
        qs = qs.filter(pk__in=list(booking_ids))
    rows = _with_owed_step(qs, now=now).order_by("last_status_change", "pk")
    return [
        AgedEscrow(
            booking_id=b.pk,
            booking_number=b.number,
            status=b.status,
            held=b.escrow_held,
            currency=b.currency,
            last_status_change=b.last_status_change,
            age=now - b.last_status_change,
            step=b.owed_step,
        )
        for b in rows
    ]


# --- Balance collection (payments/services/balance.py) -----------------------------------------------------------


def balance_collection_candidate_ids(
    *, due_before: datetime, due_after: datetime, limit: int
) -> list[int]:
    """Bookings that owe their full price (confirmed, or resolved `release_to_technician`) whose balance is
    unpaid, fell due (confirmation, else the release) in (`due_after`, `due_before`] and has not gone to
    support yet, longest due first. One query; the step re-checks each under its lock."""
    paid = Payment.objects.filter(
        booking_id=OuterRef("pk"), purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED
    )
    return list(
        Booking.objects.filter(
            status__in=(BookingStatus.CONFIRMED, BookingStatus.RESOLVED),
            deposit_paid_at__isnull=False,
            balance_amount__gt=0,
        )
        .annotate(released_at=released_by_dispute_at())
        .filter(Q(status=BookingStatus.CONFIRMED) | Q(released_at__isnull=False))
        .annotate(due_at=Coalesce("confirmed_at", "released_at"))
        .filter(due_at__gt=due_after, due_at__lte=due_before)
        .filter(~Exists(paid))
        .exclude(balance_collection__overdue_at__isnull=False)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
