"""Booking lifecycle: create, edit, the ONE status transition service, deposit, cancel, timers.

Lock order (see STYLE.md): booking -> payment -> escrow -> payout. Everything here locks only the booking.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ServiceCategory, TechnicianProfile
from bookings import rules
from bookings.errors import (
    BookingNotEditable,
    BookingNotFound,
    CustomersOnly,
    InvalidBooking,
    RescheduleRequiresProposal,
    SlotTaken,
    TechnicianNotEligible,
    TechnicianUnavailable,
)
from bookings.models import (
    BOOKING_MACHINE,
    TRACKING_STATUSES,
    Booking,
    BookingProposal,
    BookingStatus,
    ProposalKind,
    ProposalStatus,
    Urgency,
)
from bookings.numbering import next_booking_number
from bookings.pricing import MIN_BOOKING_PRICE, MIN_BOOKING_PRICE_MESSAGE, price_breakdown
from bookings.selectors import (
    REASON_BOOKED,
    REASON_OUTSIDE_HOURS,
    REASON_TIME_OFF,
    stale_pending_q,
    technician_can_take_category,
    technician_unavailability_reason,
)
from bookings.services.cancellation import cancellation_fee_for
from bookings.services.tracking import booking_tracking_end_after_commit
from dumuwaks.core import events
from dumuwaks.core.money import to_decimal
from dumuwaks.core.side_effects import publish_after_commit
from dumuwaks.core.state_machine import Guard, TransitionContext, status_history_append, transition
from social.services.media import media_resolve_refs

MIN_DURATION_MINUTES = 30
MAX_DURATION_MINUTES = 12 * 60
MAX_PRICE = Decimal("1000000")
MAX_ATTACHMENTS = 10
EDITABLE_STATUSES = (BookingStatus.PENDING, BookingStatus.ACCEPTED)
OVERLAP_CONSTRAINT = "booking_technician_no_overlap"

_UNAVAILABLE_MESSAGES = {
    REASON_BOOKED: "The technician already has a booking in this time slot.",
    REASON_TIME_OFF: "The technician is off at this time.",
    REASON_OUTSIDE_HOURS: "This time slot is outside the technician's working hours.",
}


def is_slot_overlap_violation(exc: IntegrityError) -> bool:
    """True when `exc` is the database refusing a technician two bookings at overlapping times."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == OVERLAP_CONSTRAINT


def lock_booking(booking_id: int) -> Booking:
    """Re-read the booking with a row lock. Caller must be inside `transaction.atomic()`."""
    try:
        return Booking.objects.select_for_update(of=("self",)).get(pk=booking_id)
    except Booking.DoesNotExist:
        raise BookingNotFound() from None


def validate_technician_for_slot(*, technician, category_id, start, end, exclude_booking_id=None):
    """Refuse a technician not approved for the category or not free from `start` to `end` (booked, off,
    outside working hours); `exclude_booking_id` is the booking being moved."""
    if not technician_can_take_category(technician=technician, category_id=category_id):
        raise TechnicianNotEligible(
            "This technician is not approved for this service category.",
        )
    reason = technician_unavailability_reason(
        technician=technician, start=start, end=end, exclude_booking_id=exclude_booking_id
    )
    if reason == REASON_BOOKED:
        raise SlotTaken()
    if reason is not None:
        raise TechnicianUnavailable(_UNAVAILABLE_MESSAGES[reason], extra={"reason": reason})


def validate_booking_slot(*, scheduled_start: datetime, duration_minutes: int, now: datetime):
    """Refuse (`InvalidBooking`, per field) a start that is naive or not in the future, or a duration
    outside MIN_DURATION_MINUTES..MAX_DURATION_MINUTES."""
    fields = {}
    if timezone.is_naive(scheduled_start):
        fields["scheduled_start"] = ["Give the time with its timezone."]
    elif scheduled_start <= now:
        fields["scheduled_start"] = ["The booking must start in the future."]
    if not MIN_DURATION_MINUTES <= int(duration_minutes) <= MAX_DURATION_MINUTES:
        fields["duration_minutes"] = [
            f"Duration must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} minutes."
        ]
    if fields:
        raise InvalidBooking(fields=fields)


