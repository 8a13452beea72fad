"""Writes for matching: searches that store Match rows, match transitions, preferences, blocks, expiry.

Locking: a match row is locked (`lock_customer_match`) before anything the bookings service locks, and no
bookings code locks matches, so the booking → payment → escrow → payout order is never inverted.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Role, User
from dumuwaks.core.errors import InvalidTransition, ValidationFailed
from dumuwaks.core.money import ceil_shillings
from matching import learning, selectors
from matching.errors import (
    FeedbackAlreadyGiven,
    FeedbackNotAllowed,
    InvalidPreferences,
    InvalidWeights,
    LocationRequired,
    MatchExpired,
    MatchNotFound,
    MatchTechnicianNotFound,
    PriceUnknown,
)
from matching.models import (
    ALLOWED_TRANSITIONS,
    CustomerBlock,
    Match,
    MatchingPreference,
    MatchStatus,
    MatchStatusHistory,
)
from matching.scoring import (
    FACTORS,
    MatchRequest,
    estimate_price,
    rank_candidates,
    validate_weights,
)


def _setting(name: str, default):
    return getattr(settings, name, default)


def default_max_distance_km() -> float:
    return float(_setting("MATCHING_DEFAULT_MAX_DISTANCE_KM", 50))


def match_ttl() -> timedelta:
    return timedelta(hours=_setting("MATCHING_MATCH_TTL_HOURS", 24))


# --- search ------------------------------------------------------------------------------------------------------


def match_search(
    *,
    customer: User,
    category,
    scheduled_start: datetime,
    duration_minutes: int,
    latitude: float | None = None,
    longitude: float | None = None,
    budget: Decimal | None = None,
    urgency: str = "normal",
    limit: int = 10,
    max_distance_km: float | None = None,
) -> tuple[uuid.UUID, list[Match]]:
    """Rank eligible technicians for a job and store the top `limit` as suggested Match rows.

    Location defaults to the customer's saved one; max distance to the request's, then the customer's
    preference, then MATCHING_DEFAULT_MAX_DISTANCE_KM; budget to the preference's price_max.
    """
    if latitude is None or longitude is None:
        latitude, longitude = customer.latitude, customer.longitude
    if latitude is None or longitude is None:
        raise LocationRequired()
    now = timezone.now()
    if scheduled_start <= now:
        raise ValidationFailed(
            "The job must be scheduled in the future.",
            fields={"scheduled_start": ["Must be in the future."]},
        )

    preference = selectors.preference_for(customer)
    weights = selectors.effective_weights(preference)
    max_km = float(max_distance_km or preference.max_distance_km or default_max_distance_km())
    if budget is None and preference.price_max:
        budget = preference.price_max
    request = MatchRequest(
        category_id=category.pk,
        category_name=category.name,
        latitude=latitude,
        longitude=longitude,
        scheduled_start=scheduled_start,
        duration_minutes=duration_minutes,
        max_distance_km=max_km,
        budget=budget,
        urgency=urgency,
    )
    scheduled_end = scheduled_start + timedelta(minutes=duration_minutes)

    candidates = selectors.candidate_rows(
        customer_id=customer.pk,
        category_id=category.pk,
        latitude=latitude,
        longitude=longitude,
        max_distance_km=max_km,
        cap=int(_setting("MATCHING_CANDIDATE_CAP", 300)),
    )
    busy = selectors.busy_technician_ids(
        technician_ids=[c.technician_id for c in candidates],
        start=scheduled_start,
        end=scheduled_end,
    )
    candidates = [c for c in candidates if c.technician_id not in busy]
    ids = [c.technician_id for c in candidates]
    stats = selectors.booking_stats(
        technician_ids=ids,
        category_id=category.pk,
        customer_id=customer.pk,
        start=scheduled_start,
        end=scheduled_end,
    )
    preferred = selectors.preferred_technician_ids(preference)
    for candidate in candidates:
        (
            candidate.category_jobs,
            candidate.jobs_with_customer,
            candidate.gap_minutes,
        ) = stats.get(candidate.technician_id, (0, 0, None))
        candidate.is_preferred = candidate.technician_id in preferred

    ranked = rank_candidates(candidates, request, weights, limit=limit)
    search_id = uuid.uuid4()
    expires_at = min(now + match_ttl(), scheduled_start)
    matches = [
        Match(
            customer=customer,
            technician_id=scored.candidate.technician_id,
            search_id=search_id,
            rank=position,
            searched_at=now,
            category=category,
            latitude=latitude,
            longitude=longitude,
            scheduled_start=scheduled_start,
            duration_minutes=duration_minutes,
            budget=budget,
            urgency=urgency,
            max_distance_km=max_km,
            distance_km=(
                round(scored.candidate.distance_km, 3)
                if scored.candidate.distance_km is not None
                else None
            ),
            total_score=round(scored.total, 6),
            factor_scores={k: round(v, 6) for k, v in scored.factor_scores.items()},
            weights_used={k: round(weights.get(k, 0.0), 6) for k in FACTORS},
            reasons=scored.reasons,
            expires_at=expires_at,
        )
        for position, scored in enumerate(ranked, start=1)
    ]
    if matches:
        Match.objects.bulk_create(matches)
    return search_id, matches


# --- transitions -------------------------------------------------------------------------------------------------


def match_transition(
    *, match: Match, to: str, actor: User | None, note: str = "", **fields
) -> Match:
    """Compare-and-set `match.status` → `to` and append a history row. 0 rows updated → 409."""
    current = match.status
    if to not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"A {current} match cannot become {to}.")
    now = timezone.now()
    updated = Match.objects.filter(pk=match.pk, status=current).update(
        status=to, updated_at=now, **fields
    )
    if not updated:
        raise InvalidTransition("This match changed meanwhile; reload it.")
    MatchStatusHistory.objects.create(
        match=match, actor=actor, from_status=current, to_status=to, note=note
    )
    match.status = to
    match.updated_at = now
    for name, value in fields.items():
        setattr(match, name, value)
    return match


def _expire_matches(*, match_ids: list[int], actor: User | None, note: str) -> int:
    """Bulk suggested → expired for rows the caller has locked or picked (only suggested ones move)."""
    if not match_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Match.objects.select_for_update(skip_locked=True)
            .filter(pk__in=match_ids, status=MatchStatus.SUGGESTED)
            .values_list("pk", flat=True)
        )
        Match.objects.filter(pk__in=ids, status=MatchStatus.SUGGESTED).update(
            status=MatchStatus.EXPIRED, updated_at=now
        )
        MatchStatusHistory.objects.bulk_create(
            MatchStatusHistory(
                match_id=pk,
                actor=actor,
                from_status=MatchStatus.SUGGESTED,
                to_status=MatchStatus.EXPIRED,
                note=note,
            )
            for pk in ids
        )
    return len(ids)


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
    from bookings.services import booking_create

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


def _lock_preference(customer_id: int) -> MatchingPreference:
    preference, _ = MatchingPreference.objects.get_or_create(customer_id=customer_id)
    return MatchingPreference.objects.select_for_update().get(pk=preference.pk)


def learning_record(*, match: Match, action: str, rating: int | None = None) -> MatchingPreference:
    """Apply one learning step (see matching/learning.py) to the match's customer. Caller holds the
    match lock inside a transaction."""
    direction = learning.signal_direction(action=action, rating=rating)
    preference = _lock_preference(match.customer_id)
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


# --- preferences and blocks --------------------------------------------------------------------------------------

_UNSET = object()


def matching_preferences_update(
    *,
    customer: User,
    weights=_UNSET,
    max_distance_km=_UNSET,
    price_min=_UNSET,
    price_max=_UNSET,
    preferred_technician_ids=_UNSET,
) -> MatchingPreference:
    """Update the fields given (others keep their value). New weights reset what was learned, because the
    learning bounds are relative to them. `weights=None` returns to the platform defaults."""
    if weights is not _UNSET and weights is not None:
        problems = validate_weights(weights)
        if problems:
            raise InvalidWeights(fields={"weights": problems})
        weights = {name: float(weights[name]) for name in FACTORS}
    if max_distance_km is not _UNSET and max_distance_km is not None and max_distance_km <= 0:
        raise InvalidPreferences(fields={"max_distance_km": ["Must be greater than 0."]})

    with transaction.atomic():
        preference = _lock_preference(customer.pk)
        if weights is not _UNSET:
            preference.custom_weights = weights
            preference.learned_weights = None
            preference.learning_events = 0
        if max_distance_km is not _UNSET:
            preference.max_distance_km = max_distance_km
        if price_min is not _UNSET:
            preference.price_min = price_min
        if price_max is not _UNSET:
            preference.price_max = price_max
        if (
            preference.price_min is not None
            and preference.price_max is not None
            and preference.price_max < preference.price_min
        ):
            raise InvalidPreferences(
                fields={"price_max": ["Must be greater than or equal to priceMin."]}
            )
        preference.save()
        if preferred_technician_ids is not _UNSET:
            wanted = set(preferred_technician_ids or ())
            found = set(
                User.objects.filter(
                    pk__in=wanted, role=Role.TECHNICIAN, is_active=True
                ).values_list("pk", flat=True)
            )
            unknown = sorted(wanted - found)
            if unknown:
                raise InvalidPreferences(
                    fields={"preferred_technician_ids": [f"Unknown technicians: {unknown}."]}
                )
            blocked = sorted(
                CustomerBlock.objects.filter(
                    customer=customer, technician_id__in=wanted
                ).values_list("technician_id", flat=True)
            )
            if blocked:
                raise InvalidPreferences(
                    fields={"preferred_technician_ids": [f"You blocked technicians {blocked}."]}
                )
            preference.preferred_technicians.set(found)
    return selectors.preference_for(customer)


def customer_block_create(*, customer: User, technician_id: int) -> tuple[CustomerBlock, bool]:
    """Block a technician (idempotent: returns the existing block with created=False)."""
    technician = User.objects.filter(pk=technician_id, role=Role.TECHNICIAN).first()
    if technician is None:
        raise MatchTechnicianNotFound()
    try:
        with transaction.atomic():
            block = CustomerBlock.objects.create(customer=customer, technician=technician)
            preference = MatchingPreference.objects.filter(customer=customer).first()
            if preference is not None:
                preference.preferred_technicians.remove(technician)
    except IntegrityError:
        return CustomerBlock.objects.get(customer=customer, technician=technician), False
    return block, True


def customer_block_delete(*, customer: User, technician_id: int) -> None:
    deleted, _ = CustomerBlock.objects.filter(
        customer=customer, technician_id=technician_id
    ).delete()
    if not deleted:
        raise MatchTechnicianNotFound("You have not blocked this technician.")
