"""Which catalogue type tells a person what is true for them now.

A domain event says what changed; the notification has to say what it means for the person who reads it,
in the state the system is in when the task runs (it re-reads the rows first). These functions choose the
type (and so the text) from that state; `None` means this person gets no notification for the event,
because another event announces the same fact to them (one notification per fact).
"""

from __future__ import annotations

from bookings.models import BookingStatus, GuaranteeClaim, GuaranteeClaimStatus
from payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    PayoutChannel,
    PayoutKind,
    PayoutStatus,
)
from payments.services.payments import booking_closed_for_payments

CUSTOMER = "customer"
TECHNICIAN = "technician"

# Booking status reached -> {recipient's role on the booking: type}. Every status is listed; a role missing
# from a status gets nothing (it was the actor, or the change does not concern it).
BOOKING_STATUS_TYPES: dict[str, dict[str, str]] = {
    # pending again: the technician declined or withdrew, the job is open to other technicians.
    BookingStatus.PENDING: {CUSTOMER: "booking.pending"},
    BookingStatus.ACCEPTED: {CUSTOMER: "booking.accepted"},
    BookingStatus.EN_ROUTE: {CUSTOMER: "booking.en_route"},
    BookingStatus.ARRIVED: {CUSTOMER: "booking.arrived"},
    BookingStatus.IN_PROGRESS: {CUSTOMER: "booking.in_progress"},
    BookingStatus.COMPLETED: {CUSTOMER: "booking.completed"},
    BookingStatus.CONFIRMED: {TECHNICIAN: "booking.confirmed"},  # by the customer; timer below
    BookingStatus.CANCELLED: {CUSTOMER: "booking.cancelled", TECHNICIAN: "booking.cancelled"},
    BookingStatus.EXPIRED: {
        CUSTOMER: "booking.expired",
        TECHNICIAN: "booking.expired_for_technician",
    },
    # The dispute services publish dispute.opened / dispute.resolved, which tell both parties (with the
    # dispute's id); the booking's own status change would be the same fact a second time.
    BookingStatus.DISPUTED: {},
    BookingStatus.RESOLVED: {},
}


def booking_status_type(*, booking, to_status: str, actor_id: int | None, recipient_id: int):
    """The type for `recipient_id` (a party of `booking`, re-read after the change), or None."""
    role = CUSTOMER if recipient_id == booking.customer_id else TECHNICIAN
    if to_status == BookingStatus.CONFIRMED and actor_id is None:
        return "booking.auto_confirmed"  # the confirmation period ran out: nobody "confirmed" it
    if to_status == BookingStatus.EXPIRED and role == CUSTOMER and booking.deposit_paid_at is None:
        return (
            "booking.expired_unpaid"  # closed for the unpaid deposit, not for want of a technician
        )
    return BOOKING_STATUS_TYPES.get(to_status, {}).get(role)


# Guarantee claim status reached -> {recipient's role: type} (bookings/services/guarantee.py). The actor
# hears nothing of their own step, except that a declined or failed claim becomes a dispute on the booking
# in the same step: that fact goes to both parties (as dispute.opened would, which stays quiet for a dispute
# a claim opened: `dispute_opened_type`).
GUARANTEE_CLAIM_TYPES: dict[str, dict[str, str]] = {
    GuaranteeClaimStatus.OPEN: {TECHNICIAN: "guarantee.claim_opened"},
    GuaranteeClaimStatus.SCHEDULED: {CUSTOMER: "guarantee.visit_scheduled"},
    # the customer only when the beat job closed it (they said nothing after the visit)
    GuaranteeClaimStatus.FIXED: {
        CUSTOMER: "guarantee.closed_fixed",
        TECHNICIAN: "guarantee.visit_fixed",
    },
    GuaranteeClaimStatus.DECLINED: {
        CUSTOMER: "guarantee.claim_declined",
        TECHNICIAN: "guarantee.disputed",
    },
    GuaranteeClaimStatus.FAILED: {
        CUSTOMER: "guarantee.disputed",
        TECHNICIAN: "guarantee.visit_failed",
    },
    GuaranteeClaimStatus.WITHDRAWN: {TECHNICIAN: "guarantee.claim_withdrawn"},
}
# Statuses whose step opened (or joined) a dispute on the booking: both parties hear it, the actor too.
GUARANTEE_DISPUTE_STATUSES = (GuaranteeClaimStatus.DECLINED, GuaranteeClaimStatus.FAILED)


