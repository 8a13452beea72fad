"""Workmanship guarantee: a customer reports a confirmed job's fix failed; the same technician returns for free
(README "Workmanship guarantee").

- The booking's customer opens a claim within GUARANTEE_WINDOW of confirmation (409
  `guarantee_window_closed`), with a description and optional photos (their own uploads). One claim per
  booking, ever (409 `guarantee_claim_exists`): it covers one return visit, after that a dispute decides.
- The technician of the job answers before `respond_by` (GUARANTEE_RESPONSE_WINDOW): accept with a slot (the
  claim becomes `scheduled`; the slot is checked against their bookings, time off and hours, and two
  scheduled visits of one technician never overlap: 409 `slot_taken`) or decline with a reason. No answer in
  time counts as declined (beat job `bookings.guarantee_claims_process_due`).
- Until the visit starts the customer may withdraw the claim (`withdrawn`, final: the guarantee was used;
  a scheduled visit's slot is freed). A withdrawn claim does not count in the technician's return-visit rate.
- After the visit starts the customer confirms it fixed the problem (`fixed`) or reports it failed
  (`failed`); a customer who says nothing within GUARANTEE_VISIT_REPORT_WINDOW after the visit ends is taken
  to be satisfied (`fixed`, by the same beat job).
- Declined or failed: a dispute on the original booking is opened in the same transaction, by the customer,
  with the claim's description and photos as evidence (`dispute_open`), so the dispute outcomes (refund ...)
  apply. If the booking is already disputed, the claim is linked to that open dispute instead.

Every step (the claim's opening included) publishes `booking.guarantee_claim_changed` after commit:
notifications tells the party who has to act or whose claim moved, and both parties get the live event.

The return visit is not a booking and carries no money: no deposit, balance, fee or payout is ever asked for
it. Lock order: booking (-> claim row, through the core `transition`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import rules
from bookings.errors import (
    GuaranteeClaimExists,
    GuaranteeClaimNotAllowed,
    GuaranteeClaimNotFound,
    GuaranteeWindowClosed,
    InvalidBooking,
    NotGuaranteeParty,
    SlotTaken,
    TechnicianUnavailable,
)
from bookings.models import (
    GUARANTEE_CLAIM_MACHINE,
    Booking,
    BookingStatus,
    Dispute,
    DisputeStatus,
    GuaranteeClaim,
    GuaranteeClaimStatus,
)
from bookings.selectors import (
    REASON_BOOKED,
    guarantee_claim_ids_due,
    technician_unavailability_reason,
)
from bookings.services.bookings import (
    is_slot_overlap_violation,
    lock_booking,
    validate_booking_slot,
)
from bookings.services.disputes import DISPUTABLE_STATUSES, dispute_open
from dumuwaks.core import events
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from social.services.media import media_resolve_refs

# Product rules (README "Workmanship guarantee").
MAX_GUARANTEE_PHOTOS = 10
MAX_GUARANTEE_TEXT = 2000

_S = GuaranteeClaimStatus


def _text(value: str, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidBooking(fields={field: [message]})
    if len(text) > MAX_GUARANTEE_TEXT:
        raise InvalidBooking(
            fields={field: [f"Ensure this field has no more than {MAX_GUARANTEE_TEXT} characters."]}
        )
    return text


def _claim_transition(*, claim: GuaranteeClaim, to: str, actor, note: str = "", **fields):
    return transition(
        machine=GUARANTEE_CLAIM_MACHINE,
        instance=claim,
        to=to,
        actor=actor,
        note=note[:1000],
        fields=fields,
    )


def _claim_locked(booking: Booking, claim_id: int) -> GuaranteeClaim:
    """The booking locked (the lock every step of a claim takes first), then its claim read under that lock:
    404 `guarantee_claim_not_found` when the booking has no such claim. Caller is inside a transaction."""
    lock_booking(booking.pk)
    claim = GuaranteeClaim.objects.filter(pk=claim_id, booking_id=booking.pk).first()
    if claim is None:
        raise GuaranteeClaimNotFound()
    return claim


def guarantee_claim_open(
    *, booking: Booking, customer, description: str, photos=()
) -> GuaranteeClaim:
    """The booking's customer reports the fix failed, within rules.GUARANTEE_WINDOW of confirmation."""
    description = _text(description, "description", "Describe what is wrong again.")
    if customer is None or customer.pk != booking.customer_id:
        raise NotGuaranteeParty("Only the customer of the job can claim the guarantee.")
    assets = media_resolve_refs(
        owner=customer, refs=photos, limit=MAX_GUARANTEE_PHOTOS, field="photos"
    )
    refs = [
        {"url": a.delivery_url, "public_id": a.public_id, "type": a.resource_type} for a in assets
    ]
    now = timezone.now()
    with transaction.atomic():
        locked = lock_booking(booking.pk)
        if GuaranteeClaim.objects.filter(booking_id=locked.pk).exists():
            raise GuaranteeClaimExists()
        if locked.status != BookingStatus.CONFIRMED or locked.technician_id is None:
            raise GuaranteeWindowClosed(
                f"Only a confirmed job is under guarantee; this booking is {locked.status}."
            )
        if locked.confirmed_at is None or now - locked.confirmed_at > rules.GUARANTEE_WINDOW:
            raise GuaranteeWindowClosed()
        try:
            with transaction.atomic():
                claim = GuaranteeClaim.objects.create(
                    booking=locked,
                    customer_id=locked.customer_id,
                    technician_id=locked.technician_id,
                    description=description,
                    photos=refs,
                    respond_by=now + rules.GUARANTEE_RESPONSE_WINDOW,
                )
        except IntegrityError as exc:  # a concurrent claim on the same booking won
            raise GuaranteeClaimExists() from exc
        status_history_append(
            machine=GUARANTEE_CLAIM_MACHINE,
            instance=claim,
            from_status="",
            to_status=_S.OPEN,
            actor=customer,
            note=description[:1000],
        )
        # The other steps are announced by `transition`; the claim's creation is not one.
        publish_after_commit(
            events.GuaranteeClaimChanged(
                claim_id=claim.pk, from_status="", to_status=_S.OPEN, actor_id=customer.pk
            )
        )
    return claim


