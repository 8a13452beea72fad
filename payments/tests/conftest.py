"""Fixtures for the payments tests: a booking at each stage, the fake Daraja server, callback posting."""

from __future__ import annotations

import pytest

from bookings.tests.factories import BookingFactory
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
