"""The API-wide rate limits: fixed-window counters on the real Redis, answered with the one error body."""

import pytest
from django.core.cache import cache

from dumuwaks.core import throttling
from dumuwaks.core.cache import cache_incr_with_expiry, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):
    def set_rates(**scoped):
        merged = {**throttling.UserRateThrottle.THROTTLE_RATES, **scoped}
        for throttle in (throttling.UserRateThrottle, throttling.AnonRateThrottle):
            monkeypatch.setattr(throttle, "THROTTLE_RATES", merged)

    return set_rates


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1_800_000_030.0}  # 30 s into a minute window
    for throttle in (throttling.UserRateThrottle, throttling.AnonRateThrottle):
        monkeypatch.setattr(throttle, "timer", lambda self: now["t"])
    return now


def test_user_limit_answers_429_with_retry_after_until_the_window_ends(
    customer_client, other_customer_client, rates, clock
):
    rates(user="3/min")
    statuses = [customer_client.get("/api/v1/auth/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]

    throttled = customer_client.get("/api/v1/auth/me")
    assert throttled.json()["code"] == "throttled"
    assert set(throttled.json()) == {"code", "message"}
    assert throttled["Retry-After"] == "30"
    # Another account has its own allowance.
    assert other_customer_client.get("/api/v1/auth/me").status_code == 200

    clock["t"] += 30
    assert customer_client.get("/api/v1/auth/me").status_code == 200


def test_anonymous_limit_is_per_client_address(anon_client, rates, clock):
    rates(anon="2/min")
    first = [anon_client.get("/api/v1/categories").status_code for _ in range(3)]
    other_ip = anon_client.get("/api/v1/categories", REMOTE_ADDR="10.9.8.7")
    assert first == [200, 200, 429]
    assert other_ip.status_code == 200


def test_a_window_is_one_expiring_integer_in_redis(customer, customer_client, rates, clock):
    rates(user="100/min")
    for _ in range(5):
        customer_client.get("/api/v1/auth/me")
    window = int(clock["t"] // 60)
    key = f"throttle_user_{customer.pk}:w{window}"
    assert cache.get(key) == 5
    assert 0 < redis_client.ttl(cache.make_key(key)) <= 61


def test_incr_with_expiry_starts_at_one_and_keeps_the_first_expiry():
    assert cache_incr_with_expiry("counter-test", timeout=10) == 1
    assert cache_incr_with_expiry("counter-test", timeout=500) == 2
    assert 0 < redis_client.ttl(cache.make_key("counter-test")) <= 10
    # The counter is an ordinary cache entry: the cache API reads and clears it.
    assert cache.get("counter-test") == 2
    cache.delete("counter-test")
    assert cache_incr_with_expiry("counter-test", timeout=10) == 1


def test_a_request_spends_one_redis_round_trip_on_its_rate_limit(
    customer_client, rates, clock, monkeypatch
):
    rates(user="100/min")
    customer_client.get("/api/v1/auth/me")  # the script is loaded on the server by now
    sent = []
    execute_command = redis_client.execute_command

    def recording(*args, **options):
        sent.append(args[0])
        return execute_command(*args, **options)

    monkeypatch.setattr(redis_client, "execute_command", recording)
    assert customer_client.get("/api/v1/auth/me").status_code == 200
    # The rate limit's share of the commands (the endpoint's cached rendering reads with MGET).
    assert [command for command in sent if command != "MGET"] == ["EVALSHA"]


def test_the_counter_survives_a_redis_script_flush():
    """The Lua counter is sent by SHA; after SCRIPT FLUSH (a Redis restart) redis-py loads it again."""
    assert cache_incr_with_expiry("flush-test", timeout=10) == 1
    redis_client.script_flush()
    assert cache_incr_with_expiry("flush-test", timeout=10) == 2


def test_any_key_is_accepted_without_memcached_warnings(recwarn):
    cache.set("a key with spaces and a \u00e9", 1)
    assert cache.get("a key with spaces and a \u00e9") == 1
    assert not [w for w in recwarn if "CacheKeyWarning" in type(w.message).__name__]