def _attachments_from_uploads(*, customer, refs) -> list[dict]:
    """The customer's own live uploads named by `refs` ({"public_id": ...}), as a booking stores them.
    A bare link, someone else's, a deleted or an unknown upload: InvalidMediaRefs (400 `invalid_media`),
    the rule of posts, reviews and chat."""
    assets = media_resolve_refs(
        owner=customer, refs=refs, limit=MAX_ATTACHMENTS, field="attachments"
    )
    return [
        {"url": asset.delivery_url, "public_id": asset.public_id, "type": asset.resource_type}
        for asset in assets
    ]


def booking_create(
    *,
    customer,
    category: ServiceCategory,
    title: str,
    description: str = "",
    urgency: str = Urgency.NORMAL,
    address: str,
    county: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    scheduled_start: datetime,
    duration_minutes: int,
    price,
    technician=None,
    attachments=(),
) -> Booking:
    """Create a pending booking awaiting its deposit (and a technician, unless one was chosen).
    `attachments`: references to the customer's own uploads ({"public_id": ...})."""
    now = timezone.now()
    if not getattr(customer, "is_customer", False):
        raise CustomersOnly()
    fields = {}
    if not category.is_active:
        fields["category"] = ["This service category is not offered."]
    if urgency not in Urgency.values:
        fields["urgency"] = ["Unknown urgency."]
    if not (title or "").strip():
        fields["title"] = ["A title is required."]
    if not (address or "").strip():
        fields["address"] = ["An address is required."]
    price = to_decimal(price)
    if price < MIN_BOOKING_PRICE:
        fields["price"] = [MIN_BOOKING_PRICE_MESSAGE]
    elif price > MAX_PRICE:
        fields["price"] = [f"Price must be at most {MAX_PRICE}."]
    if fields:
        raise InvalidBooking(fields=fields)
    validate_booking_slot(
        scheduled_start=scheduled_start, duration_minutes=duration_minutes, now=now
    )
    attachments = _attachments_from_uploads(customer=customer, refs=attachments)
    scheduled_end = scheduled_start + timedelta(minutes=int(duration_minutes))
    if technician is not None:
        validate_technician_for_slot(
            technician=technician, category_id=category.pk, start=scheduled_start, end=scheduled_end
        )

    amounts = price_breakdown(price)
    payment_window = rules.PAYMENT_WINDOW
    with transaction.atomic():
        try:
            with transaction.atomic():
                booking = Booking.objects.create(
                    number=next_booking_number(now),
                    customer=customer,
                    technician=technician,
                    category=category,
                    title=title.strip(),
                    description=description or "",
                    urgency=urgency,
                    address=address.strip(),
                    county=county or "",
                    latitude=latitude,
                    longitude=longitude,
                    scheduled_start=scheduled_start,
                    scheduled_end=scheduled_end,
                    attachments=attachments,
                    price=amounts.price,
                    deposit_amount=amounts.deposit,
                    balance_amount=amounts.balance,
                    platform_fee=amounts.platform_fee,
                    technician_share=amounts.technician_share,
                    currency=amounts.currency,
                    status=BookingStatus.PENDING,
                    payment_due_at=now + payment_window,
                )
        except IntegrityError as exc:
            if is_slot_overlap_violation(exc):
                raise SlotTaken() from exc
            raise
        status_history_append(
            machine=BOOKING_MACHINE,
            instance=booking,
            from_status="",
            to_status=BookingStatus.PENDING,
            actor=customer,
        )
        publish_after_commit(events.BookingCreated(booking_id=booking.pk))
    return booking


_EDITABLE_FIELDS = (
    "title",
    "description",
    "urgency",
    "address",
    "county",
    "latitude",
    "longitude",
    "attachments",
)


