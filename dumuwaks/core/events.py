"""The catalogue of domain events: every fact one app announces for other apps to react to.

An event is a frozen dataclass declared here, with its wire name (`name`) and its payload fields: ids and
small scalars only (the subscriber re-reads the rows and re-checks the state before acting). Apps publish
an instance with `side_effects.publish_after_commit(events.BookingCreated(booking_id=...))` and react with
`side_effects.subscribe(events.BookingCreated, handler)` from their `AppConfig.ready()`; a handler takes the
event and returns nothing (`def on_booking_created(event: events.BookingCreated) -> None`).

Because publishers and subscribers name the class, a misspelt event fails at import, a missing or unknown
payload field fails where the event is built, and `dumuwaks/core/tests/test_events.py` fails when an event
is published without a subscriber, subscribed without a publisher, or declared and unused. docs/events.md
lists who publishes and who reacts.

A handler runs after the publisher's commit and only enqueues tasks or pushes messages. A money step started
by an event also has a periodic sweep that finds it from durable state (payments/services/sweep.py): the
event is the fast path, never the only one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

# Wire name -> event class; filled by `Event.__init_subclass__` as the classes below are declared.
CATALOGUE: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name in CATALOGUE:
            raise TypeError(f"event {cls.name!r} is declared twice")
        CATALOGUE[cls.name] = cls

    def __post_init__(self):
        # Ids only: a model instance or a dict here would be stale (or unserialisable) by the time a
        # subscriber runs after commit.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (not isinstance(value, int | str) or isinstance(value, bool)):
                raise TypeError(
                    f"{self.name}.{field.name} must be an id or a string, not {type(value).__name__}"
                )

    def payload(self) -> dict:
        return dataclasses.asdict(self)


# --- bookings ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BookingCreated(Event):
    name: ClassVar[str] = "booking.created"
    booking_id: int


@dataclass(frozen=True, kw_only=True)
class BookingStatusChanged(Event):
    name: ClassVar[str] = "booking.status_changed"
    booking_id: int
    from_status: str
    to_status: str
    actor_id: int | None  # None: a timer or the system moved it


@dataclass(frozen=True, kw_only=True)
class BookingDepositPaid(Event):
    name: ClassVar[str] = "booking.deposit_paid"
    booking_id: int


@dataclass(frozen=True, kw_only=True)
class BookingProposalChanged(Event):
    """A reschedule proposal, quote or change order was made (from_status "") or moved a step."""

    name: ClassVar[str] = "booking.proposal_changed"
    proposal_id: int
    from_status: str
    to_status: str
    actor_id: int | None


@dataclass(frozen=True, kw_only=True)
class GuaranteeClaimChanged(Event):
    """A workmanship-guarantee claim was opened (from_status "") or moved a step."""

    name: ClassVar[str] = "booking.guarantee_claim_changed"
    claim_id: int
    from_status: str
    to_status: str
    actor_id: int | None  # None: the beat job (an unanswered claim, an unreported visit)


@dataclass(frozen=True, kw_only=True)
class DisputeOpened(Event):
    name: ClassVar[str] = "dispute.opened"
    dispute_id: int
    booking_id: int


@dataclass(frozen=True, kw_only=True)
class DisputeResolved(Event):
    name: ClassVar[str] = "dispute.resolved"
    dispute_id: int
    booking_id: int


# --- payments ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaymentSucceeded(Event):
    name: ClassVar[str] = "payment.succeeded"
    payment_id: int
    booking_id: int


@dataclass(frozen=True, kw_only=True)
class PaymentFailed(Event):
    name: ClassVar[str] = "payment.failed"
    payment_id: int
    booking_id: int


@dataclass(frozen=True, kw_only=True)
class PaymentBalanceReminder(Event):
    name: ClassVar[str] = "payment.balance_reminder"
    booking_id: int
    reminder: int  # 1 for the first reminder of the schedule, 2 for the second, ...


@dataclass(frozen=True, kw_only=True)
class PaymentBalanceOverdue(Event):
    name: ClassVar[str] = "payment.balance_overdue"
    booking_id: int
    ticket_id: int  # the support ticket opened for it


@dataclass(frozen=True, kw_only=True)
class PayoutPaid(Event):
    name: ClassVar[str] = "payout.paid"
    payout_id: int


@dataclass(frozen=True, kw_only=True)
class PayoutFailed(Event):
    name: ClassVar[str] = "payout.failed"
    payout_id: int


# --- social ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReviewCreated(Event):
    name: ClassVar[str] = "review.created"
    review_id: int


@dataclass(frozen=True, kw_only=True)
class SocialMentioned(Event):
    name: ClassVar[str] = "social.mentioned"
    post_id: int
    user_id: int  # the person mentioned


# --- support -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SupportTicketAssigned(Event):
    name: ClassVar[str] = "support.ticket_assigned"
    ticket_id: int
    agent_id: int


@dataclass(frozen=True, kw_only=True)
class SupportTicketReplied(Event):
    name: ClassVar[str] = "support.ticket_replied"
    ticket_id: int
    message_id: int


@dataclass(frozen=True, kw_only=True)
class SupportTicketEscalated(Event):
    name: ClassVar[str] = "support.ticket_escalated"
    ticket_id: int
    level: int


@dataclass(frozen=True, kw_only=True)
class SupportTicketWaiting(Event):
    name: ClassVar[str] = "support.ticket_waiting"
    ticket_id: int
