"""Pure scoring functions: every factor, its edge cases, weights validation and the tie-break."""

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from matching import scoring
from matching.scoring import (
    DEFAULT_WEIGHTS,
    FACTORS,
    Candidate,
    MatchRequest,
    availability_score,
    bayesian_rating,
    completion_rate_score,
    customer_preference_score,
    experience_score,
    haversine_km,
    pricing_fit_score,
    proximity_score,
    rank_candidates,
    rating_score,
    response_time_score,
    skill_match_score,
    validate_weights,
)


def test_default_weights_sum_to_one_and_match_the_issue():
    assert math.isclose(sum(DEFAULT_WEIGHTS.values()), 1.0)
    assert DEFAULT_WEIGHTS == {
        "skill_match": 0.25,
        "proximity": 0.20,
        "availability": 0.15,
        "rating": 0.15,
        "experience": 0.10,
        "pricing_fit": 0.05,
        "response_time": 0.05,
        "completion_rate": 0.03,
        "customer_preference": 0.02,
    }


def test_haversine_nairobi_to_mombasa():
    assert haversine_km(-1.2921, 36.8219, -4.0435, 39.6682) == pytest.approx(440, abs=5)
    assert haversine_km(-1.2921, 36.8219, -1.2921, 36.8219) == 0


def test_bounding_box_contains_the_circle():
    _, max_lat, min_lng, _ = scoring.bounding_box(-1.2921, 36.8219, 10)
    assert haversine_km(-1.2921, 36.8219, max_lat, 36.8219) >= 9.99
    assert haversine_km(-1.2921, 36.8219, -1.2921, min_lng) >= 9.99


class TestSkillMatch:
    def test_without_the_skill_is_zero(self):
        assert skill_match_score(has_skill=False, category_jobs=50, skill_count=1) == 0

    def test_new_generalist(self):
        # 0.5 for the skill, no jobs, 0.2 / 4 trades
        assert skill_match_score(has_skill=True, category_jobs=0, skill_count=4) == pytest.approx(
            0.55
        )

    def test_seasoned_specialist_saturates_at_one(self):
        assert skill_match_score(has_skill=True, category_jobs=20, skill_count=1) == 1.0
        assert skill_match_score(has_skill=True, category_jobs=500, skill_count=1) == 1.0

    def test_jobs_count_linearly(self):
        assert skill_match_score(has_skill=True, category_jobs=10, skill_count=2) == pytest.approx(
            0.5 + 0.15 + 0.1
        )


class TestProximity:
    def test_linear_decay(self):
        assert proximity_score(distance_km=0, max_distance_km=50) == 1
        assert proximity_score(distance_km=10, max_distance_km=50) == pytest.approx(0.8)
        assert proximity_score(distance_km=50, max_distance_km=50) == 0
        assert proximity_score(distance_km=80, max_distance_km=50) == 0

    def test_no_location_scores_zero(self):
        assert proximity_score(distance_km=None, max_distance_km=50) == 0

    def test_zero_max_distance_scores_zero(self):
        assert proximity_score(distance_km=0, max_distance_km=0) == 0


class TestAvailability:
    def test_busy_is_zero(self):
        assert availability_score(is_busy=True, gap_minutes=None) == 0

    def test_free_with_nothing_near(self):
        assert availability_score(is_busy=False, gap_minutes=None) == 1
        assert availability_score(is_busy=False, gap_minutes=180) == 1

    def test_back_to_back_is_half(self):
        assert availability_score(is_busy=False, gap_minutes=0) == 0.5
        assert availability_score(is_busy=False, gap_minutes=60) == pytest.approx(0.75)


class TestRating:
    def test_no_reviews_is_the_prior(self):
        assert bayesian_rating(average=0, count=0) == 4.0
        assert rating_score(average=0, count=0) == pytest.approx(0.75)

    def test_one_perfect_review_does_not_beat_two_hundred_great_ones(self):
        one_lucky = rating_score(average=5.0, count=1)
        proven = rating_score(average=4.8, count=200)
        assert bayesian_rating(average=5.0, count=1) == pytest.approx(45 / 11)
        assert bayesian_rating(average=4.8, count=200) == pytest.approx(1000 / 210)
        assert proven > one_lucky

    def test_bounds(self):
        assert rating_score(average=5, count=10**6) == pytest.approx(1, abs=1e-4)
        assert rating_score(average=1, count=10**6) == pytest.approx(0, abs=1e-4)


class TestExperience:
    def test_saturating(self):
        assert experience_score(years=0) == 0
        assert experience_score(years=5) == pytest.approx(1 - math.exp(-5 / 4))
        assert experience_score(years=10) > experience_score(years=5) > experience_score(years=1)
        assert experience_score(years=100) <= 1

    def test_negative_years_are_zero(self):
        assert experience_score(years=-3) == 0


