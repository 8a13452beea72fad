from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models

from bookings.errors import DepositNotPaid
from dumuwaks.core import events
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.models import StatusHistory, TimeStampedModel
from dumuwaks.core.money import CurrencyField, MoneyField
from dumuwaks.core.permissions import is_staff_member
from dumuwaks.core.state_machine import Guard, StateMachine, TransitionContext, register


class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EN_ROUTE = "en_route", "Technician en route"
    ARRIVED = "arrived", "Technician arrived"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    DISPUTED = "disputed", "Disputed"
    RESOLVED = "resolved", "Resolved"


# Statuses in which a technician is committed to the slot (the exclusion constraint applies to these).
ACTIVE_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.ACCEPTED,
    BookingStatus.EN_ROUTE,
    BookingStatus.ARRIVED,
    BookingStatus.IN_PROGRESS,
)

# Statuses in which the assigned technician is travelling to (or waiting at) the job: the only ones in which
# their live position is accepted and shown (bookings/services/tracking.py).
TRACKING_STATUSES = (BookingStatus.EN_ROUTE, BookingStatus.ARRIVED)


class TransitionRole(models.TextChoices):
    """Who may ask for a status change; `system` is a timer (actor None)."""

    CUSTOMER = "customer", "Customer"
    TECHNICIAN = "technician", "Technician"
    STAFF = "staff", "Support/admin"
    SYSTEM = "system", "System timer"


_C, _T, _S, _SYS = (
    TransitionRole.CUSTOMER,
    TransitionRole.TECHNICIAN,
    TransitionRole.STAFF,
    TransitionRole.SYSTEM,
)
_B = BookingStatus

# The booking workflow: (from, to) -> roles allowed to make that change (BOOKING_MACHINE below is built from
# it). pending -> pending is a technician *declining*: the technician is cleared and the job goes back to the pool.
# en_route -> in_progress stays allowed beside en_route -> arrived -> in_progress: app versions released before
# the `arrived` step start the work straight from en route, and refusing them would strand those jobs.
BOOKING_TRANSITION_ROLES: dict[tuple[str, str], frozenset[str]] = {
    (_B.PENDING, _B.ACCEPTED): frozenset({_T}),
    (_B.PENDING, _B.PENDING): frozenset({_T}),
    (_B.PENDING, _B.CANCELLED): frozenset({_C, _T, _S}),
    (_B.PENDING, _B.EXPIRED): frozenset({_SYS}),
    (_B.ACCEPTED, _B.PENDING): frozenset({_T}),
    (_B.ACCEPTED, _B.EN_ROUTE): frozenset({_T}),
    (_B.ACCEPTED, _B.CANCELLED): frozenset({_C, _T, _S}),
    (_B.EN_ROUTE, _B.ARRIVED): frozenset({_T}),
    (_B.EN_ROUTE, _B.IN_PROGRESS): frozenset({_T}),
    (_B.EN_ROUTE, _B.CANCELLED): frozenset({_C, _T, _S}),
    (_B.ARRIVED, _B.IN_PROGRESS): frozenset({_T}),
    (_B.ARRIVED, _B.CANCELLED): frozenset({_C, _T, _S}),
    (_B.IN_PROGRESS, _B.COMPLETED): frozenset({_T}),
    (_B.COMPLETED, _B.CONFIRMED): frozenset({_C, _SYS}),
    (_B.COMPLETED, _B.DISPUTED): frozenset({_C, _T}),
    (_B.CONFIRMED, _B.DISPUTED): frozenset({_C, _T}),
    (_B.DISPUTED, _B.RESOLVED): frozenset({_S}),
}


