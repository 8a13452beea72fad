"""Fixtures for the payments tests: a booking at each stage, the fake Daraja server, callback posting."""

from __future__ import annotations

import functools

import pytest

from bookings.tests.factories import BookingFactory
from payments.daraja import get_mpesa_client
from payments.services import common
from payments.tests.fakes.pytest_plugin import *  # noqa: F403  (fake_daraja, fake_stripe, ...)
from payments.tests.helpers import CALLBACK_TOKEN, PRICE


@pytest.fixture(autouse=True)
def _payments_settings(settings):
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.MPESA_CALLBACK_BASE_URL = "https://api.dumuwaks.test"
    settings.MPESA_ALLOWED_IPS = []


@pytest.fixture
def mpesa(fake_daraja):
    """The fake Daraja server with strict Daraja validation."""
    return fake_daraja


class DarajaInterceptor:
    """Test code run inside the app's own calls to Daraja, in the calling thread: a callback that overtakes
    the answer, a worker killed after sending. The app reaches Daraja only through
    `payments.services.common.mpesa_client()`, the one thing swapped: `intercept(stk_push=around)` makes
    `client.stk_push(**kwargs)` call `around(real_stk_push, **kwargs)` (the real client against the fake);
    other calls go to the real client unchanged. `stop()` puts the configured client back."""

    def __init__(self):
        self._patch = pytest.MonkeyPatch()

    def __call__(self, **around) -> None:
        real = get_mpesa_client()

        class Intercepted:
            def __getattr__(self, name):
                call = getattr(real, name)
                return functools.partial(around[name], call) if name in around else call

        self._patch.setattr(common, "mpesa_client", Intercepted)

    def stop(self) -> None:
        self._patch.undo()


@pytest.fixture
def intercept_daraja(mpesa):
    """See DarajaInterceptor; the real client talks to the fake Daraja (`mpesa`)."""
    interceptor = DarajaInterceptor()
    yield interceptor
    interceptor.stop()


@pytest.fixture
def booking(customer, technician, service_category):
    """A pending booking (deposit unpaid) of the customer persona with the technician persona."""
    return BookingFactory(
        customer=customer, technician=technician, category=service_category, price=PRICE
    )


@pytest.fixture
def customer(customer):
    """The customer persona with a verified phone: STK prompts go to it without confirmation (the rule is
    tested with an unverified customer in test_stk_push_rules.py)."""
    type(customer).objects.filter(pk=customer.pk).update(is_phone_verified=True)
    customer.is_phone_verified = True
    return customer
