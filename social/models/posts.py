from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.state_machine import StateMachine, register


class PostType(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    PORTFOLIO = "portfolio", "Portfolio (completed job)"


class PostStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    HIDDEN = "hidden", "Hidden by moderation"
    REMOVED = "removed", "Removed by moderation"


class Hashtag(TimeStampedModel):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="hashtag_lowercase")
        ]

    def __str__(self):
        return f"#{self.name}"


class Post(TimeStampedModel):
    """A post in the social feed.

    `like_count`/`comment_count`/`share_count` are live display counters (updated with F()); the feed ranks on
    the append-only `EngagementEvent` ledger instead so a ranking can be recomputed "as of" a snapshot time.
    """

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    type = models.CharField(max_length=16, choices=PostType.choices, default=PostType.TEXT)
    body = models.TextField(blank=True, max_length=5000)
    status = models.CharField(
        max_length=16, choices=PostStatus.choices, default=PostStatus.PUBLISHED
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="portfolio_posts",
    )
    media = models.ManyToManyField(
        "social.MediaAsset", through="PostMedia", related_name="posts", blank=True
    )
    hashtags = models.ManyToManyField(Hashtag, related_name="posts", blank=True)
    mentioned_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="PostMention", related_name="mentioned_in_posts"
    )
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    share_count = models.PositiveIntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    moderation_reason = models.TextField(blank=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PostStatus.values), name="post_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=PostType.values), name="post_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["author", "status"]),
        ]

    def __str__(self):
        return f"Post {self.pk} by {self.author_id}"


class PostMedia(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media_links")
    asset = models.ForeignKey(
        "social.MediaAsset", on_delete=models.CASCADE, related_name="post_links"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["post", "asset"], name="post_media_unique")]

    def __str__(self):
        return f"{self.post_id}:{self.asset_id}"


class PostMention(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="post_mention_unique")]

    def __str__(self):
        return f"post {self.post_id} mentions {self.user_id}"


class Like(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_likes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="like_one_per_user")]

    def __str__(self):
        return f"{self.user_id} likes {self.post_id}"


class Share(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_shares"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="share_one_per_user")]

    def __str__(self):
        return f"{self.user_id} shared {self.post_id}"


class Comment(TimeStampedModel):
    """A comment on a post, or a reply to a top-level comment (one level only, enforced by the service)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_comments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    body = models.TextField(max_length=2000)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["post", "parent", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="comment_not_own_parent"
            )
        ]


class EngagementKind(models.TextChoices):
    LIKE = "like", "Like"
    COMMENT = "comment", "Comment"
    SHARE = "share", "Share"


class EngagementEvent(models.Model):
    """Append-only ledger of feed points (like ±3, comment ±5, share +10).

    The feed score of a post "as of" time T sums the points with created_at <= T; because rows are never
    changed, a ranking snapshot never moves while users keep liking, which keeps feed paging stable.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="engagement_events")
    kind = models.CharField(max_length=8, choices=EngagementKind.choices)
    points = models.SmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["post", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=EngagementKind.values), name="engagement_kind_valid"
            )
        ]

    def __str__(self):
        return f"{self.post_id} {self.kind} {self.points:+d}"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACTIONED = "actioned", "Actioned"
    DISMISSED = "dismissed", "Dismissed"


class PostReport(TimeStampedModel):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_reports"
    )
    reason = models.TextField(max_length=1000)
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["post", "reporter"], name="report_one_per_user"),
            models.CheckConstraint(
                condition=models.Q(status__in=ReportStatus.values), name="report_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]


class PostModeration(StatusHistory):
    """Audit row for every post status change; `note` is the moderator's reason."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="moderation_history")

    class Meta(StatusHistory.Meta):
        pass

    def __str__(self):
        return f"{self.post_id}: {self.from_status} -> {self.to_status}"


# Moderation workflow; every change goes through social.services.posts.post_transition.
POST_MACHINE = register(
    StateMachine(
        label="post",
        model=Post,
        transitions={
            PostStatus.PUBLISHED: frozenset({PostStatus.HIDDEN, PostStatus.REMOVED}),
            PostStatus.HIDDEN: frozenset({PostStatus.PUBLISHED, PostStatus.REMOVED}),
            PostStatus.REMOVED: frozenset({PostStatus.PUBLISHED}),
        },
        history_model=PostModeration,
        history_fk="post",
    )
)


# A report is open until the post it reports is moderated: the moderation resolves every open report of the
# post at once (social.services.posts.post_transition). No history of its own: the post's moderation row
# (PostModeration) is the audit, and the report keeps who resolved it and when.
REPORT_MACHINE = register(
    StateMachine(
        label="post report",
        model=PostReport,
        transitions={
            ReportStatus.OPEN: frozenset({ReportStatus.ACTIONED, ReportStatus.DISMISSED}),
            ReportStatus.ACTIONED: frozenset(),
            ReportStatus.DISMISSED: frozenset(),
        },
    )
)