class Urgency(models.TextChoices):
    NORMAL = "normal", "Normal"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Booking(TimeStampedModel):
    """A job: a customer asks for a service at a place and time; a technician takes it and does it.

    Money amounts are whole shillings fixed at creation by `bookings.pricing.price_breakdown`.
    Status changes only through `bookings.services.booking_transition`.
    """

    number = models.CharField(max_length=20, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_bookings",
    )
    category = models.ForeignKey(
        "accounts.ServiceCategory", on_delete=models.PROTECT, related_name="bookings"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)

    address = models.CharField(max_length=255)
    county = models.CharField(max_length=64, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    attachments = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )

    price = MoneyField()
    deposit_amount = MoneyField()
    balance_amount = MoneyField()
    platform_fee = MoneyField()
    technician_share = MoneyField()
    currency = CurrencyField()

    status = models.CharField(
        max_length=16, choices=BookingStatus.choices, default=BookingStatus.PENDING
    )
    deposit_paid_at = models.DateTimeField(null=True, blank=True)
    payment_due_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    completion_notes = models.TextField(blank=True)
    completion_photos = models.JSONField(default=list, blank=True)

    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancellation_reason = models.TextField(blank=True)
    cancellation_fee = MoneyField(default=0)

    class Meta:
        ordering = ["-scheduled_start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BookingStatus.values), name="booking_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(scheduled_end__gt=models.F("scheduled_start")),
                name="booking_slot_ordered",
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="booking_price_positive"),
            models.CheckConstraint(
                condition=models.Q(
                    deposit_amount__gte=0,
                    balance_amount__gte=0,
                    cancellation_fee__gte=0,
                ),
                name="booking_amounts_non_negative",
            ),
            # A technician never holds two active bookings whose [start, end) slots overlap; the database
            # decides, so two concurrent requests cannot both win (needs btree_gist, migration 0002).
            ExclusionConstraint(
                name="booking_technician_no_overlap",
                expressions=[
                    ("technician", RangeOperators.EQUAL),
                    (
                        TsTzRange("scheduled_start", "scheduled_end", RangeBoundary()),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=models.Q(status__in=ACTIVE_STATUSES, technician__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["technician", "status"]),
            models.Index(fields=["status", "scheduled_start"]),
        ]

    def __str__(self):
        return self.number


class BookingStatusHistory(StatusHistory):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="status_history")

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "booking status history"

    def __str__(self):
        return f"{self.booking_id}: {self.from_status or '-'} -> {self.to_status}"


def actor_transition_roles(actor, booking: Booking, to: str) -> set[str]:
    """The roles `actor` holds for moving `booking` to `to`; None is the system (timers)."""
    if actor is None:
        return {TransitionRole.SYSTEM}
    roles = set()
    if is_staff_member(actor):
        roles.add(TransitionRole.STAFF)
    if actor.pk == booking.customer_id:
        roles.add(TransitionRole.CUSTOMER)
    if actor.pk == booking.technician_id:
        roles.add(TransitionRole.TECHNICIAN)
    elif (
        booking.technician_id is None
        and to == BookingStatus.ACCEPTED
        and getattr(actor, "is_technician", False)
    ):
        roles.add(TransitionRole.TECHNICIAN)  # an open job: the service checks eligibility
    return roles


def _roles_guard(roles: frozenset[str]) -> Guard:
    def check(ctx: TransitionContext) -> None:
        if not actor_transition_roles(ctx.actor, ctx.instance, ctx.to_status) & roles:
            raise InvalidTransition(
                f"You may not move this booking from {ctx.from_status} to {ctx.to_status}."
            )

    return Guard(name="by " + ", ".join(sorted(str(r) for r in roles)), check=check)


def _deposit_paid(ctx: TransitionContext) -> None:
    if ctx.instance.deposit_paid_at is None:
        raise DepositNotPaid()


def _booking_guards() -> dict[tuple[str, str], tuple[Guard, ...]]:
    guards = {edge: (_roles_guard(roles),) for edge, roles in BOOKING_TRANSITION_ROLES.items()}
    accept = (BookingStatus.PENDING, BookingStatus.ACCEPTED)
    guards[accept] += (Guard(name="deposit paid (409 deposit_not_paid)", check=_deposit_paid),)
    return guards


BOOKING_MACHINE = register(
    StateMachine(
        label="booking",
        model=Booking,
        transitions={
            status: frozenset(to for (frm, to) in BOOKING_TRANSITION_ROLES if frm == status)
            for status in BookingStatus
        },
        guards=_booking_guards(),
        history_model=BookingStatusHistory,
        history_fk="booking",
        event=events.BookingStatusChanged,
        event_id_name="booking_id",
    )
)


# --- Availability ---------------------------------------------------------------------------------------------


class WeeklyAvailability(TimeStampedModel):
    """A technician's recurring working window on one weekday (0 = Monday), in Africa/Nairobi local time.

    A technician with NO rows at all is treated as available at any time, so a freshly registered technician
    can be booked before setting hours. Once any row exists, slots must fit inside one window.
    """

    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_availability"
    )
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6),
                name="availability_weekday_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")),
                name="availability_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["technician", "weekday"])]

    def __str__(self):
        return f"{self.technician_id} day {self.weekday} {self.start_time}-{self.end_time}"


