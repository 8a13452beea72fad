"""Match records, per-customer matching preferences and customer→technician blocks.

A `Match` is one technician suggested to one customer by one `find-technicians` call (`search_id` ties the
results of a call together, `rank` is the position in it). Its status moves only through
`matching.services.match_transition` (the core transition of MATCH_MACHINE + a `MatchStatusHistory` row).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from bookings.models import Urgency
from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.state_machine import StateMachine, register


class MatchStatus(models.TextChoices):
    SUGGESTED = "suggested", "Suggested"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class Match(TimeStampedModel):
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="matches"
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="technician_matches"
    )
    search_id = models.UUIDField(db_index=True, help_text="Groups the results of one search")
    rank = models.PositiveSmallIntegerField(help_text="1 = best result of its search")
    # One timestamp for the whole search (created_at differs by microseconds between its rows), so lists
    # show searches newest first and each search in rank order.
    searched_at = models.DateTimeField(default=timezone.now)

    # The request as the customer made it.
    category = models.ForeignKey(
        "accounts.ServiceCategory", on_delete=models.PROTECT, related_name="matches"
    )
    latitude = models.FloatField()
    longitude = models.FloatField()
    scheduled_start = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    budget = MoneyField(null=True, blank=True)
    currency = CurrencyField()
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    max_distance_km = models.FloatField()

    # The outcome of scoring.
    distance_km = models.FloatField(null=True, blank=True)
    total_score = models.FloatField()
    factor_scores = models.JSONField(default=dict)
    weights_used = models.JSONField(default=dict)
    reasons = models.JSONField(default=list)

    status = models.CharField(
        max_length=16, choices=MatchStatus.choices, default=MatchStatus.SUGGESTED
    )
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    booking = models.ForeignKey(
        "bookings.Booking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="matches",
    )

    feedback_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback_comment = models.TextField(blank=True)
    feedback_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-searched_at", "rank", "id"]
        verbose_name_plural = "matches"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=MatchStatus.values), name="match_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(urgency__in=Urgency.values), name="match_urgency_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(feedback_rating__isnull=True)
                | models.Q(feedback_rating__gte=1, feedback_rating__lte=5),
                name="match_feedback_rating_range",
            ),
            models.UniqueConstraint(
                fields=["search_id", "technician"], name="match_search_technician_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["customer", "-searched_at", "rank"], name="match_customer_recent_idx"
            ),
            models.Index(fields=["status", "expires_at"], name="match_status_expiry_idx"),
        ]

    def __str__(self):
        return f"Match {self.pk}: {self.customer_id} → {self.technician_id} ({self.status})"


class MatchStatusHistory(StatusHistory):
    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="status_history")

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "match status history"

    def __str__(self):
        return f"{self.match_id}: {self.from_status} -> {self.to_status}"


MATCH_MACHINE = register(
    StateMachine(
        label="match",
        model=Match,
        transitions={
            MatchStatus.SUGGESTED: frozenset(
                {MatchStatus.ACCEPTED, MatchStatus.REJECTED, MatchStatus.EXPIRED}
            ),
            MatchStatus.ACCEPTED: frozenset(),
            MatchStatus.REJECTED: frozenset(),
            MatchStatus.EXPIRED: frozenset(),
        },
        history_model=MatchStatusHistory,
        history_fk="match",
    )
)


class MatchingPreference(TimeStampedModel):
    """How one customer wants technicians ranked.

    `custom_weights` (None = platform defaults) is what the customer set; `learned_weights` (None = nothing
    learned yet) is the result of `matching.learning` starting from those, and wins when present.
    """

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="matching_preference"
    )
    custom_weights = models.JSONField(null=True, blank=True)
    learned_weights = models.JSONField(null=True, blank=True)
    learning_events = models.PositiveIntegerField(default=0)
    max_distance_km = models.FloatField(null=True, blank=True)
    price_min = MoneyField(null=True, blank=True)
    price_max = MoneyField(null=True, blank=True)
    currency = CurrencyField()
    preferred_technicians = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="preferred_by"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_distance_km__isnull=True) | models.Q(max_distance_km__gt=0),
                name="matching_pref_max_distance_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(price_min__isnull=True)
                | models.Q(price_max__isnull=True)
                | models.Q(price_max__gte=models.F("price_min")),
                name="matching_pref_price_range_ordered",
            ),
        ]

    def __str__(self):
        return f"Matching preferences of {self.customer_id}"


class CustomerBlock(TimeStampedModel):
    """A customer never wants this technician suggested again."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="technician_blocks"
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocked_by"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "technician"], name="customer_block_unique"
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} blocks {self.technician_id}"
