from celery import shared_task


@shared_task(name="support.sla_monitor")
def sla_monitor() -> dict:
    """Flag SLA breaches and escalate them (idempotent: each breach is flagged once)."""
    from support.services import sla_breaches_process

    return sla_breaches_process()
