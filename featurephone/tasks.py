"""SMS that leave for feature-phone technicians. Tasks carry ids and re-read state before sending."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from featurephone.models import InboundSms
from featurephone.selectors import is_enrolled
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
    """Text the job offer with its answer code, once per (booking, technician), if the booking still waits
    for its technician and that technician gets offers by SMS (`selectors.is_enrolled`)."""
    # cycle: services queue tasks
    from featurephone.services import offer_sms_claim, offer_sms_claim_release

    booking = Booking.objects.select_related("technician", "category").filter(pk=booking_id).first()
    if booking is None or booking.status != BookingStatus.PENDING or booking.technician is None:
        return "skipped"
    technician = booking.technician
    if not is_enrolled(user_id=technician.pk):
        return "skipped"
    code = offer_sms_claim(booking=booking, technician=technician)
    if code is None:
        return "already_sent"
    message = render_sms(
        template="featurephone/offer",
        context={"booking": booking, "code": code},
        language=technician.preferred_language,
    )
    try:
        return send_sms(to=technician.phone_number, message=message).status
    except SmsDeliveryError:
        offer_sms_claim_release(booking=booking, technician=technician)
        raise