class TimeOff(TimeStampedModel):
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="time_off"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="time_off_ordered"
            ),
        ]
        indexes = [models.Index(fields=["technician", "starts_at", "ends_at"])]

    def __str__(self):
        return f"{self.technician_id} off {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%Y-%m-%d %H:%M}"


# --- Disputes -------------------------------------------------------------------------------------------------


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    RESOLVED = "resolved", "Resolved"


class DisputeOutcome(models.TextChoices):
    RELEASE_TO_TECHNICIAN = "release_to_technician", "Release payment to technician"
    FULL_REFUND = "full_refund", "Full refund to customer"
    PARTIAL_REFUND = "partial_refund", "Partial refund to customer"


class Dispute(TimeStampedModel):
    """A disagreement about a completed/confirmed booking. The outcome is recorded here; payments executes it."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened"
    )
    reason = models.TextField()
    evidence = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    outcome = models.CharField(max_length=32, choices=DisputeOutcome.choices, blank=True)
    refund_amount = MoneyField(null=True, blank=True)
    currency = CurrencyField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="disputes_resolved",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DisputeStatus.values), name="dispute_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="") | models.Q(outcome__in=DisputeOutcome.values),
                name="dispute_outcome_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(refund_amount__isnull=True) | models.Q(refund_amount__gt=0),
                name="dispute_refund_positive",
            ),
            # A booking is disputed at most once at a time.
            models.UniqueConstraint(
                fields=["booking"],
                condition=~models.Q(status=DisputeStatus.RESOLVED),
                name="dispute_one_open_per_booking",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"Dispute {self.pk} on {self.booking_id}"


class DisputeStatusHistory(StatusHistory):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="status_history")

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "dispute status history"

    def __str__(self):
        return f"{self.dispute_id}: {self.from_status or '-'} -> {self.to_status}"


DISPUTE_MACHINE = register(
    StateMachine(
        label="dispute",
        model=Dispute,
        transitions={
            DisputeStatus.OPEN: frozenset({DisputeStatus.UNDER_REVIEW, DisputeStatus.RESOLVED}),
            DisputeStatus.UNDER_REVIEW: frozenset({DisputeStatus.RESOLVED}),
            DisputeStatus.RESOLVED: frozenset(),
        },
        history_model=DisputeStatusHistory,
        history_fk="dispute",
    )
)


class DisputeNote(TimeStampedModel):
    """Internal notes staff add while reviewing a dispute."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Note {self.pk} on dispute {self.dispute_id}"


# --- Agreements: reschedule proposals, quotes, change orders ---------------------------------------------------


class ProposalKind(models.TextChoices):
    """What one party asks the other to agree to (README "Bookings: agreements")."""

    RESCHEDULE = "reschedule", "Reschedule"  # either party of an accepted booking: a new slot
    QUOTE = "quote", "Quote"  # a technician, before accepting: a price instead of the asked one
    CHANGE_ORDER = "change_order", "Change order"  # the technician during work: a price change


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Open"  # waiting for the other party's answer
    ACCEPTED = "accepted", "Accepted"  # a change order's "approved"
    DECLINED = "declined", "Declined"  # a change order's "rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"  # by the party who proposed it
    SUPERSEDED = "superseded", "Superseded"  # a newer proposal replaced it (or another quote won)
    EXPIRED = "expired", "Expired"  # not answered before `expires_at`, or the booking moved on


