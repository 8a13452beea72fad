"""The SLA monitor run by Celery beat."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from support.models import (
    OPEN_STATUSES,
    SupportTicket,
)
from support.services.tickets import ticket_escalate


def sla_breaches_process(*, now: datetime | None = None) -> dict[str, int]:
    """Flag tickets whose first-response or resolution deadline passed, once each, and escalate them.

    Each flag is set by a guarded UPDATE (`sla_*_met IS NULL`), so concurrent or repeated runs escalate a
    breach exactly once.
    """
    now = now or timezone.now()
    counts = {"first_response_breached": 0, "resolution_breached": 0, "escalated": 0}
    first_response_late = SupportTicket.objects.filter(
        status__in=OPEN_STATUSES,
        first_responded_at__isnull=True,
        sla_first_response_met__isnull=True,
        first_response_due_at__lt=now,
    ).values_list("pk", flat=True)
    resolution_late = SupportTicket.objects.filter(
        status__in=OPEN_STATUSES,
        sla_resolution_met__isnull=True,
        resolution_due_at__lt=now,
    ).values_list("pk", flat=True)
    for kind, ids, flag in (
        ("first_response_breached", list(first_response_late), "sla_first_response_met"),
        ("resolution_breached", list(resolution_late), "sla_resolution_met"),
    ):
        for ticket_id in ids:
            with transaction.atomic():
                flagged = SupportTicket.objects.filter(
                    pk=ticket_id, status__in=OPEN_STATUSES, **{f"{flag}__isnull": True}
                ).update(**{flag: False, "updated_at": now})
                if not flagged:
                    continue
                counts[kind] += 1
                ticket = SupportTicket.objects.select_related("assigned_to").get(pk=ticket_id)
                label = "first response" if flag == "sla_first_response_met" else "resolution"
                ticket_escalate(ticket=ticket, actor=None, reason=f"SLA {label} deadline missed.")
                counts["escalated"] += 1
    return counts
