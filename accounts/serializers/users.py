"""Users as each audience sees them, profile and KYC inputs, public technician search."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import (
    KycRejectionReason,
    Language,
    ServiceCategory,
    TechnicianProfile,
    User,
    kyc_rejection_reason_text,
)
from accounts.serializers.common import (
    PROTECTED_FIELDS,
    PhoneNumberInputField,
    ProfileUrlField,
    RefuseProtectedFieldsMixin,
)
from dumuwaks.core.serializers import AverageField, ModelSerializer

# --- user outputs ------------------------------------------------------------------------------------------------


class AccountSkillSerializer(serializers.Serializer):
    category_id = serializers.IntegerField(source="category.id")
    slug = serializers.CharField(source="category.slug")
    name = serializers.CharField(source="category.name")
    years_of_experience = serializers.IntegerField()


class AccountTechnicianProfileSerializer(ModelSerializer):
    skills = AccountSkillSerializer(source="skill_links", many=True, read_only=True)
    kyc_rejection_reason_code = serializers.ChoiceField(
        choices=KycRejectionReason.choices,
        allow_blank=True,
        read_only=True,
        help_text="The typed reason of a rejection; empty otherwise",
    )
    kyc_rejection_reason = serializers.SerializerMethodField(
        help_text="Why KYC was rejected, as the technician reads it (their language): the typed"
        " reason's label, then staff's details"
    )
    rating_average = AverageField(count_source="rating_count", help_text="null until reviewed")

    class Meta:
        model = TechnicianProfile
        fields = [
            "id",
            "bio",
            "hourly_rate",
            "currency",
            "service_radius_km",
            "is_available",
            "skills",
            "kyc_status",
            "kyc_submitted_at",
            "kyc_reviewed_at",
            "kyc_rejection_reason_code",
            "kyc_rejection_reason",
            "national_id_number",
            "id_document_url",
            "selfie_url",
            "rating_average",
            "rating_count",
            "jobs_completed",
        ]
        read_only_fields = fields

    def get_kyc_rejection_reason(self, profile) -> str:
        return kyc_rejection_reason_text(
            code=profile.kyc_rejection_reason_code,
            details=profile.kyc_rejection_reason,
            language=profile.user.preferred_language,
        )


class AccountCorporateProfileSerializer(serializers.Serializer):
    company_name = serializers.CharField()
    kra_pin = serializers.CharField()


class AccountUserSerializer(ModelSerializer):
    """A user as they (or staff) see themselves: includes contact details and verification state."""

    full_name = serializers.CharField(source="get_full_name", read_only=True)
    two_factor_enabled = serializers.SerializerMethodField()
    technician_profile = serializers.SerializerMethodField()
    corporate_profile = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "handle",
            "email",
            "phone_number",
            "first_name",
            "last_name",
            "full_name",
            "role",
            "address",
            "county",
            "latitude",
            "longitude",
            "avatar_url",
            "preferred_language",
            "is_email_verified",
            "is_phone_verified",
            "two_factor_enabled",
            "is_active",
            "date_joined",
            "last_login",
            "technician_profile",
            "corporate_profile",
        ]
        read_only_fields = fields

    def get_two_factor_enabled(self, user) -> bool:
        if hasattr(user, "two_factor_enabled"):
            return bool(user.two_factor_enabled)
        return TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    @extend_schema_field(AccountTechnicianProfileSerializer(allow_null=True))
    def get_technician_profile(self, user):
        try:
            profile = user.technician_profile
        except ObjectDoesNotExist:
            return None
        return AccountTechnicianProfileSerializer(profile).data

    @extend_schema_field(AccountCorporateProfileSerializer(allow_null=True))
    def get_corporate_profile(self, user):
        try:
            profile = user.corporate_profile
        except ObjectDoesNotExist:
            return None
        return AccountCorporateProfileSerializer(profile).data


# --- user inputs -------------------------------------------------------------------------------------------------


class AccountUserUpdateInputSerializer(RefuseProtectedFieldsMixin, serializers.Serializer):
    """Every field is optional for PUT and PATCH alike: only the fields sent change."""

    first_name = serializers.CharField(max_length=80, required=False)
    last_name = serializers.CharField(max_length=80, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    phone_number = PhoneNumberInputField(max_length=20, required=False, allow_null=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    county = serializers.CharField(max_length=64, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )
    avatar_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    preferred_language = serializers.ChoiceField(choices=Language.choices, required=False)


class AccountSkillInputSerializer(serializers.Serializer):
    category_id = serializers.IntegerField(required=False, min_value=1)
    slug = serializers.SlugField(required=False)
    years_of_experience = serializers.IntegerField(min_value=0, max_value=60, default=0)

    def validate(self, attrs):
        if attrs.get("category_id") is None and not attrs.get("slug"):
            raise serializers.ValidationError("Give categoryId or slug.")
        return attrs


class AccountTechnicianProfileInputSerializer(RefuseProtectedFieldsMixin, serializers.Serializer):
    protected_fields = PROTECTED_FIELDS | {
        "rating_average",
        "rating_count",
        "jobs_completed",
        "national_id_number",
        "id_document_url",
        "selfie_url",
    }

    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    hourly_rate = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False
    )
    service_radius_km = serializers.IntegerField(min_value=1, max_value=200, required=False)
    is_available = serializers.BooleanField(required=False)
    skills = AccountSkillInputSerializer(many=True, required=False, max_length=20)

    def validate_skills(self, skills):
        keys = [s.get("category_id") or s.get("slug") for s in skills]
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("Each skill may appear once.")
        return skills


class AccountKycSubmitInputSerializer(serializers.Serializer):
    national_id_number = serializers.RegexField(
        r"^\d{6,10}$", max_length=10, error_messages={"invalid": "Enter 6 to 10 digits."}
    )
    id_document_url = serializers.URLField(max_length=500)
    selfie_url = serializers.URLField(max_length=500)


class AccountKycReviewInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    reason_code = serializers.ChoiceField(
        choices=KycRejectionReason.choices,
        required=False,
        default=KycRejectionReason.OTHER,
        help_text="Why the documents were refused (reject only); `other` needs `reason`.",
    )
    reason = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown to the technician: the reason for `other`, optional details otherwise.",
    )


# --- public ------------------------------------------------------------------------------------------------------


class AccountCategorySerializer(ModelSerializer):
    class Meta:
        model = ServiceCategory
        fields = [
            "id",
            "slug",
            "name",
            "name_sw",
            "description",
            "typical_price_min",
            "typical_price_max",
            "currency",
        ]
        read_only_fields = fields


class TechnicianSearchResultSerializer(serializers.Serializer):
    """Public view of a technician: no email, phone, exact location or KYC documents."""

    id = serializers.IntegerField(source="user.id")
    handle = serializers.CharField(
        source="user.handle", help_text="Unique; `@handle` in a post mentions this user"
    )
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")
    avatar_url = serializers.CharField(source="user.avatar_url")
    county = serializers.CharField(source="user.county")
    bio = serializers.CharField()
    hourly_rate = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    service_radius_km = serializers.IntegerField()
    is_available = serializers.BooleanField()
    rating_average = AverageField(count_source="rating_count", help_text="null until reviewed")
    rating_count = serializers.IntegerField()
    jobs_completed = serializers.IntegerField()
    skills = AccountSkillSerializer(source="skill_links", many=True)
    distance_km = serializers.SerializerMethodField()
    profile_url = ProfileUrlField(id_source="user_id")

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_km(self, profile) -> float | None:
        distance = getattr(profile, "distance_km", None)
        return None if distance is None else round(distance, 2)
