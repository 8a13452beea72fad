from celery import shared_task

from support.services import (
    queued_tickets_assign,
    sla_breaches_process,
    waiting_urgent_tickets_alert,
)


@shared_task(name="support.sla_monitor")
def sla_monitor() -> dict:
    """Flag SLA breaches and escalate them (idempotent: each breach is flagged once), hand queued urgent/high
    tickets to agents with room, and alert the staff about urgent tickets still waiting (once each)."""
    counts = sla_breaches_process()
    counts["queued_assigned"] = queued_tickets_assign()
    counts["waiting_alerted"] = waiting_urgent_tickets_alert()
    return counts


@shared_task(name="support.assign_queued_tickets")
def assign_queued_tickets() -> int:
    """Queued after an agent's capacity frees; re-reads the queue, so a late or repeated run is harmless."""
    return queued_tickets_assign()
