"""Reads of booking agreements (reschedule proposals, quotes, change orders)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet

from bookings.models import (
    Booking,
    BookingProposal,
    BookingProposalHistory,
    ProposalKind,
    ProposalStatus,
)
from dumuwaks.core.permissions import is_staff_member


def booking_proposals_visible(*, booking: Booking, user, kind: str) -> QuerySet[BookingProposal]:
    """The booking's proposals of `kind` that `user` may see, newest first, with what the API renders.

    Caller has checked that `user` may see the booking. The customer and staff see all of them; a
    technician sees the reschedules and change orders of a booking assigned to them and their own quotes
    (the quotes other technicians made for an open job are between them and the customer).
    """
    proposals = BookingProposal.objects.filter(booking=booking, kind=kind)
    if not (is_staff_member(user) or user.pk == booking.customer_id):
        mine = Q(proposed_by=user)
        if kind != ProposalKind.QUOTE and user.pk == booking.technician_id:
            mine |= Q(pk__isnull=False)
        proposals = proposals.filter(mine)
    return proposals.select_related("proposed_by").prefetch_related(
        Prefetch(
            "status_history", queryset=BookingProposalHistory.objects.order_by("created_at", "id")
        )
    )


def expirable_proposal_ids(
    *, now: datetime, booking_statuses: dict[str, tuple[str, ...]], limit: int
) -> list[tuple[int, int]]:
    """(proposal id, booking id) of open proposals past their deadline or whose booking moved on (its status
    outside `booking_statuses[kind]`; a quote whose booking another technician took), oldest deadline first.
    The caller re-checks each under its booking lock."""
    moved_on = Q()
    for kind, statuses in booking_statuses.items():
        moved_on |= Q(kind=kind) & ~Q(booking__status__in=statuses)
    taken = Q(kind=ProposalKind.QUOTE, booking__technician__isnull=False) & ~Q(
        booking__technician=F("proposed_by")
    )
    return list(
        BookingProposal.objects.filter(status=ProposalStatus.OPEN)
        .filter(Q(expires_at__lte=now) | moved_on | taken)
        .order_by("expires_at", "id")
        .values_list("pk", "booking_id")[:limit]
    )
