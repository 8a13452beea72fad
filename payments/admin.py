from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render

from dumuwaks.core.errors import ApplicationError
from dumuwaks.core.permissions import is_admin, is_staff_member
from payments.models import (
    PAYOUT_ATTEMPT_OPEN_OUTCOMES,
    BalanceCollection,
    CallbackEvent,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentStatusHistory,
    Payout,
    PayoutAttempt,
    PayoutStatusHistory,
    RecoverySettlement,
    SuspenseItem,
    TechnicianRecovery,
)
from payments.selectors.recoveries import technician_recovery_list
from payments.services.callbacks import stk_callback_attach
from payments.services.payments import payment_check_status
from payments.services.payouts import (
    payout_cancel,
    payout_check_status,
    payout_confirm_not_paid,
    payout_confirm_paid,
    payout_process_one,
)
from payments.services.recoveries import recovery_record_repayment, recovery_write_off
from payments.services.suspense import suspense_item_match, suspense_item_refund


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PaymentStatusHistoryInline(_ReadOnlyInline):
    model = PaymentStatusHistory
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields


class PayoutStatusHistoryInline(_ReadOnlyInline):
    model = PayoutStatusHistory
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields


class PayoutAttemptInline(_ReadOnlyInline):
    model = PayoutAttempt
    fields = [
        "number",
        "originator_conversation_id",
        "conversation_id",
        "amount",
        "outcome",
        "result_code",
        "result_desc",
        "receipt",
        "resolved_at",
        "last_checked_at",
        "status_checks",
        "next_check_at",
        "confirmed_by",
    ]
    readonly_fields = fields


