"""Technician scoring: one pure function per factor, each returning a score in [0, 1].

Nothing here touches the database; `matching.selectors` gathers a `Candidate` per technician and
`score_candidate` turns it into a weighted total, the per-factor breakdown and reasons a customer can read.

Default weights (sum 1): skill match 25 %, proximity 20 %, availability 15 %, rating 15 %, experience 10 %,
pricing fit 5 %, response time 5 %, completion rate 3 %, customer preference 2 %. The completion-rate
factor is the reliability signal: it is scaled down by the technician's guarantee return-visit rate
(`completion_rate_score`).

Ranking is deterministic: total score descending (rounded to 9 places so float noise never decides), then
distance ascending, then technician id ascending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

SKILL_MATCH = "skill_match"
PROXIMITY = "proximity"
AVAILABILITY = "availability"
RATING = "rating"
EXPERIENCE = "experience"
PRICING_FIT = "pricing_fit"
RESPONSE_TIME = "response_time"
COMPLETION_RATE = "completion_rate"
CUSTOMER_PREFERENCE = "customer_preference"

DEFAULT_WEIGHTS: dict[str, float] = {
    SKILL_MATCH: 0.25,
    PROXIMITY: 0.20,
    AVAILABILITY: 0.15,
    RATING: 0.15,
    EXPERIENCE: 0.10,
    PRICING_FIT: 0.05,
    RESPONSE_TIME: 0.05,
    COMPLETION_RATE: 0.03,
    CUSTOMER_PREFERENCE: 0.02,
}
FACTORS: tuple[str, ...] = tuple(DEFAULT_WEIGHTS)
WEIGHT_SUM_TOLERANCE = 1e-6

EARTH_RADIUS_KM = 6371.0088
# Along a meridian, on the same sphere as haversine_km; the box is grown 1 % so rounding never trims the circle.
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180
BOX_MARGIN = 1.01

# Rating prior: a technician with no reviews is treated as C reviews of m stars.
RATING_PRIOR_MEAN = 4.0
RATING_PRIOR_WEIGHT = 10

# Completion-rate prior: no history counts as K jobs at a PRIOR rate.
COMPLETION_PRIOR_RATE = 0.8
COMPLETION_PRIOR_JOBS = 5

EXPERIENCE_SCALE_YEARS = 4.0
RESPONSE_SCALE_MINUTES = 60.0
AVAILABILITY_BUFFER_MINUTES = 120
SKILL_JOBS_SATURATION = 20

NEUTRAL = 0.5


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


# --- geometry ----------------------------------------------------------------------------------------------------


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) of a box that contains the circle. Kenya straddles the equator,
    so the longitude widening by 1/cos(lat) is tiny, but it is applied anyway."""
    dlat = BOX_MARGIN * radius_km / KM_PER_DEGREE_LATITUDE
    cos_lat = max(math.cos(math.radians(abs(lat) + dlat)), 0.01)
    dlng = BOX_MARGIN * radius_km / (KM_PER_DEGREE_LATITUDE * cos_lat)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


# --- factors -----------------------------------------------------------------------------------------------------


def skill_match_score(*, has_skill: bool, category_jobs: int, skill_count: int) -> float:
    """How squarely the technician fits the requested trade.

    0 without the skill. With it: 0.5 for having it, + up to 0.3 for jobs done in this category (linear up to
    20 jobs), + up to 0.2 for specialisation (0.2 / number of trades the technician offers): a plumber who
    only does plumbing and has done 20 plumbing jobs scores 1.0.
    """
    if not has_skill:
        return 0.0
    jobs_part = 0.3 * min(1.0, max(0, category_jobs) / SKILL_JOBS_SATURATION)
    specialisation = 0.2 / max(1, skill_count)
    return _clamp(0.5 + jobs_part + specialisation)


