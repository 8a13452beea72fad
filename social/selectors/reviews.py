from django.db.models import Avg, Case, CharField, Count, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import Booking
from dumuwaks.core.permissions import is_staff_member
from social.errors import ReviewNotFound
from social.models import MediaAsset, Review, ReviewDirection, ReviewVisibility
from social.models.reviews import RATING_ASPECTS
from social.services.reviews import ReviewBookingNotFound


def _public_q() -> Q:
    return Q(is_hidden=False, visible_from__lte=timezone.now())


def _with_details(queryset: QuerySet[Review]) -> QuerySet[Review]:
    return queryset.select_related("reviewer", "reviewee").prefetch_related(
        Prefetch("media", queryset=MediaAsset.objects.filter(is_deleted=False).order_by("id"))
    )


def review_get_visible(*, review_id: int, user) -> Review:
    """Published reviews for everyone; a blind or hidden review only for its author (staff use the admin)."""
    visible = _public_q()
    if user.is_authenticated:
        visible |= Q(reviewer=user)
    review = _with_details(Review.objects.filter(visible, pk=review_id)).first()
    if review is None:
        raise ReviewNotFound()
    return review


def _technician_or_404(technician_id: int) -> User:
    technician = User.objects.filter(pk=technician_id, role=Role.TECHNICIAN).first()
    if technician is None:
        raise ReviewNotFound("Technician not found.", code="technician_not_found")
    return technician


def technician_reviews(*, technician_id: int) -> QuerySet[Review]:
    _technician_or_404(technician_id)
    return technician_reviews_published(technician_id=technician_id)


def technician_reviews_published(*, technician_id: int) -> QuerySet[Review]:
    """Published customer reviews of a technician, newest first; the caller vouches for the technician."""
    return _with_details(
        Review.objects.filter(
            _public_q(),
            reviewee_id=technician_id,
            direction=ReviewDirection.CUSTOMER_TO_TECHNICIAN,
        )
    ).order_by("-created_at", "-id")


def _rounded(average) -> float | None:
    """None when nothing was averaged (no review, or none rating that aspect)."""
    return None if average is None else round(float(average), 2)


def technician_review_stats(*, technician_id: int) -> dict:
    """Average, count, per-aspect averages and the 1-5 distribution in one aggregate query."""
    _technician_or_404(technician_id)
    return technician_review_aggregates(technician_id=technician_id)


def technician_review_aggregates(*, technician_id: int) -> dict:
    """`technician_review_stats` without the technician check (one query); the caller vouches for them."""
    aggregates = {
        "average": Avg("overall"),
        "count": Count("id"),
        **{f"avg_{aspect}": Avg(aspect) for aspect in RATING_ASPECTS},
        **{f"stars_{n}": Count("id", filter=Q(overall=n)) for n in range(1, 6)},
    }
    row = Review.objects.filter(
        _public_q(),
        reviewee_id=technician_id,
        direction=ReviewDirection.CUSTOMER_TO_TECHNICIAN,
    ).aggregate(**aggregates)
    return {
        "technician_id": technician_id,
        "average": _rounded(row["average"]),
        "count": row["count"],
        # Avg() skips reviews without the aspect: they are left out of its average, not counted as 0.
        "aspects": {a: _rounded(row[f"avg_{a}"]) for a in RATING_ASPECTS},
        "distribution": {str(n): row[f"stars_{n}"] for n in range(1, 6)},
    }


def booking_reviews_visible(*, booking_id: int, user) -> QuerySet[Review]:
    """The reviews of one booking `user` may read.

    Support staff and admins: every review of any booking, blind and hidden ones included, each annotated
    with its `visibility` so nobody mistakes an unpublished review for a public one. The booking's
    parties: their own review, plus the other side's once published. Anyone else: 404, as for a booking
    that does not exist.
    """
    if is_staff_member(user):
        if not Booking.objects.filter(pk=booking_id).exists():
            raise ReviewBookingNotFound()
        now = timezone.now()
        return (
            _with_details(Review.objects.filter(booking_id=booking_id))
            .annotate(
                visibility=Case(
                    When(is_hidden=True, then=Value(ReviewVisibility.HIDDEN)),
                    When(visible_from__gt=now, then=Value(ReviewVisibility.BLIND)),
                    default=Value(ReviewVisibility.PUBLISHED),
                    output_field=CharField(),
                )
            )
            .order_by("created_at", "id")
        )
    is_party = Booking.objects.filter(Q(customer=user) | Q(technician=user), pk=booking_id).exists()
    if not is_party:
        raise ReviewBookingNotFound()
    return _with_details(
        Review.objects.filter(Q(reviewer=user) | _public_q(), booking_id=booking_id)
    ).order_by("created_at", "id")
