"""HTTP contract of /api/v1/matching/*: every endpoint, its permissions and its error codes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import TechnicianFactory, UserFactory
from bookings.models import Booking
from conftest import bearer_client
from matching.models import CustomerBlock, Match, MatchingPreference, MatchStatus
from matching.scoring import DEFAULT_WEIGHTS
from matching.services import match_search
from matching.tests.factories import lat_north, tomorrow_at

pytestmark = pytest.mark.django_db

FIND = "/api/v1/matching/find-technicians"
MINE = "/api/v1/matching/my-matches"
PREFS = "/api/v1/matching/preferences"


def _find_body(category, **extra):
    return {
        "categoryId": category.pk,
        "latitude": -1.2921,
        "longitude": 36.8219,
        "scheduledStart": tomorrow_at(10).isoformat(),
        "durationMinutes": 120,
        "budget": "3000",
        **extra,
    }


@pytest.fixture
def techs(service_category):
    return [TechnicianFactory(latitude=lat_north(km), skill=service_category) for km in (1, 3, 6)]


def _matches_for(user, category, n_days=1):
    return match_search(
        customer=user,
        category=category,
        scheduled_start=tomorrow_at(10, days=n_days),
        duration_minutes=60,
        latitude=-1.2921,
        longitude=36.8219,
    )[1]


class TestFindTechnicians:
    def test_returns_ranked_results_with_breakdown_and_stores_them(
        self, customer, customer_client, service_category, techs
    ):
        response = customer_client.post(FIND, _find_body(service_category), format="json")

        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["count"] == 3
        assert [r["technician"]["id"] for r in body["results"]] == [t.pk for t in techs]
        first = body["results"][0]
        assert first["rank"] == 1
        assert first["status"] == "suggested"
        assert first["searchId"] == body["searchId"]
        assert first["category"] == {
            "id": service_category.pk,
            "slug": "plumbing",
            "name": "Plumbing",
        }
        assert set(first["factorScores"]) == {
            "skillMatch",
            "proximity",
            "availability",
            "rating",
            "experience",
            "pricingFit",
            "responseTime",
            "completionRate",
            "customerPreference",
        }
        assert first["weightsUsed"]["skillMatch"] == 0.25
        assert "1.0 km away" in first["reasons"]
        assert first["budget"] == "3000.00"
        assert first["technician"]["hourlyRate"] == "1500.00"
        assert first["totalScore"] > body["results"][1]["totalScore"]
        assert Match.objects.filter(customer=customer, search_id=body["searchId"]).count() == 3

    def test_category_by_slug_and_limit(self, customer_client, service_category, techs):
        body = _find_body(service_category, limit=2)
        del body["categoryId"]
        body["category"] = "plumbing"
        response = customer_client.post(FIND, body, format="json")
        assert response.status_code == 200
        assert response.json()["count"] == 2

    def test_corporate_clients_may_search(self, service_category, techs):
        corporate = UserFactory(email="ops@acme.co.ke", role=Role.CORPORATE)
        response = bearer_client(corporate).post(FIND, _find_body(service_category), format="json")
        assert response.status_code == 200
        assert response.json()["count"] == 3

    def test_technicians_and_staff_are_forbidden(
        self, technician_client, support_client, service_category, techs
    ):
        for client in (technician_client, support_client):
            response = client.post(FIND, _find_body(service_category), format="json")
            assert response.status_code == 403
            assert response.json()["code"] == "permission_denied"
        assert not Match.objects.exists()

    def test_anonymous_is_unauthorised(self, anon_client, service_category):
        assert (
            anon_client.post(FIND, _find_body(service_category), format="json").status_code == 401
        )

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"categoryId": None}, "categoryId"),
            ({"limit": 51}, "limit"),
            ({"limit": 0}, "limit"),
            ({"latitude": 95}, "latitude"),
            ({"longitude": None}, None),
            ({"durationMinutes": 10}, "durationMinutes"),
            ({"budget": "-1"}, "budget"),
            ({"urgency": "yesterday"}, "urgency"),
            ({"scheduledStart": "not a date"}, "scheduledStart"),
            ({"maxDistanceKm": 0}, "maxDistanceKm"),
        ],
    )
    def test_bad_input_is_a_400(self, customer_client, service_category, change, field):
        body = _find_body(service_category)
        for key, value in change.items():
            if value is None:
                body.pop(key)
            else:
                body[key] = value
        response = customer_client.post(FIND, body, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["code"] == "validation_error"
        if field:
            assert field in response.json()["fields"]
        assert not Match.objects.exists()

    def test_unknown_category(self, customer_client, service_category):
        response = customer_client.post(
            FIND, _find_body(service_category, categoryId=999999), format="json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "unknown_category"

    def test_past_slot(self, customer_client, service_category):
        past = (timezone.now() - timedelta(hours=2)).isoformat()
        response = customer_client.post(
            FIND, _find_body(service_category, scheduledStart=past), format="json"
        )
        assert response.status_code == 400
        assert "scheduledStart" in response.json()["fields"]

    def test_location_required_when_profile_has_none(self, service_category):
        nowhere = UserFactory(email="nomap@example.co.ke")
        body = _find_body(service_category)
        del body["latitude"], body["longitude"]
        response = bearer_client(nowhere).post(FIND, body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "location_required"

    def test_no_candidates_is_an_empty_list(self, customer_client, service_category):
        response = customer_client.post(FIND, _find_body(service_category), format="json")
        assert response.status_code == 200
        assert response.json()["count"] == 0
        assert response.json()["results"] == []


class TestMyMatchesAndDetail:
    def test_lists_only_my_matches_newest_first(
        self, customer, other_customer, customer_client, service_category, techs
    ):
        older = _matches_for(customer, service_category, 1)
        newer = _matches_for(customer, service_category, 2)
        _matches_for(other_customer, service_category, 1)
        response = customer_client.get(MINE)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 6
        assert [r["id"] for r in body["results"]] == [m.pk for m in newer + older]

    def test_status_filter(self, customer, customer_client, service_category, techs):
        matches = _matches_for(customer, service_category)
        Match.objects.filter(pk=matches[0].pk).update(status=MatchStatus.REJECTED)
        response = customer_client.get(MINE, {"status": "rejected"})
        assert [r["id"] for r in response.json()["results"]] == [matches[0].pk]
        response = customer_client.get(MINE, {"status": "bogus"})
        assert response.status_code == 400

    def test_constant_queries_over_page_sizes(
        self, customer, customer_client, service_category, techs, django_assert_max_num_queries
    ):
        for day in range(1, 6):
            _matches_for(customer, service_category, day)
        for page_size in (2, 15):
            with django_assert_max_num_queries(4):
                response = customer_client.get(MINE, {"pageSize": page_size})
            assert len(response.json()["results"]) == page_size

    def test_detail_own_only(
        self, customer, other_customer_client, customer_client, service_category, techs
    ):
        match = _matches_for(customer, service_category)[0]
        response = customer_client.get(f"/api/v1/matching/{match.pk}")
        assert response.status_code == 200
        assert response.json()["id"] == match.pk
        assert response.json()["statusHistory"] == []
        response = other_customer_client.get(f"/api/v1/matching/{match.pk}")
        assert response.status_code == 404
        assert response.json()["code"] == "match_not_found"
        assert customer_client.get("/api/v1/matching/99999999").status_code == 404

    def test_technician_cannot_list(self, technician_client):
        assert technician_client.get(MINE).status_code == 403


class TestDecisions:
    def test_accept_creates_the_booking(self, customer, customer_client, service_category, techs):
        match = _matches_for(customer, service_category)[0]
        response = customer_client.post(
            f"/api/v1/matching/{match.pk}/accept",
            {"title": "Leaking pipe", "description": "Under the sink", "address": "Westlands"},
            format="json",
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        booking = Booking.objects.get()
        assert body["status"] == "accepted"
        assert body["bookingId"] == booking.pk
        assert [h["toStatus"] for h in body["statusHistory"]] == ["accepted"]
        assert booking.technician_id == match.technician_id
        assert booking.title == "Leaking pipe"
        assert booking.price == Decimal("1500.00")  # 1 h × 1500/h, no budget

    def test_accept_someone_elses_match_is_404(
        self, customer, other_customer_client, service_category, techs
    ):
        match = _matches_for(customer, service_category)[0]
        response = other_customer_client.post(
            f"/api/v1/matching/{match.pk}/accept", {}, format="json"
        )
        assert response.status_code == 404
        assert not Booking.objects.exists()
        match.refresh_from_db()
        assert match.status == MatchStatus.SUGGESTED

    def test_accept_conflicts(self, customer, customer_client, service_category, techs):
        first, *_ = _matches_for(customer, service_category)
        assert customer_client.post(f"/api/v1/matching/{first.pk}/accept").status_code == 200
        response = customer_client.post(f"/api/v1/matching/{first.pk}/accept")
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
        third = _matches_for(customer, service_category, 3)[0]
        Match.objects.filter(pk=third.pk).update(expires_at=timezone.now())
        response = customer_client.post(f"/api/v1/matching/{third.pk}/accept")
        assert response.status_code == 409
        assert response.json()["code"] == "match_expired"

    def test_reject_needs_a_reason(self, customer, customer_client, service_category, techs):
        match = _matches_for(customer, service_category)[0]
        url = f"/api/v1/matching/{match.pk}/reject"
        response = customer_client.post(url, {}, format="json")
        assert response.status_code == 400
        assert "reason" in response.json()["fields"]
        response = customer_client.post(url, {"reason": "Prefer a woman technician"}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "rejected"
        assert response.json()["rejectionReason"] == "Prefer a woman technician"
        assert customer_client.post(url, {"reason": "again"}, format="json").status_code == 409

    def test_feedback(
        self, customer, customer_client, other_customer_client, service_category, techs
    ):
        match = _matches_for(customer, service_category)[0]
        url = f"/api/v1/matching/{match.pk}/feedback"
        response = customer_client.post(url, {"rating": 4}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "feedback_not_allowed"
        customer_client.post(f"/api/v1/matching/{match.pk}/reject", {"reason": "no"}, format="json")
        assert customer_client.post(url, {"rating": 6}, format="json").status_code == 400
        assert other_customer_client.post(url, {"rating": 4}, format="json").status_code == 404
        response = customer_client.post(url, {"rating": 4, "comment": "Good pick"}, format="json")
        assert response.status_code == 200
        assert (response.json()["feedbackRating"], response.json()["feedbackComment"]) == (
            4,
            "Good pick",
        )
        response = customer_client.post(url, {"rating": 1}, format="json")
        assert response.json()["code"] == "feedback_already_given"


class TestPreferences:
    def test_defaults_without_writing(self, customer_client):
        response = customer_client.get(PREFS)
        assert response.status_code == 200
        body = response.json()
        assert body["weights"] is None
        assert body["effectiveWeights"]["skillMatch"] == 0.25
        assert body["defaultWeights"]["proximity"] == 0.2
        assert body["preferredTechnicianIds"] == []
        assert not MatchingPreference.objects.exists()

    def test_put_weights_and_fields(self, customer, customer_client, service_category, techs):
        weights = {
            "skillMatch": 0.2,
            "proximity": 0.3,
            "availability": 0.15,
            "rating": 0.15,
            "experience": 0.05,
            "pricingFit": 0.05,
            "responseTime": 0.05,
            "completionRate": 0.03,
            "customerPreference": 0.02,
        }
        response = customer_client.put(
            PREFS,
            {
                "weights": weights,
                "maxDistanceKm": 25,
                "priceMin": "500",
                "priceMax": "4000",
                "preferredTechnicianIds": [techs[1].pk],
            },
            format="json",
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["weights"] == weights
        assert body["effectiveWeights"] == weights
        assert body["maxDistanceKm"] == 25
        assert (body["priceMin"], body["priceMax"]) == ("500.00", "4000.00")
        assert body["preferredTechnicianIds"] == [techs[1].pk]
        assert customer_client.get(PREFS).json() == body
        stored = MatchingPreference.objects.get(customer=customer).custom_weights
        assert stored["skill_match"] == 0.2

        # Searches use them: the preferred technician now carries the preference factor.
        results = customer_client.post(FIND, _find_body(service_category), format="json").json()
        preferred = next(r for r in results["results"] if r["technician"]["id"] == techs[1].pk)
        assert preferred["factorScores"]["customerPreference"] == 1
        assert preferred["weightsUsed"]["proximity"] == 0.3
        assert results["results"][0]["maxDistanceKm"] == 25

    @pytest.mark.parametrize(
        "weights",
        [
            {**DEFAULT_WEIGHTS, "proximity": 0.3},
            {"proximity": 1},
            {**DEFAULT_WEIGHTS, "luck": 0.0},
        ],
    )
    def test_invalid_weights(self, customer_client, weights):
        response = customer_client.put(PREFS, {"weights": weights}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_weights"
        assert "weights" in response.json()["fields"]
        assert not MatchingPreference.objects.exists()

    def test_negative_weight_and_bad_fields(self, customer_client):
        weights = {**DEFAULT_WEIGHTS, "proximity": -0.1, "skill_match": 0.55}
        response = customer_client.put(PREFS, {"weights": weights}, format="json")
        assert response.status_code == 400
        response = customer_client.put(PREFS, {"maxDistanceKm": -3}, format="json")
        assert response.status_code == 400
        response = customer_client.put(
            PREFS, {"priceMin": "5000", "priceMax": "1000"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_preferences"
        response = customer_client.put(PREFS, {"preferredTechnicianIds": [987654]}, format="json")
        assert response.status_code == 400

    def test_weights_null_returns_to_defaults(self, customer, customer_client):
        MatchingPreference.objects.create(
            customer=customer,
            custom_weights={**DEFAULT_WEIGHTS, "proximity": 0.3, "skill_match": 0.15},
        )
        response = customer_client.put(PREFS, {"weights": None}, format="json")
        assert response.status_code == 200
        assert response.json()["weights"] is None
        assert response.json()["effectiveWeights"]["proximity"] == 0.2

    def test_technicians_have_no_preferences(self, technician_client):
        assert technician_client.get(PREFS).status_code == 403
        assert technician_client.put(PREFS, {}, format="json").status_code == 403


class TestBlocks:
    def test_block_and_unblock(self, customer, customer_client, service_category, techs):
        url = f"/api/v1/matching/block/{techs[0].pk}"
        response = customer_client.post(url)
        assert response.status_code == 201
        assert response.json()["technicianId"] == techs[0].pk
        assert customer_client.post(url).status_code == 200
        results = customer_client.post(FIND, _find_body(service_category), format="json").json()
        assert techs[0].pk not in [r["technician"]["id"] for r in results["results"]]

        assert customer_client.delete(url).status_code == 204
        assert not CustomerBlock.objects.exists()
        assert customer_client.delete(url).status_code == 404

    def test_block_unknown_technician(self, customer, customer_client):
        response = customer_client.post(f"/api/v1/matching/block/{customer.pk}")
        assert response.status_code == 404
        assert response.json()["code"] == "technician_not_found"
        assert customer_client.post("/api/v1/matching/block/99999999").status_code == 404

    def test_technician_cannot_block(self, technician_client, other_technician):
        response = technician_client.post(f"/api/v1/matching/block/{other_technician.pk}")
        assert response.status_code == 403
        assert not CustomerBlock.objects.exists()


def test_out_of_range_ids_and_non_numbers_are_client_errors(customer_client):
    huge = "9" * 25
    assert customer_client.get(f"/api/v1/matching/{huge}").status_code == 404
    assert customer_client.post(f"/api/v1/matching/{huge}/accept").status_code == 404
    assert customer_client.post(f"/api/v1/matching/block/{huge}").status_code == 404
    response = customer_client.put(
        PREFS, {"weights": {**DEFAULT_WEIGHTS, "rating": "NaN"}}, format="json"
    )
    assert response.status_code == 400
    response = customer_client.put(PREFS, {"preferredTechnicianIds": [int(huge)]}, format="json")
    assert response.status_code == 400
    assert not MatchingPreference.objects.exists()


def test_decisions_show_up_as_learned_weights(customer, customer_client, service_category, techs):
    matches = _matches_for(customer, service_category)
    nearest = min(matches, key=lambda m: m.distance_km)
    assert customer_client.post(f"/api/v1/matching/{nearest.pk}/accept").status_code == 200
    body = customer_client.get(PREFS).json()
    assert body["learningEvents"] == 1
    assert body["weights"] is None
    assert body["effectiveWeights"] == body["learnedWeights"]
    assert body["learnedWeights"]["proximity"] > 0.2
    assert sum(body["learnedWeights"].values()) == pytest.approx(1)
