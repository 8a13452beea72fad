"""Every (from, to) pair for every role, driven by BOOKING_TRANSITION_ROLES."""

import itertools

import pytest
from django.utils import timezone

from accounts.models import Role, TechnicianProfile
from accounts.tests.factories import ServiceCategoryFactory, TechnicianFactory, UserFactory
from bookings.errors import DepositNotPaid, SlotTaken, TechnicianNotEligible
from bookings.models import (
    BOOKING_TRANSITION_ROLES,
    Booking,
    BookingStatus,
    BookingStatusHistory,
    TransitionRole,
)
from bookings.services import booking_mark_deposit_paid, booking_transition
from bookings.tests.factories import BookingFactory
from dumuwaks.core.errors import InvalidTransition

pytestmark = pytest.mark.django_db

ROLES = [TransitionRole.CUSTOMER, TransitionRole.TECHNICIAN, TransitionRole.STAFF, "system"]
CASES = [
    (frm, to, role)
    for frm, to in itertools.product(BookingStatus.values, BookingStatus.values)
    for role in ROLES
]


def _actor(booking, role):
    if role == TransitionRole.CUSTOMER:
        return booking.customer
    if role == TransitionRole.TECHNICIAN:
        return booking.technician
    if role == TransitionRole.STAFF:
        return UserFactory(role=Role.SUPPORT, is_staff=True)
    return None


@pytest.mark.parametrize(("from_status", "to_status", "role"), CASES)
def test_transition_map_per_role(from_status, to_status, role):
    booking = BookingFactory(
        status=from_status, deposit_paid=True, completed_at=timezone.now(), accepted_at=None
    )
    actor = _actor(booking, role)
    allowed = role in BOOKING_TRANSITION_ROLES.get((from_status, to_status), frozenset())
    if allowed:
        result = booking_transition(booking=booking, to=to_status, actor=actor, note="n")
        booking.refresh_from_db()
        assert booking.status == result.status == to_status
        row = BookingStatusHistory.objects.get(booking=booking)
        assert (row.from_status, row.to_status, row.actor) == (from_status, to_status, actor)
    else:
        with pytest.raises(InvalidTransition) as excinfo:
            booking_transition(booking=booking, to=to_status, actor=actor)
        assert excinfo.value.code == "invalid_transition"
        assert excinfo.value.status_code == 409
        booking.refresh_from_db()
        assert booking.status == from_status
        assert not BookingStatusHistory.objects.filter(booking=booking).exists()


def test_outsider_technician_cannot_move_an_assigned_booking():
    booking = BookingFactory(deposit_paid=True)
    with pytest.raises(InvalidTransition):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=TechnicianFactory())
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING


def test_stale_caller_gets_invalid_transition_and_nothing_changes():
    booking = BookingFactory(deposit_paid=True)
    stale = Booking.objects.get(pk=booking.pk)
    booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=booking.technician)
    with pytest.raises(InvalidTransition):
        booking_transition(booking=stale, to=BookingStatus.CANCELLED, actor=stale.customer)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.ACCEPTED
    assert BookingStatusHistory.objects.filter(booking=booking).count() == 1


def test_accept_requires_paid_deposit():
    booking = BookingFactory(deposit_paid=False)
    with pytest.raises(DepositNotPaid) as excinfo:
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=booking.technician)
    assert (excinfo.value.status_code, excinfo.value.code) == (409, "deposit_not_paid")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.accepted_at is None


def test_accept_sets_timestamp():
    booking = BookingFactory(deposit_paid=True)
    booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=booking.technician)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED and booking.accepted_at is not None


@pytest.mark.parametrize("from_status", [BookingStatus.PENDING, BookingStatus.ACCEPTED])
def test_decline_returns_to_pending_and_clears_technician(from_status):
    booking = BookingFactory(deposit_paid=True, status=from_status, accepted_at=timezone.now())
    technician = booking.technician
    booking_transition(booking=booking, to=BookingStatus.PENDING, actor=technician, note="busy")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    assert booking.technician_id is None and booking.accepted_at is None
    assert BookingStatusHistory.objects.get(booking=booking).actor == technician


def test_open_job_is_taken_by_an_eligible_technician():
    booking = BookingFactory(technician=None, deposit_paid=True)
    taker = TechnicianFactory()
    booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=taker)
    booking.refresh_from_db()
    assert booking.technician == taker and booking.status == BookingStatus.ACCEPTED


def test_open_job_cannot_be_taken_by_a_technician_without_the_skill():
    booking = BookingFactory(technician=None, deposit_paid=True)
    electrician = TechnicianFactory(skill=ServiceCategoryFactory(slug="electrical"))
    with pytest.raises(TechnicianNotEligible):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=electrician)
    booking.refresh_from_db()
    assert booking.technician_id is None and booking.status == BookingStatus.PENDING


def test_open_job_cannot_be_taken_by_an_unapproved_technician():
    booking = BookingFactory(technician=None, deposit_paid=True)
    newcomer = TechnicianFactory(profile__kyc_status="pending")
    with pytest.raises(TechnicianNotEligible):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=newcomer)


def test_open_job_cannot_be_taken_by_a_technician_busy_in_the_slot():
    taker = TechnicianFactory()
    mine = BookingFactory(technician=taker, deposit_paid=True)
    booking = BookingFactory(
        technician=None,
        deposit_paid=True,
        scheduled_start=mine.scheduled_start,
        scheduled_end=mine.scheduled_end,
    )
    with pytest.raises(SlotTaken):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=taker)
    booking.refresh_from_db()
    assert booking.technician_id is None


def test_confirmation_counts_a_completed_job():
    booking = BookingFactory(status=BookingStatus.COMPLETED, completed_at=timezone.now())
    booking_transition(booking=booking, to=BookingStatus.CONFIRMED, actor=booking.customer)
    profile = TechnicianProfile.objects.get(user=booking.technician)
    assert profile.jobs_completed == 1
    booking.refresh_from_db()
    assert booking.confirmed_at is not None


def test_status_change_event_is_published_after_commit(
    django_capture_on_commit_callbacks, domain_events
):
    booking = BookingFactory(deposit_paid=True)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=booking.technician)
    assert domain_events == [
        (
            "booking.status_changed",
            {
                "booking_id": booking.pk,
                "from_status": "pending",
                "to_status": "accepted",
                "actor_id": booking.technician.pk,
            },
        )
    ]


def test_refused_transition_publishes_nothing(django_capture_on_commit_callbacks, domain_events):
    booking = BookingFactory(deposit_paid=True)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InvalidTransition),
    ):
        booking_transition(booking=booking, to=BookingStatus.COMPLETED, actor=booking.technician)
    assert callbacks == [] and domain_events == []


def test_accept_with_a_stale_copy_taken_before_the_deposit_arrived():
    booking = BookingFactory(deposit_paid=False)
    booking_mark_deposit_paid(booking_id=booking.pk)
    booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=booking.technician)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.ACCEPTED
