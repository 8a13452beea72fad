"""Reviews of bookings and the technician rating aggregates derived from them.

Rules (decided where the issue was silent):
- Either party of a booking in status confirmed or resolved may review the other side, once
  (unique constraint on (booking, reviewer)). A customer rating a technician must rate quality,
  timeliness, professionalism and communication (REQUIRED_TECHNICIAN_ASPECTS); `value` is optional, and a
  review without it is left out of that aspect's average.
- Blind reviews: a review is visible to others from `visible_from` = its creation + rules.REVIEW_BLIND_PERIOD
  (7 days), counted from the FIRST review of the booking; when the other side reviews, both become visible at once.
  Until then only the author sees it.
- TechnicianProfile.rating_average / rating_count count customer→technician reviews that are visible and not
  hidden by staff. Counting blind reviews would leak them (the technician could watch the average move before
  reviewing back). Reviews that become visible by time are picked up by the `reviews_publish_due` beat task.
- Locks: booking row first (serialises both sides of one booking), then the technician profile row.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from accounts.models import TechnicianProfile, User
from bookings.models import Booking, BookingStatus
from bookings.services import lock_booking
from dumuwaks.core import events
from dumuwaks.core.errors import Forbidden, NotFound
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.side_effects import publish_after_commit
from social import rules
from social.errors import (
    AlreadyResponded,
    AlreadyReviewed,
    BookingNotReviewable,
    MissingAspectRatings,
    ReviewNotFound,
)
from social.models import Review, ReviewDirection
from social.models.reviews import RATING_ASPECTS, REQUIRED_TECHNICIAN_ASPECTS
from social.services.media import media_resolve_owned

REVIEWABLE_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.RESOLVED)
MAX_MEDIA_PER_REVIEW = 10


class ReviewBookingNotFound(NotFound):
    code = "booking_not_found"
    message = "Booking not found."


def _lock_booking_for(*, booking_id: int, user: User) -> Booking:
    """Caller is inside transaction.atomic(). Non-parties get the same 404 as for a missing booking."""
    try:
        booking = lock_booking(booking_id)
    except NotFound:
        raise ReviewBookingNotFound() from None
    if user.id not in (booking.customer_id, booking.technician_id):
        raise ReviewBookingNotFound()
    return booking


def technician_rating_recompute(*, technician_id: int | None) -> None:
    """Recompute rating_average/rating_count from the database under the profile's row lock.

    Caller is inside transaction.atomic() (and holds the booking lock when one is involved)."""
    if technician_id is None:
        return
    profile = TechnicianProfile.objects.select_for_update().filter(user_id=technician_id).first()
    if profile is None:
        return
    now = timezone.now()
    reviews = Review.objects.filter(
        reviewee_id=technician_id, direction=ReviewDirection.CUSTOMER_TO_TECHNICIAN
    )
    counted = reviews.filter(is_hidden=False, visible_from__lte=now)
    totals = counted.aggregate(average=Avg("overall"), count=Count("id"))
    average = Decimal(str(totals["average"] or 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    TechnicianProfile.objects.filter(pk=profile.pk).update(
        rating_average=average, rating_count=totals["count"], updated_at=now
    )
    counted.filter(counted_at__isnull=True).update(counted_at=now)
    reviews.exclude(pk__in=counted.values("pk")).filter(counted_at__isnull=False).update(
        counted_at=None
    )


def _check_ratings(*, direction: str, ratings: dict) -> None:
    if direction != ReviewDirection.CUSTOMER_TO_TECHNICIAN:
        return
    missing = [a for a in REQUIRED_TECHNICIAN_ASPECTS if ratings.get(a) is None]
    if missing:
        raise MissingAspectRatings(fields={f"ratings.{a}": ["Required (1-5)."] for a in missing})


def review_create(
    *,
    reviewer: User,
    booking_id: int,
    overall: int,
    ratings: dict | None = None,
    comment: str = "",
    media_ids: list[int] | None = None,
) -> Review:
    ratings = {a: (ratings or {}).get(a) for a in RATING_ASPECTS}
    assets = media_resolve_owned(owner=reviewer, media_ids=media_ids, limit=MAX_MEDIA_PER_REVIEW)
    with transaction.atomic():
        booking = _lock_booking_for(booking_id=booking_id, user=reviewer)
        if booking.status not in REVIEWABLE_STATUSES or booking.technician_id is None:
            raise BookingNotReviewable()
        if reviewer.id == booking.customer_id:
            direction, reviewee_id = ReviewDirection.CUSTOMER_TO_TECHNICIAN, booking.technician_id
        else:
            direction, reviewee_id = ReviewDirection.TECHNICIAN_TO_CUSTOMER, booking.customer_id
        _check_ratings(direction=direction, ratings=ratings)
        now = timezone.now()
        counterpart = Review.objects.filter(booking=booking).exclude(reviewer=reviewer).first()
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    booking=booking,
                    reviewer=reviewer,
                    reviewee_id=reviewee_id,
                    direction=direction,
                    overall=overall,
                    comment=(comment or "").strip(),
                    visible_from=now if counterpart else now + rules.REVIEW_BLIND_PERIOD,
                    **ratings,
                )
        except IntegrityError:
            raise AlreadyReviewed() from None
        review.media.set(assets)
        if counterpart is not None and counterpart.visible_from > now:
            # Both sides have spoken: publish both now.
            Review.objects.filter(pk=counterpart.pk).update(visible_from=now, updated_at=now)
        technician_rating_recompute(technician_id=booking.technician_id)
        publish_after_commit(events.ReviewCreated(review_id=review.id))
    return review


def _own_review_locked(*, review_id: int, actor: User, allow_staff: bool = False) -> Review:
    """Caller is inside transaction.atomic(). Locks the booking, then returns the actor's review."""
    review = Review.objects.filter(pk=review_id).only("id", "booking_id", "reviewer_id").first()
    if review is None:
        raise ReviewNotFound()
    if review.reviewer_id != actor.id and not (allow_staff and is_staff_member(actor)):
        raise ReviewNotFound()
    lock_booking(review.booking_id)
    review = Review.objects.select_related("booking").filter(pk=review_id).first()
    if review is None:  # deleted while we waited for the lock
        raise ReviewNotFound()
    return review


