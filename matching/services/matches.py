"""Match lifecycle: compare-and-set transitions with history, accept (through bookings), reject, feedback,
expiry, and the learning step each decision triggers.

Locking: the matches of a search are locked (in id order) before anything the bookings service locks, and no
bookings code locks matches, so the booking → payment → escrow → payout order is never inverted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from bookings.services import booking_create
from dumuwaks.core.errors import InvalidTransition, ValidationFailed
from dumuwaks.core.money import ceil_shillings
from dumuwaks.core.state_machine import transition, transition_many
from matching import learning, selectors
from matching.errors import (
    FeedbackAlreadyGiven,
    FeedbackNotAllowed,
    MatchExpired,
    MatchNotFound,
    PriceUnknown,
)
from matching.models import (
    MATCH_MACHINE,
    Match,
    MatchingPreference,
    MatchStatus,
)
from matching.scoring import estimate_price

# --- transitions -------------------------------------------------------------------------------------------------


def match_transition(
    *, match: Match, to: str, actor: User | None, note: str = "", **fields
) -> Match:
    """Status change of a match (MATCH_MACHINE) with its history row; 409 when it moved meanwhile."""
    return transition(
        machine=MATCH_MACHINE, instance=match, to=to, actor=actor, note=note, fields=fields
    )


def _expire_matches(*, match_ids: list[int], actor: User | None, note: str) -> int:
    """Bulk suggested → expired for rows the caller has locked or picked (only suggested ones move; one
    another transaction holds, e.g. an accept in progress, is left to it)."""
    return len(
        transition_many(
            machine=MATCH_MACHINE,
            pks=match_ids,
            from_status=MatchStatus.SUGGESTED,
            to=MatchStatus.EXPIRED,
            actor=actor,
            note=note,
            skip_locked=True,
        )
    )


def lock_customer_match(*, match_id: int, customer: User) -> Match:
    match = (
        Match.objects.select_for_update(of=("self",))
        .select_related("category", "technician", "technician__technician_profile")
        .filter(pk=match_id, customer=customer)
        .first()
    )
    if match is None:
        raise MatchNotFound()
    return match


def _lock_search_of(*, match_id: int, customer: User) -> None:
    """Lock every match of this match's search, in id order: two accepts racing on different suggestions
    of one search serialise, so only one becomes a booking (the other finds its match expired)."""
    search_id = (
        Match.objects.filter(pk=match_id, customer=customer)
        .values_list("search_id", flat=True)
        .first()
    )
    if search_id is None:
        raise MatchNotFound()
    list(
        Match.objects.select_for_update()
        .filter(search_id=search_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _is_stale(match: Match, now: datetime) -> bool:
    return match.expires_at <= now or match.scheduled_start <= now


def _booking_price(match: Match) -> Decimal:
    """The customer's budget when given; otherwise the technician's estimate (hourly rate × hours) rounded
    up to the shilling; otherwise the category's typical minimum."""
    if match.budget and match.budget > 0:
        return ceil_shillings(match.budget)
    profile = getattr(match.technician, "technician_profile", None)
    estimate = estimate_price(
        hourly_rate=profile.hourly_rate if profile else None,
        duration_minutes=match.duration_minutes,
    )
    if estimate:
        return ceil_shillings(estimate)
    if match.category.typical_price_min and match.category.typical_price_min > 0:
        return ceil_shillings(match.category.typical_price_min)
    raise PriceUnknown()


