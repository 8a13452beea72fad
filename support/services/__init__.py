"""Writes for the support desk: tickets, their status workflow, messages, SLA bookkeeping, assignment."""

from support.services.assignment import (
    agent_availability_update,
    agent_workloads,
    queued_tickets_assign,
    ticket_assign,
    waiting_urgent_tickets_alert,
)
from support.services.common import DEFAULT_MAX_OPEN_TICKETS
from support.services.sla_monitor import sla_breaches_process
from support.services.tickets import (
    ticket_change_priority,
    ticket_change_status,
    ticket_close,
    ticket_create,
    ticket_escalate,
    ticket_message_create,
    ticket_rate,
    ticket_reopen,
    ticket_transition,
)

__all__ = [
    "DEFAULT_MAX_OPEN_TICKETS",
    "agent_availability_update",
    "agent_workloads",
    "queued_tickets_assign",
    "sla_breaches_process",
    "ticket_assign",
    "ticket_change_priority",
    "ticket_change_status",
    "ticket_close",
    "ticket_create",
    "ticket_escalate",
    "ticket_message_create",
    "ticket_rate",
    "ticket_reopen",
    "ticket_transition",
    "waiting_urgent_tickets_alert",
]
