"""Reads for disputes."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Prefetch, Q, QuerySet

from bookings.filters import DisputeFilter
from bookings.models import Dispute, DisputeNote
from dumuwaks.core.filtering import filter_queryset


def dispute_queue(*, filters: Mapping | None = None) -> QuerySet[Dispute]:
    """Staff's queue, oldest first, with the internal notes. `filters`: DisputeFilter's parameters."""
    queryset = Dispute.objects.select_related(
        "booking", "booking__customer", "booking__technician", "opened_by", "resolved_by"
    ).prefetch_related(Prefetch("notes", queryset=DisputeNote.objects.order_by("created_at", "id")))
    return filter_queryset(DisputeFilter, data=filters, queryset=queryset).order_by(
        "created_at", "id"
    )


def disputes_of_party(*, user, filters: Mapping | None = None) -> QuerySet[Dispute]:
    """The disputes on bookings `user` is the customer or the assigned technician of, newest first.
    `filters`: DisputeFilter's parameters (a 400 if invalid)."""
    queryset = Dispute.objects.filter(
        Q(booking__customer=user) | Q(booking__technician=user)
    ).select_related("booking")
    return filter_queryset(DisputeFilter, data=filters, queryset=queryset).order_by(
        "-created_at", "-id"
    )
