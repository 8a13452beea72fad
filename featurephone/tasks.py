"""SMS that leave for feature-phone technicians. Tasks carry ids and re-read state before sending."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from featurephone.models import InboundSms, SmsOfferEnrolment
from notifications.sms import SmsDeliveryError, render_sms, send_sms


@shared_task(autoretry_for=(SmsDeliveryError,), retry_backoff=True, max_retries=3)
def inbound_sms_reply_send(inbound_id: int) -> str:
    row = InboundSms.objects.filter(pk=inbound_id).first()
    if row is None or not row.reply or row.reply_sent_at is not None:
        return "skipped"
    result = send_sms(to=row.phone_number, message=row.reply)
    InboundSms.objects.filter(pk=row.pk, reply_sent_at__isnull=True).update(
        reply_sent_at=timezone.now()
    )
    return result.status


@shared_task(autoretry_for=(SmsDeliveryError,), retry_backoff=True, max_retries=3)
def offer_sms_send(booking_id: int) -> str:
    """Text the job offer with its answer code, if the booking still waits for an enrolled technician."""
    from featurephone.services import offer_code_issue  # cycle: services queue tasks

    booking = Booking.objects.select_related("technician", "category").filter(pk=booking_id).first()
    if booking is None or booking.status != BookingStatus.PENDING or booking.technician is None:
        return "skipped"
    technician = booking.technician
    enrolled = SmsOfferEnrolment.objects.filter(technician=technician, is_active=True).exists()
    if not enrolled or not technician.phone_number or not technician.is_active:
        return "skipped"
    code = offer_code_issue(booking=booking, technician=technician)
    message = render_sms(
        template="featurephone/offer",
        context={"booking": booking, "code": code},
        language=technician.preferred_language,
    )
    return send_sms(to=technician.phone_number, message=message).status
