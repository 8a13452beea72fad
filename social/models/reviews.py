from django.conf import settings
from django.db import models

from dumuwaks.core.models import TimeStampedModel

RATING_ASPECTS = ("quality", "timeliness", "professionalism", "communication", "value")
# A customer rating a technician must rate these four; `value` (value for money) is optional, so a client
# that sends four aspects can review. An aspect left out is null and leaves that review out of the
# aspect's average (it never counts as 0).
REQUIRED_TECHNICIAN_ASPECTS = ("quality", "timeliness", "professionalism", "communication")


class ReviewDirection(models.TextChoices):
    CUSTOMER_TO_TECHNICIAN = "customer_to_technician", "Customer reviews technician"
    TECHNICIAN_TO_CUSTOMER = "technician_to_customer", "Technician reviews customer"


class ReviewVisibility(models.TextChoices):
    """Who can read a review now (computed, not stored): staff see it on every review of a booking."""

    PUBLISHED = "published", "Published"
    BLIND = "blind", "Blind: waiting for the other side's review or the 7-day window"
    HIDDEN = "hidden", "Hidden by moderation"


def _rating_in_range(field: str) -> models.Q:
    return models.Q(**{f"{field}__isnull": True}) | models.Q(
        **{f"{field}__gte": 1, f"{field}__lte": 5}
    )


class Review(TimeStampedModel):
    """One side's review of a booking.

    Blind until published: a review is visible to others from `visible_from`, which is set to
    first-review time + 7 days and pulled forward to "now" on both of a booking's reviews when the other side
    reviews too (social.services.reviews).
    """

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.CASCADE, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_written"
    )
    reviewee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_received"
    )
    direction = models.CharField(max_length=32, choices=ReviewDirection.choices)
    overall = models.PositiveSmallIntegerField()
    # REQUIRED_TECHNICIAN_ASPECTS when a customer rates a technician; the rest, and all of them the other
    # way round, optional.
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    timeliness = models.PositiveSmallIntegerField(null=True, blank=True)
    professionalism = models.PositiveSmallIntegerField(null=True, blank=True)
    communication = models.PositiveSmallIntegerField(null=True, blank=True)
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, max_length=3000)
    media = models.ManyToManyField("social.MediaAsset", related_name="reviews", blank=True)
    visible_from = models.DateTimeField(db_index=True)
    counted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the technician aggregates last included this review"
    )
    is_hidden = models.BooleanField(default=False, help_text="Hidden by staff moderation")
    edited_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True, max_length=2000)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "reviewer"], name="review_once_per_side"),
            models.CheckConstraint(
                condition=models.Q(direction__in=ReviewDirection.values),
                name="review_direction_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(reviewer=models.F("reviewee")), name="review_not_self"
            ),
            models.CheckConstraint(
                condition=models.Q(overall__gte=1, overall__lte=5), name="review_overall_1_5"
            ),
            *[
                models.CheckConstraint(
                    condition=_rating_in_range(aspect), name=f"review_{aspect}_1_5"
                )
                for aspect in RATING_ASPECTS
            ],
        ]
        indexes = [
            models.Index(fields=["reviewee", "direction", "visible_from"]),
        ]

    def __str__(self):
        return f"Review {self.pk} of booking {self.booking_id} by {self.reviewer_id}"