def review_update(
    *,
    review_id: int,
    actor: User,
    overall: int | None = None,
    ratings: dict | None = None,
    comment: str | None = None,
    media_ids: list[int] | None = None,
) -> Review:
    assets = (
        None
        if media_ids is None
        else media_resolve_owned(owner=actor, media_ids=media_ids, limit=MAX_MEDIA_PER_REVIEW)
    )
    with transaction.atomic():
        review = _own_review_locked(review_id=review_id, actor=actor)
        if overall is not None:
            review.overall = overall
        for aspect, value in (ratings or {}).items():
            if aspect in RATING_ASPECTS:
                setattr(review, aspect, value)
        _check_ratings(
            direction=review.direction, ratings={a: getattr(review, a) for a in RATING_ASPECTS}
        )
        if comment is not None:
            review.comment = comment.strip()
        review.edited_at = timezone.now()
        review.save()
        if assets is not None:
            review.media.set(assets)
        technician_rating_recompute(technician_id=review.booking.technician_id)
    return review


def review_delete(*, review_id: int, actor: User) -> None:
    """The author (or staff) deletes; the aggregates are recomputed in the same transaction."""
    with transaction.atomic():
        review = _own_review_locked(review_id=review_id, actor=actor, allow_staff=True)
        technician_id = review.booking.technician_id
        review.delete()
        technician_rating_recompute(technician_id=technician_id)


def review_respond(*, review_id: int, actor: User, response: str) -> Review:
    """The reviewee answers once, and only once the review is visible to them."""
    now = timezone.now()
    review = Review.objects.filter(
        pk=review_id, reviewee=actor, is_hidden=False, visible_from__lte=now
    ).first()
    if review is None:
        raise ReviewNotFound()
    updated = Review.objects.filter(pk=review_id, responded_at__isnull=True).update(
        response=response.strip(), responded_at=now, updated_at=now
    )
    if not updated:
        raise AlreadyResponded()
    review.refresh_from_db()
    return review


def review_set_hidden(*, review_id: int, actor: User, hidden: bool) -> Review:
    """Staff moderation (admin action): hidden reviews leave lists and aggregates."""
    if not is_staff_member(actor):
        raise Forbidden("Only staff can hide reviews.")
    with transaction.atomic():
        review = _own_review_locked(review_id=review_id, actor=actor, allow_staff=True)
        Review.objects.filter(pk=review.pk).update(is_hidden=hidden, updated_at=timezone.now())
        technician_rating_recompute(technician_id=review.booking.technician_id)
    review.refresh_from_db()
    return review


def reviews_publish_due() -> int:
    """Fold reviews whose blind period ended into their technicians' aggregates. Returns technicians updated."""
    technician_ids = list(
        Review.objects.filter(
            direction=ReviewDirection.CUSTOMER_TO_TECHNICIAN,
            counted_at__isnull=True,
            is_hidden=False,
            visible_from__lte=timezone.now(),
        )
        .values_list("reviewee_id", flat=True)
        .distinct()
    )
    for technician_id in technician_ids:
        with transaction.atomic():
            technician_rating_recompute(technician_id=technician_id)
    return len(technician_ids)
