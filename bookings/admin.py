"""Admin for bookings, disputes and availability. State changes go through the services, never raw saves."""

from django import forms
from django.contrib import admin, messages

from bookings.models import (
    Booking,
    BookingStatusHistory,
    Dispute,
    DisputeNote,
    DisputeOutcome,
    DisputeStatus,
    DisputeStatusHistory,
    TimeOff,
    WeeklyAvailability,
)
from bookings.services import booking_cancel, dispute_add_note, dispute_resolve
from dumuwaks.core.errors import ApplicationError


class BookingStatusHistoryInline(admin.TabularInline):
    model = BookingStatusHistory
    extra = 0
    can_delete = False
    fields = ("created_at", "actor", "from_status", "to_status", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "status",
        "customer",
        "technician",
        "category",
        "scheduled_start",
        "price",
        "deposit_paid_at",
    )
    list_filter = ("status", "urgency", "category", "county", "scheduled_start", "created_at")
    search_fields = ("number", "title", "customer__email", "technician__email", "address")
    list_select_related = ("customer", "technician", "category")
    raw_id_fields = ("customer", "technician", "cancelled_by")
    date_hierarchy = "scheduled_start"
    inlines = [BookingStatusHistoryInline]
    actions = ["cancel_bookings"]
    # Status, money and timestamps only change through the services.
    readonly_fields = (
        "number",
        "status",
        "customer",
        "technician",
        "price",
        "deposit_amount",
        "balance_amount",
        "platform_fee",
        "technician_share",
        "currency",
        "payment_due_at",
        "deposit_paid_at",
        "accepted_at",
        "started_at",
        "completed_at",
        "confirmed_at",
        "cancelled_at",
        "cancelled_by",
        "cancellation_reason",
        "cancellation_fee",
        "scheduled_start",
        "scheduled_end",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel selected bookings (staff: no fee, counts against technician)")
    def cancel_bookings(self, request, queryset):
        done, failed = 0, []
        for booking in queryset:
            try:
                booking_cancel(booking=booking, actor=request.user, reason="Cancelled by staff")
                done += 1
            except ApplicationError as exc:
                failed.append(f"{booking.number}: {exc.message}")
        if done:
            self.message_user(request, f"Cancelled {done} booking(s).", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


class DisputeNoteInline(admin.TabularInline):
    model = DisputeNote
    extra = 0
    can_delete = False
    fields = ("created_at", "author", "body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DisputeStatusHistoryInline(admin.TabularInline):
    model = DisputeStatusHistory
    extra = 0
    can_delete = False
    fields = ("created_at", "actor", "from_status", "to_status", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DisputeAdminForm(forms.ModelForm):
    """Staff add a note and/or resolve here; saving calls the dispute services."""

    add_note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    resolve_outcome = forms.ChoiceField(
        required=False, choices=[("", "— keep open —"), *DisputeOutcome.choices]
    )
    resolve_refund_amount = forms.DecimalField(
        required=False, max_digits=12, decimal_places=2, help_text="Partial refund only (KES)"
    )
    resolve_notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Dispute
        fields = ()


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    form = DisputeAdminForm
    list_display = (
        "id",
        "booking",
        "status",
        "outcome",
        "refund_amount",
        "opened_by",
        "created_at",
    )
    list_filter = ("status", "outcome", "created_at")
    search_fields = ("booking__number", "opened_by__email", "reason")
    list_select_related = ("booking", "opened_by")
    inlines = [DisputeNoteInline, DisputeStatusHistoryInline]
    readonly_fields = (
        "booking",
        "opened_by",
        "reason",
        "evidence",
        "status",
        "outcome",
        "refund_amount",
        "currency",
        "resolved_by",
        "resolved_at",
        "resolution_notes",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": readonly_fields}),
        (
            "Review",
            {"fields": ("add_note", "resolve_outcome", "resolve_refund_amount", "resolve_notes")},
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if data.get("add_note"):
                dispute_add_note(dispute=obj, author=request.user, body=data["add_note"])
            if data.get("resolve_outcome") and obj.status != DisputeStatus.RESOLVED:
                obj.refresh_from_db()
                dispute_resolve(
                    dispute=obj,
                    actor=request.user,
                    outcome=data["resolve_outcome"],
                    refund_amount=data.get("resolve_refund_amount"),
                    notes=data.get("resolve_notes") or "",
                )
        except ApplicationError as exc:
            details = [
                message for messages_ in (exc.fields or {}).values() for message in messages_
            ]
            text = " ".join([exc.message, *details])
            self.message_user(request, f"Not saved: {text}", messages.ERROR)


@admin.register(WeeklyAvailability)
class WeeklyAvailabilityAdmin(admin.ModelAdmin):
    list_display = ("technician", "weekday", "start_time", "end_time")
    list_filter = ("weekday",)
    search_fields = ("technician__email", "technician__first_name", "technician__last_name")
    raw_id_fields = ("technician",)
    list_select_related = ("technician",)


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ("technician", "starts_at", "ends_at", "reason")
    list_filter = ("starts_at",)
    search_fields = ("technician__email", "reason")
    raw_id_fields = ("technician",)
    list_select_related = ("technician",)
