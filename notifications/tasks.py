"""Celery tasks: ids only, each re-reads its rows. Delivery retries with exponential backoff."""

from __future__ import annotations

import random

from celery import shared_task

from dumuwaks.core.side_effects import enqueue_now
from notifications import producers
from notifications.services.delivery import (
    RETRY,
    delivery_attempt,
    housekeeping_run,
    stuck_delivery_ids,
)

MAX_DELIVERY_RETRIES = 5
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600


def backoff_seconds(retries: int) -> int:
    """30 s, 60 s, 120 s, … capped at an hour, with up to 20 % jitter so retries do not stampede."""
    base = min(BACKOFF_BASE_SECONDS * (2**retries), BACKOFF_CAP_SECONDS)
    return int(base + random.uniform(0, base * 0.2))  # noqa: S311 - jitter, not security


@shared_task(bind=True, max_retries=MAX_DELIVERY_RETRIES, acks_late=True)
def deliver_notification(self, delivery_id: int) -> str:
    final = self.request.retries >= self.max_retries
    outcome = delivery_attempt(delivery_id=delivery_id, final_attempt=final)
    if outcome == RETRY:
        # On a worker this raises Retry and the message comes back after the backoff. In eager mode
        # (tests, local runs without a worker) raising would escape into the caller's on_commit hook,
        # so the Retry is returned instead and Celery's `apply` runs the next attempt at once.
        return self.retry(
            countdown=backoff_seconds(self.request.retries), throw=not self.request.is_eager
        )
    return outcome


@shared_task
def notify_offline_recipients(message_id: int) -> list[int]:
    return producers.offline_recipients_notify(message_id=message_id)


@shared_task
def booking_status_changed_notify(
    booking_id: int, from_status: str | None, to_status: str | None, actor_id: int | None
) -> list[int]:
    return producers.booking_status_changed_notify(
        booking_id=booking_id, from_status=from_status, to_status=to_status, actor_id=actor_id
    )


@shared_task
def booking_proposal_notify(proposal_id: int, status: str, actor_id: int | None) -> list[int]:
    return producers.booking_proposal_notify(
        proposal_id=proposal_id, status=status, actor_id=actor_id
    )


@shared_task
def guarantee_claim_notify(claim_id: int, status: str, actor_id: int | None) -> list[int]:
    return producers.guarantee_claim_notify(claim_id=claim_id, status=status, actor_id=actor_id)


@shared_task
def booking_created_notify(booking_id: int) -> list[int]:
    return producers.booking_created_notify(booking_id=booking_id)


@shared_task
def booking_deposit_paid_notify(booking_id: int) -> list[int]:
    return producers.booking_deposit_paid_notify(booking_id=booking_id)


@shared_task
def payment_result_notify(payment_id: int, booking_id: int | None, succeeded: bool):
    return producers.payment_result_notify(
        payment_id=payment_id, booking_id=booking_id, succeeded=succeeded
    )


@shared_task
def balance_reminder_notify(booking_id: int):
    return producers.balance_reminder_notify(booking_id=booking_id)


@shared_task
def balance_overdue_notify(booking_id: int, ticket_id: int | None = None):
    return producers.balance_overdue_notify(booking_id=booking_id, ticket_id=ticket_id)


@shared_task
def payout_paid_notify(payout_id: int):
    return producers.payout_paid_notify(payout_id=payout_id)


@shared_task
def payout_failed_notify(payout_id: int):
    return producers.payout_failed_notify(payout_id=payout_id)


@shared_task
def review_created_notify(review_id: int):
    return producers.review_created_notify(review_id=review_id)


@shared_task
def social_mentioned_notify(post_id: int, user_id: int):
    return producers.social_mentioned_notify(post_id=post_id, user_id=user_id)


@shared_task
def support_ticket_assigned_notify(ticket_id: int, agent_id: int | None):
    return producers.support_ticket_assigned_notify(ticket_id=ticket_id, agent_id=agent_id)


@shared_task
def support_ticket_replied_notify(ticket_id: int, message_id: int | None):
    return producers.support_ticket_replied_notify(ticket_id=ticket_id, message_id=message_id)


@shared_task
def support_ticket_escalated_notify(ticket_id: int):
    return producers.support_ticket_escalated_notify(ticket_id=ticket_id)


@shared_task
def support_ticket_waiting_notify(ticket_id: int):
    return producers.support_ticket_waiting_notify(ticket_id=ticket_id)


@shared_task
def dispute_notify(booking_id: int, event: str, dispute_id: int | None = None) -> list[int]:
    return producers.dispute_notify(booking_id=booking_id, type_=event, dispute_id=dispute_id)


@shared_task
def requeue_stuck_deliveries() -> int:
    """Deliveries still queued long after their last attempt (a lost task, a worker killed mid-retry)
    get one more task; the attempt itself is idempotent (it only acts on queued rows)."""
    ids = stuck_delivery_ids()

    for delivery_id in ids:
        enqueue_now(deliver_notification, delivery_id)
    return len(ids)


@shared_task
def housekeeping() -> dict:
    return housekeeping_run()