def proximity_score(*, distance_km: float | None, max_distance_km: float) -> float:
    """Linear decay: 1 at the customer's door, 0 at the maximum distance (and beyond).

    Linear rather than exponential so "twice as far" always costs the same share of the factor within the
    search radius, which customers can reason about. Unknown distance (no location on either side) scores 0:
    we cannot promise that the technician can reach the customer.
    """
    if distance_km is None or max_distance_km <= 0:
        return 0.0
    return _clamp(1.0 - distance_km / max_distance_km)


def availability_score(*, is_busy: bool, gap_minutes: float | None) -> float:
    """Free for the requested slot, with room to travel.

    0 when busy in the slot (the pre-filter normally drops these). Free with no other commitment within
    2 hours of the slot scores 1; a neighbouring booking scales it linearly from 0.5 (back to back) to 1
    (2 hours away), because tight schedules make lateness likely.
    """
    if is_busy:
        return 0.0
    if gap_minutes is None or gap_minutes >= AVAILABILITY_BUFFER_MINUTES:
        return 1.0
    return _clamp(0.5 + 0.5 * max(0.0, gap_minutes) / AVAILABILITY_BUFFER_MINUTES)


def bayesian_rating(*, average: float, count: int) -> float:
    """(C·m + Σ ratings) / (C + n) with prior mean m = 4.0 stars and prior weight C = 10 reviews."""
    count = max(0, count)
    total = float(average) * count
    return (RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + total) / (RATING_PRIOR_WEIGHT + count)


def rating_score(*, average: float, count: int) -> float:
    """The Bayesian-smoothed rating mapped from 1–5 stars to 0–1.

    No reviews → the prior (4.0★ → 0.75). One 5★ review → 4.09★ (0.77) while 200 reviews averaging 4.8★ →
    4.76★ (0.94): volume of evidence beats a lucky first review.
    """
    return _clamp((bayesian_rating(average=average, count=count) - 1.0) / 4.0)


def experience_score(*, years: float) -> float:
    """Years in the requested trade, saturating: 1 − exp(−years / 4) (5 years → 0.71, 10 → 0.92)."""
    return _clamp(1.0 - math.exp(-max(0.0, float(years)) / EXPERIENCE_SCALE_YEARS))


def estimate_price(*, hourly_rate: Decimal | float | None, duration_minutes: int) -> Decimal | None:
    """Technician's estimate for the job (unrounded): hourly rate × hours. None when the rate is unknown."""
    if not hourly_rate or Decimal(str(hourly_rate)) <= 0:
        return None
    return Decimal(str(hourly_rate)) * Decimal(duration_minutes) / Decimal(60)


def pricing_fit_score(*, estimate: Decimal | float | None, budget: Decimal | float | None) -> float:
    """Estimate vs the customer's budget.

    Absent or zero budget, or unknown estimate → neutral 0.5. Within budget → 1. Over budget the score falls
    linearly to 0 at twice the budget. (A score, not money: floats are fine here.)
    """
    if not budget or budget <= 0 or estimate is None:
        return NEUTRAL
    estimate, budget = float(estimate), float(budget)
    if estimate <= budget:
        return 1.0
    return _clamp(1.0 - (estimate - budget) / budget)


def response_time_score(*, average_minutes: float | None) -> float:
    """exp(−minutes / 60): 5 min → 0.92, 30 min → 0.61, 1 h → 0.37, 2 h → 0.14.

    `average_minutes` is the technician's median response time over the last 90 days
    (matching.services.response_time). Unknown (fewer than 3 answers in the window) → neutral 0.5, so a
    newcomer is neither rewarded nor punished. Exponential rather than linear because the difference between
    answering in 5 and in 30 minutes matters to a customer waiting for a plumber; between 4 and 5 hours it
    hardly does.
    """
    if average_minutes is None:
        return NEUTRAL
    return _clamp(math.exp(-max(0.0, float(average_minutes)) / RESPONSE_SCALE_MINUTES))