def guarantee_claim_type(*, claim, to_status: str, actor_id: int | None, recipient_id: int):
    """The type for `recipient_id` (the claim's customer or technician, re-read after the step), or None."""
    if recipient_id == actor_id and to_status not in GUARANTEE_DISPUTE_STATUSES:
        return None
    role = CUSTOMER if recipient_id == claim.customer_id else TECHNICIAN
    if to_status == GuaranteeClaimStatus.DECLINED and actor_id is None:
        # the response window ran out: nobody "declined" it
        return "guarantee.claim_unanswered" if role == CUSTOMER else "guarantee.claim_expired"
    type_ = GUARANTEE_CLAIM_TYPES.get(to_status, {}).get(role)
    if type_ == "guarantee.disputed" and claim.dispute_id is None:
        # The booking's dispute was already decided: no new one, and the actor knows their own step.
        return None
    return type_


def dispute_opened_type(*, dispute_id: int | None):
    """dispute.opened for both parties, unless a guarantee claim opened the dispute: the claim's own
    notification (declined, unanswered, failed) already told both (one notification per fact)."""
    if dispute_id is not None and GuaranteeClaim.objects.filter(dispute_id=dispute_id).exists():
        return None
    return "dispute.opened"


def deposit_paid_type(*, booking):
    """booking.deposit_paid is for the assigned technician: the job can now be accepted. The customer
    hears about their money from payment.succeeded (one notification for one payment)."""
    if booking.technician_id and booking.status == BookingStatus.PENDING:
        return "booking.deposit_paid"
    return None


def _booking_closed(booking) -> bool:
    """Money arriving for the booking goes back (payments decides: a dispute released to the technician
    leaves the full price owed)."""
    return booking_closed_for_payments(booking)


def _settled_by_another_payment(payment) -> bool:
    """Another payment for the same booking and purpose succeeded before this one."""
    others = (
        type(payment)
        .objects.filter(
            booking_id=payment.booking_id, purpose=payment.purpose, status=PaymentStatus.SUCCEEDED
        )
        .exclude(pk=payment.pk)
    )
    if payment.status == PaymentStatus.SUCCEEDED and payment.completed_at is not None:
        others = others.filter(completed_at__lt=payment.completed_at)
    return others.exists()


def payment_succeeded_type(*, payment, booking) -> str:
    """What a payment that arrived means for the payer: a deposit waiting for a technician, money that goes
    back (the booking closed meanwhile, or the same thing was already paid), or a plain receipt."""
    if payment is None or booking is None:
        return "payment.succeeded"
    if payment.purpose == PaymentPurpose.TIP:  # never refunded, and several tips are not duplicates
        return "tip.sent"
    if _booking_closed(booking):
        return "payment.refund_due"
    if _settled_by_another_payment(payment):
        return "payment.duplicate"
    if payment.purpose == PaymentPurpose.DEPOSIT and booking.status == BookingStatus.PENDING:
        return (
            "payment.deposit_received"  # no technician has accepted yet: the job is not confirmed
        )
    return "payment.succeeded"


def payment_failed_type(*, payment, booking):
    """ "Please try again" only while trying again is possible and needed."""
    if payment is None:
        return "payment.failed"
    if payment.status == PaymentStatus.SUCCEEDED:
        return None  # the money arrived late after all: payment.succeeded says so
    if booking is not None and _booking_closed(booking):
        return None  # nothing left to pay for; the booking's own notification explains why
    if _settled_by_another_payment(payment):
        return None  # paid another way (a new prompt, a card)
    return "payment.failed"


def balance_reminder_type(*, booking):
    """A balance reminder for the customer, worded for what they can do now: answer the M-Pesa prompt that is
    waiting on their phone, or pay in the app. None once there is nothing to remind them of (paid meanwhile,
    or the booking moved on, e.g. into a dispute)."""
    if booking is None or booking.status != BookingStatus.CONFIRMED:
        return None
    balance = booking.payments.filter(purpose=PaymentPurpose.BALANCE)
    if balance.filter(status=PaymentStatus.SUCCEEDED).exists():
        return None
    waiting = balance.filter(status__in=ACTIVE_PAYMENT_STATUSES, method=PaymentMethod.MPESA)
    return "payment.balance_prompt" if waiting.exists() else "payment.balance_due"


def balance_overdue_types(*, booking) -> dict[int, str]:
    """{recipient: type} when an overdue balance went to support: the customer (support will contact them)
    and the technician (someone is following their money up). Nobody once it was paid meanwhile."""
    if (
        booking is None
        or booking.payments.filter(
            purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED
        ).exists()
    ):
        return {}
    types = {booking.customer_id: "payment.balance_overdue"}
    if booking.technician_id:
        types[booking.technician_id] = "payment.balance_with_support"
    return types


def payout_paid_type(*, payout) -> str:
    if payout.kind == PayoutKind.REFUND:
        return "refund.paid_card" if payout.channel == PayoutChannel.CARD else "refund.paid"
    return "payout.paid"


def payout_failed_type(*, payout):
    if payout.status == PayoutStatus.PAID:
        return None  # a later attempt succeeded before this task ran: payout.paid says so
    return "refund.failed" if payout.kind == PayoutKind.REFUND else "payout.failed"
