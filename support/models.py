from django.conf import settings
from django.db import models

from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.state_machine import StateMachine, register


class TicketCategory(models.TextChoices):
    ACCOUNT = "account", "Account"
    BOOKING = "booking", "Booking"
    PAYMENT = "payment", "Payment"
    TECHNICAL = "technical", "Technical"
    BILLING = "billing", "Billing"
    COMPLAINT = "complaint", "Complaint"
    FEATURE_REQUEST = "feature_request", "Feature request"
    BUG_REPORT = "bug_report", "Bug report"
    GENERAL = "general", "General"
    OTHER = "other", "Other"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Escalation bumps one step; urgent stays urgent.
PRIORITY_BUMP = {
    TicketPriority.LOW: TicketPriority.MEDIUM,
    TicketPriority.MEDIUM: TicketPriority.HIGH,
    TicketPriority.HIGH: TicketPriority.URGENT,
    TicketPriority.URGENT: TicketPriority.URGENT,
}


class TicketStatus(models.TextChoices):
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_CUSTOMER = "waiting_customer", "Waiting for customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


# Statuses in which the ticket still needs work from an agent (they count against an agent's load).
OPEN_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.ASSIGNED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_CUSTOMER,
    TicketStatus.REOPENED,
)
FINISHED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class SupportTicket(TimeStampedModel):
    """A customer's (or technician's) request for help, worked by support agents under SLA deadlines.

    Status changes only through `support.services.ticket_transition`. SLA deadlines are computed from
    `sla_started_at` (creation, or the last reopen) and the priority's targets in `support.sla`.
    """

    number = models.CharField(max_length=20, unique=True, editable=False)
    subject = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(
        max_length=20, choices=TicketCategory.choices, default=TicketCategory.GENERAL
    )
    priority = models.CharField(
        max_length=8, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    status = models.CharField(
        max_length=20, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_tickets"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_support_tickets",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    related_booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_tickets",
    )
    related_payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_tickets",
    )
    # The reference the customer quotes (M-Pesa receipt, card charge) when no payment row is linked.
    related_transaction_ref = models.CharField(max_length=64, blank=True)

    sla_started_at = models.DateTimeField()
    first_response_due_at = models.DateTimeField()
    resolution_due_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # None while undecided; True/False once the response/resolution happened or the deadline passed.
    sla_first_response_met = models.BooleanField(null=True, blank=True)
    sla_resolution_met = models.BooleanField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    last_escalated_at = models.DateTimeField(null=True, blank=True)
    # When the staff were told this urgent ticket waits with no agent able to take it (once per ticket).
    waiting_alert_sent_at = models.DateTimeField(null=True, blank=True)

    resolution = models.TextField(blank=True)
    csat_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    chat_conversation_id = models.BigIntegerField(
        null=True, blank=True, help_text="notifications conversation opened for live chat"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TicketStatus.values), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=TicketPriority.values),
                name="ticket_priority_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=TicketCategory.values),
                name="ticket_category_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(csat_rating__isnull=True)
                | models.Q(csat_rating__gte=1, csat_rating__lte=5),
                name="ticket_csat_range",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "priority"]),
            models.Index(fields=["assigned_to", "status"]),
            models.Index(fields=["created_by", "status"]),
            models.Index(fields=["first_response_due_at"]),
            models.Index(fields=["resolution_due_at"]),
        ]

    def __str__(self):
        return f"{self.number} {self.subject}"


class TicketStatusHistory(StatusHistory):
    ticket = models.ForeignKey(
        SupportTicket, on_delete=models.CASCADE, related_name="status_history"
    )

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "ticket status history"

    def __str__(self):
        return f"{self.ticket_id}: {self.from_status or '-'} -> {self.to_status}"


_S = TicketStatus
TICKET_MACHINE = register(
    StateMachine(
        label="ticket",
        model=SupportTicket,
        transitions={
            _S.OPEN: frozenset(
                {_S.ASSIGNED, _S.IN_PROGRESS, _S.WAITING_CUSTOMER, _S.RESOLVED, _S.CLOSED}
            ),
            _S.ASSIGNED: frozenset(
                {_S.OPEN, _S.IN_PROGRESS, _S.WAITING_CUSTOMER, _S.RESOLVED, _S.CLOSED}
            ),
            _S.IN_PROGRESS: frozenset({_S.ASSIGNED, _S.WAITING_CUSTOMER, _S.RESOLVED, _S.CLOSED}),
            _S.WAITING_CUSTOMER: frozenset({_S.IN_PROGRESS, _S.RESOLVED, _S.CLOSED}),
            _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED}),
            _S.CLOSED: frozenset({_S.REOPENED}),
            _S.REOPENED: frozenset(
                {_S.ASSIGNED, _S.IN_PROGRESS, _S.WAITING_CUSTOMER, _S.RESOLVED, _S.CLOSED}
            ),
        },
        history_model=TicketStatusHistory,
        history_fk="ticket",
    )
)


class TicketMessage(TimeStampedModel):
    ticket = models.ForeignKey(SupportTicket, on_delete=models.CASCADE, related_name="messages")
    # None for notes written by the system (SLA escalations).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_messages",
    )
    body = models.TextField()
    is_internal = models.BooleanField(
        default=False, help_text="Staff-only note; never shown to the customer."
    )
    attachments = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self):
        return f"message {self.pk} on {self.ticket_id}"


class AgentAvailability(TimeStampedModel):
    """Whether a support agent takes new tickets, and how many open tickets they carry at most."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_availability"
    )
    is_available = models.BooleanField(default=True)
    max_open_tickets = models.PositiveSmallIntegerField(default=20)

    class Meta:
        verbose_name_plural = "agent availability"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_open_tickets__gte=1), name="agent_max_open_tickets_positive"
            )
        ]

    def __str__(self):
        return f"{self.agent_id} {'available' if self.is_available else 'away'}"
