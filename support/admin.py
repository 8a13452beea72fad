from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render
from django.utils.text import Truncator

from accounts.models import Role, User
from dumuwaks.core.errors import ApplicationError
from support import services
from support.models import (
    AgentAvailability,
    SupportTicket,
    TicketMessage,
    TicketStatus,
    TicketStatusHistory,
)

RESOLUTION_SUMMARY_CHARS = 80


class TicketMessageInline(admin.TabularInline):
    model = TicketMessage
    extra = 0
    fields = ("created_at", "author", "is_internal", "body", "attachments")
    readonly_fields = ("created_at", "author", "attachments")
    raw_id_fields = ("author",)
    ordering = ("created_at",)


class TicketStatusHistoryInline(admin.TabularInline):
    model = TicketStatusHistory
    extra = 0
    can_delete = False
    fields = ("created_at", "actor", "from_status", "to_status", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class AssignForm(forms.Form):
    agent = forms.ModelChoiceField(
        queryset=User.objects.filter(role__in=(Role.SUPPORT, Role.ADMIN), is_active=True),
        required=False,
        empty_label="Automatic (least busy available agent)",
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in TicketStatus if s != TicketStatus.REOPENED]
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    resolution = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to resolve or close a ticket: what was done for the customer. Closing a"
        " resolved ticket keeps its resolution unless you write a new one.",
    )


def _run_for_each(modeladmin, request, queryset, action, verb: str):
    done, failed = 0, []
    for ticket in queryset:
        try:
            action(ticket)
            done += 1
        except ApplicationError as exc:
            failed.append(f"{ticket.number}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} ticket(s).", messages.SUCCESS)
    for line in failed:
        modeladmin.message_user(request, line, messages.ERROR)


def _intermediate(request, queryset, form, title, action_name):
    return render(
        request,
        "admin/support/ticket_action.html",
        {
            "title": title,
            "tickets": queryset,
            "form": form,
            "action_name": action_name,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": SupportTicket._meta,
        },
    )


@admin.register(SupportTicket)
class SupportTicketAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "subject",
        "category",
        "priority",
        "status",
        "assigned_to",
        "escalation_level",
        "first_response_due_at",
        "sla_first_response_met",
        "sla_resolution_met",
        "resolution_summary",
        "created_at",
    )
    list_filter = (
        "status",
        "priority",
        "category",
        "escalation_level",
        "sla_first_response_met",
        "sla_resolution_met",
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = (
        "number",
        "subject",
        "created_by__email",
        "created_by__phone_number",
        "related_booking__number",
        "related_transaction_ref",
        "resolution",
    )
    date_hierarchy = "created_at"
    list_select_related = ("assigned_to", "created_by")
    raw_id_fields = ("created_by", "related_booking", "related_payment")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "subject",
                    "description",
                    "category",
                    "priority",
                    "status",
                    "created_by",
                    "assigned_to",
                    "assigned_at",
                )
            },
        ),
        (
            "Resolution",
            {"fields": ("resolution", "resolved_at", "closed_at", "csat_rating", "csat_comment")},
        ),
        (
            "Related",
            {
                "fields": (
                    "related_booking",
                    "related_payment",
                    "related_transaction_ref",
                    "chat_conversation_id",
                )
            },
        ),
        (
            "SLA",
            {
                "fields": (
                    "sla_started_at",
                    "first_response_due_at",
                    "first_responded_at",
                    "sla_first_response_met",
                    "resolution_due_at",
                    "sla_resolution_met",
                    "escalation_level",
                    "last_escalated_at",
                    "waiting_alert_sent_at",
                )
            },
        ),
        ("Record", {"fields": ("rated_at", "created_at", "updated_at")}),
    )
    # Workflow fields change only through the services (actions below), never by editing the form; the
    # resolution is written by resolving or closing, with a history row.
    readonly_fields = (
        "number",
        "status",
        "priority",
        "assigned_to",
        "assigned_at",
        "sla_started_at",
        "first_response_due_at",
        "resolution_due_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "sla_first_response_met",
        "sla_resolution_met",
        "escalation_level",
        "last_escalated_at",
        "waiting_alert_sent_at",
        "resolution",
        "csat_rating",
        "csat_comment",
        "rated_at",
        "chat_conversation_id",
        "created_at",
        "updated_at",
    )
    inlines = [TicketMessageInline, TicketStatusHistoryInline]
    actions = ["assign_tickets", "change_status", "escalate_tickets"]

    def has_add_permission(self, request):
        return False  # tickets are opened through the API so numbering, SLA and assignment apply

    @admin.display(description="Resolution")
    def resolution_summary(self, obj) -> str:
        return Truncator(obj.resolution).chars(RESOLUTION_SUMMARY_CHARS) if obj.resolution else "—"

    @admin.action(description="Assign selected tickets")
    def assign_tickets(self, request, queryset):
        if "apply" in request.POST:
            form = AssignForm(request.POST)
            if form.is_valid():
                agent = form.cleaned_data["agent"]
                _run_for_each(
                    self,
                    request,
                    queryset,
                    lambda t: services.ticket_assign(ticket=t, agent=agent, actor=request.user),
                    "Assigned",
                )
                return None
        else:
            form = AssignForm()
        return _intermediate(request, queryset, form, "Assign tickets", "assign_tickets")

    @admin.action(description="Change status of selected tickets")
    def change_status(self, request, queryset):
        if "apply" in request.POST:
            form = StatusForm(request.POST)
            if form.is_valid():
                _run_for_each(
                    self,
                    request,
                    queryset,
                    lambda t: services.ticket_change_status(
                        ticket=t,
                        to=form.cleaned_data["status"],
                        actor=request.user,
                        note=form.cleaned_data["note"],
                        resolution=form.cleaned_data["resolution"],
                    ),
                    "Updated",
                )
                return None
        else:
            form = StatusForm()
        return _intermediate(request, queryset, form, "Change ticket status", "change_status")

    @admin.action(description="Escalate selected tickets")
    def escalate_tickets(self, request, queryset):
        _run_for_each(
            self,
            request,
            queryset,
            lambda t: services.ticket_escalate(ticket=t, actor=request.user, reason="from admin"),
            "Escalated",
        )


@admin.register(TicketMessage)
class TicketMessageAdmin(admin.ModelAdmin):
    list_display = ("ticket", "author", "is_internal", "created_at")
    list_filter = ("is_internal",)
    search_fields = ("ticket__number", "body", "author__email")
    raw_id_fields = ("ticket", "author")
    list_select_related = ("ticket", "author")


@admin.register(AgentAvailability)
class AgentAvailabilityAdmin(admin.ModelAdmin):
    list_display = ("agent", "is_available", "max_open_tickets", "updated_at")
    list_filter = ("is_available",)
    search_fields = ("agent__email", "agent__first_name", "agent__last_name")
    raw_id_fields = ("agent",)
    list_select_related = ("agent",)