def completion_rate_score(
    *, completed: int, cancelled_by_technician: int, return_visit_rate: float | None = None
) -> float:
    """Reliability: share of taken jobs finished, smoothed toward 80 % with 5 prior jobs so one cancellation
    early on does not sink a newcomer: (completed + 5·0.8) / (completed + cancelled + 5); times
    (1 − return-visit rate), so the share of jobs that needed a guarantee return visit counts against it
    like a job not finished (README "Workmanship guarantee"). Unknown rate (None: fewer than 5 confirmed jobs
    in 180 days) leaves it unchanged."""
    completed, cancelled = max(0, completed), max(0, cancelled_by_technician)
    prior = COMPLETION_PRIOR_RATE * COMPLETION_PRIOR_JOBS
    score = (completed + prior) / (completed + cancelled + COMPLETION_PRIOR_JOBS)
    if return_visit_rate is not None:
        score *= 1.0 - _clamp(float(return_visit_rate))
    return _clamp(score)


def customer_preference_score(*, is_preferred: bool, jobs_with_customer: int) -> float:
    """1 for a technician the customer marked preferred; otherwise past confirmed jobs with this customer
    count 0.6, 0.8, 0.9 (capped) for 1, 2, 3+ jobs; a stranger scores 0."""
    if is_preferred:
        return 1.0
    if jobs_with_customer <= 0:
        return 0.0
    return min(0.9, 0.4 + 0.2 * jobs_with_customer)


# --- weights -----------------------------------------------------------------------------------------------------


def validate_weights(weights: dict) -> list[str]:
    """Problems with a weight vector (empty = valid): every factor present, each a number ≥ 0, no unknown
    keys, sum 1 within 1e-6."""
    if not isinstance(weights, dict):
        return ["Weights must be an object of factor → number."]
    errors = []
    unknown = sorted(set(weights) - set(FACTORS))
    missing = [f for f in FACTORS if f not in weights]
    if unknown:
        errors.append(f"Unknown factors: {', '.join(unknown)}.")
    if missing:
        errors.append(f"Missing factors: {', '.join(missing)}.")
    values = []
    for name in FACTORS:
        value = weights.get(name)
        if name not in weights:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            errors.append(f"{name} must be a number.")
        elif value < 0:
            errors.append(f"{name} must be ≥ 0.")
        else:
            values.append(float(value))
    if not errors and abs(sum(values) - 1.0) > WEIGHT_SUM_TOLERANCE:
        errors.append(f"Weights must sum to 1 (they sum to {sum(values):.6f}).")
    return errors


# --- candidates and scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchRequest:
    category_id: int
    category_name: str
    latitude: float
    longitude: float
    scheduled_start: datetime
    duration_minutes: int
    max_distance_km: float
    budget: Decimal | None = None
    urgency: str = "normal"


@dataclass
class Candidate:
    technician_id: int
    distance_km: float | None
    hourly_rate: Decimal = Decimal(0)
    rating_average: float = 0.0
    rating_count: int = 0
    jobs_completed: int = 0
    jobs_cancelled_by_technician: int = 0
    average_response_minutes: int | None = None
    years_of_experience: int = 0
    has_skill: bool = True
    skill_count: int = 1
    category_jobs: int = 0
    jobs_with_customer: int = 0
    is_preferred: bool = False
    is_busy: bool = False
    gap_minutes: float | None = None
    return_visit_rate: float | None = None
    name: str = ""


@dataclass
class ScoredCandidate:
    candidate: Candidate
    total: float
    factor_scores: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    def sort_key(self):
        distance = self.candidate.distance_km
        return (
            -round(self.total, 9),
            distance if distance is not None else math.inf,
            self.candidate.technician_id,
        )


