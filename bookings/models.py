from django.conf import settings
from django.db import models

from dumuwaks.core.models import TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EN_ROUTE = "en_route", "Technician en route"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    DISPUTED = "disputed", "Disputed"
    RESOLVED = "resolved", "Resolved"


# Statuses in which a technician is committed to the slot (the exclusion constraint applies to these).
ACTIVE_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.IN_PROGRESS,
)


class Urgency(models.TextChoices):
    NORMAL = "normal", "Normal"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class Booking(TimeStampedModel):
    """A job: a customer asks for a service at a place and time; a technician takes it and does it.

    Money amounts are whole shillings fixed at creation by `bookings.pricing.price_breakdown`.
    Status changes only through `bookings.services.booking_transition`.
    """

    number = models.CharField(max_length=20, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_bookings",
    )
    category = models.ForeignKey(
        "accounts.ServiceCategory", on_delete=models.PROTECT, related_name="bookings"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)

    address = models.CharField(max_length=255)
    county = models.CharField(max_length=64, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    attachments = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )

    price = MoneyField()
    deposit_amount = MoneyField()
    balance_amount = MoneyField()
    platform_fee = MoneyField()
    technician_share = MoneyField()
    currency = CurrencyField()

    status = models.CharField(
        max_length=16, choices=BookingStatus.choices, default=BookingStatus.PENDING
    )
    deposit_paid_at = models.DateTimeField(null=True, blank=True)
    payment_due_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    completion_notes = models.TextField(blank=True)
    completion_photos = models.JSONField(default=list, blank=True)

    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancellation_reason = models.TextField(blank=True)
    cancellation_fee = MoneyField(default=0)

    class Meta:
        ordering = ["-scheduled_start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BookingStatus.values), name="booking_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(scheduled_end__gt=models.F("scheduled_start")),
                name="booking_slot_ordered",
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="booking_price_positive"),
            models.CheckConstraint(
                condition=models.Q(
                    deposit_amount__gte=0,
                    balance_amount__gte=0,
                    cancellation_fee__gte=0,
                ),
                name="booking_amounts_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["technician", "status"]),
            models.Index(fields=["status", "scheduled_start"]),
        ]

    def __str__(self):
        return self.number


class BookingStatusHistory(models.Model):
    """Audit row appended by every status change (who, when, from, to, note)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="status_history")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    from_status = models.CharField(max_length=16, choices=BookingStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=BookingStatus.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "booking status history"

    def __str__(self):
        return f"{self.booking_id}: {self.from_status or '-'} -> {self.to_status}"
