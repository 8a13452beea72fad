"""Reads for disputes."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from bookings.models import Dispute


def dispute_queue(*, statuses: list[str] | None = None) -> QuerySet[Dispute]:
    queryset = Dispute.objects.select_related(
        "booking", "booking__customer", "booking__technician", "opened_by", "resolved_by"
    ).order_by("created_at", "id")
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return queryset


def disputes_of_party(*, user) -> QuerySet[Dispute]:
    """The disputes on bookings `user` is the customer or the assigned technician of, newest first."""
    return (
        Dispute.objects.filter(Q(booking__customer=user) | Q(booking__technician=user))
        .select_related("booking")
        .order_by("-created_at", "-id")
    )
