"""factory_boy factories for support (importable by other apps' tests)."""

import factory
from django.utils import timezone

from support.models import AgentAvailability, SupportTicket, TicketMessage, TicketPriority
from support.numbering import next_ticket_number
from support.sla import sla_deadlines


class SupportTicketFactory(factory.django.DjangoModelFactory):
    """A ticket row with SLA deadlines from its priority; no auto-assignment (use the service for that)."""

    class Meta:
        model = SupportTicket
        exclude = ("deadlines",)

    number = factory.LazyFunction(next_ticket_number)
    subject = "M-Pesa deposit not reflecting"
    description = "I paid the booking fee but the booking still says pending."
    category = "payment"
    priority = TicketPriority.MEDIUM
    sla_started_at = factory.LazyFunction(timezone.now)
    deadlines = factory.LazyAttribute(
        lambda o: sla_deadlines(priority=o.priority, started_at=o.sla_started_at)
    )
    first_response_due_at = factory.LazyAttribute(lambda o: o.deadlines[0])
    resolution_due_at = factory.LazyAttribute(lambda o: o.deadlines[1])


class TicketMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketMessage

    ticket = factory.SubFactory(SupportTicketFactory)
    author = factory.LazyAttribute(lambda o: o.ticket.created_by)
    body = "Any update?"


class AgentAvailabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentAvailability

    is_available = True
    max_open_tickets = 20