class OverpaidFilter(admin.SimpleListFilter):
    title = "double payment"
    parameter_name = "overpaid"

    def lookups(self, request, model_admin):
        return [("yes", "Money to recover (paid twice / after cancellation)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(overpaid_amount__gt=0)
        return queryset


class EscalatedFilter(admin.SimpleListFilter):
    title = "escalated to staff"
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return [
            ("open", "Escalated, outcome still open (confirm paid / not paid)"),
            ("all", "Ever escalated"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(
                escalated_at__isnull=False, attempts__outcome__in=PAYOUT_ATTEMPT_OPEN_OUTCOMES
            ).distinct()
        if self.value() == "all":
            return queryset.filter(escalated_at__isnull=False)
        return queryset


def staff_form_action(modeladmin, request, queryset, *, form_class, action, title, describe, apply):
    """An admin action on exactly one row that first asks for input (`form_class`), then calls
    `apply(obj, cleaned_data)` (a service; its ApplicationError is shown). Administrators only."""
    if not is_admin(request.user):
        modeladmin.message_user(request, "Only administrators may move money.", messages.ERROR)
        return None
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one row.", messages.ERROR)
        return None
    obj = queryset.get()
    form = form_class(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return render(
            request,
            "admin/payments/staff_action_form.html",
            {
                "title": title,
                "description": describe(obj),
                "object_id": obj.pk,
                "form": form,
                "action": action,
                "submit_label": title,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": modeladmin.model._meta,
            },
        )
    try:
        message = apply(obj, form.cleaned_data)
    except ApplicationError as exc:
        modeladmin.message_user(request, f"Refused ({exc.code}): {exc.message}", messages.ERROR)
        return None
    modeladmin.message_user(request, message, messages.SUCCESS)
    return None


class PayoutConfirmPaidForm(forms.Form):
    receipt = forms.RegexField(
        r"^[A-Za-z0-9]{10}$", help_text="M-Pesa receipt seen on the org portal statement"
    )
    attempt = forms.IntegerField(
        min_value=1, required=False, help_text="Only when several attempts are open"
    )
    note = forms.CharField(required=False, max_length=200)


class PayoutConfirmNotPaidForm(forms.Form):
    evidence = forms.CharField(max_length=200, help_text="What shows nothing was paid")
    attempt = forms.IntegerField(
        min_value=1, required=False, help_text="Only when several attempts are open"
    )


def _describe_payout(payout) -> str:
    ids = ", ".join(f"{a.originator_conversation_id} ({a.outcome})" for a in payout.attempts.all())
    return (
        f"Payout {payout.pk}: {payout.get_kind_display()} of {payout.currency} {payout.amount} to "
        f"{payout.phone or '-'}, status {payout.status}; attempts: {ids or 'none'}."
    )


class _NoWriteAdmin(admin.ModelAdmin):
    """Money rows change only through services (status transitions with history)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecoveryOpenFilter(admin.SimpleListFilter):
    title = "still owed"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Still owed (open)"), ("no", "Repaid")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(outstanding__gt=0)
        if self.value() == "no":
            return queryset.filter(outstanding=0)
        return queryset


class RecoverySettlementInline(_ReadOnlyInline):
    model = RecoverySettlement
    fields = ["created_at", "kind", "amount", "receipt", "note", "actor", "ledger_reference"]
    readonly_fields = fields


class RecoveryWriteOffForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Why the platform gives up on this money")


class RecoveryRepaymentForm(forms.Form):
    amount = forms.DecimalField(min_value=1, max_digits=12, decimal_places=2)
    receipt = forms.RegexField(
        r"^[A-Za-z0-9]{10}$", help_text="M-Pesa receipt of the repayment to the paybill"
    )
    note = forms.CharField(required=False, max_length=200)


def _describe_recovery(recovery) -> str:
    row = technician_recovery_list().get(pk=recovery.pk)
    return (
        f"Recovery {recovery.pk}: {recovery.debtor_role} {recovery.debtor} owes {row.outstanding} "
        f"{recovery.currency} of {recovery.amount} ({recovery.get_reason_display()}, booking "
        f"{recovery.booking.number})."
    )


@admin.register(TechnicianRecovery)
class TechnicianRecoveryAdmin(_NoWriteAdmin):
    """Money owed back: by technicians (a refund after they were paid, a payout paid twice: withheld
    automatically from their next payouts, oldest debt first) or by customers (a refund paid twice). Staff
    close a debt otherwise by recording the debtor's M-Pesa repayment or writing it off; "still owed" is
    derived from the ledger."""

    list_display = [
        "id",
        "debtor_role",
        "technician",
        "customer",
        "booking",
        "reason",
        "amount",
        "still_owed",
        "created_at",
        "dispute",
        "payout",
    ]
    list_filter = [RecoveryOpenFilter, "reason"]
    search_fields = [
        "technician__email",
        "customer__email",
        "booking__number",
        "ledger_reference",
    ]
    raw_id_fields = ["technician", "customer", "booking", "dispute", "payout"]
    readonly_fields = ["still_owed"]
    inlines = [RecoverySettlementInline]
    actions = ["write_off", "record_repayment"]

    def get_queryset(self, request):
        return technician_recovery_list()

    @admin.display(description="still owed", ordering="outstanding")
    def still_owed(self, obj):
        return obj.outstanding

    @admin.action(description="Write off what is still owed (a loss; reason required)")
    def write_off(self, request, queryset):
        def apply(recovery, data):
            done = recovery_write_off(
                recovery_id=recovery.pk, actor=request.user, reason=data["reason"]
            )
            return f"Recovery {recovery.pk}: KES {done.amount} written off."

        return staff_form_action(
            self,
            request,
            queryset,
            form_class=RecoveryWriteOffForm,
            action="write_off",
            title="Write off",
            describe=_describe_recovery,
            apply=apply,
        )

    @admin.action(description="Record a repayment (M-Pesa receipt to the paybill)")
    def record_repayment(self, request, queryset):
        def apply(recovery, data):
            done = recovery_record_repayment(
                recovery_id=recovery.pk,
                amount=data["amount"],
                receipt=data["receipt"],
                note=data["note"],
                actor=request.user,
            )
            return f"Recovery {recovery.pk}: KES {done.amount} repaid (M-Pesa {done.receipt})."

        return staff_form_action(
            self,
            request,
            queryset,
            form_class=RecoveryRepaymentForm,
            action="record_repayment",
            title="Record repayment",
            describe=_describe_recovery,
            apply=apply,
        )


@admin.register(Payment)
class PaymentAdmin(_NoWriteAdmin):
    list_display = ["id", "booking", "payer", "purpose", "method", "amount", "status", "created_at"]
    list_filter = ["status", "purpose", "method"]
    search_fields = [
        "checkout_request_id",
        "mpesa_receipt",
        "stripe_payment_intent_id",
        "booking__number",
        "payer__email",
        "phone",
    ]
    list_select_related = ["booking", "payer"]
    raw_id_fields = ["booking", "payer"]
    inlines = [PaymentStatusHistoryInline]
    date_hierarchy = "created_at"
    actions = ["check_status_of_selected_payments"]

    @admin.action(
        description="Check status with M-Pesa (STK Query / suspense) of payments not final"
    )
    def check_status_of_selected_payments(self, request, queryset):
        if not is_staff_member(request.user):
            self.message_user(request, "Only staff may check payments.", messages.ERROR)
            return
        results, refused = [], []
        for pk in queryset.values_list("pk", flat=True):
            try:
                results.append(
                    f"#{pk} {payment_check_status(payment_id=pk, actor=request.user).status}"
                )
            except ApplicationError as exc:
                refused.append(f"#{pk} ({exc.code})")
        if results:
            self.message_user(request, "Checked: " + ", ".join(results), messages.SUCCESS)
        if refused:
            self.message_user(request, "Not checked: " + ", ".join(refused), messages.WARNING)


@admin.register(Payout)
class PayoutAdmin(_NoWriteAdmin):
    list_display = [
        "id",
        "kind",
        "channel",
        "booking",
        "recipient",
        "amount",
        "status",
        "review_reason",
        "attempt",
        "overpaid_amount",
        "escalated_at",
        "created_at",
    ]
    list_filter = ["status", EscalatedFilter, OverpaidFilter, "kind", "channel"]
    search_fields = [
        "originator_conversation_id",
        "attempts__originator_conversation_id",
        "conversation_id",
        "receipt",
        "booking__number",
        "recipient__email",
        "phone",
    ]
    list_select_related = ["booking", "recipient"]
    raw_id_fields = [
        "booking",
        "recipient",
        "approved_by",
        "source_payment",
        "carried_into",
        "escalation_ticket",
    ]
    inlines = [PayoutAttemptInline, PayoutStatusHistoryInline]
    actions = [
        "process_selected_payouts",
        "check_status_of_selected_payouts",
        "cancel_selected_payouts",
        "confirm_paid",
        "confirm_not_paid",
    ]

    @admin.action(description="Confirm paid (receipt from the M-Pesa statement)")
    def confirm_paid(self, request, queryset):
        def apply(payout, data):
            payout = payout_confirm_paid(
                payout_id=payout.pk,
                receipt=data["receipt"],
                attempt=data["attempt"],
                note=data["note"],
                actor=request.user,
            )
            return f"Payout {payout.pk} is {payout.status}."

        return staff_form_action(
            self,
            request,
            queryset,
            form_class=PayoutConfirmPaidForm,
            action="confirm_paid",
            title="Confirm paid",
            describe=_describe_payout,
            apply=apply,
        )

    @admin.action(description="Confirm not paid (evidence from the M-Pesa statement)")
    def confirm_not_paid(self, request, queryset):
        def apply(payout, data):
            payout = payout_confirm_not_paid(
                payout_id=payout.pk,
                evidence=data["evidence"],
                attempt=data["attempt"],
                actor=request.user,
            )
            return f"Payout {payout.pk} is {payout.status}; process it to send a new attempt."

        return staff_form_action(
            self,
            request,
            queryset,
            form_class=PayoutConfirmNotPaidForm,
            action="confirm_not_paid",
            title="Confirm not paid",
            describe=_describe_payout,
            apply=apply,
        )

    @admin.action(description="Process selected payouts (approve / retry / re-check)")
    def process_selected_payouts(self, request, queryset):
        if not is_admin(request.user):
            self.message_user(request, "Only administrators may move money.", messages.ERROR)
            return
        results = [
            payout_process_one(payout_id=pk, actor=request.user)
            for pk in queryset.values_list("pk", flat=True)
        ]
        done = sum(1 for r in results if r["ok"])
        failed = [f"#{r['id']} ({r['code']})" for r in results if not r["ok"]]
        self.message_user(request, f"{done} payout(s) processed.", messages.SUCCESS)
        if failed:
            self.message_user(request, "Not processed: " + ", ".join(failed), messages.WARNING)

    @admin.action(description="Check status with M-Pesa (Transaction Status for open attempts)")
    def check_status_of_selected_payouts(self, request, queryset):
        if not is_staff_member(request.user):
            self.message_user(request, "Only staff may check payouts.", messages.ERROR)
            return
        done, refused = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                payout_check_status(payout_id=pk, actor=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(f"#{pk} ({exc.code})")
        self.message_user(
            request, f"Status check requested for {done} payout(s).", messages.SUCCESS
        )
        if refused:
            self.message_user(request, "Not checked: " + ", ".join(refused), messages.WARNING)

    @admin.action(description="Cancel selected payouts (the money stays payable)")
    def cancel_selected_payouts(self, request, queryset):
        if not is_admin(request.user):
            self.message_user(request, "Only administrators may move money.", messages.ERROR)
            return
        done, refused = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                payout_cancel(payout_id=pk, actor=request.user, note="cancelled in admin")
                done += 1
            except ApplicationError as exc:
                refused.append(f"#{pk} ({exc.code})")
        self.message_user(request, f"{done} payout(s) cancelled.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not cancelled: " + ", ".join(refused), messages.WARNING)


class SuspenseMatchForm(forms.Form):
    payment_id = forms.IntegerField(
        min_value=1, help_text="The payment this money belongs to (same amount; not succeeded)."
    )
    note = forms.CharField(required=False, max_length=200)


@admin.register(SuspenseItem)
class SuspenseItemAdmin(_NoWriteAdmin):
    """M-Pesa money that matched no payment (ledger account mpesa_suspense): match it or refund it."""

    list_display = [
        "id",
        "created_at",
        "amount",
        "phone",
        "receipt",
        "paid_at",
        "checkout_request_id",
        "status",
        "payment",
        "refund_payout",
    ]
    list_filter = ["status"]
    search_fields = ["checkout_request_id", "receipt", "phone"]
    list_select_related = ["payment", "refund_payout"]
    raw_id_fields = ["callback_event", "payment", "refund_payout", "resolved_by"]
    date_hierarchy = "created_at"
    actions = ["match_to_payment", "refund_selected_items"]

    @admin.action(description="Match to payment (credit the money to a payment)")
    def match_to_payment(self, request, queryset):
        if not is_admin(request.user):
            self.message_user(request, "Only administrators may move money.", messages.ERROR)
            return None
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one item to match.", messages.ERROR)
            return None
        item = queryset.get()
        form = SuspenseMatchForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return render(
                request,
                "admin/payments/suspense_match.html",
                {
                    "title": "Match suspense money to a payment",
                    "item": item,
                    "form": form,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        try:
            payment = suspense_item_match(
                item_id=item.pk,
                payment_id=form.cleaned_data["payment_id"],
                actor=request.user,
                note=form.cleaned_data["note"] or "matched by staff",
            )
        except ApplicationError as exc:
            self.message_user(request, f"Not matched: {exc.message}", messages.ERROR)
            return None
        self.message_user(
            request, f"Suspense item {item.pk} credited to payment {payment.pk}.", messages.SUCCESS
        )
        return None

    @admin.action(description="Refund selected items to the paying number (refund payout)")
    def refund_selected_items(self, request, queryset):
        if not is_admin(request.user):
            self.message_user(request, "Only administrators may move money.", messages.ERROR)
            return
        done, refused = [], []
        for pk in queryset.values_list("pk", flat=True):
            try:
                item = suspense_item_refund(item_id=pk, actor=request.user)
                done.append(f"#{pk} → payout {item.refund_payout_id}")
            except ApplicationError as exc:
                refused.append(f"#{pk} ({exc.code})")
        if done:
            self.message_user(request, "Refunded: " + ", ".join(done), messages.SUCCESS)
        if refused:
            self.message_user(request, "Not refunded: " + ", ".join(refused), messages.WARNING)


class CallbackAttachForm(forms.Form):
    payment_id = forms.IntegerField(
        min_value=1,
        help_text="The push this callback answers (sent, its answer lost: no CheckoutRequestID)",
    )


@admin.register(CallbackEvent)
class CallbackEventAdmin(_NoWriteAdmin):
    """Every provider delivery. Status "unmatched": an STK callback no payment has the CheckoutRequestID of
    (a failure for a push whose answer was lost carries no phone or amount); it is applied automatically when
    a payment learns that id, or attached here by staff."""

    list_display = ["id", "provider", "kind", "provider_key", "status", "outcome", "replay_count"]
    list_filter = ["provider", "kind", "status"]
    search_fields = ["provider_key", "outcome"]
    date_hierarchy = "created_at"
    actions = ["attach_to_payment"]

    @admin.action(description="Attach this unmatched STK callback to a payment")
    def attach_to_payment(self, request, queryset):
        def apply(event, data):
            outcome = stk_callback_attach(
                event_id=event.pk, payment_id=data["payment_id"], actor=request.user
            )
            return f"Callback {event.pk} applied to payment {data['payment_id']}: {outcome}."

        return staff_form_action(
            self,
            request,
            queryset,
            form_class=CallbackAttachForm,
            action="attach_to_payment",
            title="Attach to payment",
            describe=lambda event: (
                f"Callback {event.pk} ({event.kind}) under {event.provider_key}: {event.outcome}."
            ),
            apply=apply,
        )


class LedgerEntryInline(_ReadOnlyInline):
    model = LedgerEntry
    fields = ["account", "side", "amount", "currency"]
    readonly_fields = fields


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(_NoWriteAdmin):
    list_display = ["id", "kind", "reference", "booking", "payment", "payout", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference", "memo", "booking__number"]
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_NoWriteAdmin):
    list_display = ["id", "transaction", "account", "side", "amount", "currency", "created_at"]
    list_filter = ["side"]
    search_fields = ["account__code", "transaction__reference"]
    list_select_related = ["transaction", "account"]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(_NoWriteAdmin):
    list_display = ["code", "name", "currency", "booking", "user", "created_at"]
    search_fields = ["code", "name"]


@admin.register(BalanceCollection)
class BalanceCollectionAdmin(_NoWriteAdmin):
    """Balances being collected (reminders sent) and those handed to support (payments/services/balance.py)."""

    list_display = [
        "booking",
        "due_since",
        "reminders_sent",
        "last_reminder_at",
        "overdue_at",
        "support_ticket",
    ]
    list_filter = [("overdue_at", admin.EmptyFieldListFilter)]
    search_fields = ["booking__number", "support_ticket__number"]
    list_select_related = ["booking", "support_ticket"]
    date_hierarchy = "due_since"
