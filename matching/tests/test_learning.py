"""Learning: the pure update rule and, end to end, a customer who always picks the nearest technician."""

from decimal import Decimal

import pytest

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from matching import learning, selectors
from matching.models import MatchingPreference, MatchStatus
from matching.scoring import DEFAULT_WEIGHTS, FACTORS, PROXIMITY, RATING
from matching.services import match_accept, match_feedback, match_reject, match_search
from matching.tests.factories import BASE_LNG, lat_north, tomorrow_at


def _assert_valid(weights, base=DEFAULT_WEIGHTS):
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    for name in FACTORS:
        assert 0.5 * base[name] - 1e-12 <= weights[name] <= 2 * base[name] + 1e-12


def test_step_moves_toward_the_distinguishing_factor():
    chosen = {f: 0.5 for f in FACTORS} | {PROXIMITY: 1.0}
    other = {f: 0.5 for f in FACTORS} | {PROXIMITY: 0.2}
    new = learning.updated_weights(
        current=DEFAULT_WEIGHTS,
        base=DEFAULT_WEIGHTS,
        chosen_scores=chosen,
        alternative_scores=[other],
        direction=1.0,
    )
    _assert_valid(new)
    assert new[PROXIMITY] > DEFAULT_WEIGHTS[PROXIMITY]
    # Everything else only shrinks by the renormalisation, in proportion.
    assert new[RATING] < DEFAULT_WEIGHTS[RATING]
    assert new[RATING] / new["experience"] == pytest.approx(0.15 / 0.10)


def test_reject_moves_away():
    chosen = {f: 0.5 for f in FACTORS} | {RATING: 1.0}
    new = learning.updated_weights(
        current=DEFAULT_WEIGHTS,
        base=DEFAULT_WEIGHTS,
        chosen_scores=chosen,
        alternative_scores=[],  # neutral 0.5 baseline
        direction=-1.0,
    )
    _assert_valid(new)
    assert new[RATING] < DEFAULT_WEIGHTS[RATING]


def test_weights_stay_within_bounds_after_many_steps():
    chosen = {f: 0.0 for f in FACTORS} | {PROXIMITY: 1.0}
    weights = dict(DEFAULT_WEIGHTS)
    for _ in range(200):
        weights = learning.updated_weights(
            current=weights,
            base=DEFAULT_WEIGHTS,
            chosen_scores=chosen,
            alternative_scores=[{f: 1.0 for f in FACTORS} | {PROXIMITY: 0.0}],
            direction=1.0,
        )
    _assert_valid(weights)
    assert weights[PROXIMITY] == pytest.approx(0.40)  # 2 × default, the cap


def test_zero_base_weight_stays_zero():
    base = dict(DEFAULT_WEIGHTS, customer_preference=0.0, skill_match=0.27)
    new = learning.updated_weights(
        current=base,
        base=base,
        chosen_scores={f: 1.0 for f in FACTORS},
        alternative_scores=[{f: 0.0 for f in FACTORS}],
        direction=1.0,
    )
    assert new["customer_preference"] == 0
    _assert_valid(new, base)


def test_feedback_direction():
    assert learning.signal_direction(action="feedback", rating=5) == 1
    assert learning.signal_direction(action="feedback", rating=3) == 0
    assert learning.signal_direction(action="feedback", rating=1) == -1
    with pytest.raises(ValueError):
        learning.signal_direction(action="shrug")


@pytest.mark.django_db
def test_customer_who_always_picks_the_nearest_gets_a_proximity_ranking(service_category):
    customer = CustomerFactory()
    # Near: 1 km, mediocre rating. Far: 10 km, excellent rating. Otherwise identical.
    near = TechnicianFactory(
        latitude=lat_north(1),
        longitude=BASE_LNG,
        skill=service_category,
        profile__rating_average=Decimal("3.50"),
        profile__rating_count=50,
    )
    far = TechnicianFactory(
        latitude=lat_north(10),
        longitude=BASE_LNG,
        skill=service_category,
        profile__rating_average=Decimal("4.90"),
        profile__rating_count=100,
    )

    def search(day):
        _, matches = match_search(
            customer=customer,
            category=service_category,
            scheduled_start=tomorrow_at(10, days=day),
            duration_minutes=60,
        )
        return matches

    first = search(1)
    assert [m.technician_id for m in first] == [far.pk, near.pk]

    overtaken_after = None
    matches = first
    for accepts in range(1, 9):
        chosen = next(m for m in matches if m.technician_id == near.pk)
        match_accept(match_id=chosen.pk, customer=customer)
        matches = search(accepts + 1)
        if matches[0].technician_id == near.pk:
            overtaken_after = accepts
            break

    assert overtaken_after is not None and overtaken_after <= 5
    preference = MatchingPreference.objects.get(customer=customer)
    assert preference.learning_events == overtaken_after
    weights = preference.learned_weights
    _assert_valid(weights)
    assert weights[PROXIMITY] > DEFAULT_WEIGHTS[PROXIMITY]
    assert weights[RATING] < DEFAULT_WEIGHTS[RATING]
    # The new ranking records the learned weights it used.
    assert matches[0].weights_used == {k: round(v, 6) for k, v in weights.items()}


@pytest.mark.django_db
def test_reject_and_feedback_adjust_weights(service_category):
    customer = CustomerFactory()
    TechnicianFactory(latitude=lat_north(1), skill=service_category)
    TechnicianFactory(
        latitude=lat_north(20),
        skill=service_category,
        profile__rating_average=Decimal("4.9"),
        profile__rating_count=80,
    )
    _, matches = match_search(
        customer=customer,
        category=service_category,
        scheduled_start=tomorrow_at(10),
        duration_minutes=60,
    )
    nearest = min(matches, key=lambda m: m.distance_km)
    match_reject(match_id=nearest.pk, customer=customer, reason="Too close to home, oddly")
    preference = MatchingPreference.objects.get(customer=customer)
    after_reject = selectors.effective_weights(preference)
    assert after_reject[PROXIMITY] < DEFAULT_WEIGHTS[PROXIMITY]
    assert preference.learning_events == 1

    nearest.refresh_from_db()
    assert nearest.status == MatchStatus.REJECTED
    match_feedback(match_id=nearest.pk, customer=customer, rating=5, comment="Actually fine")
    preference.refresh_from_db()
    assert preference.learning_events == 2
    assert preference.learned_weights[PROXIMITY] > after_reject[PROXIMITY]
