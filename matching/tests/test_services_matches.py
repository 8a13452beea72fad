"""Match lifecycle: accept (through bookings), reject, feedback, expiry; preferences and blocks."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus
from bookings.tests.factories import BookingFactory
from dumuwaks.core.errors import ApplicationError, InvalidTransition
from matching.errors import (
    FeedbackAlreadyGiven,
    FeedbackNotAllowed,
    InvalidPreferences,
    InvalidWeights,
    MatchExpired,
    MatchNotFound,
    MatchTechnicianNotFound,
)
from matching.models import (
    CustomerBlock,
    Match,
    MatchingPreference,
    MatchStatus,
    MatchStatusHistory,
)
from matching.scoring import DEFAULT_WEIGHTS
from matching.services import (
    customer_block_create,
    customer_block_delete,
    match_accept,
    match_feedback,
    match_reject,
    match_search,
    match_transition,
    matches_expire_stale,
    matching_preferences_update,
)
from matching.tests.factories import lat_north, tomorrow_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer():
    return CustomerFactory()


@pytest.fixture
def two_techs(service_category):
    return (
        TechnicianFactory(latitude=lat_north(1), skill=service_category),
        TechnicianFactory(latitude=lat_north(4), skill=service_category),
    )


def _search(buyer, category, **kwargs):
    params = {"scheduled_start": tomorrow_at(10), "duration_minutes": 90, **kwargs}
    return match_search(customer=buyer, category=category, **params)[1]


class TestAccept:
    def test_creates_the_booking_with_the_budget_as_price(self, buyer, service_category, two_techs):
        first, second = _search(buyer, service_category, budget=Decimal("2999.50"))
        match = match_accept(
            match_id=first.pk, customer=buyer, title="Fix sink", address="Kilimani"
        )

        booking = Booking.objects.get()
        assert match.status == MatchStatus.ACCEPTED
        assert match.booking_id == booking.pk
        assert booking.customer == buyer
        assert booking.technician_id == first.technician_id
        assert booking.category == service_category
        assert booking.price == Decimal("3000.00")  # rounded up to the shilling
        assert booking.scheduled_start == first.scheduled_start
        assert booking.scheduled_end == first.scheduled_start + timedelta(minutes=90)
        assert booking.title == "Fix sink"
        assert booking.address == "Kilimani"
        assert booking.status == BookingStatus.PENDING
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.status == MatchStatus.ACCEPTED and first.responded_at is not None
        assert second.status == MatchStatus.EXPIRED
        assert list(
            MatchStatusHistory.objects.filter(match=first).values_list(
                "from_status", "to_status", "actor_id"
            )
        ) == [(MatchStatus.SUGGESTED, MatchStatus.ACCEPTED, buyer.pk)]
        assert MatchStatusHistory.objects.get(match=second).note == "another technician was chosen"

    def test_without_budget_the_price_is_the_technician_estimate(self, buyer, service_category):
        TechnicianFactory(skill=service_category, profile__hourly_rate=1333)
        (match,) = _search(buyer, service_category, duration_minutes=50)
        match_accept(match_id=match.pk, customer=buyer)
        booking = Booking.objects.get()
        assert booking.price == Decimal("1111.00")  # 1333 × 50/60 = 1110.83 → 1111
        assert booking.title == "Plumbing job"
        assert booking.address == "Pinned location -1.29210, 36.82190"

    def test_without_rate_or_budget_the_category_minimum_is_used(self, buyer, service_category):
        TechnicianFactory(skill=service_category, profile__hourly_rate=0)
        (match,) = _search(buyer, service_category)
        match_accept(match_id=match.pk, customer=buyer)
        assert Booking.objects.get().price == service_category.typical_price_min

    def test_slot_taken_meanwhile_leaves_the_match_suggested(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        (match,) = _search(buyer, service_category)
        BookingFactory(
            technician=tech,
            category=service_category,
            scheduled_start=match.scheduled_start,
            scheduled_end=match.scheduled_start + timedelta(hours=1),
        )
        with pytest.raises(ApplicationError) as caught:
            match_accept(match_id=match.pk, customer=buyer)
        assert caught.value.code == "slot_taken"
        assert caught.value.status_code == 409
        match.refresh_from_db()
        assert match.status == MatchStatus.SUGGESTED
        assert Booking.objects.filter(customer=buyer).count() == 0
        assert not MatchStatusHistory.objects.exists()

    def test_expired_match_cannot_be_accepted(self, buyer, service_category, two_techs):
        first, _ = _search(buyer, service_category)
        Match.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        with pytest.raises(MatchExpired):
            match_accept(match_id=first.pk, customer=buyer)
        first.refresh_from_db()
        assert first.status == MatchStatus.EXPIRED  # the expiry itself is kept
        assert not Booking.objects.exists()

    def test_twice_is_an_invalid_transition(self, buyer, service_category, two_techs):
        first, second = _search(buyer, service_category)
        match_accept(match_id=first.pk, customer=buyer)
        with pytest.raises(InvalidTransition):
            match_accept(match_id=first.pk, customer=buyer)
        with pytest.raises(InvalidTransition):
            match_accept(match_id=second.pk, customer=buyer)  # expired sibling
        assert Booking.objects.count() == 1

    def test_other_customers_match_is_not_found(self, buyer, service_category, two_techs):
        first, _ = _search(buyer, service_category)
        with pytest.raises(MatchNotFound):
            match_accept(match_id=first.pk, customer=CustomerFactory())
        assert not Booking.objects.exists()


class TestRejectAndFeedback:
    def test_reject(self, buyer, service_category, two_techs):
        first, second = _search(buyer, service_category)
        match = match_reject(match_id=first.pk, customer=buyer, reason="Too expensive")
        assert match.status == MatchStatus.REJECTED
        first.refresh_from_db()
        assert first.rejection_reason == "Too expensive"
        assert first.responded_at is not None
        second.refresh_from_db()
        assert second.status == MatchStatus.SUGGESTED  # the others stay open
        history = MatchStatusHistory.objects.get(match=first)
        assert (history.to_status, history.note, history.actor) == (
            MatchStatus.REJECTED,
            "Too expensive",
            buyer,
        )
        with pytest.raises(InvalidTransition):
            match_reject(match_id=first.pk, customer=buyer, reason="again")

    def test_feedback_only_after_a_decision_and_only_once(self, buyer, service_category, two_techs):
        first, _ = _search(buyer, service_category)
        with pytest.raises(FeedbackNotAllowed):
            match_feedback(match_id=first.pk, customer=buyer, rating=4)
        match_reject(match_id=first.pk, customer=buyer, reason="No")
        match_feedback(match_id=first.pk, customer=buyer, rating=2, comment="Far away")
        first.refresh_from_db()
        assert (first.feedback_rating, first.feedback_comment) == (2, "Far away")
        assert first.feedback_at is not None
        with pytest.raises(FeedbackAlreadyGiven):
            match_feedback(match_id=first.pk, customer=buyer, rating=5)
        first.refresh_from_db()
        assert first.feedback_rating == 2

    def test_transition_map_is_enforced(self, buyer, service_category, two_techs):
        first, _ = _search(buyer, service_category)
        match_transition(match=first, to=MatchStatus.EXPIRED, actor=None)
        for target in (MatchStatus.ACCEPTED, MatchStatus.REJECTED, MatchStatus.SUGGESTED):
            with pytest.raises(InvalidTransition):
                match_transition(match=first, to=target, actor=buyer)

    def test_stale_status_loses_the_compare_and_set(self, buyer, service_category, two_techs):
        first, _ = _search(buyer, service_category)
        stale = Match.objects.get(pk=first.pk)
        match_transition(match=first, to=MatchStatus.REJECTED, actor=buyer)
        with pytest.raises(InvalidTransition):
            match_transition(match=stale, to=MatchStatus.ACCEPTED, actor=buyer)
        assert MatchStatusHistory.objects.filter(match=first).count() == 1


class TestExpiry:
    def test_expires_only_stale_suggested_matches(self, buyer, service_category, two_techs):
        first, second = _search(buyer, service_category)
        third, fourth = _search(buyer, service_category, scheduled_start=tomorrow_at(14))
        match_reject(match_id=third.pk, customer=buyer, reason="no")
        past = timezone.now() - timedelta(minutes=1)
        Match.objects.filter(pk__in=[first.pk, third.pk]).update(expires_at=past)

        assert matches_expire_stale() == 1
        statuses = dict(Match.objects.values_list("pk", "status"))
        assert statuses == {
            first.pk: MatchStatus.EXPIRED,
            second.pk: MatchStatus.SUGGESTED,
            third.pk: MatchStatus.REJECTED,
            fourth.pk: MatchStatus.SUGGESTED,
        }
        history = MatchStatusHistory.objects.get(match=first)
        assert (history.actor, history.note) == (None, "suggestion expired")
        assert matches_expire_stale() == 0

    def test_after_24_hours(self, buyer, service_category, two_techs):
        matches = _search(buyer, service_category, scheduled_start=tomorrow_at(10, days=3))
        assert matches_expire_stale(now=timezone.now() + timedelta(hours=23)) == 0
        assert matches_expire_stale(now=timezone.now() + timedelta(hours=24, seconds=5)) == 2
        assert set(Match.objects.values_list("status", flat=True)) == {MatchStatus.EXPIRED}
        assert len(matches) == 2


class TestPreferences:
    def test_valid_weights_are_saved_and_reset_learning(self, buyer):
        MatchingPreference.objects.create(
            customer=buyer, learned_weights=dict(DEFAULT_WEIGHTS), learning_events=3
        )
        weights = dict(DEFAULT_WEIGHTS, proximity=0.30, skill_match=0.15)
        preference = matching_preferences_update(customer=buyer, weights=weights)
        assert preference.custom_weights == weights
        assert preference.learned_weights is None
        assert preference.learning_events == 0

    @pytest.mark.parametrize(
        "weights",
        [
            dict(DEFAULT_WEIGHTS, proximity=0.5),
            dict(DEFAULT_WEIGHTS, proximity=-0.05, skill_match=0.5),
            {"proximity": 1.0},
        ],
    )
    def test_invalid_weights_are_refused(self, buyer, weights):
        with pytest.raises(InvalidWeights) as caught:
            matching_preferences_update(customer=buyer, weights=weights)
        assert "weights" in caught.value.fields
        assert not MatchingPreference.objects.exists()

    def test_price_range_and_preferred_technicians(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        preference = matching_preferences_update(
            customer=buyer,
            max_distance_km=20,
            price_min=Decimal(1000),
            price_max=Decimal(5000),
            preferred_technician_ids=[tech.pk],
        )
        assert preference.max_distance_km == 20
        assert (preference.price_min, preference.price_max) == (Decimal(1000), Decimal(5000))
        assert list(preference.preferred_technicians.all()) == [tech]
        with pytest.raises(InvalidPreferences):
            matching_preferences_update(customer=buyer, price_min=Decimal(6000))
        with pytest.raises(InvalidPreferences):
            matching_preferences_update(customer=buyer, preferred_technician_ids=[buyer.pk])
        preference.refresh_from_db()
        assert preference.price_min == Decimal(1000)

    def test_blocked_technician_cannot_be_preferred(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        CustomerBlock.objects.create(customer=buyer, technician=tech)
        with pytest.raises(InvalidPreferences):
            matching_preferences_update(customer=buyer, preferred_technician_ids=[tech.pk])


class TestBlocks:
    def test_block_is_idempotent_and_drops_the_preference(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        matching_preferences_update(customer=buyer, preferred_technician_ids=[tech.pk])
        block, created = customer_block_create(customer=buyer, technician_id=tech.pk)
        assert created
        again, created_again = customer_block_create(customer=buyer, technician_id=tech.pk)
        assert (again.pk, created_again) == (block.pk, False)
        assert CustomerBlock.objects.count() == 1
        assert not MatchingPreference.objects.get(customer=buyer).preferred_technicians.exists()

    def test_only_technicians_can_be_blocked(self, buyer):
        with pytest.raises(MatchTechnicianNotFound):
            customer_block_create(customer=buyer, technician_id=CustomerFactory().pk)
        assert not CustomerBlock.objects.exists()

    def test_unblock(self, buyer, service_category):
        tech = TechnicianFactory(skill=service_category)
        customer_block_create(customer=buyer, technician_id=tech.pk)
        customer_block_delete(customer=buyer, technician_id=tech.pk)
        assert not CustomerBlock.objects.exists()
        with pytest.raises(MatchTechnicianNotFound):
            customer_block_delete(customer=buyer, technician_id=tech.pk)


@pytest.mark.django_db(transaction=True)
def test_racing_accepts_of_one_search_make_one_booking(service_category):
    buyer = CustomerFactory()
    TechnicianFactory(latitude=lat_north(1), skill=service_category)
    TechnicianFactory(latitude=lat_north(2), skill=service_category)
    first, second = _search(buyer, service_category)
    barrier = threading.Barrier(2)
    outcomes = []

    def accept(match_id):
        try:
            barrier.wait()
            match_accept(match_id=match_id, customer=buyer)
            outcomes.append("accepted")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(m.pk,)) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["accepted", "invalid_transition"]
    assert Booking.objects.count() == 1
    assert sorted(Match.objects.values_list("status", flat=True)) == [
        MatchStatus.ACCEPTED,
        MatchStatus.EXPIRED,
    ]
