"""Reads of booking agreements (reschedule proposals, quotes, change orders)."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from bookings.models import Booking, BookingProposal, BookingProposalHistory, ProposalKind
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