def factor_scores(candidate: Candidate, request: MatchRequest) -> dict[str, float]:
    rate = float(
        candidate.hourly_rate or 0
    )  # scoring only; prices are computed in Decimal elsewhere
    estimate = rate * request.duration_minutes / 60 if rate > 0 else None
    return {
        SKILL_MATCH: skill_match_score(
            has_skill=candidate.has_skill,
            category_jobs=candidate.category_jobs,
            skill_count=candidate.skill_count,
        ),
        PROXIMITY: proximity_score(
            distance_km=candidate.distance_km, max_distance_km=request.max_distance_km
        ),
        AVAILABILITY: availability_score(
            is_busy=candidate.is_busy, gap_minutes=candidate.gap_minutes
        ),
        RATING: rating_score(average=candidate.rating_average, count=candidate.rating_count),
        EXPERIENCE: experience_score(years=candidate.years_of_experience),
        PRICING_FIT: pricing_fit_score(estimate=estimate, budget=request.budget),
        RESPONSE_TIME: response_time_score(average_minutes=candidate.average_response_minutes),
        COMPLETION_RATE: completion_rate_score(
            completed=candidate.jobs_completed,
            cancelled_by_technician=candidate.jobs_cancelled_by_technician,
            return_visit_rate=candidate.return_visit_rate,
        ),
        CUSTOMER_PREFERENCE: customer_preference_score(
            is_preferred=candidate.is_preferred, jobs_with_customer=candidate.jobs_with_customer
        ),
    }


def weighted_total(scores: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(name, 0.0) * scores[name] for name in FACTORS)


def reasons_for(candidate: Candidate, request: MatchRequest, scores: dict[str, float]) -> list[str]:
    """Short sentences a customer can read, strongest facts first."""
    reasons: list[str] = []
    if candidate.is_preferred:
        reasons.append("One of your preferred technicians")
    elif candidate.jobs_with_customer:
        jobs = candidate.jobs_with_customer
        reasons.append(f"Did {jobs} job{'s' if jobs != 1 else ''} for you before")
    if candidate.distance_km is not None:
        reasons.append(f"{candidate.distance_km:.1f} km away")
    trade = request.category_name.lower()
    jobs = candidate.category_jobs
    if candidate.rating_count:
        rating = f"{float(candidate.rating_average):.1f}★ from {candidate.rating_count} review"
        rating += "s" if candidate.rating_count != 1 else ""
        reasons.append(f"{jobs} {trade} job{'s' if jobs != 1 else ''}, {rating}")
    elif jobs:
        reasons.append(f"{jobs} {trade} job{'s' if jobs != 1 else ''}, no reviews yet")
    else:
        reasons.append("New on Dumu Waks: no reviews yet")
    if candidate.is_busy:
        reasons.append("Busy at your time")
    elif scores[AVAILABILITY] >= 1.0:
        reasons.append("Available at your time")
    else:
        reasons.append("Available at your time (another job close to it)")
    if candidate.years_of_experience:
        years = candidate.years_of_experience
        reasons.append(f"{years} year{'s' if years != 1 else ''} of {trade} experience")
    estimate = estimate_price(
        hourly_rate=candidate.hourly_rate, duration_minutes=request.duration_minutes
    )
    if estimate is not None and request.budget and request.budget > 0:
        shillings = f"KES {math.ceil(estimate):,}"
        if estimate <= request.budget:
            reasons.append(f"Within your budget (about {shillings})")
        else:
            reasons.append(f"Above your budget (about {shillings})")
    if candidate.average_response_minutes is not None and scores[RESPONSE_TIME] >= 0.6:
        reasons.append(f"Usually responds within {candidate.average_response_minutes} min")
    return reasons


def score_candidate(
    candidate: Candidate, request: MatchRequest, weights: dict[str, float], *, with_reasons=True
) -> ScoredCandidate:
    scores = factor_scores(candidate, request)
    return ScoredCandidate(
        candidate=candidate,
        total=weighted_total(scores, weights),
        factor_scores=scores,
        reasons=reasons_for(candidate, request, scores) if with_reasons else [],
    )


def rank_candidates(
    candidates: list[Candidate],
    request: MatchRequest,
    weights: dict[str, float],
    *,
    limit: int | None = None,
) -> list[ScoredCandidate]:
    """Score every candidate and return the best `limit` (all when None), best first (see the module
    docstring for the tie-break). Reasons are written only for the returned ones."""
    scored = [score_candidate(c, request, weights, with_reasons=False) for c in candidates]
    scored.sort(key=ScoredCandidate.sort_key)
    top = scored if limit is None else scored[:limit]
    for item in top:
        item.reasons = reasons_for(item.candidate, request, item.factor_scores)
    return top
