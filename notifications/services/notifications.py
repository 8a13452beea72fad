"""Notification writes: `notify` (the one entry point every producer uses), read state, preferences and
device tokens."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from dumuwaks.core.side_effects import enqueue_after_commit
from featurephone.selectors import is_enrolled as is_enrolled_for_sms_offers
from notifications import catalogue, tasks
from notifications.errors import DeviceNotFound, NotificationNotFound
from notifications.models import (
    DeliveryStatus,
    DeviceTargetKind,
    DeviceToken,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationPreference,
)
from notifications.preferences import enabled_channels, preference_matrix
from notifications.realtime import send_to_user_after_commit
from notifications.serializers import NotificationOutputSerializer

logger = logging.getLogger(__name__)

# Types that offer a job to a technician. A technician enrolled for feature-phone offers gets the offer as
# the featurephone SMS (with the code they answer YES/NO to), so the notification's own SMS would be a
# second copy of the same offer: it is recorded as skipped (in-app, push and email are unchanged).
JOB_OFFER_TYPES = frozenset({"booking.created"})


def notification_payload(notification: Notification) -> dict:
    return dict(NotificationOutputSerializer(notification).data)


def _skip_reason(user: User, channel: str, type: str) -> str:
    """Why an enabled external channel does not carry this notification to this user ("" when it does)."""
    if channel == NotificationChannel.SMS and not user.phone_number:
        return "user has no phone number"
    if (
        channel == NotificationChannel.SMS
        and type in JOB_OFFER_TYPES
        and is_enrolled_for_sms_offers(user_id=user.pk)
    ):
        return "job offer sent as the feature-phone offer SMS"
    if channel == NotificationChannel.EMAIL and not user.email:
        return "user has no email address"
    if channel == NotificationChannel.PUSH and not DeviceToken.objects.filter(user=user).exists():
        return "user has no registered device"
    return ""


def notify(*, user_id: int, type: str, context: dict | None = None) -> Notification | None:
    """Tell a user that something happened, on every channel they allow for the type's group.

    Renders the catalogue text in the user's language; stores the in-app row (when in-app is on) and
    pushes `notification.new` to their sockets after commit; records one queued NotificationDelivery per
    enabled external channel and enqueues its delivery task after commit. Returns None (and stores
    nothing) when the user is gone or has every channel off for that group.
    """
    context = dict(context or {})
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    group = catalogue.group_of(type)
    channels = enabled_channels(user_id=user.pk, group=group)
    if not channels:
        return None
    language = user.preferred_language or "en"
    title, body = catalogue.render(type, language, context)
    data = {"type": type, **{k: v for k, v in context.items() if k.endswith("_id")}}
    in_app = NotificationChannel.IN_APP in channels
    external = [
        c
        for c in (NotificationChannel.PUSH, NotificationChannel.EMAIL, NotificationChannel.SMS)
        if c in channels
    ]

    with transaction.atomic():
        notification = Notification.objects.create(
            user=user,
            type=type,
            group=group,
            title=title,
            body=body,
            data=data,
            language=language,
            is_in_app=in_app,
        )
        for channel in external:
            reason = _skip_reason(user, channel, type)
            delivery = NotificationDelivery.objects.create(
                notification=notification,
                channel=channel,
                status=DeliveryStatus.SKIPPED if reason else DeliveryStatus.QUEUED,
                error=reason,
            )
            if not reason:
                enqueue_after_commit(tasks.deliver_notification, delivery.pk)
        if in_app:
            send_to_user_after_commit(
                user.pk, "notification.new", {"notification": notification_payload(notification)}
            )
    return notification


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    notification = Notification.objects.filter(
        pk=notification_id, user=user, is_in_app=True
    ).first()
    if notification is None:
        raise NotificationNotFound()
    if not notification.is_read:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, is_read=False).update(
            is_read=True, read_at=now, updated_at=now
        )
        notification.is_read, notification.read_at = True, now
    return notification


def notification_mark_all_read(*, user: User) -> int:
    now = timezone.now()
    return Notification.objects.filter(user=user, is_in_app=True, is_read=False).update(
        is_read=True, read_at=now, updated_at=now
    )


def preferences_update(*, user: User, changes: dict[str, dict[str, bool]]) -> dict:
    """Apply {group: {channel: enabled}} (partial) and return the full matrix."""
    with transaction.atomic():
        for group, channels in changes.items():
            for channel, enabled in (channels or {}).items():
                NotificationPreference.objects.update_or_create(
                    user=user, group=group, channel=channel, defaults={"enabled": bool(enabled)}
                )
    return preference_matrix(user_id=user.pk)


def device_register(
    *, user: User, token: str, platform: str, kind: str = DeviceTargetKind.TOKEN
) -> tuple[DeviceToken, bool]:
    """Register (or refresh) a push target. A token seen under another account moves to this one: the
    device changed hands, and the previous owner must stop receiving its pushes."""
    now = timezone.now()
    defaults = {"user": user, "platform": platform, "kind": kind, "last_seen": now}
    try:
        with transaction.atomic():
            return DeviceToken.objects.update_or_create(token=token, defaults=defaults)
    except IntegrityError:  # raced with the same token's first registration
        return DeviceToken.objects.update_or_create(token=token, defaults=defaults)


def device_delete(*, user: User, token: str) -> None:
    if not token or "\x00" in token:  # PostgreSQL text cannot hold NUL: no such token can exist
        raise DeviceNotFound()
    deleted, _ = DeviceToken.objects.filter(user=user, token=token).delete()
    if not deleted:
        raise DeviceNotFound()
