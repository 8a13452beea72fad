"""Everything that reaches a person: chat (conversations, messages, read state) and notifications
(in-app rows, per-channel preferences, device tokens, external delivery attempts)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from dumuwaks.core.models import TimeStampedModel
from dumuwaks.core.state_machine import StateMachine, register

# --- Chat --------------------------------------------------------------------------------------------------------


class ConversationKind(models.TextChoices):
    DIRECT = "direct", "Direct"
    BOOKING = "booking", "Booking"
    SUPPORT = "support", "Support"


class Conversation(TimeStampedModel):
    """A thread between participants. A booking has at most one booking conversation; two users have at
    most one direct conversation (`direct_key` = "<lower id>:<higher id>")."""

    kind = models.CharField(max_length=16, choices=ConversationKind.choices)
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    direct_key = models.CharField(max_length=41, null=True, blank=True, editable=False)
    subject = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ConversationKind.values), name="conversation_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=ConversationKind.BOOKING, booking__isnull=False)
                | (~Q(kind=ConversationKind.BOOKING) & Q(booking__isnull=True)),
                name="conversation_booking_iff_kind_booking",
            ),
            models.CheckConstraint(
                condition=Q(kind=ConversationKind.DIRECT, direct_key__isnull=False)
                | (~Q(kind=ConversationKind.DIRECT) & Q(direct_key__isnull=True)),
                name="conversation_direct_key_iff_kind_direct",
            ),
            models.UniqueConstraint(
                fields=["booking"],
                condition=Q(kind=ConversationKind.BOOKING),
                name="conversation_one_per_booking",
            ),
            models.UniqueConstraint(
                fields=["direct_key"],
                condition=Q(kind=ConversationKind.DIRECT),
                name="conversation_one_direct_per_pair",
            ),
        ]
        indexes = [models.Index(fields=["-last_message_at", "-id"], name="conv_last_msg_idx")]

    def __str__(self):
        return f"{self.kind} conversation {self.pk}"


class ConversationParticipant(TimeStampedModel):
    """Membership plus read state. `unread_count` is maintained with F() by the chat services."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_participations"
    )
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_read_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="conversation_participant_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "conversation"])]

    def __str__(self):
        return f"user {self.user_id} in conversation {self.conversation_id}"


class AttachmentType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    DOCUMENT = "document", "Document"


class Message(TimeStampedModel):
    """A chat message. Deletion is soft: the row stays (replies and receipts point at it) but its body and
    attachments are never shown again."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    body = models.TextField(blank=True)
    attachments = models.JSONField(
        default=list, blank=True, help_text="[{url, publicId, type, size}]"
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    is_edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["conversation", "-created_at", "-id"], name="message_conv_created_idx"
            )
        ]

    def __str__(self):
        return f"message {self.pk} in conversation {self.conversation_id}"


# --- Notifications -----------------------------------------------------------------------------------------------


class NotificationGroup(models.TextChoices):
    BOOKINGS = "bookings", "Bookings"
    PAYMENTS = "payments", "Payments"
    MESSAGES = "messages", "Messages"
    SUPPORT = "support", "Support"
    MARKETING = "marketing", "Marketing"
    ACCOUNT = "account", "Account"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    PUSH = "push", "Push"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


EXTERNAL_CHANNELS = (NotificationChannel.PUSH, NotificationChannel.EMAIL, NotificationChannel.SMS)


class Notification(TimeStampedModel):
    """One thing that happened for a user. `is_in_app=False` rows exist only to anchor external deliveries
    for a user who switched the in-app channel off for that group; they never appear in the API."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    type = models.CharField(max_length=64)
    group = models.CharField(max_length=16, choices=NotificationGroup.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=2, default="en")
    is_in_app = models.BooleanField(default=True)
    is_read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(group__in=NotificationGroup.values), name="notification_group_valid"
            )
        ]
        indexes = [
            models.Index(
                fields=["user", "is_in_app", "is_read", "-created_at"], name="notif_user_list_idx"
            )
        ]

    def __str__(self):
        return f"{self.type} for user {self.user_id}"


class NotificationPreference(TimeStampedModel):
    """An explicit choice for (group, channel). Absent rows mean the default (see preferences.DEFAULTS)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    group = models.CharField(max_length=16, choices=NotificationGroup.choices)
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    enabled = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "group", "channel"], name="notification_preference_unique"
            ),
            models.CheckConstraint(
                condition=Q(group__in=NotificationGroup.values), name="notif_pref_group_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=NotificationChannel.values),
                name="notif_pref_channel_valid",
            ),
        ]

    def __str__(self):
        return f"{self.user_id} {self.group}/{self.channel}={self.enabled}"


class DevicePlatform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", "Web"


class DeviceTargetKind(models.TextChoices):
    """FCM is moving from registration tokens to Firebase Installation IDs (fids); both are accepted."""

    TOKEN = "token", "Registration token"
    FID = "fid", "Firebase installation id"


class DeviceToken(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="device_tokens"
    )
    token = models.CharField(max_length=512, unique=True)
    kind = models.CharField(
        max_length=8, choices=DeviceTargetKind.choices, default=DeviceTargetKind.TOKEN
    )
    platform = models.CharField(max_length=8, choices=DevicePlatform.choices)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(platform__in=DevicePlatform.values), name="device_platform_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=DeviceTargetKind.values), name="device_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.platform} device of user {self.user_id}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class NotificationDelivery(TimeStampedModel):
    """One external channel's attempt(s) to deliver a notification: written when queued, updated by the
    delivery task after each attempt."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="notification_delivery_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(channel=NotificationChannel.IN_APP), name="delivery_channel_external"
            ),
        ]
        indexes = [models.Index(fields=["status", "channel"])]

    def __str__(self):
        return f"{self.channel} delivery of notification {self.notification_id}: {self.status}"


# Queued until one attempt settles it (notifications.services.delivery); a notification created for a
# channel the user turned off starts as skipped. No history: the row keeps its attempts and last error.
DELIVERY_MACHINE = register(
    StateMachine(
        label="notification delivery",
        model=NotificationDelivery,
        transitions={
            DeliveryStatus.QUEUED: frozenset(
                {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED}
            ),
            DeliveryStatus.SENT: frozenset(),
            DeliveryStatus.FAILED: frozenset(),
            DeliveryStatus.SKIPPED: frozenset(),
        },
    )
)