def _claim_to_answer(
    *, booking: Booking, claim_id: int, technician, now: datetime
) -> GuaranteeClaim:
    """The claim the job's technician accepts or declines, locked (see `_claim_locked`): only that
    technician, only while it is open and before `respond_by`."""
    claim = _claim_locked(booking, claim_id)
    if technician is None or technician.pk != claim.technician_id:
        raise NotGuaranteeParty("Only the technician who did the job can answer the claim.")
    if claim.status != _S.OPEN:
        raise GuaranteeClaimNotAllowed(f"This claim is {claim.status}; it was answered already.")
    if claim.respond_by <= now:
        raise GuaranteeClaimNotAllowed("The time to answer this claim has passed.")
    return claim


def _require_customer(claim: GuaranteeClaim, customer, message: str) -> None:
    if customer is None or customer.pk != claim.customer_id:
        raise NotGuaranteeParty(message)


def _customer_close(*, claim: GuaranteeClaim, to: str, customer, note: str, now: datetime):
    """The customer ends the claim without a dispute (`fixed`, `withdrawn`); their note is its outcome."""
    return _claim_transition(
        claim=claim, to=to, actor=customer, note=note, outcome_note=note, closed_at=now
    )


def guarantee_claim_accept(
    *,
    booking: Booking,
    claim_id: int,
    technician,
    visit_start: datetime,
    duration_minutes: int | None = None,
) -> GuaranteeClaim:
    """The job's technician offers a return visit in a slot they are free (no charge)."""
    now = timezone.now()
    if duration_minutes is None:
        duration_minutes = int(
            (booking.scheduled_end - booking.scheduled_start).total_seconds() // 60
        )
    validate_booking_slot(scheduled_start=visit_start, duration_minutes=duration_minutes, now=now)
    visit_end = visit_start + timedelta(minutes=int(duration_minutes))
    with transaction.atomic():
        claim = _claim_to_answer(booking=booking, claim_id=claim_id, technician=technician, now=now)
        reason = technician_unavailability_reason(
            technician=technician, start=visit_start, end=visit_end
        )
        if reason == REASON_BOOKED:
            raise SlotTaken()
        if reason is not None:
            raise TechnicianUnavailable(
                "You are not available then (time off or outside working hours).",
                extra={"reason": reason},
            )
        try:
            _claim_transition(
                claim=claim,
                to=_S.SCHEDULED,
                actor=technician,
                note=f"Return visit {visit_start.isoformat()}",
                visit_start=visit_start,
                visit_end=visit_end,
            )
        except IntegrityError as exc:
            if is_slot_overlap_violation(exc):
                raise SlotTaken("You already have a return visit at this time.") from exc
            raise
    return claim


def _dispute_for(claim: GuaranteeClaim, booking: Booking, reason: str) -> Dispute | None:
    """Open the dispute a declined or failed claim becomes (caller holds the booking lock), or link the one
    already open. None when the booking was already settled otherwise (e.g. a resolved dispute)."""
    evidence = list(claim.photos or [])
    if booking.status in DISPUTABLE_STATUSES:
        customer = claim.customer
        return dispute_open(
            booking=booking,
            opened_by=customer,
            reason=reason,
            evidence=evidence,
            window_applies=False,
        )
    return (
        Dispute.objects.filter(booking_id=booking.pk)
        .exclude(status=DisputeStatus.RESOLVED)
        .order_by("-id")
        .first()
    )


def _close_into_dispute(
    *, booking: Booking, claim: GuaranteeClaim, to: str, actor, note: str, reason: str, **fields
) -> GuaranteeClaim:
    locked = lock_booking(booking.pk)
    _claim_transition(
        claim=claim, to=to, actor=actor, note=note, closed_at=timezone.now(), **fields
    )
    dispute = _dispute_for(claim, locked, reason)
    if dispute is not None:
        GuaranteeClaim.objects.filter(pk=claim.pk).update(dispute=dispute)
        claim.dispute = dispute
    return claim


