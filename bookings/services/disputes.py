"""Disputes: opened by a party on a completed/confirmed booking, reviewed and resolved by staff.

The outcome (release to technician, full refund, partial refund with amount) and the amount it refunds are
recorded here; the payments work executes it when it receives `dispute.resolved` (README "Disputes: every
outcome in every state").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import rules
from bookings.errors import (
    DisputeAlreadyOpen,
    DisputeWindowClosed,
    InvalidBooking,
    InvalidDisputeResolution,
)
from bookings.models import (
    DISPUTE_MACHINE,
    Booking,
    BookingStatus,
    Dispute,
    DisputeNote,
    DisputeOutcome,
    DisputeStatus,
)
from bookings.services.bookings import booking_transition, lock_booking
from dumuwaks.core import events
from dumuwaks.core.errors import Forbidden, InvalidTransition
from dumuwaks.core.money import to_decimal
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from payments.selectors.balances import booking_refundable

DISPUTABLE_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CONFIRMED)


def dispute_open(
    *, booking: Booking, opened_by, reason: str, evidence=(), window_applies: bool = True
) -> Dispute:
    """A party opens a dispute within rules.DISPUTE_WINDOW of completion; the booking becomes disputed.

    `window_applies=False` only for the workmanship guarantee (bookings.services.guarantee): a failed or
    declined return visit is disputed whenever it happens, the claim's own window having been checked."""
    if not (reason or "").strip():
        raise InvalidBooking(fields={"reason": ["Describe the problem."]})
    window = rules.DISPUTE_WINDOW
    now = timezone.now()
    with transaction.atomic():
        locked = lock_booking(booking.pk)
        if opened_by is None or opened_by.pk not in (locked.customer_id, locked.technician_id):
            raise Forbidden("Only the customer or the technician of a booking can dispute it.")
        if locked.status not in DISPUTABLE_STATUSES:
            raise InvalidTransition(f"A {locked.status} booking cannot be disputed.")
        if window_applies and (locked.completed_at is None or now - locked.completed_at > window):
            raise DisputeWindowClosed()
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    booking=locked,
                    opened_by=opened_by,
                    reason=reason.strip(),
                    evidence=list(evidence or []),
                    currency=locked.currency,
                )
        except IntegrityError as exc:
            raise DisputeAlreadyOpen() from exc
        status_history_append(
            machine=DISPUTE_MACHINE,
            instance=dispute,
            from_status="",
            to_status=DisputeStatus.OPEN,
            actor=opened_by,
        )
        booking_transition(
            booking=locked, to=BookingStatus.DISPUTED, actor=opened_by, note=reason.strip()
        )
        publish_after_commit(events.DisputeOpened(dispute_id=dispute.pk, booking_id=locked.pk))
    return dispute


def dispute_transition(
    *, dispute: Dispute, to: str, actor, note: str = "", updates: dict | None = None
) -> Dispute:
    """Status change of a dispute (DISPUTE_MACHINE) with its history row."""
    return transition(
        machine=DISPUTE_MACHINE, instance=dispute, to=to, actor=actor, note=note, fields=updates
    )


def dispute_add_note(*, dispute: Dispute, author, body: str) -> DisputeNote:
    """Staff note; the first note moves an open dispute to under_review."""
    if not is_staff_member(author):
        raise Forbidden("Only support staff can add dispute notes.")
    if not (body or "").strip():
        raise InvalidBooking(fields={"body": ["The note is empty."]})
    with transaction.atomic():
        note = DisputeNote.objects.create(dispute=dispute, author=author, body=body.strip())
        if dispute.status == DisputeStatus.OPEN:
            dispute_transition(
                dispute=dispute, to=DisputeStatus.UNDER_REVIEW, actor=author, note="Review started."
            )
    return note


def _refund_for_outcome(outcome: str, refund_amount, booking: Booking) -> Decimal | None:
    """The amount the outcome refunds, as stored on the dispute (what settlement moves). Caller holds the
    booking lock, so no payment is credited or refunded meanwhile.

    A partial refund needs a whole number of shillings above 0 and at most what the customer paid and was
    not refunded; a full refund is all of that (computed here); release refunds nothing. Only a partial
    refund takes an amount.
    """
    if outcome != DisputeOutcome.PARTIAL_REFUND and refund_amount not in (None, ""):
        raise InvalidDisputeResolution(
            fields={"refund_amount": ["Only a partial refund takes an amount."]}
        )
    if outcome == DisputeOutcome.RELEASE_TO_TECHNICIAN:
        return None
    refundable = booking_refundable(booking_id=booking.pk)
    if outcome == DisputeOutcome.FULL_REFUND:
        return refundable or None
    try:
        amount = to_decimal(refund_amount)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None:
        raise InvalidDisputeResolution(
            fields={"refund_amount": ["A partial refund needs the amount to refund."]}
        )
    if amount <= 0 or amount != amount.to_integral():
        raise InvalidDisputeResolution(
            fields={"refund_amount": ["A refund is a whole number of shillings above 0."]}
        )
    if amount > refundable:
        raise InvalidDisputeResolution(
            fields={
                "refund_amount": [
                    f"At most {refundable} {booking.currency}: what the customer paid for this "
                    "booking and was not refunded."
                ]
            }
        )
    return amount


def dispute_resolve(
    *, dispute: Dispute, actor, outcome: str, refund_amount=None, notes: str = ""
) -> Dispute:
    """Staff record the outcome; the booking goes disputed -> resolved; `dispute.resolved` is published."""
    if not is_staff_member(actor):
        raise Forbidden("Only support staff can resolve disputes.")
    if outcome not in DisputeOutcome.values:
        raise InvalidDisputeResolution(fields={"outcome": ["Unknown outcome."]})
    with transaction.atomic():
        booking = lock_booking(dispute.booking_id)
        # Resolutions of one booking's dispute queue on its lock: a second one sees the first's outcome
        # (409) before its refund is checked against money the first may have moved.
        dispute.refresh_from_db(fields=["status"])
        if not DISPUTE_MACHINE.allows(dispute.status, DisputeStatus.RESOLVED):
            raise InvalidTransition(f"A {dispute.status} dispute cannot be resolved.")
        amount = _refund_for_outcome(outcome, refund_amount, booking)
        now = timezone.now()
        dispute_transition(
            dispute=dispute,
            to=DisputeStatus.RESOLVED,
            actor=actor,
            note=notes,
            updates={
                "outcome": outcome,
                "refund_amount": amount,
                "resolved_by": actor,
                "resolved_at": now,
                "resolution_notes": notes or "",
            },
        )
        if booking.status == BookingStatus.DISPUTED:
            booking_transition(
                booking=booking,
                to=BookingStatus.RESOLVED,
                actor=actor,
                note=f"Dispute resolved: {outcome}.",
            )
        publish_after_commit(events.DisputeResolved(dispute_id=dispute.pk, booking_id=booking.pk))
    dispute.resolved_by_id = actor.pk
    return dispute
