"""The notification work behind the domain events that notifications react to (notifications/events.py).

The `*_notify` functions run inside the tasks those handlers enqueue (ids only): they re-read the rows,
choose the type that is true for each recipient now (`notifications.wording`) and call `notify`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import (
    Booking,
    BookingProposal,
    GuaranteeClaim,
    ProposalKind,
    ProposalStatus,
)
from bookings.services.agreements import counterparty_ids
from notifications.models import ConversationParticipant, Message, Notification
from notifications.presence import online_user_ids
from notifications.realtime import send_to_user_after_commit
from notifications.services.notifications import notify
from notifications.wording import (
    balance_overdue_types,
    balance_reminder_type,
    booking_status_type,
    deposit_paid_type,
    dispute_opened_type,
    guarantee_claim_type,
    payment_failed_type,
    payment_succeeded_type,
    payout_failed_type,
    payout_paid_type,
)
from payments.models import Payment, Payout
from social.models import Post, Review
from support.models import SupportTicket, TicketMessage

logger = logging.getLogger(__name__)

MESSAGE_ALERT_COALESCE = timedelta(minutes=30)


def _booking(booking_id):
    return Booking.objects.select_related("customer", "technician").filter(pk=booking_id).first()


def _booking_context(booking) -> dict:
    return {
        "booking_id": booking.pk,
        "booking_number": booking.number,
        "booking_title": booking.title,
        "customer_name": booking.customer.get_full_name() if booking.customer_id else "",
        "technician_name": booking.technician.get_full_name() if booking.technician_id else "",
    }


def _parties(booking) -> list[int]:
    return [uid for uid in (booking.customer_id, booking.technician_id) if uid]


def booking_status_changed_push(*, booking_id, from_status, to_status, actor_id) -> bool:
    """The live `booking.status_changed` socket event to both parties (the handler calls it after commit).
    False when the booking is gone."""
    booking = _booking(booking_id)
    if booking is None:
        return False
    event = {
        "booking_id": booking.pk,
        "booking_number": booking.number,
        "from_status": from_status or "",
        "to_status": to_status or booking.status,
        "actor_id": actor_id,
    }
    for user_id in _parties(booking):
        send_to_user_after_commit(user_id, "booking.status_changed", event)
    return True


def booking_proposal_changed_push(*, proposal_id, to_status, actor_id) -> str | None:
    """The live `booking.proposal_changed` socket event to the booking's parties (a quote: the customer and its
    technician); returns the status to notify about, None when the proposal is gone."""
    proposal = BookingProposal.objects.select_related("booking").filter(pk=proposal_id).first()
    if proposal is None:
        return None
    booking = proposal.booking
    status = to_status or proposal.status
    event = {
        "booking_id": booking.pk,
        "booking_number": booking.number,
        "proposal_id": proposal.pk,
        "kind": proposal.kind,
        "status": status,
        "actor_id": actor_id,
    }
    for user_id in dict.fromkeys([*_parties(booking), proposal.proposed_by_id]):
        if proposal.kind == ProposalKind.QUOTE and user_id not in (
            booking.customer_id,
            proposal.proposed_by_id,
        ):
            continue  # another technician's quote is between them and the customer
        send_to_user_after_commit(user_id, "booking.proposal_changed", event)
    return status


def guarantee_claim_changed_push(*, claim_id, to_status, actor_id) -> str | None:
    """The live `booking.guarantee_claim_changed` socket event to the claim's customer and technician;
    returns the status to notify about, None when the claim is gone."""
    claim = GuaranteeClaim.objects.select_related("booking").filter(pk=claim_id).first()
    if claim is None:
        return None
    status = to_status or claim.status
    event = {
        "booking_id": claim.booking_id,
        "booking_number": claim.booking.number,
        "claim_id": claim.pk,
        "status": status,
        "dispute_id": claim.dispute_id,
        "actor_id": actor_id,
    }
    for user_id in (claim.customer_id, claim.technician_id):
        send_to_user_after_commit(user_id, "booking.guarantee_claim_changed", event)
    return status


# --- work done inside tasks --------------------------------------------------------------------------------------


def _notify(user_id, type_, context):
    return notify(user_id=user_id, type=type_, context=context)


def booking_status_changed_notify(*, booking_id, from_status, to_status, actor_id) -> list[int]:
    booking = _booking(booking_id)
    if booking is None:
        return []
    to_status = to_status or booking.status
    context = {
        **_booking_context(booking),
        "from_status": from_status or "",
        "to_status": to_status,
    }
    notified = []
    for user_id in _parties(booking):
        if user_id == actor_id:
            continue
        type_ = booking_status_type(
            booking=booking, to_status=to_status, actor_id=actor_id, recipient_id=user_id
        )
        if type_ is not None:
            _notify(user_id, type_, context)
            notified.append(user_id)
    return notified


def booking_proposal_notify(*, proposal_id, status, actor_id) -> list[int]:
    """One step of a reschedule proposal, quote or change order (bookings.services.agreements): a new one
    to whoever answers it, an answer to the proposer, a withdrawal to whoever would have answered, an expiry
    to both; a quote superseded because the customer took another one is a "not taken" to its technician."""
    proposal = (
        BookingProposal.objects.select_related(
            "booking__customer", "booking__technician", "proposed_by", "decided_by"
        )
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        return []
    booking = proposal.booking
    answerers = counterparty_ids(proposal, booking)
    kind = proposal.kind
    type_ = f"booking.{kind}_{status}"
    recipients: list[int] = []
    if status == ProposalStatus.OPEN:
        type_ = f"booking.{kind}_proposed"
        recipients = answerers
    elif status in (ProposalStatus.ACCEPTED, ProposalStatus.DECLINED):
        recipients = [proposal.proposed_by_id]
    elif status == ProposalStatus.WITHDRAWN:
        recipients = answerers
    elif status == ProposalStatus.EXPIRED:
        recipients = [proposal.proposed_by_id, *answerers]
    elif (
        status == ProposalStatus.SUPERSEDED
        and kind == ProposalKind.QUOTE
        and actor_id != proposal.proposed_by_id
    ):
        type_ = "booking.quote_declined"
        recipients = [proposal.proposed_by_id]
    amount = proposal.amount
    context = {
        **_booking_context(booking),
        "proposal_id": proposal.pk,
        "proposer_name": proposal.proposed_by.get_full_name(),
        "answerer_name": proposal.decided_by.get_full_name() if proposal.decided_by else "",
        "reason": proposal.reason,
        "proposed_start": proposal.proposed_start,
        "expires_at": proposal.expires_at,
        "price": proposal.price_after or "",
        "amount": (f"+{amount}" if amount > 0 else str(amount)) if amount is not None else "",
    }
    notified = []
    for user_id in dict.fromkeys(recipients):
        if user_id and user_id != actor_id:
            _notify(user_id, type_, context)
            notified.append(user_id)
    return notified


def guarantee_claim_notify(*, claim_id, status, actor_id) -> list[int]:
    """One step of a workmanship-guarantee claim: a new claim to the technician, the scheduled visit to the
    customer, the closing to whoever did not close it, a dispute to both (notifications/wording.py)."""
    claim = (
        GuaranteeClaim.objects.select_related("booking__customer", "booking__technician")
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        return []
    context = {
        **_booking_context(claim.booking),
        "claim_id": claim.pk,
        "description": claim.description[:200],
        "respond_by": claim.respond_by,
        "visit_start": claim.visit_start,
        "reason": claim.decline_reason,
        "note": claim.outcome_note,
        "dispute_id": claim.dispute_id,
    }
    notified = []
    for user_id in (claim.customer_id, claim.technician_id):
        type_ = guarantee_claim_type(
            claim=claim, to_status=status, actor_id=actor_id, recipient_id=user_id
        )
        if type_ is not None:
            _notify(user_id, type_, context)
            notified.append(user_id)
    return notified


def booking_created_notify(*, booking_id) -> list[int]:
    """A booking made for a specific technician is a job request for them."""
    booking = _booking(booking_id)
    if booking is None or not booking.technician_id:
        return []
    _notify(booking.technician_id, "booking.created", _booking_context(booking))
    return [booking.technician_id]


def booking_deposit_paid_notify(*, booking_id) -> list[int]:
    booking = _booking(booking_id)
    type_ = deposit_paid_type(booking=booking) if booking is not None else None
    if type_ is None:
        return []
    _notify(booking.technician_id, type_, _booking_context(booking))
    return [booking.technician_id]


def payment_result_notify(*, payment_id, booking_id, succeeded: bool) -> int | None:
    payment = Payment.objects.filter(pk=payment_id).first()
    booking = _booking(booking_id or (payment.booking_id if payment is not None else None))
    if payment is not None:
        payer_id = payment.payer_id
    elif booking is not None:
        payer_id = booking.customer_id
    else:
        payer_id = None
    if payer_id is None:
        logger.warning("payment %s: no payer to notify", payment_id)
        return None
    if succeeded:
        type_ = payment_succeeded_type(payment=payment, booking=booking)
    else:
        type_ = payment_failed_type(payment=payment, booking=booking)
    if type_ is None:
        return None
    context = {"payment_id": payment_id, "amount": payment.amount if payment is not None else ""}
    if booking is not None:
        context.update(_booking_context(booking))
    _notify(payer_id, type_, context)
    if type_ == "tip.sent" and booking is not None and booking.technician_id:
        _notify(booking.technician_id, "tip.received", context)
    return payer_id


def balance_reminder_notify(*, booking_id) -> int | None:
    """The customer of a confirmed booking whose balance is still unpaid."""
    booking = _booking(booking_id)
    type_ = balance_reminder_type(booking=booking) if booking is not None else None
    if type_ is None:
        return None
    context = {**_booking_context(booking), "amount": booking.balance_amount}
    _notify(booking.customer_id, type_, context)
    return booking.customer_id


def balance_overdue_notify(*, booking_id, ticket_id=None) -> list[int]:
    """Both parties when an overdue balance went to support (the customer with the ticket's number)."""
    booking = _booking(booking_id)
    types = balance_overdue_types(booking=booking) if booking is not None else {}
    if not types:
        return []
    ticket = SupportTicket.objects.filter(pk=ticket_id).first() if ticket_id else None
    context = {
        **_booking_context(booking),
        "amount": booking.balance_amount,
        "ticket_id": ticket_id,
        "ticket_number": ticket.number if ticket is not None else "",
    }
    for user_id, type_ in types.items():
        _notify(user_id, type_, context)
    return list(types)


def _payout(payout_id):
    return Payout.objects.select_related("booking").filter(pk=payout_id).first()


def _payout_context(payout) -> dict:
    return {
        "payout_id": payout.pk,
        "booking_id": payout.booking_id,
        "booking_number": payout.booking.number,
        "amount": payout.amount,
    }


def payout_paid_notify(*, payout_id) -> int | None:
    """A technician's earnings ("Payout sent") or a customer's refund ("Refund sent")."""
    payout = _payout(payout_id)
    if payout is None:
        logger.warning("payout %s: no recipient to notify", payout_id)
        return None
    _notify(payout.recipient_id, payout_paid_type(payout=payout), _payout_context(payout))
    return payout.recipient_id


def payout_failed_notify(*, payout_id) -> int | None:
    payout = _payout(payout_id)
    if payout is None:
        return None
    type_ = payout_failed_type(payout=payout)
    if type_ is None:
        return None
    _notify(payout.recipient_id, type_, _payout_context(payout))
    return payout.recipient_id


def review_created_notify(*, review_id) -> int | None:
    review = Review.objects.select_related("reviewer", "booking").filter(pk=review_id).first()
    if review is None:
        return None
    # Reviews are blind until both sides have reviewed (or the period ends): do not leak the rating.
    blind = review.visible_from > timezone.now()
    _notify(
        review.reviewee_id,
        "review.received_blind" if blind else "review.received",
        {
            "review_id": review_id,
            "booking_id": review.booking_id,
            "booking_number": review.booking.number,
            "reviewer_name": review.reviewer.get_full_name(),
            "rating": review.overall,
        },
    )
    return review.reviewee_id


def social_mentioned_notify(*, post_id, user_id) -> int | None:
    post = Post.objects.select_related("author").filter(pk=post_id).first()
    if post is None or post.author_id == user_id:
        return None
    _notify(
        user_id,
        "social.mentioned",
        {"post_id": post_id, "author_name": post.author.get_full_name()},
    )
    return user_id


def support_ticket_assigned_notify(*, ticket_id, agent_id) -> int | None:
    ticket = SupportTicket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return None
    agent_id = agent_id or ticket.assigned_to_id
    if agent_id is None:
        return None
    _notify(
        agent_id,
        "support.ticket_assigned",
        {"ticket_id": ticket_id, "ticket_number": ticket.number},
    )
    return agent_id


def support_ticket_replied_notify(*, ticket_id, message_id) -> int | None:
    ticket = SupportTicket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return None
    owner_id = ticket.created_by_id
    message = (
        TicketMessage.objects.filter(pk=message_id).first() if message_id is not None else None
    )
    if message is not None and message.is_internal:
        return None  # staff-only notes are not replies
    if message is not None and message.author_id == owner_id:
        return None
    _notify(
        owner_id,
        "support.ticket_replied",
        {"ticket_id": ticket_id, "ticket_number": ticket.number},
    )
    return owner_id


def support_ticket_escalated_notify(*, ticket_id) -> list[int]:
    """The agent now holding the ticket and every administrator: an escalation asks someone senior to look."""
    ticket = SupportTicket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return []
    admins = User.objects.filter(is_active=True).filter(Q(role=Role.ADMIN) | Q(is_superuser=True))
    recipients = sorted(
        {*admins.values_list("pk", flat=True), *filter(None, [ticket.assigned_to_id])}
    )
    context = {
        "ticket_id": ticket_id,
        "ticket_number": ticket.number,
        "level": ticket.escalation_level,
        "priority": ticket.priority,
    }
    for user_id in recipients:
        _notify(user_id, "support.ticket_escalated", context)
    return recipients


def support_ticket_waiting_notify(*, ticket_id) -> list[int]:
    """Every active support agent and administrator, while the urgent ticket still waits for an agent."""
    ticket = SupportTicket.objects.filter(pk=ticket_id).first()
    if (
        ticket is None
        or ticket.assigned_to_id is not None
        or ticket.status in ("resolved", "closed")
    ):
        return []  # picked up (or finished) before this ran: nothing waits any more
    recipients = list(
        User.objects.filter(is_active=True)
        .filter(Q(role__in=(Role.SUPPORT, Role.ADMIN)) | Q(is_superuser=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    context = {"ticket_id": ticket_id, "ticket_number": ticket.number, "priority": ticket.priority}
    for user_id in recipients:
        _notify(user_id, "support.ticket_waiting", context)
    return recipients


def dispute_notify(*, booking_id, type_, dispute_id=None) -> list[int]:
    """Both parties, whoever opened the dispute: each has to know support is looking (or has decided). A
    dispute a guarantee claim opened was announced by the claim's notification (`dispute_opened_type`)."""
    booking = _booking(booking_id)
    if booking is None:
        return []
    if type_ == "dispute.opened" and dispute_opened_type(dispute_id=dispute_id) is None:
        return []
    recipients = _parties(booking)
    context = _booking_context(booking)
    if dispute_id is not None:
        context["dispute_id"] = dispute_id
    for user_id in recipients:
        _notify(user_id, type_, context)
    return recipients


def offline_recipients_notify(*, message_id) -> list[int]:
    """Notify (group "messages") every other participant of the message's conversation who is offline."""
    message = Message.objects.select_related("sender").filter(pk=message_id).first()
    if message is None or message.is_deleted:
        return []
    recipient_ids = list(
        ConversationParticipant.objects.filter(conversation_id=message.conversation_id)
        .exclude(user_id=message.sender_id)
        .values_list("user_id", flat=True)
    )
    online = online_user_ids(recipient_ids)
    offline = [uid for uid in recipient_ids if uid not in online]
    preview = message.body[:120] if message.body else "📎"
    context = {
        "conversation_id": message.conversation_id,
        "message_id": message.pk,
        "sender_name": message.sender.get_full_name() if message.sender else "",
        "preview": preview,
    }
    # One alert per conversation until it is read (or for MESSAGE_ALERT_COALESCE): a chatty sender must not
    # become fifty pushes, emails and paid SMS.
    since = timezone.now() - MESSAGE_ALERT_COALESCE
    already_alerted = set(
        Notification.objects.filter(
            user_id__in=offline,
            type="message.received",
            is_read=False,
            data__conversation_id=message.conversation_id,
            created_at__gte=since,
        ).values_list("user_id", flat=True)
    )
    notified = [uid for uid in offline if uid not in already_alerted]
    for user_id in notified:
        _notify(user_id, "message.received", context)
    return notified
