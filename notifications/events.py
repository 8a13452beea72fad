"""Domain events (dumuwaks/core/events.py) → notifications and live updates.

`subscribe_all()` (called from NotificationsConfig.ready) subscribes the `on_*` handlers. Handlers run after the
publisher's commit and only push socket events or enqueue tasks (ids only); the `*_notify` functions
(notifications/producers.py) run inside those tasks, re-read the rows, choose the type that is true for each
recipient now (`notifications.wording`) and call `notify`.

One fact, one notification per person. Who hears what:
- booking.created: the technician it was made for (a job request);
- booking.status_changed: both parties get the live `booking.status_changed` event; the notification goes
  to the parties other than the actor (both for timer-driven changes and staff actions), except for
  disputed/resolved, which dispute.opened / dispute.resolved announce;
- booking.deposit_paid: the assigned technician (the job can now be accepted);
- booking.proposal_changed (a reschedule proposal, quote or change order moved a step): the live
  `booking.proposal_changed` event to the booking's parties (a quote: the customer and its technician);
  the notification to the one who answers a new proposal or would have answered a withdrawn one, to the
  proposer of an answered one, to both for an expired one (booking_proposal_notify);
- payment.succeeded / payment.failed: the payer, worded for the booking's state (a deposit waits for a
  technician; money for a closed or already-paid booking is refunded; no "try again" once pointless; a tip is
  `tip.sent`, and its technician gets `tip.received`);
- payment.balance_reminder: the customer, while the balance is unpaid (a prompt waits on the phone, or pay in
  the app); payment.balance_overdue: the customer and the technician (support follows it up);
- payout.paid / payout.failed: the recipient (a technician's payout, or a customer's refund);
- review.created: the reviewee; social.mentioned: the person mentioned; support.ticket_assigned: the
  agent; support.ticket_replied: the ticket's creator (unless they wrote the reply; internal notes never);
  support.ticket_escalated: the agent holding the ticket and every administrator; support.ticket_waiting
  (an urgent ticket no agent has room for, once per ticket): every support agent and administrator;
- dispute.opened / dispute.resolved: both booking parties.

A new chat message is not a domain event (the chat service enqueues `offline_recipients_notify` itself):
every other participant who has no open socket (presence) gets `message.received`, at most one unread alert
per conversation per 30 minutes.
"""

from __future__ import annotations

from dumuwaks.core import events
from dumuwaks.core.side_effects import enqueue_after_commit, subscribe
from notifications import producers, tasks


def on_booking_status_changed(event: events.BookingStatusChanged) -> None:
    if producers.booking_status_changed_push(
        booking_id=event.booking_id,
        from_status=event.from_status,
        to_status=event.to_status,
        actor_id=event.actor_id,
    ):
        enqueue_after_commit(
            tasks.booking_status_changed_notify,
            event.booking_id,
            event.from_status,
            event.to_status,
            event.actor_id,
        )


def on_booking_proposal_changed(event: events.BookingProposalChanged) -> None:
    status = producers.booking_proposal_changed_push(
        proposal_id=event.proposal_id, to_status=event.to_status, actor_id=event.actor_id
    )
    if status is not None:
        enqueue_after_commit(
            tasks.booking_proposal_notify, event.proposal_id, status, event.actor_id
        )


def on_guarantee_claim_changed(event: events.GuaranteeClaimChanged) -> None:
    status = producers.guarantee_claim_changed_push(
        claim_id=event.claim_id, to_status=event.to_status, actor_id=event.actor_id
    )
    if status is not None:
        enqueue_after_commit(tasks.guarantee_claim_notify, event.claim_id, status, event.actor_id)


def on_booking_created(event: events.BookingCreated) -> None:
    enqueue_after_commit(tasks.booking_created_notify, event.booking_id)


def on_booking_deposit_paid(event: events.BookingDepositPaid) -> None:
    enqueue_after_commit(tasks.booking_deposit_paid_notify, event.booking_id)


def on_payment_succeeded(event: events.PaymentSucceeded) -> None:
    enqueue_after_commit(tasks.payment_result_notify, event.payment_id, event.booking_id, True)


def on_payment_failed(event: events.PaymentFailed) -> None:
    enqueue_after_commit(tasks.payment_result_notify, event.payment_id, event.booking_id, False)


def on_payment_balance_reminder(event: events.PaymentBalanceReminder) -> None:
    enqueue_after_commit(tasks.balance_reminder_notify, event.booking_id)


def on_payment_balance_overdue(event: events.PaymentBalanceOverdue) -> None:
    enqueue_after_commit(tasks.balance_overdue_notify, event.booking_id, event.ticket_id)


def on_payout_paid(event: events.PayoutPaid) -> None:
    enqueue_after_commit(tasks.payout_paid_notify, event.payout_id)


def on_payout_failed(event: events.PayoutFailed) -> None:
    enqueue_after_commit(tasks.payout_failed_notify, event.payout_id)


def on_review_created(event: events.ReviewCreated) -> None:
    enqueue_after_commit(tasks.review_created_notify, event.review_id)


def on_social_mentioned(event: events.SocialMentioned) -> None:
    enqueue_after_commit(tasks.social_mentioned_notify, event.post_id, event.user_id)


def on_support_ticket_assigned(event: events.SupportTicketAssigned) -> None:
    enqueue_after_commit(tasks.support_ticket_assigned_notify, event.ticket_id, event.agent_id)


def on_support_ticket_replied(event: events.SupportTicketReplied) -> None:
    enqueue_after_commit(tasks.support_ticket_replied_notify, event.ticket_id, event.message_id)


def on_support_ticket_escalated(event: events.SupportTicketEscalated) -> None:
    enqueue_after_commit(tasks.support_ticket_escalated_notify, event.ticket_id)


def on_support_ticket_waiting(event: events.SupportTicketWaiting) -> None:
    enqueue_after_commit(tasks.support_ticket_waiting_notify, event.ticket_id)


def on_dispute_opened(event: events.DisputeOpened) -> None:
    enqueue_after_commit(tasks.dispute_notify, event.booking_id, event.name, event.dispute_id)


def on_dispute_resolved(event: events.DisputeResolved) -> None:
    enqueue_after_commit(tasks.dispute_notify, event.booking_id, event.name, event.dispute_id)


def subscribe_all() -> None:
    subscribe(events.BookingCreated, on_booking_created)
    subscribe(events.BookingStatusChanged, on_booking_status_changed)
    subscribe(events.BookingDepositPaid, on_booking_deposit_paid)
    subscribe(events.BookingProposalChanged, on_booking_proposal_changed)
    subscribe(events.GuaranteeClaimChanged, on_guarantee_claim_changed)
    subscribe(events.PaymentSucceeded, on_payment_succeeded)
    subscribe(events.PaymentFailed, on_payment_failed)
    subscribe(events.PaymentBalanceReminder, on_payment_balance_reminder)
    subscribe(events.PaymentBalanceOverdue, on_payment_balance_overdue)
    subscribe(events.PayoutPaid, on_payout_paid)
    subscribe(events.PayoutFailed, on_payout_failed)
    subscribe(events.ReviewCreated, on_review_created)
    subscribe(events.SocialMentioned, on_social_mentioned)
    subscribe(events.SupportTicketAssigned, on_support_ticket_assigned)
    subscribe(events.SupportTicketReplied, on_support_ticket_replied)
    subscribe(events.SupportTicketEscalated, on_support_ticket_escalated)
    subscribe(events.SupportTicketWaiting, on_support_ticket_waiting)
    subscribe(events.DisputeOpened, on_dispute_opened)
    subscribe(events.DisputeResolved, on_dispute_resolved)