def _dispute_reason(claim: GuaranteeClaim, what: str) -> str:
    return f"Workmanship guarantee: {what}\n\nThe customer's report: {claim.description}"


def guarantee_claim_decline(
    *, booking: Booking, claim_id: int, technician, reason: str
) -> GuaranteeClaim:
    """The job's technician declines the return visit; the claim becomes a dispute."""
    reason = _text(reason, "reason", "Say why you decline the return visit.")
    now = timezone.now()
    with transaction.atomic():
        claim = _claim_to_answer(booking=booking, claim_id=claim_id, technician=technician, now=now)
        return _close_into_dispute(
            booking=booking,
            claim=claim,
            to=_S.DECLINED,
            actor=technician,
            note=reason,
            reason=_dispute_reason(claim, f"the technician declined a return visit ({reason})."),
            decline_reason=reason,
        )


def guarantee_claim_report(
    *, booking: Booking, claim_id: int, customer, fixed: bool, note: str = ""
) -> GuaranteeClaim:
    """After the return visit started, the customer says whether it fixed the problem. Failed: dispute."""
    note = (note or "").strip()[:MAX_GUARANTEE_TEXT]
    now = timezone.now()
    with transaction.atomic():
        claim = _claim_locked(booking, claim_id)
        _require_customer(
            claim, customer, "Only the customer of the job reports on the return visit."
        )
        if claim.status != _S.SCHEDULED:
            raise GuaranteeClaimNotAllowed(f"This claim is {claim.status}, not a scheduled visit.")
        if claim.visit_start > now:
            raise GuaranteeClaimNotAllowed("The return visit has not started yet.")
        if fixed:
            return _customer_close(claim=claim, to=_S.FIXED, customer=customer, note=note, now=now)
        if not note:
            raise InvalidBooking(fields={"note": ["Say what is still wrong."]})
        return _close_into_dispute(
            booking=booking,
            claim=claim,
            to=_S.FAILED,
            actor=customer,
            note=note,
            reason=_dispute_reason(claim, f"the return visit did not fix it ({note})."),
            outcome_note=note,
        )


def guarantee_claim_withdraw(
    *, booking: Booking, claim_id: int, customer, note: str = ""
) -> GuaranteeClaim:
    """The customer takes the claim back (the problem went away, they found another way) while it waits for
    an answer or for the return visit; a scheduled visit's slot is freed. Once the visit started they report
    on it instead (`guarantee_claim_report`)."""
    note = (note or "").strip()[:MAX_GUARANTEE_TEXT]
    now = timezone.now()
    with transaction.atomic():
        claim = _claim_locked(booking, claim_id)
        _require_customer(claim, customer, "Only the customer of the job can withdraw the claim.")
        if claim.status not in (_S.OPEN, _S.SCHEDULED):
            raise GuaranteeClaimNotAllowed(f"This claim is {claim.status}; it cannot be withdrawn.")
        if claim.status == _S.SCHEDULED and claim.visit_start <= now:
            raise GuaranteeClaimNotAllowed(
                "The return visit has started: say whether it fixed the problem instead."
            )
        return _customer_close(claim=claim, to=_S.WITHDRAWN, customer=customer, note=note, now=now)


def guarantee_claim_process_if_due(*, claim_id: int, now: datetime | None = None) -> str | None:
    """Beat job step for one claim: unanswered past `respond_by` -> declined (+ dispute); a scheduled
    visit the customer did not report on within rules.GUARANTEE_VISIT_REPORT_WINDOW -> fixed. Returns the new
    status, None when nothing was due (another step won, or it is not due)."""
    now = now or timezone.now()
    claim = GuaranteeClaim.objects.filter(pk=claim_id).select_related("booking").first()
    if claim is None:
        return None
    with transaction.atomic():
        booking = lock_booking(claim.booking_id)
        claim.refresh_from_db()
        if claim.status == _S.OPEN and claim.respond_by <= now:
            _close_into_dispute(
                booking=booking,
                claim=claim,
                to=_S.DECLINED,
                actor=None,
                note="The technician did not answer in time.",
                reason=_dispute_reason(claim, "the technician did not answer the claim in time."),
                decline_reason="No answer in time.",
            )
            return _S.DECLINED
        if (
            claim.status == _S.SCHEDULED
            and claim.visit_end is not None
            and claim.visit_end + rules.GUARANTEE_VISIT_REPORT_WINDOW <= now
        ):
            _claim_transition(
                claim=claim,
                to=_S.FIXED,
                actor=None,
                note="The customer did not report a problem after the return visit.",
                closed_at=now,
            )
            return _S.FIXED
    return None


def guarantee_claims_process_due(*, now: datetime | None = None) -> int:
    """Every claim due for the beat job (see `guarantee_claim_process_if_due`); returns how many moved."""
    now = now or timezone.now()
    moved = 0
    for claim_id in guarantee_claim_ids_due(
        now=now, visit_report_window=rules.GUARANTEE_VISIT_REPORT_WINDOW
    ):
        if guarantee_claim_process_if_due(claim_id=claim_id, now=now):
            moved += 1
    return moved