def match_accept(
    *,
    match_id: int,
    customer: User,
    title: str = "",
    description: str = "",
    address: str = "",
) -> Match:
    """Book the matched technician for the matched slot through the bookings service (its slot and
    availability rules apply and their 409s pass through unchanged, leaving the match suggested)."""
    now = timezone.now()
    with transaction.atomic():
        _lock_search_of(match_id=match_id, customer=customer)
        match = lock_customer_match(match_id=match_id, customer=customer)
        if match.status == MatchStatus.SUGGESTED and _is_stale(match, now):
            match_transition(
                match=match, to=MatchStatus.EXPIRED, actor=None, note="expired before acceptance"
            )
            expired = True
        else:
            expired = False
            if match.status != MatchStatus.SUGGESTED:
                raise InvalidTransition(f"A {match.status} match cannot be accepted.")
            booking = booking_create(
                customer=customer,
                category=match.category,
                title=title or f"{match.category.name} job",
                description=description,
                urgency=match.urgency,
                address=address
                or customer.address
                or f"Pinned location {match.latitude:.5f}, {match.longitude:.5f}",
                county=customer.county,
                latitude=match.latitude,
                longitude=match.longitude,
                scheduled_start=match.scheduled_start,
                duration_minutes=match.duration_minutes,
                price=_booking_price(match),
                technician=match.technician,
            )
            match_transition(
                match=match,
                to=MatchStatus.ACCEPTED,
                actor=customer,
                booking=booking,
                responded_at=now,
            )
            siblings = list(
                Match.objects.filter(search_id=match.search_id, status=MatchStatus.SUGGESTED)
                .exclude(pk=match.pk)
                .values_list("pk", flat=True)
            )
            _expire_matches(
                match_ids=siblings, actor=customer, note="another technician was chosen"
            )
            learning_record(match=match, action="accept")
    if expired:
        raise MatchExpired()
    return match


def match_reject(*, match_id: int, customer: User, reason: str = "") -> Match:
    with transaction.atomic():
        match = lock_customer_match(match_id=match_id, customer=customer)
        match_transition(
            match=match,
            to=MatchStatus.REJECTED,
            actor=customer,
            note=reason,
            rejection_reason=reason,
            responded_at=timezone.now(),
        )
        learning_record(match=match, action="reject")
    return match


def match_feedback(*, match_id: int, customer: User, rating: int, comment: str = "") -> Match:
    if not 1 <= rating <= 5:
        raise ValidationFailed(fields={"rating": ["Must be between 1 and 5."]})
    with transaction.atomic():
        match = lock_customer_match(match_id=match_id, customer=customer)
        if match.status not in (MatchStatus.ACCEPTED, MatchStatus.REJECTED):
            raise FeedbackNotAllowed()
        now = timezone.now()
        updated = Match.objects.filter(pk=match.pk, feedback_at__isnull=True).update(
            feedback_rating=rating, feedback_comment=comment, feedback_at=now, updated_at=now
        )
        if not updated:
            raise FeedbackAlreadyGiven()
        match.feedback_rating, match.feedback_comment, match.feedback_at = rating, comment, now
        learning_record(match=match, action="feedback", rating=rating)
    return match


def matches_expire_stale(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Suggested matches past their expiry (24 h after the search, or the slot start) → expired."""
    now = now or timezone.now()
    total = 0
    while True:
        ids = list(
            Match.objects.filter(status=MatchStatus.SUGGESTED, expires_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return total
        moved = _expire_matches(match_ids=ids, actor=None, note="suggestion expired")
        total += moved
        if moved == 0:  # every remaining row is locked by a concurrent accept/reject
            return total


# --- learning ----------------------------------------------------------------------------------------------------


def lock_preference(customer_id: int) -> MatchingPreference:
    preference, _ = MatchingPreference.objects.get_or_create(customer_id=customer_id)
    return MatchingPreference.objects.select_for_update().get(pk=preference.pk)


def learning_record(*, match: Match, action: str, rating: int | None = None) -> MatchingPreference:
    """Apply one learning step (see matching/learning.py) to the match's customer. Caller holds the
    match lock inside a transaction."""
    direction = learning.signal_direction(action=action, rating=rating)
    preference = lock_preference(match.customer_id)
    if direction == 0:
        return preference
    alternatives = list(
        Match.objects.filter(search_id=match.search_id)
        .exclude(pk=match.pk)
        .values_list("factor_scores", flat=True)
    )
    preference.learned_weights = learning.updated_weights(
        current=selectors.effective_weights(preference),
        base=selectors.base_weights(preference),
        chosen_scores=match.factor_scores,
        alternative_scores=alternatives,
        direction=direction,
    )
    preference.learning_events = F("learning_events") + 1
    preference.save(update_fields=["learned_weights", "learning_events", "updated_at"])
    preference.refresh_from_db(fields=["learning_events"])
    return preference
