"""The hand-built booking representation equals DRF's generic one, field for field and in the same order."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIRequestFactory

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.serializers import BookingOutputSerializer
from bookings.tests.factories import BookingFactory
from dumuwaks.core.representation import iso_datetime, money_string

pytestmark = pytest.mark.django_db


def _serializer_for(viewer):
    request = APIRequestFactory().get("/")
    request.user = viewer
    return BookingOutputSerializer(context={"request": request})


def _assert_same(booking, viewer):
    serializer = _serializer_for(viewer)
    fast = serializer.to_representation(booking)
    generic = serializer.generic_representation(booking)
    assert fast == generic
    assert list(fast) == list(generic) == BookingOutputSerializer.Meta.fields
    assert list(fast["customer"]) == list(generic["customer"])


@pytest.mark.parametrize("status", BookingStatus.values)
def test_every_status_and_viewer_gets_the_generic_representation(status, staff_user):
    now = timezone.now()
    booking = BookingFactory(
        status=status,
        deposit_paid=True,
        accepted_at=now,
        started_at=now,
        completed_at=now,
        confirmed_at=now,
        cancelled_at=now,
        cancellation_reason="Changed plans",
        cancellation_fee=Decimal("150.00"),
        completion_notes="Replaced the trap",
        attachments=[{"url": "https://img.example/a.jpg", "public_id": "a", "type": "image"}],
        completion_photos=[{"url": "https://img.example/b.jpg"}],
    )
    outsider = UserFactory()
    for viewer in (booking.customer, booking.technician, staff_user, outsider, None):
        _assert_same(booking, viewer)


@pytest.mark.parametrize("status", [BookingStatus.PENDING, BookingStatus.CONFIRMED])
def test_money_with_payments_is_the_generic_representation(status, staff_user):
    from payments.models import BalanceCollection, Payment, PaymentPurpose, PaymentStatus

    booking = BookingFactory(
        status=status, deposit_paid=status != BookingStatus.PENDING, confirmed_at=timezone.now()
    )
    purpose = PaymentPurpose.DEPOSIT if status == BookingStatus.PENDING else PaymentPurpose.BALANCE
    for payment_status in (PaymentStatus.FAILED, PaymentStatus.PENDING):
        Payment.objects.create(
            booking=booking,
            payer=booking.customer,
            purpose=purpose,
            amount=booking.deposit_amount,
            phone=booking.customer.phone_number,
            status=payment_status,
            expires_at=timezone.now(),
        )
    BalanceCollection.objects.create(booking=booking, due_since=timezone.now())
    booking.refresh_from_db()
    for viewer in (booking.customer, booking.technician, staff_user):
        _assert_same(booking, viewer)
    money = _serializer_for(booking.technician).to_representation(booking)["money"]
    assert (
        money["pending_payment"]["phone"] is None
    )  # not a live job: the customer's number is hidden
    assert money["next_action"] == "wait_for_prompt"


def test_unassigned_booking_without_coordinates_or_phone(staff_user):
    booking = BookingFactory(technician=None, latitude=None, longitude=None)
    booking.customer.phone_number = None
    booking.customer.avatar_url = "https://img.example/me.png"
    for viewer in (booking.customer, staff_user):
        _assert_same(booking, viewer)


@settings(max_examples=60, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.just(UTC),
    ),
    amount=st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)
    | st.integers(min_value=0, max_value=10**9),
)
def test_formatters_match_drf_fields(moment, amount):
    from rest_framework import serializers

    assert iso_datetime(moment) == serializers.DateTimeField().to_representation(moment)
    shifted = moment.astimezone(timezone.get_fixed_timezone(timedelta(hours=-5)))
    assert iso_datetime(shifted) == serializers.DateTimeField().to_representation(shifted)
    money = serializers.DecimalField(max_digits=12, decimal_places=2)
    assert money_string(amount) == money.to_representation(amount)
    assert iso_datetime(None) is None


def test_api_reads_load_only_the_displayed_columns_of_the_parties(staff_user):
    from bookings import selectors

    booking = BookingFactory()
    listed = selectors.bookings_displayed(
        selectors.booking_list(filters=selectors.BookingListFilters(user=booking.customer))
    )[0]
    fetched = selectors.booking_get_for_user(user=staff_user, booking_id=booking.pk)
    for row in (listed, fetched):
        assert {"password", "last_login", "locked_until"} <= row.customer.get_deferred_fields()
        assert "first_name" not in row.customer.get_deferred_fields()
