"""Per-IP limits are keyed only on addresses our own proxies wrote: a forged X-Forwarded-For changes
nothing (it once keyed every anonymous limit on the whole client-sent header)."""

import pytest
from rest_framework.test import APIClient

from accounts.throttles import LoginIpThrottle
from dumuwaks.core.client_ip import client_ip
from dumuwaks.core.throttling import AnonRateThrottle


@pytest.mark.parametrize(
    "proxies,forwarded,expected",
    [
        (0, "6.6.6.6", "10.0.0.9"),  # no trusted proxy: the header is the client's word
        (1, "6.6.6.6, 41.90.1.2", "41.90.1.2"),  # our proxy appended the real address last
        (2, "6.6.6.6, 41.90.1.2, 10.1.1.1", "41.90.1.2"),
        (2, "41.90.1.2", "10.0.0.9"),  # fewer hops than proxies: not from our proxies
        (1, "", "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_ip(meta) == expected


@pytest.mark.parametrize("throttle_class", [AnonRateThrottle, LoginIpThrottle])
def test_throttles_key_on_the_trusted_address(rf, throttle_class):
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert throttle_class().get_ident(request) == "10.0.0.9"


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_lift_the_login_limit(customer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "login_ip": "3/min",
        },
    }
    client = APIClient(REMOTE_ADDR="41.90.7.7")
    statuses = [
        client.post(
            "/api/v1/auth/login",
            {"email": f"nobody{n}@example.co.ke", "password": "wrong-password"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(5)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