class TestPricingFit:
    def test_zero_or_absent_budget_is_neutral(self):
        assert pricing_fit_score(estimate=Decimal(3000), budget=None) == 0.5
        assert pricing_fit_score(estimate=Decimal(3000), budget=Decimal(0)) == 0.5

    def test_unknown_estimate_is_neutral(self):
        assert pricing_fit_score(estimate=None, budget=Decimal(3000)) == 0.5

    def test_within_and_over_budget(self):
        assert pricing_fit_score(estimate=Decimal(2000), budget=Decimal(3000)) == 1
        assert pricing_fit_score(estimate=Decimal(3000), budget=Decimal(3000)) == 1
        assert pricing_fit_score(estimate=Decimal(4500), budget=Decimal(3000)) == pytest.approx(0.5)
        assert pricing_fit_score(estimate=Decimal(9000), budget=Decimal(3000)) == 0

    def test_estimate(self):
        assert scoring.estimate_price(hourly_rate=Decimal(1500), duration_minutes=90) == Decimal(
            2250
        )
        assert scoring.estimate_price(hourly_rate=Decimal(0), duration_minutes=90) is None


class TestResponseTime:
    def test_unknown_is_neutral(self):
        assert response_time_score(average_minutes=None) == 0.5

    def test_decay(self):
        assert response_time_score(average_minutes=0) == 1
        assert response_time_score(average_minutes=60) == pytest.approx(math.exp(-1))
        assert response_time_score(average_minutes=5) > response_time_score(average_minutes=30)


class TestCompletionRate:
    def test_no_history_is_the_prior(self):
        assert completion_rate_score(completed=0, cancelled_by_technician=0) == pytest.approx(0.8)

    def test_smoothing(self):
        assert completion_rate_score(completed=0, cancelled_by_technician=1) == pytest.approx(4 / 6)
        assert completion_rate_score(completed=95, cancelled_by_technician=0) == pytest.approx(
            99 / 100
        )

    def test_return_visits_count_against_reliability(self):
        base = completion_rate_score(completed=95, cancelled_by_technician=0)
        # Unknown (low volume) is neutral: unchanged.
        assert completion_rate_score(
            completed=95, cancelled_by_technician=0, return_visit_rate=None
        ) == pytest.approx(base)
        assert completion_rate_score(
            completed=95, cancelled_by_technician=0, return_visit_rate=0.2
        ) == pytest.approx(base * 0.8)


class TestCustomerPreference:
    def test_stranger_is_zero(self):
        assert customer_preference_score(is_preferred=False, jobs_with_customer=0) == 0

    def test_preferred_is_one(self):
        assert customer_preference_score(is_preferred=True, jobs_with_customer=0) == 1

    def test_past_jobs(self):
        assert customer_preference_score(is_preferred=False, jobs_with_customer=1) == (
            pytest.approx(0.6)
        )
        assert customer_preference_score(is_preferred=False, jobs_with_customer=2) == (
            pytest.approx(0.8)
        )
        assert customer_preference_score(is_preferred=False, jobs_with_customer=9) == 0.9


class TestValidateWeights:
    def test_defaults_are_valid(self):
        assert validate_weights(dict(DEFAULT_WEIGHTS)) == []

    def test_sum_tolerance(self):
        weights = dict(DEFAULT_WEIGHTS, proximity=0.2 + 5e-7)
        assert validate_weights(weights) == []
        weights = dict(DEFAULT_WEIGHTS, proximity=0.21)
        assert validate_weights(weights) == ["Weights must sum to 1 (they sum to 1.010000)."]

    def test_negative_missing_unknown_and_non_numbers(self):
        weights = dict(DEFAULT_WEIGHTS, proximity=-0.2, rating=0.55)
        assert "proximity must be ≥ 0." in validate_weights(weights)
        missing = {k: v for k, v in DEFAULT_WEIGHTS.items() if k != "rating"}
        assert validate_weights(missing) == ["Missing factors: rating."]
        assert validate_weights({**DEFAULT_WEIGHTS, "luck": 0}) == ["Unknown factors: luck."]
        assert validate_weights(dict(DEFAULT_WEIGHTS, rating="a lot")) == [
            "rating must be a number."
        ]
        assert validate_weights(dict(DEFAULT_WEIGHTS, rating=float("nan"))) == [
            "rating must be a number."
        ]
        assert validate_weights([0.25]) == ["Weights must be an object of factor → number."]


REQUEST = MatchRequest(
    category_id=1,
    category_name="Plumbing",
    latitude=-1.2921,
    longitude=36.8219,
    scheduled_start=datetime(2030, 1, 1, 7, tzinfo=UTC),
    duration_minutes=120,
    max_distance_km=50,
    budget=Decimal(3000),
)


