from django.contrib import admin

from notifications.models import (
    Conversation,
    ConversationParticipant,
    DeviceToken,
    Message,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)


class ParticipantInline(admin.TabularInline):
    model = ConversationParticipant
    extra = 0
    raw_id_fields = ("user", "last_read_message")
    readonly_fields = ("unread_count", "last_read_at")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "booking",
        "subject",
        "created_by",
        "last_message_at",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("subject", "booking__number", "participants__user__email")
    raw_id_fields = ("booking", "created_by")
    readonly_fields = ("direct_key", "last_message_at")
    inlines = [ParticipantInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "conversation",
        "sender",
        "short_body",
        "is_edited",
        "is_deleted",
        "created_at",
    )
    list_filter = ("is_deleted", "is_edited")
    search_fields = ("body", "sender__email")
    raw_id_fields = ("conversation", "sender", "reply_to")
    date_hierarchy = "created_at"

    @admin.display(description="body")
    def short_body(self, obj):
        return obj.body[:80]


class DeliveryInline(admin.TabularInline):
    model = NotificationDelivery
    extra = 0
    readonly_fields = ("channel", "status", "provider_message_id", "error", "attempts", "sent_at")
    can_delete = False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "type", "group", "title", "is_in_app", "is_read", "created_at")
    list_filter = ("group", "is_read", "is_in_app", "language")
    search_fields = ("user__email", "type", "title")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "notification", "channel", "status", "attempts", "sent_at", "created_at")
    list_filter = ("channel", "status")
    search_fields = ("notification__user__email", "provider_message_id", "error")
    raw_id_fields = ("notification",)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "group", "channel", "enabled", "updated_at")
    list_filter = ("group", "channel", "enabled")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "platform", "kind", "last_seen", "created_at")
    list_filter = ("platform", "kind")
    search_fields = ("user__email", "token")
    raw_id_fields = ("user",)
