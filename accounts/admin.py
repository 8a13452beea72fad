from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, BaseUserCreationForm, UserChangeForm
from django.db.models import Q, QuerySet
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import (
    CorporateProfile,
    KycRejectionReason,
    KycReview,
    KycStatus,
    PortfolioItem,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)
from accounts.services import kyc_review, kyc_transition
from accounts.services.portfolio import portfolio_item_moderate
from accounts.throttles import sign_in_locks_lift
from dumuwaks.core.errors import ApplicationError
from notifications.realtime import user_sockets_revalidate_after_commit

# KYC documents are previewed inline when their URL names an image; PDFs (and anything else) are links.
KYC_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
KYC_PREVIEW_STYLE = "max-width: 320px; max-height: 240px; border: 1px solid #ccc"


class AccountUserCreationForm(BaseUserCreationForm):
    """Staff create accounts (including support/admin roles) with an email instead of a username."""

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "phone_number", "role")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class AccountUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class AccountAdminPasswordChangeForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:  # the user's open WebSockets re-check their tokens and close (4401)
            user_sockets_revalidate_after_commit(user.pk)
        return user


class SignInLockedFilter(admin.SimpleListFilter):
    title = "sign-in locked"
    parameter_name = "sign_in_locked"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        locked = Q(locked_until__gt=timezone.now())
        if self.value() == "yes":
            return queryset.filter(locked)
        if self.value() == "no":
            return queryset.exclude(locked)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff deactivating, deleting or setting the password of an account close its open WebSockets, as the
    services for logout, password change and deletion do (`user_sockets_revalidate_after_commit`)."""

    form = AccountUserChangeForm
    add_form = AccountUserCreationForm
    change_password_form = AccountAdminPasswordChangeForm
    list_display = [
        "id",
        "email",
        "first_name",
        "last_name",
        "role",
        "phone_number",
        "is_email_verified",
        "is_phone_verified",
        "is_active",
        "sign_in_locked_until",
        "date_joined",
    ]
    list_filter = [
        SignInLockedFilter,
        "role",
        "is_active",
        "is_staff",
        "is_email_verified",
        "is_phone_verified",
        "preferred_language",
        "county",
    ]
    search_fields = ["email", "handle", "first_name", "last_name", "phone_number"]
    ordering = ["-date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            "Personal",
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "handle",
                    "phone_number",
                    "preferred_language",
                    "avatar_url",
                )
            },
        ),
        ("Location", {"fields": ("address", "county", "latitude", "longitude")}),
        (
            "Role and verification",
            {"fields": ("role", "is_email_verified", "is_phone_verified", "phone_changed_at")},
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (
            "Security",
            {
                "fields": (
                    "sign_in_locked_until",
                    "last_login",
                    "date_joined",
                    "deleted_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "phone_number",
                    "role",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = [
        "sign_in_locked_until",
        "last_login",
        "date_joined",
        "deleted_at",
        "phone_changed_at",
    ]
    filter_horizontal = ["groups", "user_permissions"]
    actions = ["unlock_accounts"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            user_sockets_revalidate_after_commit(obj.pk)

    def delete_model(self, request, obj):
        user_id = obj.pk
        super().delete_model(request, obj)
        user_sockets_revalidate_after_commit(user_id)

    def delete_queryset(self, request, queryset):
        user_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for user_id in user_ids:
            user_sockets_revalidate_after_commit(user_id)

    @admin.display(description="Sign-in locked until", ordering="locked_until")
    def sign_in_locked_until(self, obj):
        """Some address is refused for this account until then (accounts.throttles: locks are per email
        and source address and live in Redis; this is the record the lock task writes for staff)."""
        return obj.locked_until if obj.is_locked else None

    @admin.action(
        description="Unlock the selected accounts (every address, failed sign-ins cleared)"
    )
    def unlock_accounts(self, request, queryset):
        for email in queryset.values_list("email", flat=True):
            sign_in_locks_lift(email=email)
        count = queryset.update(locked_until=None)
        self.message_user(request, f"{count} account(s) unlocked.", level=messages.SUCCESS)


class TechnicianSkillInline(admin.TabularInline):
    model = TechnicianSkill
    extra = 0
    autocomplete_fields = ["category"]


_PORTFOLIO_FIELDS = [
    "title",
    "category",
    "completed_on",
    "booking",
    "position",
    "is_hidden",
    "hidden_reason",
]


class PortfolioItemInline(admin.TabularInline):
    """Technicians keep their portfolio through the API; staff hide items from the Portfolio items page."""

    model = PortfolioItem
    extra = 0
    fields = _PORTFOLIO_FIELDS
    readonly_fields = _PORTFOLIO_FIELDS
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PortfolioItem)
class PortfolioItemAdmin(admin.ModelAdmin):
    """Read-only but for the hide/unhide actions (accounts.services.portfolio.portfolio_item_moderate)."""

    list_display = ["title", "profile", "category", "is_hidden", "created_at"]
    list_filter = ["is_hidden", "category"]
    search_fields = ["title", "profile__user__email", "profile__user__handle"]
    list_select_related = ["profile__user", "category"]
    readonly_fields = [
        "profile",
        "description",
        "media_url",
        *_PORTFOLIO_FIELDS,
        "hidden_at",
        "hidden_by",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    actions = ["hide_items", "unhide_items"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _moderate(self, request, queryset, *, hidden: bool):
        for item_id in queryset.values_list("pk", flat=True):
            portfolio_item_moderate(
                item_id=item_id, actor=request.user, hidden=hidden, reason="Hidden in the admin"
            )
        self.message_user(request, f"{queryset.count()} item(s) updated.", level=messages.SUCCESS)

    @admin.action(description="Hide the selected items from the public profile")
    def hide_items(self, request, queryset):
        self._moderate(request, queryset, hidden=True)

    @admin.action(description="Show the selected items on the public profile again")
    def unhide_items(self, request, queryset):
        self._moderate(request, queryset, hidden=False)


class KycReviewInline(admin.TabularInline):
    model = KycReview
    extra = 0
    can_delete = False
    fields = ["created_at", "actor", "from_status", "to_status", "reason_code", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def _transition_selected(modeladmin, request, queryset: QuerySet, to: str, reason: str) -> None:
    done = 0
    for profile in queryset:
        try:
            kyc_transition(profile=profile, to=to, actor=request.user, reason=reason)
        except ApplicationError as exc:
            modeladmin.message_user(
                request, f"{profile.user.email}: {exc.message}", level=messages.WARNING
            )
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} profile(s) now {to}.", level=messages.SUCCESS)


class KycRejectForm(forms.Form):
    reason_code = forms.ChoiceField(
        label="Reason",
        choices=KycRejectionReason.choices,
        widget=forms.RadioSelect,
        help_text="The technician reads this reason in their language.",
    )
    details = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the technician after the reason. Required for “Other”.",
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("reason_code") == KycRejectionReason.OTHER
            and not (cleaned.get("details") or "").strip()
        ):
            self.add_error("details", "Explain the reason to the technician when you choose Other.")
        return cleaned


def _document_preview(url: str, label: str):
    """An image document as a thumbnail linking to the full file; a PDF or anything else as a link."""
    if not url:
        return "—"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url  # escaped by the admin; never rendered as a link or an image
    path = parts.path.lower()
    link = '<a href="{0}" target="_blank" rel="noopener noreferrer">{1}</a>'
    if path.endswith(".pdf"):
        return format_html(link, url, f"Open {label} (PDF)")
    if path.endswith(KYC_IMAGE_EXTENSIONS) or "/image/upload/" in path:
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener noreferrer">'
            '<img src="{0}" alt="{1}" style="{2}" loading="lazy" referrerpolicy="no-referrer">'
            "</a>",
            url,
            label,
            KYC_PREVIEW_STYLE,
        )
    return format_html(link, url, f"Open {label}")


@admin.register(TechnicianProfile)
class TechnicianProfileAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "kyc_status",
        "kyc_submitted_at",
        "is_available",
        "hourly_rate",
        "rating_average",
        "jobs_completed",
    ]
    list_filter = ["kyc_status", "kyc_rejection_reason_code", "is_available"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "national_id_number"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "user",
                    "bio",
                    "hourly_rate",
                    "currency",
                    "service_radius_km",
                    "is_available",
                ]
            },
        ),
        (
            "KYC",
            {
                "fields": [
                    "kyc_status",
                    "national_id_number",
                    "id_document_url",
                    "id_document_preview",
                    "selfie_url",
                    "selfie_preview",
                    "kyc_submitted_at",
                    "kyc_reviewed_by",
                    "kyc_reviewed_at",
                    "kyc_rejection_reason_code",
                    "kyc_rejection_reason",
                ]
            },
        ),
        (
            "Track record",
            {
                "fields": [
                    "rating_average",
                    "rating_count",
                    "jobs_completed",
                    "jobs_cancelled_by_technician",
                    "average_response_minutes",
                ]
            },
        ),
    ]
    # KYC status changes only through the actions, so each one leaves an audit row.
    readonly_fields = [
        "kyc_status",
        "id_document_preview",
        "selfie_preview",
        "kyc_submitted_at",
        "kyc_reviewed_by",
        "kyc_reviewed_at",
        "kyc_rejection_reason_code",
        "kyc_rejection_reason",
        "rating_average",
        "rating_count",
        "jobs_completed",
        "jobs_cancelled_by_technician",
        "average_response_minutes",
    ]
    inlines = [TechnicianSkillInline, PortfolioItemInline, KycReviewInline]
    actions = ["approve_kyc", "reject_kyc"]

    @admin.display(description="ID document")
    def id_document_preview(self, obj):
        return _document_preview(obj.id_document_url, "ID document")

    @admin.display(description="Selfie")
    def selfie_preview(self, obj):
        return _document_preview(obj.selfie_url, "selfie")

    @admin.action(description="Approve KYC of the selected technicians")
    def approve_kyc(self, request, queryset):
        _transition_selected(self, request, queryset, KycStatus.APPROVED, "Approved in the admin")

    @admin.action(description="Reject KYC of the selected technicians (choose a reason)")
    def reject_kyc(self, request, queryset):
        """An intermediate page asks for the typed reason (and details), then rejects each profile."""
        form = KycRejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for profile in queryset.select_related("user"):
                try:
                    kyc_review(
                        profile=profile,
                        decision="reject",
                        reason_code=form.cleaned_data["reason_code"],
                        reason=form.cleaned_data["details"],
                        actor=request.user,
                    )
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{profile.user.email}: {exc.message}", level=messages.WARNING
                    )
                else:
                    done += 1
            if done:
                self.message_user(
                    request, f"{done} profile(s) now {KycStatus.REJECTED}.", level=messages.SUCCESS
                )
            return None
        return render(
            request,
            "admin/accounts/kyc_reject.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject KYC",
                "profiles": queryset.select_related("user"),
                "form": form,
                "action_name": "reject_kyc",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "typical_price_min", "typical_price_max", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "name_sw", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(CorporateProfile)
class CorporateProfileAdmin(admin.ModelAdmin):
    list_display = ["company_name", "kra_pin", "user", "created_at"]
    search_fields = ["company_name", "kra_pin", "user__email"]
    raw_id_fields = ["user"]


@admin.register(KycReview)
class KycReviewAdmin(admin.ModelAdmin):
    list_display = ["profile", "from_status", "to_status", "reason_code", "actor", "created_at"]
    list_filter = ["to_status", "reason_code"]
    search_fields = ["profile__user__email", "note"]
    readonly_fields = [
        "profile",
        "actor",
        "from_status",
        "to_status",
        "reason_code",
        "note",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
