from django.contrib import admin

from featurephone.models import InboundSms, OfferCode, SmsOfferEnrolment, UssdStep


@admin.register(SmsOfferEnrolment)
class SmsOfferEnrolmentAdmin(admin.ModelAdmin):
    list_display = ("technician", "is_active", "created_at")
    list_filter = ("is_active",)
    raw_id_fields = ("technician",)


@admin.register(OfferCode)
class OfferCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "technician", "booking", "created_at")
    raw_id_fields = ("technician", "booking")


@admin.register(InboundSms)
class InboundSmsAdmin(admin.ModelAdmin):
    list_display = ("provider_message_id", "status", "outcome", "received_at", "reply_sent_at")
    list_filter = ("status", "outcome")
    raw_id_fields = ("technician", "booking")
    readonly_fields = [f.name for f in InboundSms._meta.fields]


@admin.register(UssdStep)
class UssdStepAdmin(admin.ModelAdmin):
    list_display = ("session_id", "text", "outcome", "created_at")
    list_filter = ("outcome",)
    raw_id_fields = ("technician", "booking")
    readonly_fields = [f.name for f in UssdStep._meta.fields]
