"""Cross-app hardening fixtures: one `world` of objects owned by the `customer` persona.

Objects are built lazily (first attribute access), so a test that only needs a booking does not pay for
payments, payouts, chats and reviews. Everything goes through the owning app's services or factories.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import cached_property

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services.portfolio import portfolio_item_create
from bookings.models import BookingStatus, GuaranteeClaim, GuaranteeClaimStatus
from bookings.services import (
    change_order_create,
    guarantee_claim_open,
    quote_create,
    reschedule_propose,
)
from bookings.tests.factories import BookingFactory, DisputeFactory
from matching.services import match_search
from notifications.services.chat import conversation_get_or_create_for_booking, message_send
from notifications.tests.factories import DeviceTokenFactory, NotificationFactory
from payments import rules as payments_rules
from payments.models import Payout
from payments.tests.fakes.pytest_plugin import *  # noqa: F403  (fake_daraja, fake_stripe, ...)
from payments.tests.helpers import paid_payment, set_status
from social.services.posts import comment_create
from social.services.reviews import review_create
from social.tests.factories import MediaAssetFactory, PostFactory
from support.services.tickets import ticket_create

ROLES = (
    "anonymous",
    "customer",
    "other_customer",
    "technician",
    "other_technician",
    "support",
    "admin",
)


class World:
    """The customer persona's booking (with the technician persona assigned) and everything hanging off it."""

    def __init__(self, *, users: dict, category, monkeypatch):
        self.users = users
        self.category = category
        self._monkeypatch = monkeypatch

    # --- people --------------------------------------------------------------------------------------------
    @property
    def customer(self):
        return self.users["customer"]

    @property
    def technician(self):
        return self.users["technician"]

    def client(self, role: str) -> APIClient:
        """An API client with a Bearer access token (no refresh token row, unlike conftest.bearer_client)."""
        client = APIClient()
        user = self.users.get(role)
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    # --- bookings ------------------------------------------------------------------------------------------
    @cached_property
    def booking(self):
        """Pending, deposit unpaid, technician assigned."""
        return BookingFactory(
            customer=self.customer,
            technician=self.technician,
            category=self.category,
            price=Decimal("5000.00"),
        )

    @cached_property
    def confirmed_booking(self):
        """Deposit and balance paid through the real success path, confirmed: a payout exists (held)."""
        booking = BookingFactory(
            customer=self.customer,
            technician=self.technician,
            category=self.category,
            price=Decimal("5000.00"),
        )
        # The payout is held for review (above the threshold), so nothing is sent to Daraja while we build
        # the world.
        self._monkeypatch.setattr(payments_rules, "PAYOUT_REVIEW_THRESHOLD_KES", 1000)
        self.__dict__["payment"] = paid_payment(booking)
        now = timezone.now()
        set_status(booking, BookingStatus.CONFIRMED, completed_at=now, confirmed_at=now)
        self.__dict__["balance_payment"] = paid_payment(booking, "balance")
        return booking

    @cached_property
    def payment(self):
        self.confirmed_booking  # noqa: B018  (builds the payments)
        return self.__dict__["payment"]

    @cached_property
    def payout(self):
        return Payout.objects.get(booking=self.confirmed_booking)

    @cached_property
    def dispute(self):
        booking = BookingFactory(
            customer=self.customer,
            technician=self.technician,
            category=self.category,
            status=BookingStatus.DISPUTED,
            deposit_paid=True,
            completed_at=timezone.now(),
        )
        return DisputeFactory(booking=booking, opened_by=self.customer)

    # --- agreements (bookings/services/agreements.py) -------------------------------------------------------
    @cached_property
    def accepted_booking(self):
        """Accepted (deposit paid), the customer persona with the technician persona."""
        return BookingFactory(
            customer=self.customer,
            technician=self.technician,
            category=self.category,
            status=BookingStatus.ACCEPTED,
            deposit_paid=True,
            accepted_at=timezone.now(),
        )

    @cached_property
    def reschedule_proposal(self):
        """Open, proposed by the customer on the accepted booking: the technician answers."""
        booking = self.accepted_booking
        proposal, _ = reschedule_propose(
            booking=booking,
            actor=self.customer,
            scheduled_start=booking.scheduled_start + timedelta(days=1),
            reason="Travelling that day.",
        )
        return proposal

    @cached_property
    def quote(self):
        """Open, the technician's quote for the pending booking: the customer answers."""
        proposal, _ = quote_create(
            booking=self.booking, technician=self.technician, price="6000", note="Two taps."
        )
        return proposal

    @cached_property
    def change_order(self):
        """Open, the technician's +KES 500 on the accepted booking: the customer answers."""
        proposal, _ = change_order_create(
            booking=self.accepted_booking, technician=self.technician, amount="500", note="A trap."
        )
        return proposal

    # --- workmanship guarantee (bookings/services/guarantee.py) ---------------------------------------------
    def _guaranteed_booking(self):
        """Confirmed an hour ago (no payments: a claim touches no money), customer with technician persona."""
        now = timezone.now()
        return BookingFactory(
            customer=self.customer,
            technician=self.technician,
            category=self.category,
            status=BookingStatus.CONFIRMED,
            deposit_paid=True,
            completed_at=now - timedelta(hours=2),
            confirmed_at=now - timedelta(hours=1),
        )

    @cached_property
    def guarantee_claim(self):
        """Open, the customer's claim: the technician answers."""
        return guarantee_claim_open(
            booking=self._guaranteed_booking(), customer=self.customer, description="Drips again."
        )

    @cached_property
    def scheduled_guarantee_claim(self):
        """Return visit scheduled and already started: the customer reports on it."""
        now = timezone.now()
        return GuaranteeClaim.objects.create(
            booking=self._guaranteed_booking(),
            customer=self.customer,
            technician=self.technician,
            description="Drips again.",
            respond_by=now + timedelta(hours=1),
            status=GuaranteeClaimStatus.SCHEDULED,
            visit_start=now - timedelta(hours=1),
            visit_end=now - timedelta(minutes=1),
        )

    # --- matching ------------------------------------------------------------------------------------------
    @cached_property
    def match(self):
        start = timezone.localtime() + timedelta(days=5)
        start = start.replace(hour=10, minute=0, second=0, microsecond=0)
        _, matches = match_search(
            customer=self.customer,
            category=self.category,
            scheduled_start=start,
            duration_minutes=60,
        )
        return next(m for m in matches if m.technician_id == self.technician.pk)

    # --- chat ----------------------------------------------------------------------------------------------
    @cached_property
    def conversation(self):
        conversation, _ = conversation_get_or_create_for_booking(
            booking=self.booking, user=self.customer
        )
        return conversation

    @cached_property
    def message(self):
        return message_send(
            conversation=self.conversation, sender=self.customer, body="Habari, are you coming?"
        )

    @cached_property
    def notification(self):
        return NotificationFactory(user=self.customer)

    @cached_property
    def device(self):
        return DeviceTokenFactory(user=self.customer)

    # --- support -------------------------------------------------------------------------------------------
    @cached_property
    def ticket(self):
        return ticket_create(
            created_by=self.customer,
            subject="M-Pesa deposit not reflecting",
            description="I paid the booking fee but the booking still says pending.",
            category="payment",
        )

    # --- social --------------------------------------------------------------------------------------------
    @cached_property
    def media(self):
        return MediaAssetFactory(owner=self.customer)

    @cached_property
    def post(self):
        return PostFactory(author=self.customer)

    @cached_property
    def comment(self):
        return comment_create(post=self.post, author=self.customer, body="Great work!")

    @cached_property
    def portfolio_item(self):
        """The technician persona's portfolio item."""
        return portfolio_item_create(technician=self.technician, title="Geyser fitted in Kilimani")

    @cached_property
    def review(self):
        return review_create(
            reviewer=self.customer,
            booking_id=self.confirmed_booking.pk,
            overall=5,
            ratings={
                a: 5 for a in ("quality", "timeliness", "professionalism", "communication", "value")
            },
            comment="Fixed the sink quickly.",
        )


@pytest.fixture
def personas(
    customer, other_customer, technician, other_technician, support_agent, admin_user
) -> dict:
    return {
        "anonymous": None,
        "customer": customer,
        "other_customer": other_customer,
        "technician": technician,
        "other_technician": other_technician,
        "support": support_agent,
        "admin": admin_user,
    }


@pytest.fixture
def world(personas, service_category, settings, monkeypatch) -> World:
    settings.MPESA_BACKEND = "simulator"
    return World(users=personas, category=service_category, monkeypatch=monkeypatch)


@pytest.fixture
def raw_wsgi_app():
    """Django's WSGI app for tools that bypass the test client (schemathesis).

    Like django.test.Client, stop request_started/finished from closing the test transaction's connection.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
