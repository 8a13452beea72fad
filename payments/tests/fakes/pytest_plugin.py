"""Pytest fixtures for the local provider fakes.

Enable in a conftest with `pytest_plugins = ["payments.tests.fakes.pytest_plugin"]` (root conftest only), or
`from payments.tests.fakes.pytest_plugin import *  # noqa: F403` in a test module or an app conftest.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from ._http import CallbackReceiver
from .certs import write_test_certificate
from .daraja import FakeDaraja
from .stripe_api import FakeStripe

__all__ = [
    "callback_receiver",
    "fake_daraja",
    "fake_stripe",
    "sign_stripe_payload",
]

FAKE_DARAJA_SETTINGS = {
    "MPESA_CONSUMER_KEY": "fake-consumer-key",
    "MPESA_CONSUMER_SECRET": "fake-consumer-secret",
    "MPESA_SHORTCODE": "174379",
    "MPESA_PASSKEY": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    "MPESA_B2C_SHORTCODE": "600992",
    "MPESA_INITIATOR_NAME": "testapi",
    "MPESA_INITIATOR_PASSWORD": "Safaricom999!",
}


def start_fake_daraja(tmp_path, *, hang_seconds: float = 3.0) -> tuple[FakeDaraja, str]:
    """A running FakeDaraja that accepts FAKE_DARAJA_SETTINGS, and the path of the certificate the client
    encrypts the initiator password with (the fixture below and the system tier's processes use it)."""
    key, cert_path = write_test_certificate(tmp_path)
    fake = FakeDaraja(
        consumer_key=FAKE_DARAJA_SETTINGS["MPESA_CONSUMER_KEY"],
        consumer_secret=FAKE_DARAJA_SETTINGS["MPESA_CONSUMER_SECRET"],
        shortcode=FAKE_DARAJA_SETTINGS["MPESA_SHORTCODE"],
        passkey=FAKE_DARAJA_SETTINGS["MPESA_PASSKEY"],
        b2c_shortcode=FAKE_DARAJA_SETTINGS["MPESA_B2C_SHORTCODE"],
        initiator_name=FAKE_DARAJA_SETTINGS["MPESA_INITIATOR_NAME"],
        initiator_password=FAKE_DARAJA_SETTINGS["MPESA_INITIATOR_PASSWORD"],
        private_key=key,
        hang_seconds=hang_seconds,
    )
    return fake.start(), str(cert_path)


@pytest.fixture
def fake_daraja(settings, tmp_path):
    """A running FakeDaraja; settings point the real DarajaClient (MPESA_BACKEND="sandbox") at it."""
    fake, cert_path = start_fake_daraja(tmp_path, hang_seconds=8.0)
    for name, value in FAKE_DARAJA_SETTINGS.items():
        setattr(settings, name, value)
    settings.MPESA_BACKEND = "sandbox"
    settings.MPESA_BASE_URL_OVERRIDE = fake.base_url
    settings.MPESA_CERTIFICATE_FILE = cert_path
    settings.MPESA_HTTP_TIMEOUT_SECONDS = 3.0
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def callback_receiver():
    """An HTTP endpoint on 127.0.0.1 that records POSTs (for the simulator's callbacks)."""
    with CallbackReceiver() as receiver:
        yield receiver


@pytest.fixture
def fake_stripe(settings):
    """A running FakeStripe; STRIPE_* settings point stripe_gateway at it (no SDK network retries)."""
    api_key = "sk_test_fake_0123456789"
    with FakeStripe(api_key=api_key) as fake:
        settings.STRIPE_SECRET_KEY = api_key
        settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fake_secret"
        settings.STRIPE_API_BASE_OVERRIDE = fake.base_url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake


@pytest.fixture
def sign_stripe_payload(settings):
    """sign(payload_bytes, *, timestamp=None, secret=None) -> Stripe-Signature header value."""

    def sign(payload: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        ts = int(time.time()) if timestamp is None else timestamp
        key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
        digest = hmac.new(key, f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={ts},v1={digest}"

    return sign
