"""The core transition: map, guards, lock, history row, event after commit. Exercised on the booking and
dispute machines (real tables) and on a machine declared here for the call-time pieces."""

import dataclasses
import threading
import time

import pytest
from django.db import connection, transaction

from bookings.errors import DepositNotPaid
from bookings.models import (
    BOOKING_MACHINE,
    DISPUTE_MACHINE,
    Booking,
    BookingStatus,
    BookingStatusHistory,
    Dispute,
    DisputeStatus,
    DisputeStatusHistory,
)
from bookings.tests.factories import BookingFactory, DisputeFactory
from dumuwaks.core.errors import ApplicationError, InvalidTransition
from dumuwaks.core.state_machine import (
    Guard,
    StateMachine,
    registered_machines,
    status_history_append,
    transition,
    transition_many,
)

pytestmark = pytest.mark.django_db


def _status_changes(domain_events) -> list[dict]:
    """The payloads of `booking.status_changed` published, in order."""
    return [payload for name, payload in domain_events if name == "booking.status_changed"]


def test_allowed_transition_updates_the_row_writes_history_and_announces_after_commit(
    domain_events, django_capture_on_commit_callbacks
):
    booking = BookingFactory(status=BookingStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        result = transition(
            machine=BOOKING_MACHINE,
            instance=booking,
            to=BookingStatus.CANCELLED,
            actor=booking.customer,
            note="changed my mind",
        )
        assert _status_changes(domain_events) == []  # nothing leaves before the commit
    assert result is booking and booking.status == BookingStatus.CANCELLED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    row = BookingStatusHistory.objects.get(booking=booking)
    assert (row.from_status, row.to_status, row.actor, row.note) == (
        "pending",
        "cancelled",
        booking.customer,
        "changed my mind",
    )
    assert _status_changes(domain_events) == [
        {
            "booking_id": booking.pk,
            "from_status": "pending",
            "to_status": "cancelled",
            "actor_id": booking.customer.pk,
        }
    ]


def test_undeclared_edge_is_a_409_and_changes_nothing(
    domain_events, django_capture_on_commit_callbacks
):
    booking = BookingFactory(status=BookingStatus.PENDING)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InvalidTransition) as excinfo,
    ):
        transition(
            machine=BOOKING_MACHINE, instance=booking, to=BookingStatus.COMPLETED, actor=None
        )
    assert excinfo.value.status_code == 409
    assert excinfo.value.code == "invalid_transition"
    assert excinfo.value.message == "A booking cannot go from pending to completed."
    assert excinfo.value.extra == {"from": "pending", "to": "completed"}
    assert callbacks == [] and _status_changes(domain_events) == []
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    assert not BookingStatusHistory.objects.exists()


def test_a_declared_guard_refuses_with_its_own_code():
    booking = BookingFactory(status=BookingStatus.PENDING, deposit_paid=False)
    with pytest.raises(DepositNotPaid):
        transition(
            machine=BOOKING_MACHINE,
            instance=booking,
            to=BookingStatus.ACCEPTED,
            actor=booking.technician,
        )
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    assert not BookingStatusHistory.objects.exists()


def test_role_guard_refuses_the_wrong_party():
    booking = BookingFactory(status=BookingStatus.IN_PROGRESS)
    with pytest.raises(InvalidTransition, match="You may not move this booking"):
        transition(
            machine=BOOKING_MACHINE,
            instance=booking,
            to=BookingStatus.COMPLETED,
            actor=booking.customer,
        )
    assert not BookingStatusHistory.objects.exists()


def test_a_stale_copy_is_a_409(domain_events, django_capture_on_commit_callbacks):
    booking = BookingFactory(status=BookingStatus.PENDING)
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(InvalidTransition, match="changed meanwhile"),
    ):
        transition(
            machine=BOOKING_MACHINE,
            instance=booking,
            to=BookingStatus.CANCELLED,
            actor=booking.customer,
        )
    assert _status_changes(domain_events) == []
    assert not BookingStatusHistory.objects.exists()


