"""`Cache-Control: no-store` and `Pragma: no-cache` on every response carrying tokens or personal data
(dumuwaks.core.private_responses), so no browser or proxy cache keeps one."""

import pytest
from django.core import mail

from accounts.services import two_factor_enable, two_factor_setup
from accounts.tests.conftest import current_totp
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from conftest import bearer_client, cached_keys
from dumuwaks.core import rendered_cache

pytestmark = pytest.mark.django_db


def assert_no_store(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def _login(client, password=DEFAULT_PASSWORD):
    return client.post(
        "/api/v1/auth/login",
        {"email": "wanjiku@example.co.ke", "password": password},
        format="json",
    )


def test_token_endpoints(anon_client, customer):
    assert_no_store(_login(anon_client), 200)
    assert_no_store(_login(anon_client, password="wrong-password"), 401)
    refresh = _login(anon_client).json()["refresh"]
    assert_no_store(anon_client.post("/api/v1/auth/refresh", {"refresh": refresh}), 200)
    registered = anon_client.post(
        "/api/v1/auth/register",
        {
            "email": "amani@example.co.ke",
            "password": "Jua-Kali-2026!",
            "firstName": "Amani",
            "lastName": "Mwangi",
            "phoneNumber": "0733000444",
        },
        format="json",
    )
    assert_no_store(registered, 201)
    changed = bearer_client(customer).post(
        "/api/v1/auth/change-password",
        {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Mvua-Nyingi-2026!"},
        format="json",
    )
    assert_no_store(changed, 200)
    assert "access" in changed.json()


def test_two_factor_verify(anon_client, customer):
    two_factor_setup(user=customer)
    backup_codes = two_factor_enable(user=customer, code=current_totp(customer))
    challenge = _login(anon_client).json()["challengeToken"]
    verified = anon_client.post(
        "/api/v1/auth/verify-2fa", {"challengeToken": challenge, "code": backup_codes[0]}
    )
    assert_no_store(verified, 200)
    assert "refresh" in verified.json()


def test_me_and_other_authenticated_responses(customer_client):
    assert_no_store(customer_client.get("/api/v1/auth/me"), 200)
    assert_no_store(customer_client.patch("/api/v1/auth/me", {"firstName": "Wanjiru"}), 200)
    assert_no_store(customer_client.get("/api/v1/bookings"), 200)
    assert_no_store(customer_client.get("/api/v1/categories"), 200)
    assert_no_store(customer_client.get("/api/v1/no-such-thing"), 404)


def test_anonymous_reads_stay_cacheable(anon_client):
    response = anon_client.get("/api/v1/categories")
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers
    assert "Pragma" not in response.headers


def test_public_writes_are_not_stored_either(anon_client):
    response = anon_client.post("/api/v1/auth/forgot-password", {"email": "ghost@example.co.ke"})
    assert_no_store(response, 202)
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_me_from_the_rendered_cache(settings):
    settings.RENDERED_CACHE_SECONDS = 900
    user = UserFactory(email="wanjiku@example.co.ke")
    client = bearer_client(user)
    assert_no_store(client.get("/api/v1/auth/me"), 200)
    # Serve a marked rendering, so the answer below is the cached path's.
    (stored,) = cached_keys(f"*account:*:{user.pk}:*")
    rendered_cache.store({stored: b'{"served":"from cache"}'})
    cached = client.get("/api/v1/auth/me")
    assert_no_store(cached, 200)
    assert cached.json() == {"served": "from cache"}
