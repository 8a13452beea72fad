"""Admin for media, posts (with moderation actions), comments, reports and reviews.

Moderation actions go through the same services as the API, so every change leaves an audit row and the
rating aggregates stay correct; counters and statuses are read-only here.
"""

from django.contrib import admin, messages

from dumuwaks.core.errors import ApplicationError
from social.models import (
    Comment,
    Hashtag,
    MediaAsset,
    Post,
    PostModeration,
    PostReport,
    PostStatus,
    Review,
)
from social.services.posts import post_transition
from social.services.reviews import review_set_hidden


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "public_id",
        "owner",
        "resource_type",
        "format",
        "bytes",
        "backend",
        "is_deleted",
        "created_at",
    ]
    list_filter = ["resource_type", "backend", "is_deleted", "format"]
    search_fields = ["public_id", "owner__email", "original_filename"]
    raw_id_fields = ["owner"]
    readonly_fields = [f.name for f in MediaAsset._meta.fields]


class PostModerationInline(admin.TabularInline):
    model = PostModeration
    extra = 0
    can_delete = False
    readonly_fields = ["actor", "from_status", "to_status", "note", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


def _moderate(modeladmin, request, queryset, to: str, reason: str):
    done = 0
    for post in queryset:
        try:
            post_transition(post_id=post.pk, to=to, actor=request.user, reason=reason)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"Post {post.pk}: {exc.message}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} post(s) now {to}.", messages.SUCCESS)


@admin.action(description="Hide selected posts")
def hide_posts(modeladmin, request, queryset):
    _moderate(modeladmin, request, queryset, PostStatus.HIDDEN, "Hidden by staff in the admin")


@admin.action(description="Remove selected posts")
def remove_posts(modeladmin, request, queryset):
    _moderate(modeladmin, request, queryset, PostStatus.REMOVED, "Removed by staff in the admin")


@admin.action(description="Restore selected posts")
def restore_posts(modeladmin, request, queryset):
    _moderate(modeladmin, request, queryset, PostStatus.PUBLISHED, "Restored by staff in the admin")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "author",
        "type",
        "status",
        "like_count",
        "comment_count",
        "share_count",
        "created_at",
    ]
    list_filter = ["status", "type", "created_at"]
    search_fields = ["body", "author__email", "hashtags__name"]
    raw_id_fields = ["author", "booking", "moderated_by"]
    readonly_fields = [
        "status",
        "like_count",
        "comment_count",
        "share_count",
        "moderated_at",
        "moderated_by",
        "moderation_reason",
        "edited_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["hashtags"]
    inlines = [PostModerationInline]
    actions = [hide_posts, remove_posts, restore_posts]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "post", "author", "parent", "created_at"]
    search_fields = ["body", "author__email"]
    raw_id_fields = ["post", "author", "parent"]
    list_filter = ["created_at"]


@admin.register(PostReport)
class PostReportAdmin(admin.ModelAdmin):
    list_display = ["id", "post", "reporter", "status", "created_at", "resolved_by"]
    list_filter = ["status", "created_at"]
    search_fields = ["reason", "reporter__email", "post__body"]
    raw_id_fields = ["post", "reporter", "resolved_by"]
    readonly_fields = ["status", "resolved_by", "resolved_at", "created_at", "updated_at"]


@admin.register(Hashtag)
class HashtagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


def _set_review_hidden(modeladmin, request, queryset, hidden: bool):
    for review in queryset:
        try:
            review_set_hidden(review_id=review.pk, actor=request.user, hidden=hidden)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"Review {review.pk}: {exc.message}", messages.WARNING)


@admin.action(description="Hide selected reviews (removes them from ratings)")
def hide_reviews(modeladmin, request, queryset):
    _set_review_hidden(modeladmin, request, queryset, True)


@admin.action(description="Unhide selected reviews")
def unhide_reviews(modeladmin, request, queryset):
    _set_review_hidden(modeladmin, request, queryset, False)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "booking",
        "reviewer",
        "reviewee",
        "direction",
        "overall",
        "is_hidden",
        "visible_from",
        "created_at",
    ]
    list_filter = ["direction", "is_hidden", "overall", "created_at"]
    search_fields = ["comment", "reviewer__email", "reviewee__email", "booking__number"]
    raw_id_fields = ["booking", "reviewer", "reviewee", "media"]
    readonly_fields = [
        "booking",
        "reviewer",
        "reviewee",
        "direction",
        "overall",
        "quality",
        "timeliness",
        "professionalism",
        "communication",
        "value",
        "is_hidden",
        "visible_from",
        "counted_at",
        "edited_at",
        "responded_at",
        "created_at",
        "updated_at",
    ]
    actions = [hide_reviews, unhide_reviews]
