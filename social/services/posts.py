"""Posts, comments, likes, shares, reports and moderation.

Counters on Post are display values updated with F() in the same transaction as the row that causes them;
every change also appends to the EngagementEvent ledger the feed ranks on (see selectors/posts.py).
Mentions: `@handle` names a user by their unique handle (accounts/handles.py: `@wanjiku.kamau`, any case, not
inside an email address; an unknown handle is plain text), and `@[<user id>]` by id. Hashtags are `#word`
(letters, digits, underscore; not all digits), stored lower-cased.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.handles import HANDLE_MAX_LENGTH
from accounts.models import User
from bookings.models import Booking, BookingStatus
from dumuwaks.core import events
from dumuwaks.core.errors import Forbidden, InvalidTransition, ValidationFailed
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import transition, transition_many
from social.errors import (
    AlreadyReported,
    CannotReportOwnPost,
    CommentNotFound,
    InvalidMediaRefs,
    InvalidPortfolioBooking,
    PostNotFound,
    ReplyDepthExceeded,
)
from social.models import (
    POST_MACHINE,
    REPORT_MACHINE,
    Comment,
    EngagementEvent,
    EngagementKind,
    Hashtag,
    Like,
    MediaAsset,
    Post,
    PostMedia,
    PostMention,
    PostReport,
    PostStatus,
    PostType,
    ReportStatus,
    Share,
)
from social.services.media import media_resolve_owned

POINTS = {EngagementKind.LIKE: 3, EngagementKind.COMMENT: 5, EngagementKind.SHARE: 10}
MAX_MEDIA_PER_POST = 10
MAX_MENTIONS_PER_POST = 20
MAX_HASHTAGS_PER_POST = 30
PORTFOLIO_BOOKING_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED)

_HASHTAG = re.compile(r"(?<![\w#&/])#(\w{1,64})")
_MENTION = re.compile(r"@\[(\d{1,18})\]")
# Not after a word character, dot or @ (so not the domain of `mail@wanjiku.kamau`); a trailing dot ends the
# sentence, not the handle (handles end with a letter or digit).
_HANDLE_MENTION = re.compile(r"(?<![\w.@])@([a-z0-9](?:[a-z0-9._]*[a-z0-9])?)", re.IGNORECASE)
MODERATION_ACTIONS = {
    "hide": PostStatus.HIDDEN,
    "remove": PostStatus.REMOVED,
    "restore": PostStatus.PUBLISHED,
}


def extract_hashtags(text: str) -> list[str]:
    names = [m.lower() for m in _HASHTAG.findall(text or "") if not m.isdigit()]
    return list(dict.fromkeys(names))[:MAX_HASHTAGS_PER_POST]


def extract_mention_ids(text: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _MENTION.findall(text or "")))


def extract_mention_handles(text: str) -> list[str]:
    """`@handle` mentions, lower-cased, in order, once each; longer than any handle can be, left out."""
    handles = (m.lower() for m in _HANDLE_MENTION.findall(text or ""))
    return list(dict.fromkeys(h for h in handles if len(h) <= HANDLE_MAX_LENGTH))


# --- helpers ---------------------------------------------------------------------------------------------------


def _record(post_id: int, kind: str, count: int = 1, *, sign: int = 1) -> None:
    EngagementEvent.objects.bulk_create(
        [
            EngagementEvent(post_id=post_id, kind=kind, points=sign * POINTS[kind])
            for _ in range(count)
        ]
    )


def _check_type_and_media(*, type: str, body: str, assets: list[MediaAsset]) -> None:
    kinds = {a.resource_type for a in assets}
    if type == PostType.TEXT:
        if not body.strip():
            raise ValidationFailed(fields={"body": ["A text post needs some text."]})
        if assets:
            raise InvalidMediaRefs(
                "Text posts carry no media; use type image or video.",
                fields={"media_ids": ["Not allowed for text posts."]},
            )
    elif type == PostType.IMAGE and (not assets or kinds != {"image"}):
        raise InvalidMediaRefs(
            "Image posts need 1-10 images and nothing else.",
            fields={"media_ids": ["Attach images only."]},
        )
    elif type == PostType.VIDEO and (not assets or kinds != {"video"}):
        raise InvalidMediaRefs(
            "Video posts need 1-10 videos and nothing else.",
            fields={"media_ids": ["Attach videos only."]},
        )
    elif type == PostType.PORTFOLIO and not (body.strip() or assets):
        raise ValidationFailed(fields={"body": ["Describe the job or attach photos."]})


def _portfolio_booking(*, author: User, booking_id: int | None) -> Booking:
    booking = (
        Booking.objects.filter(
            pk=booking_id, technician=author, status__in=PORTFOLIO_BOOKING_STATUSES
        ).first()
        if booking_id
        else None
    )
    if booking is None:
        raise InvalidPortfolioBooking(fields={"booking_id": [InvalidPortfolioBooking.message]})
    return booking


def _set_media(post: Post, assets: list[MediaAsset]) -> None:
    PostMedia.objects.filter(post=post).delete()
    PostMedia.objects.bulk_create(
        [PostMedia(post=post, asset=a, position=i) for i, a in enumerate(assets)]
    )


def _set_hashtags(post: Post, names: list[str]) -> None:
    if names:
        # ignore_conflicts: two posts introducing the same new tag at once must both succeed.
        try:
            with transaction.atomic():
                Hashtag.objects.bulk_create([Hashtag(name=n) for n in names], ignore_conflicts=True)
        except IntegrityError:
            # A database whose lower() disagrees with Python's for some exotic letter fails the
            # lower-case check: drop just those tags rather than the post.
            for name in names:
                try:
                    with transaction.atomic():
                        Hashtag.objects.get_or_create(name=name)
                except IntegrityError:
                    continue
    post.hashtags.set(Hashtag.objects.filter(name__in=names))


def _set_mentions(post: Post, *, author: User, text: str) -> list[int]:
    """Sync mentions with the text; returns ids of users newly mentioned (to be notified)."""
    ids, handles = extract_mention_ids(text), extract_mention_handles(text)
    mentionable = User.objects.filter(is_active=True, deleted_at__isnull=True).exclude(pk=author.id)
    found = list(
        mentionable.filter(Q(pk__in=ids) | Q(handle__in=handles)).values_list("pk", "handle")
    )
    id_for_handle = {handle: pk for pk, handle in found}
    valid = {pk for pk, _ in found}
    # By id first, then by handle, each in order of appearance; unknown ones are plain text.
    candidates = [*ids, *(id_for_handle.get(h) for h in handles)]
    wanted = list(dict.fromkeys(i for i in candidates if i in valid))[:MAX_MENTIONS_PER_POST]
    existing = set(PostMention.objects.filter(post=post).values_list("user_id", flat=True))
    PostMention.objects.filter(post=post).exclude(user_id__in=wanted).delete()
    new = [i for i in wanted if i not in existing]
    PostMention.objects.bulk_create([PostMention(post=post, user_id=i) for i in new])
    return new


def _announce_mentions(post_id: int, user_ids: list[int]) -> None:
    for user_id in user_ids:
        publish_after_commit(events.SocialMentioned(post_id=post_id, user_id=user_id))


def _require_published(post: Post) -> None:
    if post.status != PostStatus.PUBLISHED:
        raise PostNotFound()


# --- posts -----------------------------------------------------------------------------------------------------


def post_create(
    *,
    author: User,
    type: str = PostType.TEXT,
    body: str = "",
    media_ids: list[int] | None = None,
    booking_id: int | None = None,
) -> Post:
    body = (body or "").strip()
    assets = media_resolve_owned(owner=author, media_ids=media_ids, limit=MAX_MEDIA_PER_POST)
    _check_type_and_media(type=type, body=body, assets=assets)
    booking = (
        _portfolio_booking(author=author, booking_id=booking_id) if type == "portfolio" else None
    )
    with transaction.atomic():
        post = Post.objects.create(author=author, type=type, body=body, booking=booking)
        _set_media(post, assets)
        _set_hashtags(post, extract_hashtags(body))
        _announce_mentions(post.id, _set_mentions(post, author=author, text=body))
    return post


def _lock_post(post_id: int) -> Post:
    try:
        return Post.objects.select_for_update().get(pk=post_id)
    except Post.DoesNotExist:
        raise PostNotFound() from None


def post_update(
    *, post_id: int, actor: User, body: str | None = None, media_ids: list[int] | None = None
) -> Post:
    """Author only. Re-extracts hashtags and mentions; only newly mentioned users are announced."""
    assets = (
        None
        if media_ids is None
        else media_resolve_owned(owner=actor, media_ids=media_ids, limit=MAX_MEDIA_PER_POST)
    )
    with transaction.atomic():
        post = _lock_post(post_id)
        if post.author_id != actor.id:
            raise Forbidden("Only the author can edit a post.")
        if post.status == PostStatus.REMOVED:
            raise InvalidTransition("A removed post cannot be edited.")
        new_body = post.body if body is None else body.strip()
        current_assets = (
            assets
            if assets is not None
            else [
                link.asset
                for link in post.media_links.select_related("asset").filter(asset__is_deleted=False)
            ]
        )
        _check_type_and_media(type=post.type, body=new_body, assets=current_assets)
        post.body = new_body
        post.edited_at = timezone.now()
        post.save(update_fields=["body", "edited_at", "updated_at"])
        if assets is not None:
            _set_media(post, assets)
        _set_hashtags(post, extract_hashtags(new_body))
        _announce_mentions(post.id, _set_mentions(post, author=actor, text=new_body))
    return post


def post_delete(*, post_id: int, actor: User) -> None:
    """The author deletes for good; staff deleting someone else's post removes it by moderation
    (kept, with an audit row)."""
    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        raise PostNotFound()
    if post.author_id == actor.id:
        post.delete()
        return
    if is_staff_member(actor):
        if post.status != PostStatus.REMOVED:
            post_transition(
                post_id=post_id, to=PostStatus.REMOVED, actor=actor, reason="Removed by staff"
            )
        return
    if post.status != PostStatus.PUBLISHED:
        raise PostNotFound()
    raise Forbidden("Only the author or staff can delete a post.")


def post_transition(*, post_id: int, to: str, actor: User | None, reason: str = "") -> Post:
    """The one place a post's status changes (POST_MACHINE): the core transition records the moderation
    (`reason` is its history note and the post's `moderation_reason`); the post's open reports are resolved
    with it."""
    with transaction.atomic():
        post = _lock_post(post_id)
        now = timezone.now()
        transition(
            machine=POST_MACHINE,
            instance=post,
            to=to,
            actor=actor,
            note=reason,
            fields={"moderation_reason": reason, "moderated_at": now, "moderated_by": actor},
        )
        outcome = ReportStatus.DISMISSED if to == PostStatus.PUBLISHED else ReportStatus.ACTIONED
        transition_many(
            machine=REPORT_MACHINE,
            pks=list(
                PostReport.objects.filter(post_id=post_id, status=ReportStatus.OPEN).values_list(
                    "pk", flat=True
                )
            ),
            from_status=ReportStatus.OPEN,
            to=outcome,
            actor=actor,
            fields={"resolved_by": actor, "resolved_at": now, "updated_at": now},
        )
    post.refresh_from_db()
    return post


def post_moderate(*, post_id: int, action: str, actor: User, reason: str = "") -> Post:
    if not is_staff_member(actor):
        raise Forbidden("Only support staff and administrators moderate posts.")
    return post_transition(
        post_id=post_id, to=MODERATION_ACTIONS[action], actor=actor, reason=reason
    )


# --- likes & shares --------------------------------------------------------------------------------------------


def post_like(*, post: Post, user: User) -> bool:
    """Idempotent: returns True when this call created the like."""
    _require_published(post)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Like.objects.create(post=post, user=user)
        except IntegrityError:
            return False
        Post.objects.filter(pk=post.pk).update(like_count=F("like_count") + 1)
        _record(post.pk, EngagementKind.LIKE)
    return True


def post_unlike(*, post: Post, user: User) -> bool:
    """Idempotent: returns True when a like was removed."""
    with transaction.atomic():
        deleted, _ = Like.objects.filter(post=post, user=user).delete()
        if not deleted:
            return False
        Post.objects.filter(pk=post.pk).update(like_count=F("like_count") - 1)
        _record(post.pk, EngagementKind.LIKE, sign=-1)
    return True


def post_share(*, post: Post, user: User) -> bool:
    """One share per user and post (repeated shares must not farm feed points); idempotent."""
    _require_published(post)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Share.objects.create(post=post, user=user)
        except IntegrityError:
            return False
        Post.objects.filter(pk=post.pk).update(share_count=F("share_count") + 1)
        _record(post.pk, EngagementKind.SHARE)
    return True


# --- comments --------------------------------------------------------------------------------------------------


def comment_create(*, post: Post, author: User, body: str, parent_id: int | None = None) -> Comment:
    _require_published(post)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": ["Write something."]})
    with transaction.atomic():
        # The post lock serialises with comment_delete, so a parent cannot vanish under a new reply.
        _lock_post(post.pk)
        parent = None
        if parent_id is not None:
            parent = Comment.objects.filter(pk=parent_id, post=post).first()
            if parent is None:
                raise ValidationFailed(fields={"parent_id": ["No such comment on this post."]})
            if parent.parent_id is not None:
                raise ReplyDepthExceeded(fields={"parent_id": [ReplyDepthExceeded.message]})
        comment = Comment.objects.create(post=post, author=author, body=body, parent=parent)
        Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") + 1)
        _record(post.pk, EngagementKind.COMMENT)
    return comment


def comment_delete(*, comment_id: int, actor: User) -> None:
    """The comment's author, the post's author or staff; replies go with their comment."""
    comment = Comment.objects.select_related("post").filter(pk=comment_id).first()
    if comment is None:
        raise CommentNotFound()
    post = comment.post
    is_staff = is_staff_member(actor)
    if post.status != PostStatus.PUBLISHED and post.author_id != actor.id and not is_staff:
        raise CommentNotFound()
    if actor.id not in (comment.author_id, post.author_id) and not is_staff:
        raise Forbidden("You can only delete your own comments.")
    with transaction.atomic():
        _lock_post(post.pk)
        removed = 1 + Comment.objects.filter(parent_id=comment.pk).count()
        comment.delete()
        Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") - removed)
        _record(post.pk, EngagementKind.COMMENT, removed, sign=-1)


# --- reports ---------------------------------------------------------------------------------------------------


def post_report(*, post: Post, reporter: User, reason: str) -> PostReport:
    _require_published(post)
    if post.author_id == reporter.id:
        raise CannotReportOwnPost()
    try:
        with transaction.atomic():
            return PostReport.objects.create(post=post, reporter=reporter, reason=reason.strip())
    except IntegrityError:
        raise AlreadyReported() from None