def booking_update(
    *,
    booking: Booking,
    actor,
    scheduled_start: datetime | None = None,
    duration_minutes: int | None = None,
    **changes,
) -> Booking:
    """The customer edits details while the booking is pending/accepted, and its time while pending.

    An accepted booking's time changes only by agreement (bookings.services.agreements): a different
    `scheduled_start`/`duration_minutes` is 409 `reschedule_requires_proposal`. A reschedule re-checks the assigned technician's availability (and the overlap constraint decides races).
    `attachments`, when given, replaces the list: references to the customer's own uploads.
    """
    unknown = set(changes) - set(_EDITABLE_FIELDS)
    if unknown:
        raise InvalidBooking(fields={name: ["This field cannot be changed."] for name in unknown})
    now = timezone.now()
    with transaction.atomic():
        locked = lock_booking(booking.pk)
        if actor is None or actor.pk != locked.customer_id:
            raise BookingNotEditable("Only the customer who booked can change the booking.")
        if locked.status not in EDITABLE_STATUSES:
            raise BookingNotEditable()
        if "urgency" in changes and changes["urgency"] not in Urgency.values:
            raise InvalidBooking(fields={"urgency": ["Unknown urgency."]})
        for name in ("title", "address"):
            if name in changes and not (changes[name] or "").strip():
                raise InvalidBooking(fields={name: ["This field may not be blank."]})
        if "attachments" in changes:
            changes["attachments"] = _attachments_from_uploads(
                customer=actor, refs=changes["attachments"]
            )
        for name, value in changes.items():
            if value is None and name not in ("latitude", "longitude"):
                value = ""
            setattr(locked, name, value)
        if scheduled_start is not None or duration_minutes is not None:
            start = scheduled_start or locked.scheduled_start
            minutes = (
                duration_minutes
                if duration_minutes is not None
                else int((locked.scheduled_end - locked.scheduled_start).total_seconds() // 60)
            )
            validate_booking_slot(scheduled_start=start, duration_minutes=minutes, now=now)
            end = start + timedelta(minutes=int(minutes))
            moves = start != locked.scheduled_start or end != locked.scheduled_end
            if moves and locked.status != BookingStatus.PENDING:
                # The technician agreed to this slot: only an accepted reschedule proposal moves it.
                raise RescheduleRequiresProposal(
                    RescheduleRequiresProposal.message.replace("{id}", str(locked.pk))
                )
            if locked.technician_id is not None and moves:
                validate_technician_for_slot(
                    technician=locked.technician,
                    category_id=locked.category_id,
                    start=start,
                    end=end,
                    exclude_booking_id=locked.pk,
                )
            locked.scheduled_start, locked.scheduled_end = start, end
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as exc:
            if is_slot_overlap_violation(exc):
                raise SlotTaken() from exc
            raise
    return locked


def booking_transition(
    *, booking: Booking, to: str, actor, note: str = "", updates: dict | None = None
) -> Booking:
    """The ONE way a booking changes status (BOOKING_MACHINE). `actor=None` is the system (timers).

    The core transition checks the (from, to) pair, the actor's role and the deposit against the locked row
    (409 when someone else moved it first); this adds what each step stamps, checks that an open job's
    technician may take the slot, and counts a confirmed job. `updates` are extra columns set in the same
    UPDATE.
    """
    now = timezone.now()
    values: dict = dict(updates or {})
    expect: dict = {}
    guards: tuple[Guard, ...] = ()
    if to == BookingStatus.ACCEPTED:
        expect["technician_id"] = booking.technician_id
        if booking.technician_id is None:
            values["technician"] = actor
            guards = (Guard(name="technician may take the slot", check=_technician_takes_slot),)
        values["accepted_at"] = now
    elif to == BookingStatus.PENDING:  # a decline: the job goes back to the pool
        expect["technician_id"] = booking.technician_id
        values.update(technician=None, accepted_at=None)
    elif to == BookingStatus.IN_PROGRESS:
        values["started_at"] = now
    elif to == BookingStatus.COMPLETED:
        values["completed_at"] = now
    elif to == BookingStatus.CONFIRMED:
        values["confirmed_at"] = now
    elif to == BookingStatus.CANCELLED:
        values.setdefault("cancelled_at", now)
        values.setdefault("cancelled_by", actor)

    from_status = booking.status
    with transaction.atomic():
        try:
            transition(
                machine=BOOKING_MACHINE,
                instance=booking,
                to=to,
                actor=actor,
                note=note,
                fields=values,
                expect=expect,
                guards=guards,
            )
        except IntegrityError as exc:
            if is_slot_overlap_violation(exc):
                raise SlotTaken() from exc
            raise
        if from_status in TRACKING_STATUSES and to not in TRACKING_STATUSES:
            booking_tracking_end_after_commit(booking_id=booking.pk, status=to)
        if to == BookingStatus.CONFIRMED and booking.technician_id:
            TechnicianProfile.objects.filter(user_id=booking.technician_id).update(
                jobs_completed=F("jobs_completed") + 1
            )
    return booking


def _technician_takes_slot(ctx: TransitionContext) -> None:
    """An open job accepted: the accepting technician must serve the category and be free then."""
    booking = ctx.instance
    validate_technician_for_slot(
        technician=ctx.actor,
        category_id=booking.category_id,
        start=booking.scheduled_start,
        end=booking.scheduled_end,
    )


def booking_mark_deposit_paid(*, booking_id: int, paid_at: datetime | None = None) -> Booking:
    """Record that the deposit arrived. Idempotent: a replay changes nothing and publishes nothing.

    Recorded even if the booking has meanwhile expired or been cancelled (the money did arrive); the payments
    work refunds it in that case.
    """
    with transaction.atomic():
        booking = lock_booking(booking_id)
        if booking.deposit_paid_at is not None:
            return booking
        booking.deposit_paid_at = paid_at or timezone.now()
        booking.save(update_fields=["deposit_paid_at", "updated_at"])
        publish_after_commit(events.BookingDepositPaid(booking_id=booking.pk))
        _accept_quoted_if_paid(booking)
    return booking


def _accept_quoted_if_paid(booking: Booking) -> bool:
    """The customer accepted a quote before paying the deposit (bookings.services.agreements): now that it
    is paid, the quoting technician's acceptance takes effect. Caller holds the booking lock."""
    if booking.status != BookingStatus.PENDING or booking.technician_id is None:
        return False
    quote = (
        BookingProposal.objects.filter(
            booking=booking,
            kind=ProposalKind.QUOTE,
            status=ProposalStatus.ACCEPTED,
            proposed_by_id=booking.technician_id,
            price_after=booking.price,
        )
        .select_related("proposed_by")
        .order_by("-decided_at")
        .first()
    )
    if quote is None:
        return False
    booking_transition(
        booking=booking,
        to=BookingStatus.ACCEPTED,
        actor=quote.proposed_by,
        note=f"Quote {quote.pk} accepted by the customer and the deposit paid.",
    )
    return True


def booking_cancel(*, booking: Booking, actor, reason: str) -> Booking:
    """Cancel with the fee from `cancellation_fee_for`; a technician/staff cancel counts against the technician."""
    if not (reason or "").strip():
        raise InvalidBooking(fields={"reason": ["Say why the booking is cancelled."]})
    now = timezone.now()
    with transaction.atomic():
        locked = lock_booking(
            booking.pk
        )  # act on the fresh state: the map decides what is possible
        fee = cancellation_fee_for(booking=locked, cancelled_by=actor, at=now)
        booking_transition(
            booking=locked,
            to=BookingStatus.CANCELLED,
            actor=actor,
            note=reason.strip(),
            updates={
                "cancellation_reason": reason.strip(),
                "cancellation_fee": fee,
                "cancelled_at": now,
                "cancelled_by": actor,
            },
        )
        against_technician = (
            locked.technician_id is not None
            and actor is not None
            and actor.pk != locked.customer_id
        )
        if against_technician:
            TechnicianProfile.objects.filter(user_id=locked.technician_id).update(
                jobs_cancelled_by_technician=F("jobs_cancelled_by_technician") + 1
            )
    return locked


def booking_expire_if_stale(*, booking_id: int) -> bool:
    """Timer: expire a pending booking that was not paid in time or not accepted in time. Re-checks state."""
    now = timezone.now()
    accept_timeout = rules.ACCEPT_TIMEOUT
    with transaction.atomic():
        stale = (
            Booking.objects.select_for_update()
            .filter(stale_pending_q(now, accept_timeout), pk=booking_id)
            .first()
        )
        if stale is None:
            return False
        note = (
            "Deposit not paid in time."
            if stale.deposit_paid_at is None
            else "No technician accepted in time."
        )
        booking_transition(booking=stale, to=BookingStatus.EXPIRED, actor=None, note=note)
    return True


def booking_auto_confirm_if_due(*, booking_id: int) -> bool:
    """Timer: confirm a completed booking nobody confirmed or disputed within rules.AUTO_CONFIRM_AFTER."""
    now = timezone.now()
    after = rules.AUTO_CONFIRM_AFTER
    with transaction.atomic():
        due = (
            Booking.objects.select_for_update()
            .filter(pk=booking_id, status=BookingStatus.COMPLETED, completed_at__lte=now - after)
            .first()
        )
        if due is None:
            return False
        booking_transition(
            booking=due,
            to=BookingStatus.CONFIRMED,
            actor=None,
            note="Confirmed automatically: no confirmation or dispute within the confirmation period.",
        )
    return True
