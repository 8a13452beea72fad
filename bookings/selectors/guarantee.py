"""Reads for the workmanship guarantee (README "Workmanship guarantee")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from bookings import rules
from bookings.models import Booking, BookingStatus, GuaranteeClaim, GuaranteeClaimStatus
from dumuwaks.core.permissions import is_staff_member

# Booking statuses a confirmed job may be in later (a dispute moves it on; it was still confirmed first).
CONFIRMED_JOB_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.DISPUTED, BookingStatus.RESOLVED)


# A booking's claim that counts in the return-visit rate: every claim but one the customer withdrew (they took
# the report back, so it says nothing about the work). Used on Booking rows.
RETURN_VISIT_CLAIM = Q(guarantee_claim__isnull=False) & ~Q(
    guarantee_claim__status=GuaranteeClaimStatus.WITHDRAWN
)


def guarantee_claims_visible(*, booking: Booking, user) -> QuerySet[GuaranteeClaim]:
    """The booking's claim for its customer, its technician and staff; nobody else sees one."""
    claims = GuaranteeClaim.objects.filter(booking_id=booking.pk).prefetch_related("status_history")
    if user is None or not user.is_authenticated:
        return claims.none()
    if is_staff_member(user):
        return claims
    return claims.filter(Q(customer_id=user.pk) | Q(technician_id=user.pk))


def guarantee_claim_ids_due(
    *, now: datetime, visit_report_window: timedelta, limit: int = 500
) -> list[int]:
    """Claims the beat job moves: unanswered past `respond_by`, or a visit not reported on in time."""
    return list(
        GuaranteeClaim.objects.filter(
            Q(status=GuaranteeClaimStatus.OPEN, respond_by__lte=now)
            | Q(status=GuaranteeClaimStatus.SCHEDULED, visit_end__lte=now - visit_report_window)
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def return_visit_rates(*, technician_ids, now: datetime | None = None) -> dict[int, float | None]:
    """technician id -> return-visit rate in [0, 1] (None below rules.RETURN_VISIT_RATE_MIN_JOBS). One query."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in technician_ids})
    rows = (
        Booking.objects.filter(
            technician_id__in=ids,
            status__in=CONFIRMED_JOB_STATUSES,
            confirmed_at__gte=now - rules.RETURN_VISIT_RATE_WINDOW,
        )
        .order_by()
        .values("technician_id")
        .annotate(jobs=Count("id"), claims=Count("guarantee_claim", filter=RETURN_VISIT_CLAIM))
    )
    rates: dict[int, float | None] = dict.fromkeys(ids)
    for row in rows:
        if row["jobs"] >= rules.RETURN_VISIT_RATE_MIN_JOBS:
            rates[row["technician_id"]] = row["claims"] / row["jobs"]
    return rates


def return_visit_rate(*, technician_id: int, now: datetime | None = None) -> float | None:
    return return_visit_rates(technician_ids=[technician_id], now=now)[technician_id]
