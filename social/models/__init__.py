"""Social models by sub-domain: media assets, posts (feed, comments, likes, moderation), reviews."""

from social.models.media import MediaAsset, MediaBackendName, ResourceType
from social.models.posts import (
    POST_MACHINE,
    REPORT_MACHINE,
    Comment,
    EngagementEvent,
    EngagementKind,
    Hashtag,
    Like,
    Post,
    PostMedia,
    PostMention,
    PostModeration,
    PostReport,
    PostStatus,
    PostType,
    ReportStatus,
    Share,
)
from social.models.reviews import Review, ReviewDirection, ReviewVisibility

__all__ = [
    "POST_MACHINE",
    "REPORT_MACHINE",
    "Comment",
    "EngagementEvent",
    "EngagementKind",
    "Hashtag",
    "Like",
    "MediaAsset",
    "MediaBackendName",
    "Post",
    "PostMedia",
    "PostMention",
    "PostModeration",
    "PostReport",
    "PostStatus",
    "PostType",
    "ReportStatus",
    "ResourceType",
    "Review",
    "ReviewDirection",
    "ReviewVisibility",
    "Share",
]
