from django.utils import timezone
from rest_framework import serializers

from dumuwaks.core.serializers import ModelSerializer
from social.models import MediaAsset, Review, ReviewVisibility
from social.serializers.posts import SocialUserSerializer

_RATING = {"min_value": 1, "max_value": 5}


class ReviewRatingsSerializer(serializers.Serializer):
    quality = serializers.IntegerField(**_RATING, required=False, allow_null=True)
    timeliness = serializers.IntegerField(**_RATING, required=False, allow_null=True)
    professionalism = serializers.IntegerField(**_RATING, required=False, allow_null=True)
    communication = serializers.IntegerField(**_RATING, required=False, allow_null=True)
    value = serializers.IntegerField(**_RATING, required=False, allow_null=True)
    overall = serializers.IntegerField(
        **_RATING, required=False, help_text="May be sent here or at the top level"
    )


class ReviewCreateInputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField(min_value=1)
    ratings = ReviewRatingsSerializer(
        help_text="A customer reviewing a technician rates quality, timeliness, professionalism and "
        "communication; value is optional (left out of the value average when absent)"
    )
    overall = serializers.IntegerField(**_RATING, required=False)
    comment = serializers.CharField(max_length=3000, allow_blank=True, default="")
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10, default=list
    )

    def validate(self, attrs):
        ratings = dict(attrs["ratings"])
        overall = attrs.get("overall", ratings.pop("overall", None))
        if overall is None:
            raise serializers.ValidationError({"overall": ["Rate the job overall (1-5)."]})
        attrs["overall"], attrs["ratings"] = overall, ratings
        return attrs


class ReviewUpdateInputSerializer(serializers.Serializer):
    ratings = ReviewRatingsSerializer(required=False)
    overall = serializers.IntegerField(**_RATING, required=False)
    comment = serializers.CharField(max_length=3000, allow_blank=True, required=False)
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10, required=False
    )

    def validate(self, attrs):
        ratings = dict(attrs.get("ratings") or {})
        if "overall" in ratings and "overall" not in attrs:
            attrs["overall"] = ratings["overall"]
        ratings.pop("overall", None)
        attrs["ratings"] = ratings
        return attrs


class ReviewRespondInputSerializer(serializers.Serializer):
    response = serializers.CharField(max_length=2000)


class ReviewMediaOutputSerializer(ModelSerializer):
    url = serializers.CharField(source="delivery_url", read_only=True)

    class Meta:
        model = MediaAsset
        fields = ["id", "resource_type", "url", "thumbnail_url", "optimized_url"]
        read_only_fields = fields


class ReviewAspectsOutputSerializer(serializers.Serializer):
    quality = serializers.IntegerField(allow_null=True)
    timeliness = serializers.IntegerField(allow_null=True)
    professionalism = serializers.IntegerField(allow_null=True)
    communication = serializers.IntegerField(allow_null=True)
    value = serializers.IntegerField(allow_null=True)


class ReviewOutputSerializer(ModelSerializer):
    reviewer = SocialUserSerializer(read_only=True)
    reviewee = SocialUserSerializer(read_only=True)
    ratings = ReviewAspectsOutputSerializer(source="*", read_only=True)
    media = ReviewMediaOutputSerializer(many=True, read_only=True)
    is_published = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "booking_id",
            "direction",
            "reviewer",
            "reviewee",
            "overall",
            "ratings",
            "comment",
            "media",
            "response",
            "responded_at",
            "is_published",
            "visible_from",
            "created_at",
            "edited_at",
        ]
        read_only_fields = fields

    def get_is_published(self, review) -> bool:
        return not review.is_hidden and review.visible_from <= timezone.now()


class BookingReviewOutputSerializer(ReviewOutputSerializer):
    # Present only when support or an admin reads a booking's reviews (the selector annotates it): the field
    # is skipped for rows without it, so parties see exactly the review shape they always had.
    visibility = serializers.ChoiceField(
        choices=ReviewVisibility.choices,
        required=False,
        help_text="Support/admin only: published, blind (not yet shown to anyone but its author) or"
        " hidden (by moderation)",
    )

    class Meta(ReviewOutputSerializer.Meta):
        fields = [*ReviewOutputSerializer.Meta.fields, "visibility"]
        read_only_fields = ReviewOutputSerializer.Meta.fields


class ReviewListOutputSerializer(serializers.Serializer):
    results = BookingReviewOutputSerializer(many=True)


class ReviewAspectAveragesSerializer(serializers.Serializer):
    quality = serializers.FloatField(allow_null=True)
    timeliness = serializers.FloatField(allow_null=True)
    professionalism = serializers.FloatField(allow_null=True)
    communication = serializers.FloatField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class ReviewStatsOutputSerializer(serializers.Serializer):
    technician_id = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True, help_text="null until reviewed")
    count = serializers.IntegerField()
    aspects = ReviewAspectAveragesSerializer()
    distribution = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Reviews per overall star: {"1": n, ..., "5": n}',
    )
