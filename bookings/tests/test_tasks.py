"""Timers: expiry of pending bookings and auto-confirmation, driven through the beat tasks."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings.models import BookingStatus, BookingStatusHistory
from bookings.schedules import BEAT_SCHEDULE
from bookings.tasks import (
    auto_confirm_completed_bookings,
    expire_proposals,
    expire_stale_bookings,
    guarantee_claims_process_due_task,
)
from bookings.tests.factories import BookingFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_names_real_tasks():
    names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert names == {
        expire_stale_bookings.name,
        auto_confirm_completed_bookings.name,
        expire_proposals.name,
        guarantee_claims_process_due_task.name,
    }


def _booking_created_now(**kwargs):
    return BookingFactory(
        scheduled_start=timezone.now() + timedelta(days=3),
        payment_due_at=timezone.now() + timedelta(minutes=30),
        **kwargs,
    )


def test_unpaid_booking_expires_after_the_payment_window(
    domain_events, django_capture_on_commit_callbacks
):
    start = timezone.now()
    booking = _booking_created_now()
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert expire_stale_bookings() == 0
    with (
        time_machine.travel(start + timedelta(minutes=31), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert expire_stale_bookings() == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    row = BookingStatusHistory.objects.get(booking=booking)
    assert row.actor is None and row.to_status == BookingStatus.EXPIRED
    assert domain_events[-1] == (
        "booking.status_changed",
        {
            "booking_id": booking.pk,
            "from_status": "pending",
            "to_status": "expired",
            "actor_id": None,
        },
    )


def test_paid_booking_not_accepted_within_the_timeout_expires():
    start = timezone.now()
    booking = _booking_created_now(deposit_paid=True)
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        assert expire_stale_bookings() == 0
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        assert expire_stale_bookings() == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED


def test_paid_booking_expires_when_its_slot_starts_before_the_timeout():
    start = timezone.now()
    booking = BookingFactory(deposit_paid=True, scheduled_start=start + timedelta(hours=3))
    with time_machine.travel(start + timedelta(hours=3, seconds=1), tick=False):
        assert expire_stale_bookings() == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED


def test_accepted_booking_never_expires():
    start = timezone.now()
    booking = _booking_created_now(deposit_paid=True, status=BookingStatus.ACCEPTED)
    with time_machine.travel(start + timedelta(days=2), tick=False):
        assert expire_stale_bookings() == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED


def test_completed_booking_auto_confirms_after_72_hours(
    domain_events, django_capture_on_commit_callbacks
):
    done = timezone.now()
    booking = BookingFactory(status=BookingStatus.COMPLETED, completed_at=done)
    with time_machine.travel(done + timedelta(hours=71, minutes=59), tick=False):
        assert auto_confirm_completed_bookings() == 0
    with (
        time_machine.travel(done + timedelta(hours=72), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert auto_confirm_completed_bookings() == 1
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.confirmed_at is not None
    assert BookingStatusHistory.objects.get(booking=booking).actor is None
    assert (
        domain_events[-1][1]["to_status"] == "confirmed"
        and domain_events[-1][1]["actor_id"] is None
    )


def test_disputed_or_confirmed_bookings_are_not_auto_confirmed():
    done = timezone.now()
    disputed = BookingFactory(status=BookingStatus.DISPUTED, completed_at=done)
    confirmed = BookingFactory(status=BookingStatus.CONFIRMED, completed_at=done)
    with time_machine.travel(done + timedelta(days=5), tick=False):
        assert auto_confirm_completed_bookings() == 0
    disputed.refresh_from_db()
    confirmed.refresh_from_db()
    assert disputed.status == BookingStatus.DISPUTED
    assert not BookingStatusHistory.objects.filter(booking__in=[disputed, confirmed]).exists()
