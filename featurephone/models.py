"""Technicians on feature phones: job offers by SMS with a short code, answers by SMS (and USSD).

Every inbound SMS is stored under Africa's Talking's unique message id before it is acted on, so a replay
is a no-op that keeps the first outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dumuwaks.core.models import TimeStampedModel


class SmsOfferEnrolment(TimeStampedModel):
    """A technician who gets job offers by SMS (no app, or prefers SMS).

    The technician enrols (or stops) themselves (`PUT`/`DELETE /api/v1/users/me/feature-phone`); staff can
    do it for them in the admin. Stopping keeps the row, inactive.
    """

    technician = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sms_offer_enrolment"
    )
    is_active = models.BooleanField(default=True)

    def __str__(self):
        return f"SMS offers for {self.technician_id}"


class OfferCode(models.Model):
    """The short code a technician types (`YES 4821`) to answer about one booking.

    Unique per technician; codes of bookings that are no longer the technician's open work are freed
    when a new code is issued (`offer_code_issue`).
    """

    booking = models.ForeignKey("bookings.Booking", on_delete=models.CASCADE, related_name="+")
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    code = models.CharField(max_length=4)
    # Set when the offer SMS is claimed for sending: each (booking, technician) offer is texted once,
    # whichever event (booking.created, booking.deposit_paid) or redelivery asks for it.
    offer_sms_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booking", "technician"], name="offer_code_one_per_booking"
            ),
            models.UniqueConstraint(
                fields=["technician", "code"], name="offer_code_unique_per_technician"
            ),
        ]

    def __str__(self):
        return f"{self.code} -> booking {self.booking_id}"


class InboundSmsStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"


class InboundSms(models.Model):
    """One SMS a phone sent to our short code, as Africa's Talking delivered it.

    Like `payments.CallbackEvent`, an inbox row rather than a workflow: `status` only says whether it was
    processed (set once, in the transaction that stored it), so it has no `StateMachine` and no history.
    """

    provider_message_id = models.CharField(max_length=100, unique=True)
    phone_number = models.CharField(max_length=32)
    to = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    link_id = models.CharField(max_length=100, blank=True)
    provider_date = models.CharField(max_length=40, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=InboundSmsStatus.choices, default=InboundSmsStatus.RECEIVED
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    booking = models.ForeignKey(
        "bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=32, blank=True)
    reply = models.TextField(blank=True)
    reply_sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=InboundSmsStatus.values),
                name="inbound_sms_status_valid",
            )
        ]

    def __str__(self):
        return f"SMS {self.provider_message_id}: {self.outcome or self.status}"


class UssdStep(models.Model):
    """A USSD step that acted (job chosen, action chosen), stored under AT's session id and the answer path.

    Africa's Talking may post the same step again; the stored screen is answered without acting twice.
    """

    session_id = models.CharField(max_length=100)
    text = models.CharField(max_length=200)
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    booking = models.ForeignKey(
        "bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=32, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session_id", "text"], name="ussd_step_unique")
        ]

    def __str__(self):
        return f"USSD {self.session_id} {self.text}: {self.outcome}"
