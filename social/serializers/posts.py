from rest_framework import serializers

from accounts.models import User
from dumuwaks.core.serializers import ModelSerializer
from social.models import Comment, Post, PostReport, PostType

BODY_HELP = (
    "`#tag` adds a hashtag. `@handle` mentions a user by their handle (the `handle` of users and post"
    " authors, e.g. `@wanjiku.kamau`; any case; an unknown handle stays plain text); `@[<user id>]` also"
    " mentions. Mentioned users (at most 20, not the author) are notified once per post."
)


class SocialUserSerializer(ModelSerializer):
    full_name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "handle", "full_name", "avatar_url", "role"]
        read_only_fields = fields


class PostMediaOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="asset.id")
    public_id = serializers.CharField(source="asset.public_id")
    resource_type = serializers.CharField(source="asset.resource_type")
    url = serializers.CharField(source="asset.delivery_url")
    thumbnail_url = serializers.CharField(source="asset.thumbnail_url")
    optimized_url = serializers.CharField(source="asset.optimized_url")
    width = serializers.IntegerField(source="asset.width", allow_null=True)
    height = serializers.IntegerField(source="asset.height", allow_null=True)
    duration = serializers.FloatField(source="asset.duration", allow_null=True)


class PostMentionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.id")
    handle = serializers.CharField(source="user.handle")
    full_name = serializers.CharField(source="user.get_full_name")


class PostOutputSerializer(ModelSerializer):
    author = SocialUserSerializer(read_only=True)
    media = PostMediaOutputSerializer(source="media_links", many=True, read_only=True)
    hashtags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    mentions = PostMentionOutputSerializer(many=True, read_only=True)
    liked_by_me = serializers.BooleanField(read_only=True)
    shared_by_me = serializers.BooleanField(read_only=True)

    class Meta:
        model = Post
        fields = [
            "id",
            "type",
            "status",
            "body",
            "author",
            "booking_id",
            "media",
            "hashtags",
            "mentions",
            "like_count",
            "comment_count",
            "share_count",
            "liked_by_me",
            "shared_by_me",
            "moderation_reason",
            "created_at",
            "updated_at",
            "edited_at",
        ]
        read_only_fields = fields


class PostFeedItemOutputSerializer(PostOutputSerializer):
    score = serializers.FloatField(read_only=True, help_text="Rank as of the feed snapshot")

    class Meta(PostOutputSerializer.Meta):
        fields = [*PostOutputSerializer.Meta.fields, "score"]
        read_only_fields = fields


class PostFeedOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Posts in the snapshot")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="Always null: keyset paging")
    feed_token = serializers.DateTimeField(help_text="Snapshot time the ranking is computed at")
    results = PostFeedItemOutputSerializer(many=True)


class PostCreateInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=PostType.choices, default=PostType.TEXT)
    body = serializers.CharField(
        max_length=5000,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text=BODY_HELP,
    )
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10, default=list
    )
    booking_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Required for portfolio posts"
    )


class PostUpdateInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=5000, allow_blank=True, required=False, help_text=BODY_HELP
    )
    media_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10, required=False
    )


class PostFeedFilterSerializer(serializers.Serializer):
    cursor = serializers.CharField(max_length=500, required=False)
    page_size = serializers.IntegerField(min_value=1, default=20)

    def validate_page_size(self, value: int) -> int:
        return min(value, 100)  # capped like StandardPagination, not refused


class PostLikeOutputSerializer(serializers.Serializer):
    liked = serializers.BooleanField()
    like_count = serializers.IntegerField()


class PostShareOutputSerializer(serializers.Serializer):
    shared = serializers.BooleanField()
    share_count = serializers.IntegerField()


class CommentReplyOutputSerializer(ModelSerializer):
    author = SocialUserSerializer(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "post_id", "parent_id", "author", "body", "created_at"]
        read_only_fields = fields


class CommentOutputSerializer(CommentReplyOutputSerializer):
    replies = CommentReplyOutputSerializer(many=True, read_only=True)

    class Meta(CommentReplyOutputSerializer.Meta):
        fields = [*CommentReplyOutputSerializer.Meta.fields, "replies"]
        read_only_fields = fields


class CommentCreateInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=2000)
    parent_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class PostReportInputSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=3, max_length=1000)


class PostReportCreatedOutputSerializer(ModelSerializer):
    class Meta:
        model = PostReport
        fields = ["id", "post_id", "reason", "status", "created_at"]
        read_only_fields = fields


class PostReportedPostSerializer(ModelSerializer):
    author = SocialUserSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "type", "status", "body", "author", "created_at"]
        read_only_fields = fields


class PostReportOutputSerializer(ModelSerializer):
    reporter = SocialUserSerializer(read_only=True)
    post = PostReportedPostSerializer(read_only=True)

    class Meta:
        model = PostReport
        fields = ["id", "post", "reporter", "reason", "status", "created_at", "resolved_at"]
        read_only_fields = fields


class PostModerateInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["hide", "remove", "restore"])
    reason = serializers.CharField(max_length=1000, allow_blank=True, default="")
