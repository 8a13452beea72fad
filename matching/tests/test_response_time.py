"""Response time: samples from booking history and chat, the 90-day median on the profile, the beat entry
and the matching factor that reads it."""

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import TechnicianProfile
from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import Booking, BookingStatus, BookingStatusHistory
from bookings.tests.factories import BookingFactory
from dumuwaks.celery import collect_beat_schedule
from matching import selectors
from matching.scoring import RESPONSE_TIME, response_time_score
from matching.services import match_search, technician_response_times_refresh
from matching.services.response_time import RESPONSE_TIME_WINDOW, response_minutes_median
from matching.tasks import refresh_response_times
from matching.tests.factories import tomorrow_at
from notifications.models import Message
from notifications.services.chat import conversation_get_or_create_for_booking, message_send

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=3)


def _at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def _offer(technician, *, created=0, paid=None, booking=None):
    """A booking for `technician` created at T0+created (its creation history row too)."""
    booking = booking or BookingFactory(technician=technician)
    Booking.objects.filter(pk=booking.pk).update(
        created_at=_at(created), deposit_paid_at=None if paid is None else _at(paid)
    )
    row = BookingStatusHistory.objects.create(
        booking=booking, actor=booking.customer, from_status="", to_status=BookingStatus.PENDING
    )
    BookingStatusHistory.objects.filter(pk=row.pk).update(created_at=_at(created))
    return booking


def _row(booking, *, actor, to, minutes, frm=BookingStatus.PENDING):
    row = BookingStatusHistory.objects.create(
        booking=booking, actor=actor, from_status=frm, to_status=to
    )
    BookingStatusHistory.objects.filter(pk=row.pk).update(created_at=_at(minutes))


def _samples(technician):
    since = timezone.now() - RESPONSE_TIME_WINDOW
    return sorted(
        round(m, 2)
        for tid, m in selectors.booking_response_samples(since=since)
        + selectors.chat_response_samples(since=since)
        if tid == technician.pk
    )


class TestBookingSamples:
    def test_accept_counts_from_the_deposit_when_it_came_after_the_request(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0, paid=10)
        _row(booking, actor=tech, to=BookingStatus.ACCEPTED, minutes=25)
        assert _samples(tech) == [15]

    def test_accept_counts_from_the_request_when_the_deposit_was_paid_at_once(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=5, paid=5)
        _row(booking, actor=tech, to=BookingStatus.ACCEPTED, minutes=45)
        assert _samples(tech) == [40]

    def test_decline_counts_from_the_request_whether_paid_or_not(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0)
        _row(booking, actor=tech, to=BookingStatus.PENDING, minutes=7)
        assert _samples(tech) == [7]

    def test_an_open_job_taken_after_a_decline_counts_from_the_decline(self):
        first, second = TechnicianFactory(), TechnicianFactory()
        booking = _offer(first, created=0, paid=1)
        _row(booking, actor=first, to=BookingStatus.PENDING, minutes=30)
        _row(booking, actor=second, to=BookingStatus.ACCEPTED, minutes=42)
        assert _samples(first) == [30]
        assert _samples(second) == [12]

    def test_a_paid_offer_left_to_expire_counts_against_the_technician(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0, paid=20)
        _row(booking, actor=None, to=BookingStatus.EXPIRED, minutes=24 * 60)
        assert _samples(tech) == [24 * 60 - 20]

    def test_an_unpaid_booking_that_expired_is_not_the_technicians(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0)
        _row(booking, actor=None, to=BookingStatus.EXPIRED, minutes=30)
        assert _samples(tech) == []

    def test_other_history_rows_and_a_customer_cancelling_give_no_sample(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0, paid=0)
        _row(booking, actor=tech, to=BookingStatus.ACCEPTED, minutes=10)
        _row(
            booking, actor=tech, to=BookingStatus.EN_ROUTE, minutes=200, frm=BookingStatus.ACCEPTED
        )
        other = _offer(tech, created=0, paid=0)
        _row(other, actor=other.customer, to=BookingStatus.CANCELLED, minutes=3)
        assert _samples(tech) == [10]

    def test_answers_older_than_the_window_are_left_out(self):
        tech = TechnicianFactory()
        booking = _offer(tech, created=0)
        _row(booking, actor=tech, to=BookingStatus.PENDING, minutes=7)
        since = T0 + timedelta(minutes=8)
        assert selectors.booking_response_samples(since=since) == []


