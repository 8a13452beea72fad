"""Searching: rank eligible technicians for a job and store the top N as suggested Match rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from dumuwaks.core.errors import ValidationFailed
from matching import rules, selectors
from matching.errors import LocationRequired
from matching.models import Match
from matching.scoring import FACTORS, MatchRequest, rank_candidates


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
    preference, then rules.DEFAULT_MAX_DISTANCE_KM; budget to the preference's price_max.
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
    max_km = float(max_distance_km or preference.max_distance_km or rules.DEFAULT_MAX_DISTANCE_KM)
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
        cap=rules.CANDIDATE_CAP,
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
            candidate.return_visit_rate,
        ) = stats.get(candidate.technician_id, (0, 0, None, None))
        candidate.is_preferred = candidate.technician_id in preferred

    ranked = rank_candidates(candidates, request, weights, limit=limit)
    search_id = uuid.uuid4()
    expires_at = min(now + rules.MATCH_TTL, scheduled_start)
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
        _store_suggestions(matches)
    return search_id, matches


def _store_suggestions(matches: list[Match]) -> None:
    """Insert one search's suggestions without waiting for the WAL flush when this is our own transaction.

    Suggestions are derived data: a crash can lose at most the last few hundred milliseconds of them, and
    the customer simply searches again; bookings and money never take this path. Waiting for fsync was the
    largest share of a search's tail latency on a busy disk.
    """
    nested = connection.in_atomic_block
    with transaction.atomic():
        if not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        Match.objects.bulk_create(matches)
