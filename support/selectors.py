"""Reads for the support desk, scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time

from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from dumuwaks.core.filtering import filter_queryset
from dumuwaks.core.permissions import is_admin, is_staff_member
from support.errors import TicketNotFound
from support.filters import SupportTicketFilter
from support.models import OPEN_STATUSES, AgentAvailability, SupportTicket, TicketMessage
from support.services.common import DEFAULT_MAX_OPEN_TICKETS


def ticket_visible_queryset(*, user: User) -> QuerySet[SupportTicket]:
    """Customers and technicians: their own tickets. Agents: assigned to them or unassigned. Admins: all."""
    qs = SupportTicket.objects.select_related("created_by", "assigned_to", "related_booking")
    if is_admin(user):
        return qs
    if is_staff_member(user):
        return qs.filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
    return qs.filter(created_by=user)


def ticket_list(*, user: User, filters: Mapping | None = None) -> QuerySet[SupportTicket]:
    """`filters`: the query parameters of SupportTicketFilter (a 400 if invalid)."""
    qs = filter_queryset(
        SupportTicketFilter, data=filters, queryset=ticket_visible_queryset(user=user), user=user
    )
    return qs.order_by("-created_at", "-id")


def ticket_get(*, user: User, ticket_id: int) -> SupportTicket:
    try:
        return ticket_visible_queryset(user=user).get(pk=ticket_id)
    except SupportTicket.DoesNotExist:
        raise TicketNotFound() from None


def ticket_message_list(*, ticket: SupportTicket, user: User) -> QuerySet[TicketMessage]:
    qs = ticket.messages.select_related("author")
    if not is_staff_member(user):
        qs = qs.filter(is_internal=False)
    return qs.order_by("created_at", "id")


def agent_availability_get(*, agent: User) -> dict:
    availability = AgentAvailability.objects.filter(agent=agent).first()
    if availability is None:
        availability = AgentAvailability(
            agent=agent, is_available=True, max_open_tickets=DEFAULT_MAX_OPEN_TICKETS
        )
    open_tickets = SupportTicket.objects.filter(assigned_to=agent, status__in=OPEN_STATUSES).count()
    return {
        "is_available": availability.is_available,
        "max_open_tickets": availability.max_open_tickets,
        "open_tickets": open_tickets,
    }


def _day_bounds(day_from: date | None, day_to: date | None):
    tz = timezone.get_current_timezone()
    start = datetime.combine(day_from, time.min, tzinfo=tz) if day_from else None
    end = datetime.combine(day_to, time.max, tzinfo=tz) if day_to else None
    return start, end


def ticket_stats(*, date_from: date | None = None, date_to: date | None = None) -> dict:
    """Volumes, SLA attainment and CSAT over tickets created in [date_from, date_to] (Nairobi days)."""
    qs = SupportTicket.objects.all()
    start, end = _day_bounds(date_from, date_to)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lte=end)

    def grouped(field):
        rows = qs.order_by().values(field).annotate(count=Count("id")).order_by(field)
        return [{"key": row[field], "count": row["count"]} for row in rows]

    totals = qs.aggregate(
        total=Count("id"),
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        unassigned=Count("id", filter=Q(status__in=OPEN_STATUSES, assigned_to__isnull=True)),
        first_met=Count("id", filter=Q(sla_first_response_met=True)),
        first_missed=Count("id", filter=Q(sla_first_response_met=False)),
        resolution_met=Count("id", filter=Q(sla_resolution_met=True)),
        resolution_missed=Count("id", filter=Q(sla_resolution_met=False)),
        csat_average=Avg("csat_rating"),
        csat_count=Count("csat_rating"),
        escalated=Count("id", filter=Q(escalation_level__gt=0)),
    )

    def percent(met, missed):
        decided = met + missed
        return round(100.0 * met / decided, 2) if decided else None

    return {
        "total": totals["total"],
        "open": totals["open"],
        "unassigned": totals["unassigned"],
        "escalated": totals["escalated"],
        "by_status": grouped("status"),
        "by_priority": grouped("priority"),
        "by_category": grouped("category"),
        "sla": {
            "first_response_met": totals["first_met"],
            "first_response_missed": totals["first_missed"],
            "first_response_attainment_percent": percent(
                totals["first_met"], totals["first_missed"]
            ),
            "resolution_met": totals["resolution_met"],
            "resolution_missed": totals["resolution_missed"],
            "resolution_attainment_percent": percent(
                totals["resolution_met"], totals["resolution_missed"]
            ),
        },
        "csat": {
            "average": round(float(totals["csat_average"]), 2)
            if totals["csat_average"] is not None
            else None,
            "count": totals["csat_count"],
        },
    }
