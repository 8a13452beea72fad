"""Agreements on a booking: reschedule proposals, quotes and change orders (README "Bookings: agreements").

One party proposes, the other accepts or declines before `expires_at`; only an accepted proposal changes the
booking. Every step is a `BookingProposalHistory` row and publishes `booking.proposal_changed` after commit
(a live event to both parties and a notification to the one who has to act or hear about it).

- Reschedule: either party of an `accepted` booking proposes a new slot with a reason; the other accepts
  (the booking moves, the slot exclusion constraint deciding races: 409 `slot_taken`) or declines.
- Quote: on a `pending` booking the assigned technician (or, for an open job, any technician who may take it)
  offers a price instead of accepting at the asked one; the customer accepting it is the technician's
  acceptance at that price (`booking_transition` to accepted, actor the technician) once the deposit is
  paid; before that the booking is repriced (deposit 20 % of the quote), assigned to the technician and
  accepted automatically when the deposit arrives (`booking_accept_quoted_if_paid`).
- Change order: during work (accepted, en route, in progress) the assigned technician proposes a signed
  price change with a note and optional photos (their own uploads); the customer approves or rejects.

Money follows an accepted price through `bookings.pricing.price_change_breakdown` (deposit kept, balance the
rest; a price below the paid deposit refunds the excess from escrow under `proposal:<id>:refund`).

One open proposal of a kind per booking (per technician for quotes): a new one supersedes the open one
(whoever made it: a counter-proposal). Answering again with the same answer returns the proposal unchanged
(a retried request); any other step on an answered proposal is 409 `proposal_not_open`.
Lock order: booking (-> payment -> escrow -> payout), taken first by every write here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import rules
from bookings.errors import (
    DepositPaymentOpen,
    InvalidBooking,
    NotProposalAuthor,
    NotProposalCounterparty,
    ProposalExpired,
    ProposalNotAllowed,
    ProposalNotFound,
    ProposalNotOpen,
    ProposalOutdated,
    SlotTaken,
    TechniciansOnly,
)
from bookings.models import (
    PROPOSAL_MACHINE,
    Booking,
    BookingProposal,
    BookingStatus,
    ProposalKind,
    ProposalStatus,
)
from bookings.pricing import MIN_BOOKING_PRICE, MIN_BOOKING_PRICE_MESSAGE, price_change_breakdown
from bookings.selectors import (
    REASON_BOOKED,
    expirable_proposal_ids,
    technician_unavailability_reason,
)
from bookings.services.bookings import (
    MAX_PRICE,
    booking_transition,
    is_slot_overlap_violation,
    lock_booking,
    validate_booking_slot,
    validate_technician_for_slot,
)
from dumuwaks.core import events
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.idempotency import IdempotencyKeyReused
from dumuwaks.core.money import to_decimal
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import status_history_append, transition
from payments.models import ACTIVE_PAYMENT_STATUSES, Payment, PaymentPurpose
from payments.services.escrow import escrow_refund_price_reduction
from social.services.media import media_resolve_refs

# How long the other party has to answer (capped by the booking's start: after it the question is moot).
RESCHEDULE_RESPONSE_WINDOW = timedelta(hours=24)
QUOTE_RESPONSE_WINDOW = timedelta(hours=24)
CHANGE_ORDER_RESPONSE_WINDOW = timedelta(hours=24)
MAX_REASON_LENGTH = 1000
MAX_CHANGE_ORDER_PHOTOS = 10

# Booking statuses in which a proposal of each kind can be made and accepted; outside them an open proposal
# expires (the beat job, or lazily when someone answers it).
PROPOSAL_BOOKING_STATUSES = {
    ProposalKind.RESCHEDULE: (BookingStatus.ACCEPTED,),
    ProposalKind.QUOTE: (BookingStatus.PENDING,),
    ProposalKind.CHANGE_ORDER: (
        BookingStatus.ACCEPTED,
        BookingStatus.EN_ROUTE,
        BookingStatus.ARRIVED,
        BookingStatus.IN_PROGRESS,
    ),
}
_IDEMPOTENCY_CONSTRAINT = "proposal_idempotency_key_unique"


# --- steps shared by every kind ---------------------------------------------------------------------------------


def _proposal_transition(
    *, proposal: BookingProposal, to: str, actor, note: str = "", **fields
) -> BookingProposal:
    """The core transition (row lock, PROPOSAL_MACHINE, history row, `booking.proposal_changed` after
    commit). Caller holds the booking lock and has checked the proposal is open."""
    return transition(
        machine=PROPOSAL_MACHINE,
        instance=proposal,
        to=to,
        actor=actor,
        note=note[:1000],
        fields=fields,
    )


def counterparty_ids(proposal: BookingProposal, booking: Booking) -> list[int]:
    """Who answers: the customer, except for a reschedule the customer proposed (then the technician)."""
    if proposal.kind == ProposalKind.RESCHEDULE and proposal.proposed_by_id == booking.customer_id:
        return [booking.technician_id] if booking.technician_id else []
    return [booking.customer_id]


def _expired_reason(proposal: BookingProposal, booking: Booking, now: datetime) -> str | None:
    if proposal.expires_at <= now:
        return "Not answered in time."
    if booking.status not in PROPOSAL_BOOKING_STATUSES[proposal.kind]:
        return f"The booking is {booking.status} now."
    if proposal.kind == ProposalKind.QUOTE and booking.technician_id not in (
        None,
        proposal.proposed_by_id,
    ):
        return "Another technician took the job."
    return None


def _deadline(*, now: datetime, window: timedelta, booking: Booking, start=None) -> datetime:
    limits = [now + window, booking.scheduled_start]
    if start is not None:
        limits.append(start)
    return min(limits)


def _reason(value: str, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidBooking(fields={field: ["This field may not be blank."]})
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidBooking(
            fields={field: [f"Ensure this field has no more than {MAX_REASON_LENGTH} characters."]}
        )
    return text


def _replayed(*, actor, idempotency_key: str | None, booking: Booking, kind: str):
    """The proposal this key already created (same booking and kind), else None; 409 for another one."""
    if not idempotency_key:
        return None
    existing = BookingProposal.objects.filter(
        proposed_by=actor, idempotency_key=idempotency_key
    ).first()
    if existing is not None and (existing.booking_id != booking.pk or existing.kind != kind):
        raise IdempotencyKeyReused()
    return existing


def _create(
    *, booking: Booking, actor, kind: str, idempotency_key: str | None, check, fields: dict
) -> tuple[BookingProposal, bool]:
    """Insert the proposal under the booking lock after `check(locked_booking)` (raises when not allowed),
    superseding the open one it replaces. Returns (proposal, created); a repeated key returns the first."""
    existing = _replayed(actor=actor, idempotency_key=idempotency_key, booking=booking, kind=kind)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            locked = lock_booking(booking.pk)
            extra = check(locked) or {}
            replaced = BookingProposal.objects.filter(
                booking=locked, kind=kind, status=ProposalStatus.OPEN
            )
            if kind == ProposalKind.QUOTE:
                replaced = replaced.filter(proposed_by=actor)
            for old in replaced.select_for_update():
                _proposal_transition(
                    proposal=old,
                    to=ProposalStatus.SUPERSEDED,
                    actor=actor,
                    note="Replaced by a newer proposal.",
                )
            proposal = BookingProposal.objects.create(
                booking=locked,
                kind=kind,
                proposed_by=actor,
                currency=locked.currency,
                idempotency_key=idempotency_key or None,
                **fields,
                **extra,
            )
            status_history_append(
                machine=PROPOSAL_MACHINE,
                instance=proposal,
                from_status="",
                to_status=ProposalStatus.OPEN,
                actor=actor,
                note=proposal.reason[:1000],
            )
            # Announced like every later step (the machine's event and payload).
            publish_after_commit(
                events.BookingProposalChanged(
                    proposal_id=proposal.pk,
                    from_status="",
                    to_status=str(ProposalStatus.OPEN),
                    actor_id=actor.pk,
                )
            )
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint != _IDEMPOTENCY_CONSTRAINT:
            raise
        # The same request twice at once: the first one's proposal is the answer.
        return _replayed(
            actor=actor, idempotency_key=idempotency_key, booking=booking, kind=kind
        ), False
    return proposal, True


def _locked_proposal(booking: Booking, proposal_id: int, kind: str) -> BookingProposal:
    proposal = (
        BookingProposal.objects.select_for_update()
        .filter(pk=proposal_id, booking_id=booking.pk, kind=kind)
        .first()
    )
    if proposal is None:
        raise ProposalNotFound()
    return proposal


def _answer(
    *, booking: Booking, proposal_id: int, kind: str, actor, to: str, note: str = "", apply=None
) -> BookingProposal:
    """Accept/decline (the counterparty) or withdraw (the author) a proposal, under the booking lock.

    The same answer repeated by the same person returns the proposal unchanged. A proposal past its deadline
    (or whose booking moved on) is marked expired (committed) and 409 `proposal_expired` answered.
    `apply(locked_booking, proposal)` makes an acceptance's change to the booking, in the same transaction.
    """
    now = timezone.now()
    expired = False
    with transaction.atomic():
        locked = lock_booking(booking.pk)
        proposal = _locked_proposal(locked, proposal_id, kind)
        if to == ProposalStatus.WITHDRAWN:
            if proposal.proposed_by_id != actor.pk:
                raise NotProposalAuthor()
        elif actor.pk not in counterparty_ids(proposal, locked):
            raise NotProposalCounterparty()
        if proposal.status == to and (proposal.decided_by_id == actor.pk):
            return proposal  # a retried answer: nothing more happens
        if proposal.status != ProposalStatus.OPEN:
            raise ProposalNotOpen(extra={"status": proposal.status})
        reason = _expired_reason(proposal, locked, now)
        if reason is not None and to != ProposalStatus.WITHDRAWN:
            _proposal_transition(
                proposal=proposal, to=ProposalStatus.EXPIRED, actor=None, note=reason
            )
            expired = True
        else:
            fields = {"decided_by": actor, "decided_at": now}
            if to == ProposalStatus.ACCEPTED:
                fields.update(apply(locked, proposal) or {})
            _proposal_transition(proposal=proposal, to=to, actor=actor, note=note, **fields)
    if expired:
        raise ProposalExpired(extra={"status": ProposalStatus.EXPIRED})
    return proposal


def proposal_decline(
    *, booking: Booking, proposal_id: int, kind: str, actor, note: str = ""
) -> BookingProposal:
    """The counterparty says no (a change order's "reject"). The booking stays as it was."""
    return _answer(
        booking=booking,
        proposal_id=proposal_id,
        kind=kind,
        actor=actor,
        to=ProposalStatus.DECLINED,
        note=(note or "").strip()[:MAX_REASON_LENGTH],
    )


def proposal_withdraw(*, booking: Booking, proposal_id: int, kind: str, actor) -> BookingProposal:
    """The author takes an open proposal back."""
    return _answer(
        booking=booking,
        proposal_id=proposal_id,
        kind=kind,
        actor=actor,
        to=ProposalStatus.WITHDRAWN,
        note="Withdrawn by the author.",
    )


def proposal_accept(*, booking: Booking, proposal_id: int, kind: str, actor) -> BookingProposal:
    """The counterparty agrees (a change order's "approve"): the booking changes as proposed."""
    apply = {
        ProposalKind.RESCHEDULE: _apply_reschedule,
        ProposalKind.QUOTE: _apply_quote,
        ProposalKind.CHANGE_ORDER: _apply_change_order,
    }[kind]
    return _answer(
        booking=booking,
        proposal_id=proposal_id,
        kind=kind,
        actor=actor,
        to=ProposalStatus.ACCEPTED,
        apply=apply,
    )


def proposal_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat: expire open proposals whose deadline passed or whose booking moved on. Each under its booking's
    lock, re-checked there; returns how many expired."""
    now = now or timezone.now()
    candidates = expirable_proposal_ids(
        now=now, booking_statuses=PROPOSAL_BOOKING_STATUSES, limit=limit
    )
    expired = 0
    for proposal_id, booking_id in candidates:
        with transaction.atomic():
            booking = lock_booking(booking_id)
            proposal = (
                BookingProposal.objects.select_for_update()
                .filter(pk=proposal_id, status=ProposalStatus.OPEN)
                .first()
            )
            reason = proposal and _expired_reason(proposal, booking, now)
            if reason:
                _proposal_transition(
                    proposal=proposal, to=ProposalStatus.EXPIRED, actor=None, note=reason
                )
                expired += 1
    return expired


# --- reschedule -------------------------------------------------------------------------------------------------


def reschedule_propose(
    *,
    booking: Booking,
    actor,
    scheduled_start: datetime,
    duration_minutes: int | None = None,
    reason: str,
    idempotency_key: str | None = None,
) -> tuple[BookingProposal, bool]:
    """Either party of an accepted booking proposes a new slot (the same length unless
    `duration_minutes`). 409 `slot_taken` when the technician already has a booking then."""
    reason = _reason(reason, "reason")
    now = timezone.now()

    def check(locked: Booking):
        if actor.pk not in (locked.customer_id, locked.technician_id):
            raise NotProposalCounterparty(
                "Only the customer or the assigned technician can do this."
            )
        if locked.status not in PROPOSAL_BOOKING_STATUSES[ProposalKind.RESCHEDULE]:
            raise ProposalNotAllowed("Only an accepted booking is rescheduled by agreement.")
        minutes = duration_minutes or int(
            (locked.scheduled_end - locked.scheduled_start).total_seconds() // 60
        )
        validate_booking_slot(scheduled_start=scheduled_start, duration_minutes=minutes, now=now)
        end = scheduled_start + timedelta(minutes=int(minutes))
        if (scheduled_start, end) == (locked.scheduled_start, locked.scheduled_end):
            raise InvalidBooking(
                fields={"scheduled_start": ["The booking is already at this time."]}
            )
        reason_busy = technician_unavailability_reason(
            technician=locked.technician,
            start=scheduled_start,
            end=end,
            exclude_booking_id=locked.pk,
        )
        if reason_busy == REASON_BOOKED:
            raise SlotTaken()
        return {
            "proposed_end": end,
            "previous_start": locked.scheduled_start,
            "previous_end": locked.scheduled_end,
            "expires_at": _deadline(
                now=now, window=RESCHEDULE_RESPONSE_WINDOW, booking=locked, start=scheduled_start
            ),
        }

    return _create(
        booking=booking,
        actor=actor,
        kind=ProposalKind.RESCHEDULE,
        idempotency_key=idempotency_key,
        check=check,
        fields={"reason": reason, "proposed_start": scheduled_start},
    )


def _apply_reschedule(booking: Booking, proposal: BookingProposal) -> dict:
    if proposal.proposed_start <= timezone.now():
        raise ProposalOutdated("The proposed time has passed; propose a new one.")
    try:
        with transaction.atomic():
            moved = Booking.objects.filter(pk=booking.pk, status=booking.status).update(
                scheduled_start=proposal.proposed_start,
                scheduled_end=proposal.proposed_end,
                updated_at=timezone.now(),
            )
    except IntegrityError as exc:
        if is_slot_overlap_violation(exc):
            raise SlotTaken() from exc
        raise
    if not moved:  # cannot happen under the booking lock
        raise InvalidTransition("The booking changed in the meantime; reload and try again.")
    booking.scheduled_start, booking.scheduled_end = proposal.proposed_start, proposal.proposed_end
    return {}


# --- quotes -----------------------------------------------------------------------------------------------------


def _valid_price(value, field: str) -> Decimal:
    price = to_decimal(value)
    if price < MIN_BOOKING_PRICE:
        raise InvalidBooking(fields={field: [MIN_BOOKING_PRICE_MESSAGE]})
    if price > MAX_PRICE:
        raise InvalidBooking(fields={field: [f"Price must be at most {MAX_PRICE}."]})
    return price


def quote_create(
    *, booking: Booking, technician, price, note: str, idempotency_key: str | None = None
) -> tuple[BookingProposal, bool]:
    """A technician answers a pending request with a price instead of accepting at the asked one: the
    assigned technician, or for an open job any technician approved for its category and free then."""
    if not getattr(technician, "is_technician", False):
        raise TechniciansOnly()
    note = _reason(note, "note")
    price = _valid_price(price, "price")
    now = timezone.now()

    def check(locked: Booking):
        if locked.status not in PROPOSAL_BOOKING_STATUSES[ProposalKind.QUOTE]:
            raise ProposalNotAllowed("Only a booking nobody has accepted yet can be quoted.")
        if locked.technician_id not in (None, technician.pk):
            raise ProposalNotAllowed("This booking is assigned to another technician.")
        if locked.scheduled_start <= now:
            raise ProposalNotAllowed("The booking's time has passed.")
        if locked.technician_id is None:
            validate_technician_for_slot(
                technician=technician,
                category_id=locked.category_id,
                start=locked.scheduled_start,
                end=locked.scheduled_end,
            )
        return {
            "price_before": locked.price,
            "expires_at": _deadline(now=now, window=QUOTE_RESPONSE_WINDOW, booking=locked),
        }

    return _create(
        booking=booking,
        actor=technician,
        kind=ProposalKind.QUOTE,
        idempotency_key=idempotency_key,
        check=check,
        fields={"reason": note, "price_after": price, "amount": None},
    )


def _deposit_payment_open(booking: Booking) -> bool:
    return Payment.objects.filter(
        booking=booking, purpose=PaymentPurpose.DEPOSIT, status__in=ACTIVE_PAYMENT_STATUSES
    ).exists()


def _price_columns(amounts) -> dict:
    return {
        "price": amounts.price,
        "deposit_amount": amounts.deposit,
        "balance_amount": amounts.balance,
        "platform_fee": amounts.platform_fee,
        "technician_share": amounts.technician_share,
    }


def _apply_quote(booking: Booking, proposal: BookingProposal) -> dict:
    """The customer takes the quote. Caller holds the booking lock; `_expired_reason` was checked."""
    technician = proposal.proposed_by
    if booking.price != proposal.price_before:
        raise ProposalOutdated()
    others = BookingProposal.objects.select_for_update().filter(
        booking=booking, kind=ProposalKind.QUOTE, status=ProposalStatus.OPEN
    )
    if booking.deposit_paid_at is not None:
        change = price_change_breakdown(
            proposal.price_after, deposit_held=booking.deposit_amount, currency=booking.currency
        )
        booking_transition(
            booking=booking,
            to=BookingStatus.ACCEPTED,
            actor=technician,
            note=f"Quote {proposal.pk} accepted by the customer: {booking.currency}"
            f" {change.amounts.price}.",
            updates=_price_columns(change.amounts),
        )
        _refund_excess(booking, proposal, change.refund)
    else:
        if _deposit_payment_open(booking):
            raise DepositPaymentOpen()
        # Repriced, the deposit 20 % of the quote, and assigned: the slot is the technician's from now
        # (exclusion constraint); accepted automatically once the deposit arrives.
        change = price_change_breakdown(proposal.price_after, deposit_held=None)
        columns = {
            **_price_columns(change.amounts),
            "payment_due_at": timezone.now() + rules.PAYMENT_WINDOW,
            "updated_at": timezone.now(),
        }
        guard = {"pk": booking.pk, "status": BookingStatus.PENDING}
        if booking.technician_id is None:
            validate_technician_for_slot(
                technician=technician,
                category_id=booking.category_id,
                start=booking.scheduled_start,
                end=booking.scheduled_end,
            )
            columns["technician"] = technician
            guard["technician__isnull"] = True
        try:
            with transaction.atomic():
                updated = Booking.objects.filter(**guard).update(**columns)
        except IntegrityError as exc:
            if is_slot_overlap_violation(exc):
                raise SlotTaken() from exc
            raise
        if not updated:
            raise InvalidTransition("The booking changed in the meantime; reload and try again.")
    for other in others.exclude(pk=proposal.pk):
        _proposal_transition(
            proposal=other,
            to=ProposalStatus.SUPERSEDED,
            actor=booking.customer,
            note=f"The customer accepted quote {proposal.pk}.",
        )
    return {"refund_amount": change.refund}


# --- change orders ----------------------------------------------------------------------------------------------


def change_order_create(
    *,
    booking: Booking,
    technician,
    amount,
    note: str,
    photos=(),
    idempotency_key: str | None = None,
) -> tuple[BookingProposal, bool]:
    """The assigned technician proposes a price change during work (`amount` signed: extra parts or labour
    raise it, a smaller job lowers it). The new price stays within MIN_BOOKING_PRICE..MAX_PRICE.
    `photos`: references to the technician's own uploads."""
    note = _reason(note, "note")
    amount = to_decimal(amount)
    if amount == 0:
        raise InvalidBooking(fields={"amount": ["A change order changes the price: not 0."]})
    if amount != amount.quantize(Decimal(1)):
        raise InvalidBooking(fields={"amount": ["Whole shillings only."]})
    existing = _replayed(
        actor=technician,
        idempotency_key=idempotency_key,
        booking=booking,
        kind=ProposalKind.CHANGE_ORDER,
    )
    if existing is not None:
        return existing, False
    assets = media_resolve_refs(
        owner=technician, refs=photos, limit=MAX_CHANGE_ORDER_PHOTOS, field="photos"
    )
    refs = [
        {"url": a.delivery_url, "public_id": a.public_id, "type": a.resource_type} for a in assets
    ]
    now = timezone.now()

    def check(locked: Booking):
        if technician.pk != locked.technician_id:
            raise NotProposalCounterparty("Only the assigned technician can propose a change.")
        if locked.status not in PROPOSAL_BOOKING_STATUSES[ProposalKind.CHANGE_ORDER]:
            raise ProposalNotAllowed("A change order is for a job being worked on.")
        new_price = _valid_price(locked.price + amount, "amount")
        return {
            "price_before": locked.price,
            "price_after": new_price,
            "expires_at": now + CHANGE_ORDER_RESPONSE_WINDOW,
        }

    return _create(
        booking=booking,
        actor=technician,
        kind=ProposalKind.CHANGE_ORDER,
        idempotency_key=idempotency_key,
        check=check,
        fields={"reason": note, "amount": amount, "photos": refs},
    )


def _apply_change_order(booking: Booking, proposal: BookingProposal) -> dict:
    if booking.price != proposal.price_before:
        raise ProposalOutdated()
    change = price_change_breakdown(
        proposal.price_after, deposit_held=booking.deposit_amount, currency=booking.currency
    )
    Booking.objects.filter(pk=booking.pk).update(
        **_price_columns(change.amounts), updated_at=timezone.now()
    )
    for name, value in _price_columns(change.amounts).items():
        setattr(booking, name, value)
    _refund_excess(booking, proposal, change.refund)
    return {"refund_amount": change.refund}


def _refund_excess(booking: Booking, proposal: BookingProposal, refund: Decimal) -> None:
    """The agreed price fell below the paid deposit: the excess goes back (payments' refund path)."""
    if refund <= 0:
        return
    escrow_refund_price_reduction(
        booking=booking, amount=refund, reference=f"proposal:{proposal.pk}:refund"
    )
