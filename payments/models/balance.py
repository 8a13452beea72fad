"""Collecting a confirmed booking's balance: reminders sent and the hand-over to support."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from dumuwaks.core.models import TimeStampedModel


class BalanceCollection(TimeStampedModel):
    """Where the collection of one booking's balance stands (payments/services/balance.py).

    Created when the first reminder falls due. It records only the process: how many reminders were sent and,
    once the deadline passed unpaid, when the case went to support and under which ticket. Whether the balance
    is due, being paid or paid comes from the booking's payments, never from here. `overdue_at` is set once
    (compare-and-set under the booking lock) and never cleared; a balance paid later is simply paid.
    """

    booking = models.OneToOneField(
        "bookings.Booking", on_delete=models.PROTECT, related_name="balance_collection"
    )
    due_since = models.DateTimeField(
        help_text="When the balance fell due (the booking was confirmed)"
    )
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(
        null=True, blank=True, help_text="The deadline passed unpaid: the case went to support"
    )
    support_ticket = models.ForeignKey(
        "support.SupportTicket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-due_since", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_reminder_at__isnull=True) | Q(reminders_sent__gt=0),
                name="balance_collection_reminder_counted",
            ),
        ]

    def __str__(self):
        state = "with support" if self.overdue_at else f"{self.reminders_sent} reminder(s)"
        return f"Balance of booking {self.booking_id}: {state}"