class BookingProposal(TimeStampedModel):
    """A change to an agreed booking that one party proposes and the other accepts or declines.

    Nothing about the booking changes until the proposal is accepted (bookings.services.agreements). Kind
    specific fields: a reschedule has `proposed_start/end` (and the slot it moves from in `previous_*`); a
    quote has `price_after` (the quoted price); a change order has `amount` (signed: it may lower the price),
    `price_before`/`price_after` and optional `photos`. `refund_amount` is what an accepted price change sent
    back to the customer (the price fell below what they had paid).
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=16, choices=ProposalKind.choices)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="booking_proposals"
    )
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    reason = models.TextField(help_text="Why (reschedule), the quote's or change's note")
    proposed_start = models.DateTimeField(null=True, blank=True)
    proposed_end = models.DateTimeField(null=True, blank=True)
    previous_start = models.DateTimeField(null=True, blank=True)
    previous_end = models.DateTimeField(null=True, blank=True)
    amount = MoneyField(null=True, blank=True, help_text="A change order's signed price change")
    price_before = MoneyField(null=True, blank=True)
    price_after = MoneyField(null=True, blank=True)
    refund_amount = MoneyField(default=0)
    currency = CurrencyField()
    photos = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ProposalStatus.values), name="proposal_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind=ProposalKind.RESCHEDULE,
                        proposed_start__isnull=False,
                        proposed_end__gt=models.F("proposed_start"),
                    )
                    | models.Q(kind=ProposalKind.QUOTE, price_after__gt=0)
                    | models.Q(
                        kind=ProposalKind.CHANGE_ORDER,
                        price_after__gt=0,
                        price_before__gt=0,
                        amount=models.F("price_after") - models.F("price_before"),
                    )
                ),
                name="proposal_kind_fields",
            ),
            models.CheckConstraint(
                condition=models.Q(refund_amount__gte=0), name="proposal_refund_non_negative"
            ),
            # One open reschedule and one open change order per booking (a new one supersedes it, under
            # the booking lock); quotes: one open per technician, so several can quote an open job.
            models.UniqueConstraint(
                fields=["booking", "kind"],
                condition=models.Q(
                    status=ProposalStatus.OPEN,
                    kind__in=[ProposalKind.RESCHEDULE, ProposalKind.CHANGE_ORDER],
                ),
                name="proposal_one_open_per_booking",
            ),
            models.UniqueConstraint(
                fields=["booking", "proposed_by"],
                condition=models.Q(status=ProposalStatus.OPEN, kind=ProposalKind.QUOTE),
                name="proposal_one_open_quote_per_technician",
            ),
            models.UniqueConstraint(
                fields=["proposed_by", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="proposal_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["booking", "kind", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self):
        return f"{self.kind} {self.pk} on {self.booking_id} ({self.status})"


class BookingProposalHistory(StatusHistory):
    """Audit row of every step of a proposal: proposed (from ""), accepted, declined, withdrawn, ..."""

    proposal = models.ForeignKey(
        BookingProposal, on_delete=models.CASCADE, related_name="status_history"
    )

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "booking proposal history"

    def __str__(self):
        return f"{self.proposal_id}: {self.from_status or '-'} -> {self.to_status}"


# Only an open proposal changes; every other status is final. Each step is announced as
# `booking.proposal_changed` (bookings/services/agreements.py publishes the creation the same way).
PROPOSAL_MACHINE = register(
    StateMachine(
        label="booking proposal",
        model=BookingProposal,
        transitions={
            ProposalStatus.OPEN: frozenset(
                {
                    ProposalStatus.ACCEPTED,
                    ProposalStatus.DECLINED,
                    ProposalStatus.WITHDRAWN,
                    ProposalStatus.SUPERSEDED,
                    ProposalStatus.EXPIRED,
                }
            ),
            ProposalStatus.ACCEPTED: frozenset(),
            ProposalStatus.DECLINED: frozenset(),
            ProposalStatus.WITHDRAWN: frozenset(),
            ProposalStatus.SUPERSEDED: frozenset(),
            ProposalStatus.EXPIRED: frozenset(),
        },
        history_model=BookingProposalHistory,
        history_fk="proposal",
        event=events.BookingProposalChanged,
        event_id_name="proposal_id",
    )
)


# --- Workmanship guarantee: claims and return visits -----------------------------------------------------------


class GuaranteeClaimStatus(models.TextChoices):
    """README "Workmanship guarantee"."""

    OPEN = "open", "Open"  # the customer reported the fix failed; the technician has to answer
    SCHEDULED = "scheduled", "Return visit scheduled"  # the technician accepted with a slot
    FIXED = "fixed", "Fixed"  # the customer confirmed (or did not answer in time after the visit)
    DECLINED = (
        "declined",
        "Declined",
    )  # the technician declined or did not answer: a dispute is open
    FAILED = (
        "failed",
        "Return visit failed",
    )  # the customer reported the visit did not fix it: dispute
    WITHDRAWN = (
        "withdrawn",
        "Withdrawn",
    )  # by the customer, before the return visit started


class GuaranteeClaim(TimeStampedModel):
    """The customer's report that a confirmed job's fix failed, and the free return visit that answers it.

    One claim per booking, ever (the guarantee covers one return visit; afterwards a dispute decides). The
    return visit is the slot on this row, not a second booking: it costs nothing, so no payment, fee or
    payout can ever be asked for it, and a booking's price must be positive. The technician's calendar sees
    it (`bookings.selectors.availability` counts a scheduled visit as booked) and two scheduled visits of
    one technician never overlap (exclusion constraint below).
    """

    booking = models.OneToOneField(
        Booking, on_delete=models.PROTECT, related_name="guarantee_claim"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="guarantee_claims"
    )
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="guarantee_claims_received"
    )
    status = models.CharField(
        max_length=16, choices=GuaranteeClaimStatus.choices, default=GuaranteeClaimStatus.OPEN
    )
    description = models.TextField()
    photos = models.JSONField(
        default=list, blank=True, help_text="Media refs: [{url, publicId, type}]"
    )
    respond_by = models.DateTimeField(
        help_text="The technician answers before this or it is declined"
    )
    visit_start = models.DateTimeField(null=True, blank=True)
    visit_end = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    outcome_note = models.TextField(blank=True)
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.PROTECT, related_name="guarantee_claims"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=GuaranteeClaimStatus.values),
                name="guarantee_claim_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(visit_start__isnull=True, visit_end__isnull=True)
                | models.Q(visit_start__isnull=False, visit_end__gt=models.F("visit_start")),
                name="guarantee_claim_visit_ordered",
            ),
            ExclusionConstraint(
                name="guarantee_visit_no_overlap",
                expressions=[
                    ("technician", RangeOperators.EQUAL),
                    (
                        TsTzRange("visit_start", "visit_end", RangeBoundary()),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=models.Q(status=GuaranteeClaimStatus.SCHEDULED),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "respond_by"]),
            models.Index(fields=["technician", "status"]),
        ]

    def __str__(self):
        return f"Guarantee claim {self.pk} on {self.booking_id} ({self.status})"


class GuaranteeClaimHistory(StatusHistory):
    claim = models.ForeignKey(
        GuaranteeClaim, on_delete=models.CASCADE, related_name="status_history"
    )

    class Meta(StatusHistory.Meta):
        verbose_name_plural = "guarantee claim history"

    def __str__(self):
        return f"{self.claim_id}: {self.from_status or '-'} -> {self.to_status}"


_G = GuaranteeClaimStatus
# Who makes each step is checked by bookings/services/guarantee.py (the customer reports or withdraws, the
# technician answers, the beat job declines an unanswered claim and closes a visit the customer never reported
# on).
GUARANTEE_CLAIM_MACHINE = register(
    StateMachine(
        label="guarantee claim",
        model=GuaranteeClaim,
        transitions={
            _G.OPEN: frozenset({_G.SCHEDULED, _G.DECLINED, _G.WITHDRAWN}),
            _G.SCHEDULED: frozenset({_G.FIXED, _G.FAILED, _G.WITHDRAWN}),
            _G.FIXED: frozenset(),
            _G.DECLINED: frozenset(),
            _G.FAILED: frozenset(),
            _G.WITHDRAWN: frozenset(),
        },
        history_model=GuaranteeClaimHistory,
        history_fk="claim",
        event=events.GuaranteeClaimChanged,
        event_id_name="claim_id",
    )
)