def test_fields_expect_and_call_time_guards():
    dispute = DisputeFactory()
    seen = []

    def record(ctx):
        seen.append((ctx.instance.pk, ctx.from_status, ctx.to_status))

    transition(
        machine=DISPUTE_MACHINE,
        instance=dispute,
        to=DisputeStatus.UNDER_REVIEW,
        fields={"resolution_notes": "looking"},
        expect={"booking_id": dispute.booking_id},
        guards=(Guard(name="recorded", check=record),),
    )
    assert seen == [(dispute.pk, "open", "under_review")]
    assert Dispute.objects.values_list("status", "resolution_notes").get(pk=dispute.pk) == (
        "under_review",
        "looking",
    )

    def refuse(ctx):
        raise ApplicationError("no", code="refused_here", status_code=409)

    with pytest.raises(ApplicationError) as excinfo:
        transition(
            machine=DISPUTE_MACHINE,
            instance=dispute,
            to=DisputeStatus.RESOLVED,
            guards=(Guard(name="refuse", check=refuse),),
        )
    assert excinfo.value.code == "refused_here"
    with pytest.raises(InvalidTransition, match="changed meanwhile"):
        transition(
            machine=DISPUTE_MACHINE,
            instance=dispute,
            to=DisputeStatus.RESOLVED,
            expect={"booking_id": dispute.booking_id + 1},
        )
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.UNDER_REVIEW
    assert list(DisputeStatusHistory.objects.values_list("from_status", "to_status")) == [
        ("open", "under_review")
    ]


def test_a_refusal_inside_the_callers_transaction_leaves_it_usable():
    dispute = DisputeFactory()
    with transaction.atomic():
        with pytest.raises(InvalidTransition):
            transition(
                machine=DISPUTE_MACHINE,
                instance=dispute,
                to=DisputeStatus.RESOLVED,
                expect={"booking_id": -1},
            )
        transition(machine=DISPUTE_MACHINE, instance=dispute, to=DisputeStatus.RESOLVED)
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.RESOLVED


def test_history_append_records_a_creation_row():
    dispute = DisputeFactory()
    status_history_append(
        machine=DISPUTE_MACHINE, instance=dispute, from_status="", to_status="open", note="opened"
    )
    row = DisputeStatusHistory.objects.get(dispute=dispute)
    assert (row.from_status, row.to_status, row.actor, row.note) == ("", "open", None, "opened")


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="not declared"):
        StateMachine(label="x", model=Dispute, transitions={"a": {"b"}})
    with pytest.raises(ValueError, match="undeclared edge"):
        StateMachine(
            label="x",
            model=Dispute,
            transitions={"a": {"b"}, "b": set()},
            guards={("b", "a"): (Guard(name="g", check=lambda ctx: None),)},
        )
    with pytest.raises(ValueError, match="history_fk"):
        StateMachine(
            label="x", model=Dispute, transitions={"a": set()}, history_model=DisputeStatusHistory
        )


def test_every_registered_machine_declares_every_status_of_its_field():
    for machine in registered_machines():
        choices = machine.model._meta.get_field(machine.field).choices
        assert sorted(machine.statuses) == sorted(value for value, _ in choices), machine.label


@pytest.mark.django_db(transaction=True)
def test_the_row_lock_serialises_two_changes_the_second_sees_the_first():
    """A holds the lock (its change not committed yet); B, with the same stale copy, waits for A's commit
    and is then refused: one change, one history row."""
    booking = BookingFactory(status=BookingStatus.PENDING)
    a_locked = threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():
                copy = Booking.objects.get(pk=booking.pk)
                transition(
                    machine=BOOKING_MACHINE,
                    instance=copy,
                    to=BookingStatus.CANCELLED,
                    actor=copy.customer,
                )
                a_locked.set()
                time.sleep(0.5)
        finally:
            connection.close()

    def second():
        try:
            a_locked.wait(5)
            copy = Booking.objects.get(pk=booking.pk)
            copy.status = BookingStatus.PENDING  # what B read before A committed
            started = time.monotonic()
            try:
                transition(
                    machine=BOOKING_MACHINE,
                    instance=copy,
                    to=BookingStatus.CANCELLED,
                    actor=copy.customer,
                )
                outcome["b"] = "changed"
            except InvalidTransition:
                outcome["b"] = "refused"
            outcome["waited"] = time.monotonic() - started
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome["b"] == "refused"
    assert outcome["waited"] >= 0.3  # it queued on A's lock instead of reading around it
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
    assert BookingStatusHistory.objects.filter(booking_id=booking.pk).count() == 1


