"""GET /auth/me from the rendered-representation cache: the same bytes as building it, never stale.

These tests commit (`transaction=True`): the cache is used only outside an open transaction.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    CorporateProfile,
    Role,
    ServiceCategory,
    TechnicianProfile,
    TechnicianSkill,
    User,
)
from accounts.tests.factories import ServiceCategoryFactory, TechnicianFactory, UserFactory
from conftest import bearer_client, cached_keys
from dumuwaks.core import rendered_cache

pytestmark = pytest.mark.django_db(transaction=True)


def _me(client, settings, *, cached: bool) -> bytes:
    settings.RENDERED_CACHE_SECONDS = 900 if cached else 0
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 200
    return response.content


def _assert_paths_agree(client, settings) -> dict:
    built = _me(client, settings, cached=False)
    assert _me(client, settings, cached=True) == built  # renders and stores
    assert _me(client, settings, cached=True) == built  # from the cache
    settings.RENDERED_CACHE_SECONDS = 900
    return client.get("/api/v1/auth/me").json()


def test_cached_account_equals_the_built_one_and_follows_every_change(settings):
    plumbing = ServiceCategoryFactory(slug="plumbing", name="Plumbing")
    wiring = ServiceCategoryFactory(slug="wiring", name="Wiring")
    fundi = TechnicianFactory(
        email="otieno@example.co.ke", phone_number="+254711000201", skill=plumbing
    )
    client = bearer_client(fundi)
    assert _assert_paths_agree(client, settings)["technicianProfile"]["skills"][0]["name"] == (
        "Plumbing"
    )

    User.objects.filter(pk=fundi.pk).update(first_name="Odhiambo")
    assert _assert_paths_agree(client, settings)["firstName"] == "Odhiambo"
    TechnicianProfile.objects.filter(user=fundi).update(bio="Twenty years on Nairobi pipes")
    assert _assert_paths_agree(client, settings)["technicianProfile"]["bio"].startswith("Twenty")
    profile = TechnicianProfile.objects.get(user=fundi)
    skill = TechnicianSkill.objects.create(profile=profile, category=wiring, years_of_experience=2)
    assert len(_assert_paths_agree(client, settings)["technicianProfile"]["skills"]) == 2
    ServiceCategory.objects.filter(pk=wiring.pk).update(name="Electrical wiring")
    names = {
        s["name"] for s in _assert_paths_agree(client, settings)["technicianProfile"]["skills"]
    }
    assert names == {"Plumbing", "Electrical wiring"}
    skill.delete()
    assert len(_assert_paths_agree(client, settings)["technicianProfile"]["skills"]) == 1

    device = TOTPDevice.objects.create(user=fundi, name="phone", confirmed=False)
    assert _assert_paths_agree(client, settings)["twoFactorEnabled"] is False
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    assert _assert_paths_agree(client, settings)["twoFactorEnabled"] is True
    device.delete()
    assert _assert_paths_agree(client, settings)["twoFactorEnabled"] is False


def test_corporate_and_plain_accounts(settings):
    company = UserFactory(email="ops@acme.co.ke", role=Role.CORPORATE)
    CorporateProfile.objects.create(user=company, company_name="Acme Ltd", kra_pin="P051234567X")
    client = bearer_client(company)
    assert _assert_paths_agree(client, settings)["corporateProfile"]["companyName"] == "Acme Ltd"
    CorporateProfile.objects.filter(user=company).update(company_name="Acme Kenya Ltd")
    shown = _assert_paths_agree(client, settings)
    assert shown["corporateProfile"]["companyName"] == "Acme Kenya Ltd"
    assert _assert_paths_agree(bearer_client(UserFactory(email="w@example.co.ke")), settings)


def test_a_cached_account_is_served_from_the_cache(settings):
    user = UserFactory(email="wanjiku@example.co.ke")
    client = bearer_client(user)
    client.get("/api/v1/auth/me")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/auth/me").status_code == 200
    assert len(queries.captured_queries) == 2  # the user behind the token; the version
    # The stored rendering is what the endpoint answers with (the count alone matches building it).
    (stored,) = cached_keys(f"*account:*:{user.pk}:*")
    rendered_cache.store({stored: b'{"served":"from cache"}'})
    assert client.get("/api/v1/auth/me").json() == {"served": "from cache"}
