from decimal import Decimal

from rest_framework import serializers

from accounts.serializers.common import ProfileUrlField
from bookings.models import Urgency
from dumuwaks.core.serializers import ModelSerializer
from matching import selectors
from matching.models import CustomerBlock, Match, MatchingPreference, MatchStatus
from matching.scoring import DEFAULT_WEIGHTS

MAX_LIMIT = 50
MAX_DISTANCE_LIMIT_KM = 500


class MatchFindInputSerializer(serializers.Serializer):
    category_id = serializers.IntegerField(required=False, min_value=1)
    category = serializers.SlugField(required=False, help_text="Category slug (or give categoryId)")
    latitude = serializers.FloatField(
        required=False, min_value=-90, max_value=90, help_text="Defaults to your saved location"
    )
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    scheduled_start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(default=120, min_value=30, max_value=12 * 60)
    budget = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal(0),
        help_text="KES for the whole job; 0 or absent = no budget",
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)
    limit = serializers.IntegerField(default=10, min_value=1, max_value=MAX_LIMIT)
    max_distance_km = serializers.FloatField(
        required=False, min_value=0.1, max_value=MAX_DISTANCE_LIMIT_KM
    )

    def validate(self, attrs):
        if attrs.get("category_id") is None and not attrs.get("category"):
            raise serializers.ValidationError({"category_id": ["Give categoryId or category."]})
        if ("latitude" in attrs) != ("longitude" in attrs):
            raise serializers.ValidationError(
                {"latitude": ["Give both latitude and longitude, or neither."]}
            )
        return attrs


class MatchTechnicianSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    handle = serializers.CharField()
    full_name = serializers.CharField(source="get_full_name")
    avatar_url = serializers.CharField()
    hourly_rate = serializers.SerializerMethodField()
    rating_average = serializers.SerializerMethodField()
    rating_count = serializers.SerializerMethodField()
    jobs_completed = serializers.SerializerMethodField()
    profile_url = ProfileUrlField()

    def _profile(self, user):
        return getattr(user, "technician_profile", None)

    def get_hourly_rate(self, user) -> str | None:
        profile = self._profile(user)
        return f"{profile.hourly_rate:.2f}" if profile else None

    def get_rating_average(self, user) -> str | None:
        """null until the technician has a counted review."""
        profile = self._profile(user)
        return f"{profile.rating_average:.2f}" if profile and profile.rating_count else None

    def get_rating_count(self, user) -> int:
        profile = self._profile(user)
        return profile.rating_count if profile else 0

    def get_jobs_completed(self, user) -> int:
        profile = self._profile(user)
        return profile.jobs_completed if profile else 0


class MatchCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class MatchOutputSerializer(ModelSerializer):
    technician = MatchTechnicianSerializer()
    category = MatchCategorySerializer()
    factor_scores = serializers.DictField(child=serializers.FloatField())
    weights_used = serializers.DictField(child=serializers.FloatField())
    reasons = serializers.ListField(child=serializers.CharField())
    booking_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Match
        fields = [
            "id",
            "search_id",
            "rank",
            "searched_at",
            "status",
            "technician",
            "category",
            "latitude",
            "longitude",
            "scheduled_start",
            "duration_minutes",
            "budget",
            "currency",
            "urgency",
            "max_distance_km",
            "distance_km",
            "total_score",
            "factor_scores",
            "weights_used",
            "reasons",
            "expires_at",
            "responded_at",
            "rejection_reason",
            "booking_id",
            "feedback_rating",
            "feedback_comment",
            "feedback_at",
            "created_at",
        ]
        read_only_fields = fields


class MatchStatusHistorySerializer(serializers.Serializer):
    from_status = serializers.ChoiceField(choices=MatchStatus.choices)
    to_status = serializers.ChoiceField(choices=MatchStatus.choices)
    actor_id = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class MatchDetailOutputSerializer(MatchOutputSerializer):
    status_history = MatchStatusHistorySerializer(many=True)

    class Meta(MatchOutputSerializer.Meta):
        fields = [*MatchOutputSerializer.Meta.fields, "status_history"]
        read_only_fields = fields


class MatchSearchOutputSerializer(serializers.Serializer):
    search_id = serializers.UUIDField()
    count = serializers.IntegerField()
    results = MatchOutputSerializer(many=True)


class MatchAcceptInputSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    address = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        default="",
        help_text="Defaults to your saved address",
    )


class MatchRejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class MatchFeedbackInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class MatchingPreferenceInputSerializer(serializers.Serializer):
    """Only the fields sent change. `weights: null` returns to the platform defaults."""

    weights = serializers.DictField(child=serializers.FloatField(), required=False, allow_null=True)
    max_distance_km = serializers.FloatField(
        required=False, allow_null=True, min_value=0.1, max_value=MAX_DISTANCE_LIMIT_KM
    )
    price_min = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=Decimal(0)
    )
    price_max = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True, min_value=Decimal(0)
    )
    preferred_technician_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100
    )


class MatchingPreferenceOutputSerializer(ModelSerializer):
    weights = serializers.SerializerMethodField(help_text="Your own weights; null = defaults")
    effective_weights = serializers.SerializerMethodField(
        help_text="What ranking uses now (learned, else yours, else defaults)"
    )
    default_weights = serializers.SerializerMethodField()
    learned_weights = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    preferred_technician_ids = serializers.SerializerMethodField()

    class Meta:
        model = MatchingPreference
        fields = [
            "weights",
            "effective_weights",
            "default_weights",
            "learned_weights",
            "learning_events",
            "max_distance_km",
            "price_min",
            "price_max",
            "currency",
            "preferred_technician_ids",
        ]
        read_only_fields = fields

    def get_weights(self, preference) -> dict[str, float] | None:
        return preference.custom_weights

    def get_effective_weights(self, preference) -> dict[str, float]:
        return selectors.effective_weights(preference)

    def get_default_weights(self, preference) -> dict[str, float]:
        return dict(DEFAULT_WEIGHTS)

    def get_preferred_technician_ids(self, preference) -> list[int]:
        return sorted(selectors.preferred_technician_ids(preference))


class CustomerBlockOutputSerializer(ModelSerializer):
    technician_id = serializers.IntegerField()
    technician = MatchTechnicianSerializer(help_text="Who is blocked (unblock: DELETE block/{id})")

    class Meta:
        model = CustomerBlock
        fields = ["technician_id", "technician", "created_at"]
        read_only_fields = fields