def test_ranking_with_hand_computed_totals():
    proven = Candidate(
        technician_id=1,
        distance_km=2,
        hourly_rate=Decimal(1500),
        rating_average=4.8,
        rating_count=200,
        jobs_completed=100,
        average_response_minutes=15,
        years_of_experience=10,
        category_jobs=20,
    )
    newcomer = Candidate(
        technician_id=2,
        distance_km=5,
        hourly_rate=Decimal(2000),
        years_of_experience=2,
        skill_count=2,
    )
    lucky = Candidate(
        technician_id=3,
        distance_km=1,
        hourly_rate=Decimal(1000),
        rating_average=5.0,
        rating_count=1,
        jobs_completed=1,
        average_response_minutes=5,
        skill_count=2,
    )
    # proven: skill 0.5+0.3+0.2=1.0; proximity 1-2/50=0.96; availability 1; rating (40+960)/210=4.7619
    # → 0.94048; experience 1-e^-2.5=0.91792; pricing 3000<=3000 → 1; response e^-0.25=0.77880;
    # completion (100+4)/105=0.99048; preference 0
    expected_proven = (
        0.25 * 1.0
        + 0.20 * 0.96
        + 0.15 * 1
        + 0.15 * ((1000 / 210 - 1) / 4)
        + 0.10 * (1 - math.exp(-2.5))
        + 0.05 * 1
        + 0.05 * math.exp(-0.25)
        + 0.03 * (104 / 105)
    )
    # newcomer: skill 0.5+0+0.1=0.6; proximity 0.9; rating prior 0.75; experience 1-e^-0.5=0.39347;
    # pricing estimate 4000 vs 3000 → 1-1/3; response unknown 0.5; completion prior 0.8
    expected_newcomer = (
        0.25 * 0.6
        + 0.20 * 0.9
        + 0.15 * 1
        + 0.15 * 0.75
        + 0.10 * (1 - math.exp(-0.5))
        + 0.05 * (2 / 3)
        + 0.05 * 0.5
        + 0.03 * 0.8
    )
    # lucky: skill 0.6; proximity 0.98; rating 45/11=4.0909 → 0.77273; experience 0; pricing 2000 → 1;
    # response e^-1/12; completion 5/6
    expected_lucky = (
        0.25 * 0.6
        + 0.20 * 0.98
        + 0.15 * 1
        + 0.15 * ((45 / 11 - 1) / 4)
        + 0
        + 0.05 * 1
        + 0.05 * math.exp(-5 / 60)
        + 0.03 * (5 / 6)
    )
    ranked = rank_candidates([lucky, newcomer, proven], REQUEST, DEFAULT_WEIGHTS)

    assert [r.candidate.technician_id for r in ranked] == [1, 3, 2]
    assert ranked[0].total == pytest.approx(expected_proven)
    assert ranked[1].total == pytest.approx(expected_lucky)
    assert ranked[2].total == pytest.approx(expected_newcomer)
    assert expected_proven > expected_lucky > expected_newcomer
    assert set(ranked[0].factor_scores) == set(FACTORS)
    assert all(0 <= v <= 1 for r in ranked for v in r.factor_scores.values())


def test_ties_break_by_distance_then_id():
    a = Candidate(technician_id=7, distance_km=3)
    b = Candidate(technician_id=5, distance_km=3)
    c = Candidate(technician_id=1, distance_km=3)
    # Equal totals whatever the weights when only the tie-break differs: zero the proximity weight.
    weights = dict(DEFAULT_WEIGHTS, proximity=0.0, skill_match=0.45)
    d = Candidate(technician_id=2, distance_km=4)
    ranked = rank_candidates([a, d, b, c], REQUEST, weights)
    assert [r.candidate.technician_id for r in ranked] == [1, 5, 7, 2]


def test_limit_returns_the_best_with_reasons_only_for_them():
    candidates = [Candidate(technician_id=i, distance_km=i) for i in range(1, 6)]
    ranked = rank_candidates(candidates, REQUEST, DEFAULT_WEIGHTS, limit=2)
    assert [r.candidate.technician_id for r in ranked] == [1, 2]
    assert ranked[0].reasons[0] == "1.0 km away"


def test_reasons_are_readable():
    candidate = Candidate(
        technician_id=1,
        distance_km=4.2,
        hourly_rate=Decimal(1200),
        rating_average=4.8,
        rating_count=31,
        category_jobs=12,
        years_of_experience=6,
        average_response_minutes=10,
        jobs_with_customer=2,
    )
    result = scoring.score_candidate(candidate, REQUEST, DEFAULT_WEIGHTS)
    assert result.reasons == [
        "Did 2 jobs for you before",
        "4.2 km away",
        "12 plumbing jobs, 4.8★ from 31 reviews",
        "Available at your time",
        "6 years of plumbing experience",
        "Within your budget (about KES 2,400)",
        "Usually responds within 10 min",
    ]


def test_reasons_for_a_newcomer_over_budget_with_a_tight_schedule():
    candidate = Candidate(
        technician_id=1, distance_km=12.0, hourly_rate=Decimal(2000), gap_minutes=30
    )
    result = scoring.score_candidate(candidate, REQUEST, DEFAULT_WEIGHTS)
    assert result.reasons == [
        "12.0 km away",
        "New on Dumu Waks: no reviews yet",
        "Available at your time (another job close to it)",
        "Above your budget (about KES 4,000)",
    ]
