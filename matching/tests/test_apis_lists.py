"""A customer's blocked technicians and favourites, through the API, per persona."""

import pytest

from accounts.tests.factories import TechnicianFactory
from matching.models import CustomerBlock, MatchingPreference

pytestmark = pytest.mark.django_db

BLOCKS = "/api/v1/matching/blocks"
FAVOURITES = "/api/v1/matching/favourites"


def _favourite_ids(customer):
    preference = MatchingPreference.objects.filter(customer=customer).first()
    return set() if preference is None else {t.pk for t in preference.preferred_technicians.all()}


class TestBlocks:
    def test_lists_blocked_technicians_latest_first_and_unblocks_from_it(
        self, customer_client, technician, other_technician
    ):
        customer_client.post(f"/api/v1/matching/block/{technician.pk}")
        customer_client.post(f"/api/v1/matching/block/{other_technician.pk}")
        body = customer_client.get(BLOCKS).json()
        assert body["count"] == 2
        assert [r["technicianId"] for r in body["results"]] == [other_technician.pk, technician.pk]
        row = body["results"][1]
        assert row["technician"]["fullName"] == "Kiprop Cheruiyot"
        assert row["technician"]["profileUrl"] == f"/api/v1/technicians/{technician.pk}"
        assert "email" not in row["technician"]

        assert customer_client.delete(f"/api/v1/matching/block/{technician.pk}").status_code == 204
        assert [r["technicianId"] for r in customer_client.get(BLOCKS).json()["results"]] == [
            other_technician.pk
        ]

    def test_another_customers_blocks_are_not_listed(
        self, customer_client, other_customer_client, technician
    ):
        customer_client.post(f"/api/v1/matching/block/{technician.pk}")
        assert other_customer_client.get(BLOCKS).json()["count"] == 0

    def test_constant_queries(self, customer, customer_client, django_assert_num_queries):
        for n in range(3):
            tech = TechnicianFactory(
                skill=False, email=f"b{n}@example.co.ke", phone_number=f"+25470111000{n}"
            )
            CustomerBlock.objects.create(customer=customer, technician=tech)
        with django_assert_num_queries(3):  # token user, count, page
            assert customer_client.get(BLOCKS).json()["count"] == 3


class TestFavourites:
    def test_add_list_remove(self, customer, customer_client, technician, other_technician):
        added = customer_client.post(f"{FAVOURITES}/{technician.pk}")
        assert added.status_code == 201
        assert added.json()["id"] == technician.pk
        assert added.json()["profileUrl"] == f"/api/v1/technicians/{technician.pk}"
        assert customer_client.post(f"{FAVOURITES}/{technician.pk}").status_code == 200
        customer_client.post(f"{FAVOURITES}/{other_technician.pk}")

        body = customer_client.get(FAVOURITES).json()
        assert [r["id"] for r in body["results"]] == [technician.pk, other_technician.pk]  # by name
        # The same set matching uses as preferred technicians.
        assert customer_client.get("/api/v1/matching/preferences").json()[
            "preferredTechnicianIds"
        ] == sorted([technician.pk, other_technician.pk])

        assert customer_client.delete(f"{FAVOURITES}/{technician.pk}").status_code == 204
        assert _favourite_ids(customer) == {other_technician.pk}
        missing = customer_client.delete(f"{FAVOURITES}/{technician.pk}")
        assert missing.status_code == 404
        assert missing.json()["code"] == "favourite_not_found"

    def test_blocked_technician_cannot_be_a_favourite_and_blocking_removes_one(
        self, customer, customer_client, technician
    ):
        customer_client.post(f"{FAVOURITES}/{technician.pk}")
        customer_client.post(f"/api/v1/matching/block/{technician.pk}")
        assert _favourite_ids(customer) == set()
        refused = customer_client.post(f"{FAVOURITES}/{technician.pk}")
        assert refused.status_code == 409
        assert refused.json()["code"] == "technician_blocked"
        assert _favourite_ids(customer) == set()

    @pytest.mark.parametrize("who", ["other_customer", "support_agent", "missing"])
    def test_only_active_technicians_can_be_favourites(self, request, customer_client, who):
        target = 999999 if who == "missing" else request.getfixturevalue(who).pk
        response = customer_client.post(f"{FAVOURITES}/{target}")
        assert response.status_code == 404
        assert response.json()["code"] == "technician_not_found"

    def test_inactive_technician_is_404(self, customer, customer_client, technician):
        technician.is_active = False
        technician.save()
        assert customer_client.post(f"{FAVOURITES}/{technician.pk}").status_code == 404
        assert _favourite_ids(customer) == set()

    def test_list_runs_a_constant_number_of_queries(
        self, customer, customer_client, django_assert_num_queries
    ):
        for n in range(3):
            tech = TechnicianFactory(
                skill=False, email=f"f{n}@example.co.ke", phone_number=f"+25470222000{n}"
            )
            customer_client.post(f"{FAVOURITES}/{tech.pk}")
        with django_assert_num_queries(3):  # token user, count, page
            assert customer_client.get(FAVOURITES).json()["count"] == 3

    def test_favourites_are_per_customer(self, customer_client, other_customer_client, technician):
        customer_client.post(f"{FAVOURITES}/{technician.pk}")
        assert other_customer_client.get(FAVOURITES).json()["count"] == 0
        assert other_customer_client.delete(f"{FAVOURITES}/{technician.pk}").status_code == 404


@pytest.mark.parametrize("client", ["technician_client", "support_client"])
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", BLOCKS),
        ("get", FAVOURITES),
        ("post", FAVOURITES + "/1"),
        ("delete", FAVOURITES + "/1"),
    ],
)
def test_only_customers_have_these_lists(request, client, method, url):
    assert getattr(request.getfixturevalue(client), method)(url).status_code == 403


@pytest.mark.parametrize("url", [BLOCKS, FAVOURITES])
def test_anonymous_is_401(anon_client, url):
    assert anon_client.get(url).status_code == 401
