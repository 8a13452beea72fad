"""match_search: the PostgreSQL pre-filter, ranking on real rows and the stored Match records."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import KycStatus
from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import BookingStatus, GuaranteeClaim
from bookings.tests.factories import BookingFactory, TimeOffFactory, WeeklyAvailabilityFactory
from dumuwaks.core.errors import ValidationFailed
from matching import rules
from matching.errors import LocationRequired
from matching.models import CustomerBlock, Match, MatchingPreference, MatchStatus
from matching.scoring import DEFAULT_WEIGHTS, FACTORS
from matching.services import match_search
from matching.tests.factories import BASE_LAT, BASE_LNG, lat_north, tomorrow_at

pytestmark = pytest.mark.django_db

SLOT = {"duration_minutes": 120}


def _search(customer, category, **kwargs):
    params = {"scheduled_start": tomorrow_at(10), **SLOT, **kwargs}
    return match_search(customer=customer, category=category, **params)


def _ids(matches):
    return [m.technician_id for m in matches]


@pytest.fixture
def buyer(db):
    return CustomerFactory()


class TestPrefilter:
    def test_eligible_technician_is_found_and_stored(self, buyer, service_category):
        tech = TechnicianFactory(latitude=lat_north(3), skill=service_category)
        search_id, matches = _search(buyer, service_category, budget=Decimal(5000))

        assert _ids(matches) == [tech.pk]
        match = Match.objects.get(search_id=search_id)
        assert match.customer == buyer
        assert match.rank == 1
        assert match.status == MatchStatus.SUGGESTED
        assert match.distance_km == pytest.approx(3, abs=0.01)
        assert match.category == service_category
        assert match.budget == Decimal(5000)
        assert match.max_distance_km == 50
        assert set(match.factor_scores) == set(FACTORS)
        assert match.weights_used == DEFAULT_WEIGHTS
        assert "3.0 km away" in match.reasons
        expected_expiry = min(match.created_at + timedelta(hours=24), match.scheduled_start)
        assert abs(match.expires_at - expected_expiry) < timedelta(seconds=5)

    def test_without_the_skill_is_excluded(self, buyer, service_category, electrical):
        TechnicianFactory(skill=electrical)
        TechnicianFactory(skill=False)  # no skill at all
        assert _search(buyer, service_category)[1] == []

    @pytest.mark.parametrize(
        "kyc", [KycStatus.PENDING, KycStatus.NOT_SUBMITTED, KycStatus.REJECTED]
    )
    def test_unapproved_kyc_is_excluded(self, buyer, service_category, kyc):
        TechnicianFactory(skill=service_category, profile__kyc_status=kyc)
        assert _search(buyer, service_category)[1] == []

    def test_unavailable_or_inactive_is_excluded(self, buyer, service_category):
        TechnicianFactory(skill=service_category, profile__is_available=False)
        TechnicianFactory(is_active=False, skill=service_category)
        assert _search(buyer, service_category)[1] == []

    def test_without_location_is_excluded(self, buyer, service_category):
        TechnicianFactory(latitude=None, longitude=None, skill=service_category)
        assert _search(buyer, service_category)[1] == []

    def test_outside_own_service_radius_is_excluded(self, buyer, service_category):
        inside = TechnicianFactory(
            latitude=lat_north(9.5),
            skill=service_category,
            profile__service_radius_km=10,
        )
        TechnicianFactory(
            latitude=lat_north(10.5),
            skill=service_category,
            profile__service_radius_km=10,
        )
        assert _ids(_search(buyer, service_category)[1]) == [inside.pk]

    def test_outside_customer_max_distance_is_excluded(self, buyer, service_category):
        near = TechnicianFactory(
            latitude=lat_north(14),
            skill=service_category,
            profile__service_radius_km=50,
        )
        TechnicianFactory(
            latitude=lat_north(16),
            skill=service_category,
            profile__service_radius_km=50,
        )
        assert _ids(_search(buyer, service_category, max_distance_km=15)[1]) == [near.pk]
        MatchingPreference.objects.create(customer=buyer, max_distance_km=15)
        assert _ids(_search(buyer, service_category)[1]) == [near.pk]

    def test_blocked_is_excluded(self, buyer, service_category):
        blocked = TechnicianFactory(skill=service_category)
        other = TechnicianFactory(skill=service_category)
        CustomerBlock.objects.create(customer=buyer, technician=blocked)
        assert _ids(_search(buyer, service_category)[1]) == [other.pk]
        # Another customer still sees the blocked technician.
        assert blocked.pk in _ids(_search(CustomerFactory(), service_category)[1])

    def test_busy_in_the_slot_is_excluded(self, buyer, service_category):
        start = tomorrow_at(10)
        booked = TechnicianFactory(skill=service_category)
        on_leave = TechnicianFactory(skill=service_category)
        off_hours = TechnicianFactory(skill=service_category)
        free = TechnicianFactory(skill=service_category)
        BookingFactory(
            technician=booked,
            category=service_category,
            scheduled_start=start + timedelta(minutes=60),
            scheduled_end=start + timedelta(minutes=180),
        )
        TimeOffFactory(
            technician=on_leave,
            starts_at=start - timedelta(hours=1),
            ends_at=start + timedelta(hours=5),
        )
        WeeklyAvailabilityFactory(
            technician=off_hours,
            weekday=start.weekday(),
            start_time=start.replace(hour=14).time(),
            end_time=start.replace(hour=18).time(),
        )
        assert _ids(_search(buyer, service_category, scheduled_start=start)[1]) == [free.pk]

    def test_finished_or_cancelled_bookings_do_not_block(self, buyer, service_category):
        start = tomorrow_at(10)
        tech = TechnicianFactory(skill=service_category)
        BookingFactory(
            technician=tech,
            category=service_category,
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
            status=BookingStatus.CANCELLED,
        )
        assert _ids(_search(buyer, service_category, scheduled_start=start)[1]) == [tech.pk]

    def test_candidate_cap_keeps_the_nearest(self, buyer, service_category, monkeypatch):
        monkeypatch.setattr(rules, "CANDIDATE_CAP", 2)
        techs = [
            TechnicianFactory(latitude=lat_north(km), skill=service_category) for km in (5, 1, 3, 2)
        ]
        matches = _search(buyer, service_category)[1]
        assert sorted(_ids(matches)) == sorted([techs[1].pk, techs[3].pk])


class TestInputs:
    def test_location_defaults_to_the_customer_profile(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        assert _ids(_search(buyer, service_category)[1]) == [tech.pk]

    def test_location_required(self, service_category):
        nowhere = CustomerFactory(latitude=None, longitude=None)
        with pytest.raises(LocationRequired):
            _search(nowhere, service_category)
        assert not Match.objects.exists()

    def test_past_slot_is_refused(self, buyer, service_category):
        with pytest.raises(ValidationFailed):
            _search(buyer, service_category, scheduled_start=timezone.now() - timedelta(hours=1))

    def test_explicit_location_wins(self, buyer, service_category):
        mombasa = TechnicianFactory(latitude=-4.0435, longitude=39.6682, skill=service_category)
        TechnicianFactory(skill=service_category)
        matches = _search(buyer, service_category, latitude=-4.05, longitude=39.67)[1]
        assert _ids(matches) == [mombasa.pk]

    def test_limit(self, buyer, service_category):
        for km in range(1, 6):
            TechnicianFactory(latitude=lat_north(km), skill=service_category)
        search_id, matches = _search(buyer, service_category, limit=3)
        assert [m.rank for m in matches] == [1, 2, 3]
        assert Match.objects.filter(search_id=search_id).count() == 3


class TestRankingOnRealRows:
    def test_hand_computed_order(self, buyer, service_category):
        # All identical except what is named; each differs from the default in a way whose effect on
        # the total is easy to compute:
        #   base: 5 km, 5 years, rating prior → skill 0.7, proximity 0.9, rating 0.75, experience 0.7135
        #   rated: +0.15 × (rating(4.9, 100) − 0.75); rating = ((40 + 490) / 110 − 1) / 4 = 0.95455
        #          → +0.0307
        #   close: 1 km → +0.20 × (0.98 − 0.90) = +0.016
        #   veteran: 20 years → +0.10 × (0.9933 − 0.7135) = +0.0280
        base = TechnicianFactory(latitude=lat_north(5), skill=service_category)
        rated = TechnicianFactory(
            latitude=lat_north(5),
            skill=service_category,
            profile__rating_average=Decimal("4.9"),
            profile__rating_count=100,
        )
        close = TechnicianFactory(latitude=lat_north(1), skill=service_category)
        veteran = TechnicianFactory(latitude=lat_north(5), skill=service_category, skill__years=20)
        matches = _search(buyer, service_category)[1]
        assert _ids(matches) == [rated.pk, veteran.pk, close.pk, base.pk]
        totals = {m.technician_id: m.total_score for m in matches}
        assert totals[rated.pk] - totals[base.pk] == pytest.approx(
            0.15 * (0.95455 - 0.75), abs=1e-4
        )
        assert totals[close.pk] - totals[base.pk] == pytest.approx(0.016, abs=1e-4)
        assert totals[veteran.pk] - totals[base.pk] == pytest.approx(0.0280, abs=1e-4)

    def test_equal_scores_break_by_distance_then_id(self, buyer, service_category, settings):
        first = TechnicianFactory(latitude=lat_north(2), skill=service_category)
        second = TechnicianFactory(latitude=lat_north(2), skill=service_category)
        MatchingPreference.objects.create(
            customer=buyer,
            custom_weights=dict(DEFAULT_WEIGHTS, proximity=0.0, skill_match=0.45),
        )
        nearer = TechnicianFactory(latitude=lat_north(1), skill=service_category)
        matches = _search(buyer, service_category)[1]
        assert _ids(matches) == [nearer.pk, first.pk, second.pk]
        assert len({m.total_score for m in matches}) == 1

    def test_job_history_and_preference_count(self, buyer, service_category):
        plain = TechnicianFactory(skill=service_category)
        trusted = TechnicianFactory(skill=service_category)
        for days in (-30, -20):
            BookingFactory(
                customer=buyer,
                technician=trusted,
                category=service_category,
                scheduled_start=timezone.now() + timedelta(days=days),
                scheduled_end=timezone.now() + timedelta(days=days, hours=1),
                status=BookingStatus.CONFIRMED,
            )
        preference = MatchingPreference.objects.create(customer=buyer)
        matches = _search(buyer, service_category)[1]
        by_id = {m.technician_id: m for m in matches}
        assert by_id[trusted.pk].factor_scores["customer_preference"] == pytest.approx(0.8)
        assert (
            by_id[trusted.pk].factor_scores["skill_match"]
            > by_id[plain.pk].factor_scores["skill_match"]
        )
        assert "Did 2 jobs for you before" in by_id[trusted.pk].reasons
        assert "2 plumbing jobs, no reviews yet" in by_id[trusted.pk].reasons
        assert _ids(matches)[0] == trusted.pk

        preference.preferred_technicians.add(plain)
        matches = _search(buyer, service_category)[1]
        by_id = {m.technician_id: m for m in matches}
        assert by_id[plain.pk].factor_scores["customer_preference"] == 1
        assert "One of your preferred technicians" in by_id[plain.pk].reasons

    def test_neighbouring_booking_lowers_availability(self, buyer, service_category):
        start = tomorrow_at(10)
        tight = TechnicianFactory(skill=service_category)
        BookingFactory(
            technician=tight,
            category=service_category,
            scheduled_start=start - timedelta(hours=2),
            scheduled_end=start - timedelta(hours=1),
        )
        relaxed = TechnicianFactory(skill=service_category)
        matches = _search(buyer, service_category, scheduled_start=start)[1]
        by_id = {m.technician_id: m for m in matches}
        assert by_id[tight.pk].factor_scores["availability"] == pytest.approx(0.75)
        assert by_id[relaxed.pk].factor_scores["availability"] == 1
        assert _ids(matches) == [relaxed.pk, tight.pk]

    def test_return_visits_lower_the_reliability_factor(self, buyer, service_category):
        """README "Workmanship guarantee": the return-visit rate scales the completion-rate factor; fewer
        than 5 confirmed jobs in the window is unknown and neutral."""
        now = timezone.now()
        claimed, clean, newcomer = (TechnicianFactory(skill=service_category) for _ in range(3))
        for tech, jobs in ((claimed, 5), (clean, 5), (newcomer, 1)):
            for _ in range(jobs):
                booking = BookingFactory(
                    technician=tech,
                    category=service_category,
                    status=BookingStatus.CONFIRMED,
                    scheduled_start=now - timedelta(days=3),
                    scheduled_end=now - timedelta(days=3) + timedelta(hours=1),
                    confirmed_at=now - timedelta(days=1),
                )
            if tech != clean:  # one claim: 1 of 5 jobs for `claimed`, 1 of 1 for the newcomer
                GuaranteeClaim.objects.create(
                    booking=booking,
                    customer=booking.customer,
                    technician=tech,
                    description="Again.",
                    respond_by=now,
                )
        by_id = {m.technician_id: m for m in _search(buyer, service_category)[1]}
        clean_score = by_id[clean.pk].factor_scores["completion_rate"]
        assert by_id[claimed.pk].factor_scores["completion_rate"] == pytest.approx(
            clean_score * 0.8
        )
        # One claim on one job: too little to judge, scored like no claim at all.
        assert by_id[newcomer.pk].factor_scores["completion_rate"] == pytest.approx(clean_score)

    def test_budget_falls_back_to_preference_price_max(self, buyer, service_category):
        TechnicianFactory(skill=service_category, profile__hourly_rate=2000)
        MatchingPreference.objects.create(customer=buyer, price_max=Decimal(3000))
        match = _search(buyer, service_category)[1][0]  # estimate 2 h × 2000 = 4000 > 3000
        assert match.budget == Decimal(3000)
        assert match.factor_scores["pricing_fit"] == pytest.approx(1 - 1000 / 3000, abs=1e-6)


def test_search_runs_a_constant_number_of_queries(service_category):
    buyer = CustomerFactory()
    counts = []
    for n in (2, 12):
        for km in range(n):
            TechnicianFactory(latitude=lat_north(1 + km % 20), skill=service_category)
        with CaptureQueriesContext(connection) as ctx:
            _search(buyer, service_category, limit=50)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_latitude_base_is_the_fixture_point():
    assert (BASE_LAT, BASE_LNG) == (-1.2921, 36.8219)