# --- transition_many: the bulk form for sweeps ----------------------------------------------------------------

# The booking machine without its role guards: guarded edges cannot be swept.
UNGUARDED_BOOKING_MACHINE = dataclasses.replace(BOOKING_MACHINE, guards={})


def test_transition_many_moves_the_rows_still_in_the_source_status(
    domain_events, django_capture_on_commit_callbacks
):
    pending = BookingFactory.create_batch(3, status=BookingStatus.PENDING)
    cancelled = BookingFactory(status=BookingStatus.CANCELLED)
    pks = [b.pk for b in (*pending, cancelled)]
    with django_capture_on_commit_callbacks(execute=True):
        moved = transition_many(
            machine=UNGUARDED_BOOKING_MACHINE,
            pks=pks,
            from_status=BookingStatus.PENDING,
            to=BookingStatus.EXPIRED,
            note="swept",
        )
        assert _status_changes(domain_events) == []  # nothing leaves before the commit
    assert moved == sorted(b.pk for b in pending)
    assert dict(Booking.objects.filter(pk__in=pks).values_list("pk", "status")) == {
        **{b.pk: BookingStatus.EXPIRED for b in pending},
        cancelled.pk: BookingStatus.CANCELLED,
    }
    rows = BookingStatusHistory.objects.filter(booking_id__in=pks).order_by("booking_id")
    assert [(r.booking_id, r.from_status, r.to_status, r.actor, r.note) for r in rows] == [
        (pk, "pending", "expired", None, "swept") for pk in moved
    ]
    assert _status_changes(domain_events) == [
        {"booking_id": pk, "from_status": "pending", "to_status": "expired", "actor_id": None}
        for pk in moved
    ]


def test_transition_many_refuses_undeclared_and_guarded_edges():
    booking = BookingFactory(status=BookingStatus.PENDING)
    with pytest.raises(InvalidTransition):
        transition_many(
            machine=UNGUARDED_BOOKING_MACHINE,
            pks=[booking.pk],
            from_status=BookingStatus.CANCELLED,
            to=BookingStatus.PENDING,
        )
    with pytest.raises(ValueError, match="guarded"):
        transition_many(
            machine=BOOKING_MACHINE,
            pks=[booking.pk],
            from_status=BookingStatus.PENDING,
            to=BookingStatus.EXPIRED,
        )
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    assert not BookingStatusHistory.objects.filter(booking=booking).exists()


@pytest.mark.django_db(transaction=True)
def test_transition_many_with_skip_locked_leaves_a_row_another_transaction_holds():
    held, free = BookingFactory.create_batch(2, status=BookingStatus.PENDING)
    locked = threading.Event()
    release = threading.Event()

    def holder():
        try:
            with transaction.atomic():
                Booking.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(5)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(5)
        moved = transition_many(
            machine=UNGUARDED_BOOKING_MACHINE,
            pks=[held.pk, free.pk],
            from_status=BookingStatus.PENDING,
            to=BookingStatus.EXPIRED,
            skip_locked=True,
        )
    finally:
        release.set()
        thread.join()
    assert moved == [free.pk]
    assert Booking.objects.get(pk=held.pk).status == BookingStatus.PENDING
    assert list(BookingStatusHistory.objects.values_list("booking_id", flat=True)) == [free.pk]
