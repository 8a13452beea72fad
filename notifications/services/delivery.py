"""One attempt to deliver a notification on one external channel (push, email, SMS).

Called by `notifications.tasks.deliver_notification` with the delivery id only: the attempt re-reads the
delivery, its notification and the user, re-checks the user's preference (they may have opted out since it
was queued) and records the outcome on the NotificationDelivery row. Network calls happen outside any
transaction. Returns RETRY for failures worth another attempt; the task owns the backoff.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.state_machine import transition
from notifications import push
from notifications.catalogue import group_label
from notifications.email import send_templated_email
from notifications.models import (
    DELIVERY_MACHINE,
    DeliveryStatus,
    DeviceToken,
    Notification,
    NotificationChannel,
    NotificationDelivery,
)
from notifications.preferences import enabled_channels
from notifications.sms import SmsDeliveryError, render_sms, send_sms

logger = logging.getLogger(__name__)

# Outcomes besides the DeliveryStatus an attempt settled on.
RETRY = "retry"
NOTHING_TO_DO = "nothing_to_do"

# Every notification type shares these layouts; the words are the catalogue's title and body in the
# user's language. In-app and push show the title and body as they are.
EMAIL_TEMPLATE = (
    "notifications/generic"  # templates/email/notifications/generic[.sw].{subject.txt,txt,html}
)
SMS_TEMPLATE = "notifications/generic"  # templates/sms/notifications/generic[.sw].txt
SMS_MAX_CHARS = 459  # at most 3 SMS segments


class TransientDeliveryError(Exception):
    """Worth retrying (provider unreachable, throttled, 5xx)."""


def _finish(
    delivery: NotificationDelivery, *, status: str, error: str = "", provider_message_id: str = ""
) -> str:
    """Settle a queued delivery (DELIVERY_MACHINE). A racing attempt of the same delivery (a replayed task)
    that settled it first wins; this one then did nothing."""
    fields = {"error": error[:2000]}
    if provider_message_id:
        fields["provider_message_id"] = provider_message_id[:255]
    if status == DeliveryStatus.SENT:
        fields["sent_at"] = timezone.now()
    try:
        transition(machine=DELIVERY_MACHINE, instance=delivery, to=status, fields=fields)
    except InvalidTransition:
        return NOTHING_TO_DO
    return status


def delivery_attempt(*, delivery_id: int, final_attempt: bool = False) -> str:
    delivery = (
        NotificationDelivery.objects.select_related("notification__user")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status != DeliveryStatus.QUEUED:
        return NOTHING_TO_DO  # already delivered, skipped or failed: a replayed task does nothing
    notification = delivery.notification
    user = notification.user
    if not user.is_active:
        return _finish(delivery, status=DeliveryStatus.SKIPPED, error="user inactive")
    if delivery.channel not in enabled_channels(user_id=user.pk, group=notification.group):
        return _finish(delivery, status=DeliveryStatus.SKIPPED, error="channel turned off")

    NotificationDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    sender = {
        NotificationChannel.PUSH: _deliver_push,
        NotificationChannel.EMAIL: _deliver_email,
        NotificationChannel.SMS: _deliver_sms,
    }[delivery.channel]
    try:
        return sender(delivery, notification, user)
    except TransientDeliveryError as exc:
        logger.warning("%s delivery %s failed, transient: %s", delivery.channel, delivery.pk, exc)
        if final_attempt:
            return _finish(delivery, status=DeliveryStatus.FAILED, error=str(exc))
        NotificationDelivery.objects.filter(pk=delivery.pk).update(error=str(exc)[:2000])
        return RETRY


def _deliver_push(delivery, notification, user) -> str:
    devices = list(DeviceToken.objects.filter(user=user).order_by("id"))
    if not devices:
        return _finish(delivery, status=DeliveryStatus.SKIPPED, error="no registered device")
    data = {
        **{k: v for k, v in (notification.data or {}).items() if not isinstance(v, dict | list)},
        "notification_id": notification.pk,
        "group": notification.group,
    }
    try:
        results = push.send_push(
            targets=[push.PushTarget(token=d.token, kind=d.kind) for d in devices],
            title=notification.title,
            body=notification.body,
            data=data,
        )
    except Exception as exc:  # the whole batch failed (network, credentials): retry later
        raise TransientDeliveryError(f"push batch failed: {exc}") from exc
    dead = [r.target.token for r in results if r.prune]
    if dead:
        DeviceToken.objects.filter(user=user, token__in=dead).delete()
    sent = [r for r in results if r.success]
    if sent:
        return _finish(
            delivery,
            status=DeliveryStatus.SENT,
            provider_message_id=sent[0].message_id,
            error="; ".join(r.error for r in results if not r.success),
        )
    if any(r.retry for r in results):
        raise TransientDeliveryError("; ".join(r.error for r in results))
    return _finish(
        delivery,
        status=DeliveryStatus.FAILED,
        error="; ".join(r.error for r in results) or "no device accepted the push",
    )


def _deliver_email(delivery, notification, user) -> str:
    try:
        sent = send_templated_email(
            to=[user.email],
            template=EMAIL_TEMPLATE,
            context={
                "first_name": user.first_name,
                "title": notification.title,
                "body": notification.body,
                "group": group_label(notification.group, notification.language),
            },
            language=notification.language,
        )
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientDeliveryError(f"SMTP: {exc}") from exc
    if not sent:
        return _finish(delivery, status=DeliveryStatus.FAILED, error="email not accepted")
    return _finish(delivery, status=DeliveryStatus.SENT)


def _deliver_sms(delivery, notification, user) -> str:
    if not user.phone_number:
        return _finish(delivery, status=DeliveryStatus.SKIPPED, error="user has no phone number")
    text = render_sms(
        template=SMS_TEMPLATE,
        context={"title": notification.title, "body": notification.body},
        language=notification.language,
    )
    try:
        result = send_sms(to=user.phone_number, message=text[:SMS_MAX_CHARS])
    except SmsDeliveryError as exc:
        raise TransientDeliveryError(str(exc)) from exc
    if result.status == "sent":
        return _finish(
            delivery,
            status=DeliveryStatus.SENT,
            provider_message_id=result.provider_message_id or "",
        )
    return _finish(delivery, status=DeliveryStatus.FAILED, error=result.detail or "rejected")


# --- housekeeping -------------------------------------------------------------------------------------------------

STUCK_AFTER = timedelta(hours=1)  # longer than the whole retry schedule (≈ 16 min with jitter)
DEVICE_STALE_AFTER = timedelta(days=270)  # FCM treats tokens unused this long as expired
READ_NOTIFICATION_RETENTION = timedelta(days=180)


def stuck_delivery_ids(*, limit: int = 500) -> list[int]:
    cutoff = timezone.now() - STUCK_AFTER
    return list(
        NotificationDelivery.objects.filter(status=DeliveryStatus.QUEUED, updated_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def housekeeping_run() -> dict:
    now = timezone.now()
    devices, _ = DeviceToken.objects.filter(last_seen__lt=now - DEVICE_STALE_AFTER).delete()
    notifications, _ = Notification.objects.filter(
        is_read=True, created_at__lt=now - READ_NOTIFICATION_RETENTION
    ).delete()
    return {"devices_pruned": devices, "notifications_deleted": notifications}
