"""Public technician profiles and the portfolio (the owner's view, staff's and the public one)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import MAX_PORTFOLIO_ITEMS, MAX_PORTFOLIO_MEDIA, KycStatus
from accounts.serializers.common import ProfileUrlField
from accounts.serializers.users import AccountSkillSerializer
from social.serializers.reviews import ReviewAspectAveragesSerializer, ReviewOutputSerializer

# --- portfolio outputs -------------------------------------------------------------------------------------------


class PortfolioMediaOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="asset.id")
    resource_type = serializers.CharField(source="asset.resource_type")
    url = serializers.CharField(source="asset.delivery_url")
    thumbnail_url = serializers.CharField(source="asset.thumbnail_url")
    optimized_url = serializers.CharField(source="asset.optimized_url")


class PortfolioCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class PortfolioItemPublicSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = PortfolioCategorySerializer(allow_null=True)
    media = PortfolioMediaOutputSerializer(source="media_links", many=True)
    media_url = serializers.CharField(
        help_text="A picture set by staff before uploads existed; empty for new items"
    )
    completed_on = serializers.DateField(allow_null=True)
    is_verified_job = serializers.SerializerMethodField(
        help_text="Backed by one of the technician's completed bookings on Dumu Waks"
    )

    def get_is_verified_job(self, item) -> bool:
        return item.booking_id is not None


class PortfolioItemOwnerSerializer(PortfolioItemPublicSerializer):
    """The technician's own view: which booking backs the item and whether staff hid it."""

    booking_id = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField(help_text="0 = first on the profile")
    is_hidden = serializers.BooleanField(help_text="Hidden by staff: not on the public profile")
    hidden_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PortfolioItemStaffSerializer(PortfolioItemOwnerSerializer):
    technician_id = serializers.IntegerField(source="profile.user_id")
    hidden_at = serializers.DateTimeField(allow_null=True)
    hidden_by_id = serializers.IntegerField(allow_null=True)


# --- portfolio inputs --------------------------------------------------------------------------------------------


class PortfolioItemCreateInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )
    category_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=MAX_PORTFOLIO_MEDIA,
        help_text=f"Your own uploads (POST /media/upload/…), at most {MAX_PORTFOLIO_MEDIA}, in order",
    )
    completed_on = serializers.DateField(required=False, allow_null=True)
    booking_id = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="One of your completed bookings: the item shows as a verified job",
    )


class PortfolioItemUpdateInputSerializer(PortfolioItemCreateInputSerializer):
    """Only the fields sent change; `mediaIds` replaces the list; null clears an optional field."""

    title = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_PORTFOLIO_MEDIA,
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs


class PortfolioReorderInputSerializer(serializers.Serializer):
    item_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=MAX_PORTFOLIO_ITEMS,
        help_text="Every one of your item ids once, in the new order",
    )


class PortfolioModerateInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[("hide", "hide"), ("unhide", "unhide")])
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


# --- public profile ----------------------------------------------------------------------------------------------


class TechnicianRatingsSerializer(serializers.Serializer):
    average = serializers.FloatField(allow_null=True, help_text="null until reviewed")
    count = serializers.IntegerField()
    aspects = ReviewAspectAveragesSerializer()
    distribution = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Reviews per overall star: {"1": n, ..., "5": n}',
    )


class TechnicianServiceAreaSerializer(serializers.Serializer):
    county = serializers.CharField(source="user.county")
    radius_km = serializers.IntegerField(source="service_radius_km")


class FreeSlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class TechnicianPublicProfileSerializer(serializers.Serializer):
    """What anyone may read about a technician. Never contacts (email, phone), the exact location or KYC
    documents: only whether KYC is approved."""

    id = serializers.IntegerField(source="profile.user.id")
    handle = serializers.CharField(source="profile.user.handle")
    first_name = serializers.CharField(source="profile.user.first_name")
    last_name = serializers.CharField(source="profile.user.last_name")
    full_name = serializers.CharField(source="profile.user.get_full_name")
    avatar_url = serializers.CharField(source="profile.user.avatar_url")
    bio = serializers.CharField(source="profile.bio")
    skills = AccountSkillSerializer(source="profile.skill_links", many=True)
    service_area = TechnicianServiceAreaSerializer(source="profile")
    hourly_rate = serializers.DecimalField(
        source="profile.hourly_rate", max_digits=12, decimal_places=2
    )
    currency = serializers.CharField(source="profile.currency")
    is_available = serializers.BooleanField(source="profile.is_available")
    is_kyc_verified = serializers.SerializerMethodField(
        help_text="Staff approved the technician's identity documents"
    )
    jobs_completed = serializers.IntegerField(source="profile.jobs_completed")
    response_time_minutes = serializers.IntegerField(
        source="profile.average_response_minutes",
        allow_null=True,
        help_text="Median minutes to answer a job request or a customer's first message over the"
        " last 90 days; null with fewer than 3 answers",
    )
    return_visit_rate = serializers.FloatField(
        allow_null=True,
        help_text="Share (0-1) of the technician's jobs confirmed in the last 180 days on which the"
        " customer claimed the workmanship guarantee; null below 5 such jobs",
    )
    ratings = TechnicianRatingsSerializer()
    recent_reviews = ReviewOutputSerializer(
        many=True, help_text="The latest published customer reviews, with the technician's replies"
    )
    portfolio = PortfolioItemPublicSerializer(source="profile.visible_portfolio", many=True)
    next_free_slots = FreeSlotSerializer(
        many=True, help_text="The next free one-hour slots within two weeks"
    )
    member_since = serializers.DateTimeField(source="profile.user.date_joined")
    profile_url = ProfileUrlField(id_source="profile.user_id")

    def get_is_kyc_verified(self, data) -> bool:
        return data.profile.kyc_status == KycStatus.APPROVED
