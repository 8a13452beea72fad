"""Reads for posts: visibility, lists, the ranked feed and comments.

Feed ranking (GET posts/feed): score = (likes×3 + comments×5 + shares×10 + 1) / (age_hours + 2)^1.5, computed
in PostgreSQL "as of" a snapshot time T from the append-only EngagementEvent ledger, and paged by keyset over
(score, id) descending. The first page fixes T (now minus a small lag, so engagement transactions in flight at T
have committed) and every `next` cursor carries (T, score, id) of the last row. Because a post's score as of T
never changes afterwards and the keyset does not depend on row positions, pages 1..n contain every post visible
throughout exactly once, whatever likes, comments or deletions arrive meanwhile; posts created after T appear on
the next refresh.

The feed covers posts of the `rules.FEED_WINDOW` (30 days) before T. Every page scores every candidate, so
without a window a page cost grew with all posts ever written (86 ms at 20,000 posts, ~1 s at 200,000); older
posts stay reachable through `GET posts?author=` and `?hashtag=`. At 30 days a post needs thousands of points to
outrank a new one with none, so the window rarely changes what a reader would have scrolled to.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    DateTimeField,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Power
from django.utils import timezone

from dumuwaks.core.filtering import filter_queryset, validated_filterset
from dumuwaks.core.permissions import is_staff_member
from social import rules
from social.errors import InvalidFeedCursor, PostNotFound
from social.filters import PostFilter, PostReportFilter
from social.models import (
    Comment,
    EngagementEvent,
    Like,
    Post,
    PostMedia,
    PostMention,
    PostReport,
    PostStatus,
    Share,
)

# Posts of deactivated (deleted) accounts disappear with them.
_PUBLIC = Q(status=PostStatus.PUBLISHED, author__is_active=True)


def _visible_q(user) -> Q:
    if user is not None and user.is_authenticated:
        if is_staff_member(user):
            return Q()
        return _PUBLIC | Q(author=user)
    return _PUBLIC


def _with_details(queryset: QuerySet[Post], user) -> QuerySet[Post]:
    """Everything the post serializer reads, in a constant number of queries."""
    queryset = queryset.select_related("author").prefetch_related(
        Prefetch(
            "media_links",
            queryset=PostMedia.objects.select_related("asset").filter(asset__is_deleted=False),
        ),
        "hashtags",
        Prefetch("mentions", queryset=PostMention.objects.select_related("user")),
    )
    if user is not None and user.is_authenticated:
        queryset = queryset.annotate(
            liked_by_me=Exists(Like.objects.filter(post=OuterRef("pk"), user=user)),
            shared_by_me=Exists(Share.objects.filter(post=OuterRef("pk"), user=user)),
        )
    else:
        queryset = queryset.annotate(liked_by_me=Value(False), shared_by_me=Value(False))
    return queryset


def post_get_visible(*, post_id: int, user, details: bool = True) -> Post:
    """A post the user may see: published, their own (any status, with its status), or anything for staff.

    `details=False` skips the serializer's related data (for likes, comments, reports)."""
    queryset = Post.objects.filter(_visible_q(user), pk=post_id)
    post = (_with_details(queryset, user) if details else queryset).first()
    if post is None:
        raise PostNotFound()
    return post


def post_list(*, user, filters: Mapping | None = None) -> QuerySet[Post]:
    """Published posts, newest first; filtered by `author` equal to the caller, their own posts of any status.
    `filters`: the query parameters of PostFilter (a 400 if invalid)."""
    filterset = validated_filterset(PostFilter, data=filters, queryset=Post.objects.all())
    own = (
        user is not None
        and user.is_authenticated
        and filterset.form.cleaned_data.get("author") == user.id
    )
    queryset = filterset.qs if own else filterset.qs.filter(_PUBLIC)
    return _with_details(queryset, user).order_by("-created_at", "-id")


# --- feed ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedCursor:
    as_of: datetime
    score: float | None = None
    last_id: int | None = None

    def encode(self) -> str:
        raw = json.dumps({"t": self.as_of.isoformat(), "s": self.score, "i": self.last_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> FeedCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            as_of = datetime.fromisoformat(data["t"])
            score = None if data.get("s") is None else float(data["s"])
            last_id = None if data.get("i") is None else int(data["i"])
        except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise InvalidFeedCursor() from None
        if as_of.tzinfo is None or as_of > timezone.now() or (score is None) != (last_id is None):
            raise InvalidFeedCursor()
        return cls(as_of=as_of, score=score, last_id=last_id)


def feed_snapshot_time() -> datetime:
    return timezone.now() - rules.FEED_SNAPSHOT_LAG


def _feed_score(as_of: datetime):
    points = Subquery(
        EngagementEvent.objects.filter(post=OuterRef("pk"), created_at__lte=as_of)
        .order_by()
        .values("post")
        .annotate(total=Sum("points"))
        .values("total")
    )
    age_seconds = Func(
        Value(as_of, output_field=DateTimeField()) - F("created_at"),
        template="EXTRACT(EPOCH FROM %(expressions)s)",
        output_field=FloatField(),
    )
    numerator = Cast(Coalesce(points, 0) + 1, FloatField())
    age_hours = Cast(age_seconds, FloatField()) / Value(3600.0)
    return numerator / Power(age_hours + Value(2.0), Value(1.5))


def feed_page(
    *, user, cursor: FeedCursor | None, page_size: int
) -> tuple[list[Post], FeedCursor | None, int, datetime]:
    """One page of the ranked feed: (posts, next cursor or None, posts visible as of T, T)."""
    cursor = cursor or FeedCursor(as_of=feed_snapshot_time())
    window_starts = cursor.as_of - rules.FEED_WINDOW
    base = Post.objects.filter(_PUBLIC, created_at__lte=cursor.as_of, created_at__gt=window_starts)
    total = base.count()
    ranked = base.annotate(score=_feed_score(cursor.as_of))
    if cursor.score is not None:
        ranked = ranked.filter(
            Q(score__lt=cursor.score) | Q(score=cursor.score, pk__lt=cursor.last_id)
        )
    posts = list(_with_details(ranked, user).order_by("-score", "-id")[: page_size + 1])
    has_more = len(posts) > page_size
    posts = posts[:page_size]
    next_cursor = (
        FeedCursor(as_of=cursor.as_of, score=posts[-1].score, last_id=posts[-1].pk)
        if has_more
        else None
    )
    return posts, next_cursor, total, cursor.as_of


# --- comments --------------------------------------------------------------------------------------------------


def comment_list(*, post: Post) -> QuerySet[Comment]:
    """Top-level comments, oldest first, each with its replies (one level)."""
    return (
        Comment.objects.filter(post=post, parent__isnull=True)
        .select_related("author")
        .prefetch_related(
            Prefetch(
                "replies",
                queryset=Comment.objects.select_related("author").order_by("created_at", "id"),
            )
        )
        .order_by("created_at", "id")
    )


def report_queue(*, filters: Mapping | None = None) -> QuerySet[PostReport]:
    """Reports oldest first; `filters`: the query parameters of PostReportFilter (open ones by default)."""
    queryset = filter_queryset(
        PostReportFilter,
        data=filters,
        queryset=PostReport.objects.select_related("post", "post__author", "reporter"),
    )
    return queryset.order_by("created_at", "id")
