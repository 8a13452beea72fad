"""An average of nothing is null, never "0.00" (issue 19 item 7): a technician without a counted review shows
`ratingAverage: null` (with `ratingCount: 0`) in every representation — the own account (built and from the
rendered cache), staff's user view, public search, matching, review statistics and staff analytics. Once a
review counts, the same places show the average.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import TechnicianProfile
from conftest import bearer_client
from matching.tests.factories import tomorrow_at

SEARCH = "/api/v1/users/technicians/search"


def _reviewed(user, average="4.50", count=2):
    TechnicianProfile.objects.filter(user=user).update(
        rating_average=Decimal(average), rating_count=count
    )


def _search_rows(anon_client) -> dict[int, dict]:
    response = anon_client.get(SEARCH)
    assert response.status_code == 200
    return {row["id"]: row for row in response.json()["results"]}


@pytest.mark.django_db
def test_public_search_shows_null_until_reviewed(anon_client, technician, other_technician):
    _reviewed(other_technician)

    rows = _search_rows(anon_client)

    assert (rows[technician.pk]["ratingAverage"], rows[technician.pk]["ratingCount"]) == (None, 0)
    assert (
        rows[other_technician.pk]["ratingAverage"],
        rows[other_technician.pk]["ratingCount"],
    ) == (
        "4.50",
        2,
    )


@pytest.mark.django_db
def test_staff_user_view_shows_null_until_reviewed(admin_client_api, technician):
    profile = admin_client_api.get(f"/api/v1/users/{technician.pk}").json()["technicianProfile"]
    assert (profile["ratingAverage"], profile["ratingCount"]) == (None, 0)

    _reviewed(technician, average="3.00", count=1)
    profile = admin_client_api.get(f"/api/v1/users/{technician.pk}").json()["technicianProfile"]
    assert (profile["ratingAverage"], profile["ratingCount"]) == ("3.00", 1)


@pytest.mark.django_db(transaction=True)
def test_own_account_built_and_cached_shows_null_until_reviewed(settings, technician):
    client = bearer_client(technician)

    def me(*, cached: bool) -> bytes:
        settings.RENDERED_CACHE_SECONDS = 900 if cached else 0
        response = client.get("/api/v1/auth/me")
        assert response.status_code == 200
        return response.content

    built = me(cached=False)
    assert me(cached=True) == built == me(cached=True)
    settings.RENDERED_CACHE_SECONDS = 900
    assert client.get("/api/v1/auth/me").json()["technicianProfile"]["ratingAverage"] is None

    _reviewed(technician)
    built = me(cached=False)
    assert me(cached=True) == built
    assert client.get("/api/v1/auth/me").json()["technicianProfile"]["ratingAverage"] == "4.50"


@pytest.mark.django_db
def test_matching_shows_null_until_reviewed(customer_client, service_category, technician):
    body = {
        "categoryId": service_category.pk,
        "latitude": -1.2921,
        "longitude": 36.8219,
        "scheduledStart": tomorrow_at(10).isoformat(),
        "durationMinutes": 120,
    }
    response = customer_client.post("/api/v1/matching/find-technicians", body, format="json")
    assert response.status_code == 200, response.json()
    (match,) = response.json()["results"]
    assert (match["technician"]["ratingAverage"], match["technician"]["ratingCount"]) == (None, 0)


@pytest.mark.django_db
def test_review_stats_without_reviews_are_null(anon_client, technician):
    response = anon_client.get(f"/api/v1/reviews/technician/{technician.pk}/stats")

    assert response.status_code == 200
    assert response.json() == {
        "technicianId": technician.pk,
        "average": None,
        "count": 0,
        "aspects": {
            "quality": None,
            "timeliness": None,
            "professionalism": None,
            "communication": None,
            "value": None,
        },
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }


@pytest.mark.django_db
def test_staff_analytics_shows_null_until_reviewed(admin_client_api, technician, other_technician):
    _reviewed(other_technician)

    response = admin_client_api.get("/api/v1/analytics/technicians")

    assert response.status_code == 200
    rows = {row["technicianId"]: row for row in response.json()["results"]}
    assert (rows[technician.pk]["rating"], rows[technician.pk]["ratingCount"]) == (None, 0)
    assert rows[other_technician.pk]["rating"] == "4.50"