def _conversation(tech, opened_by):
    booking = BookingFactory(technician=tech)
    user = booking.customer if opened_by == "customer" else tech
    conversation, _ = conversation_get_or_create_for_booking(booking=booking, user=user)
    return conversation, booking.customer


def _message(conversation, sender, minutes):
    message = message_send(conversation=conversation, sender=sender, body="Habari")
    Message.objects.filter(pk=message.pk).update(created_at=_at(minutes))


class TestChatSamples:
    def test_first_reply_to_a_customer_opened_conversation(self):
        tech = TechnicianFactory()
        conversation, customer = _conversation(tech, "customer")
        _message(conversation, customer, 0)
        _message(conversation, customer, 2)
        _message(conversation, tech, 9)
        _message(conversation, tech, 50)
        assert _samples(tech) == [9]

    def test_a_conversation_the_technician_opened_gives_no_sample(self):
        tech = TechnicianFactory()
        conversation, customer = _conversation(tech, "technician")
        _message(conversation, tech, 0)
        _message(conversation, customer, 5)
        _message(conversation, tech, 8)
        assert _samples(tech) == []

    def test_an_unanswered_conversation_gives_no_sample_yet(self):
        tech = TechnicianFactory()
        conversation, customer = _conversation(tech, "customer")
        _message(conversation, customer, 0)
        assert _samples(tech) == []


class TestRefresh:
    def test_median_in_whole_minutes_needs_three_samples(self):
        assert response_minutes_median([5, 100]) is None
        assert response_minutes_median([5, 100, 7]) == 7
        assert response_minutes_median([5, 6, 7, 8]) == 7  # 6.5 rounds half up
        assert response_minutes_median([0.2, 0.1, 0.3]) == 0

    def test_stores_the_median_and_resets_technicians_without_enough_answers(self):
        tech, quiet = TechnicianFactory(), TechnicianFactory()
        TechnicianProfile.objects.filter(user=quiet).update(average_response_minutes=12)
        for minutes in (4, 30, 600):
            booking = _offer(tech, created=0)
            _row(booking, actor=tech, to=BookingStatus.PENDING, minutes=minutes)
        conversation, customer = _conversation(tech, "customer")
        _message(conversation, customer, 0)
        _message(conversation, tech, 20)

        assert technician_response_times_refresh() == 2
        assert TechnicianProfile.objects.get(user=tech).average_response_minutes == 25
        assert TechnicianProfile.objects.get(user=quiet).average_response_minutes is None
        assert technician_response_times_refresh() == 0  # idempotent

    def test_samples_age_out_of_the_window(self):
        tech = TechnicianFactory()
        for minutes in (4, 5, 6):
            booking = _offer(tech, created=0)
            _row(booking, actor=tech, to=BookingStatus.PENDING, minutes=minutes)
        technician_response_times_refresh()
        assert TechnicianProfile.objects.get(user=tech).average_response_minutes == 5
        technician_response_times_refresh(now=T0 + RESPONSE_TIME_WINDOW + timedelta(hours=1))
        assert TechnicianProfile.objects.get(user=tech).average_response_minutes is None

    def test_the_task_runs_the_refresh(self):
        tech = TechnicianFactory()
        for minutes in (4, 5, 6):
            booking = _offer(tech, created=0)
            _row(booking, actor=tech, to=BookingStatus.PENDING, minutes=minutes)
        assert refresh_response_times.delay().get() == 1
        assert TechnicianProfile.objects.get(user=tech).average_response_minutes == 5

    def test_beat_runs_the_refresh_hourly(self):
        entry = collect_beat_schedule()["matching-refresh-response-times"]
        assert entry == {"task": "matching.refresh_response_times", "schedule": 3600.0}


def test_matching_scores_the_stored_response_time(service_category):
    customer = CustomerFactory()
    fast = TechnicianFactory(skill=service_category)
    unknown = TechnicianFactory(skill=service_category)
    TechnicianProfile.objects.filter(user=fast).update(average_response_minutes=6)

    _, matches = match_search(
        customer=customer,
        category=service_category,
        scheduled_start=tomorrow_at(10),
        duration_minutes=120,
    )
    scores = {m.technician_id: m.factor_scores[RESPONSE_TIME] for m in matches}
    assert scores[fast.pk] == pytest.approx(math.exp(-6 / 60))
    assert scores[fast.pk] == pytest.approx(response_time_score(average_minutes=6))
    assert scores[unknown.pk] == 0.5
    fast_match = next(m for m in matches if m.technician_id == fast.pk)
    assert "Usually responds within 6 min" in fast_match.reasons
