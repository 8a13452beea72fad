"""SLA targets per priority, in minutes: (first response, resolution)."""

from datetime import datetime, timedelta

from support.models import TicketPriority

SLA_TARGET_MINUTES: dict[str, tuple[int, int]] = {
    TicketPriority.URGENT: (15, 120),
    TicketPriority.HIGH: (30, 240),
    TicketPriority.MEDIUM: (60, 480),
    TicketPriority.LOW: (120, 1440),
}


def sla_deadlines(*, priority: str, started_at: datetime) -> tuple[datetime, datetime]:
    """(first_response_due_at, resolution_due_at) for a ticket whose SLA clock started at `started_at`."""
    first_response, resolution = SLA_TARGET_MINUTES[priority]
    return started_at + timedelta(minutes=first_response), started_at + timedelta(
        minutes=resolution
    )
