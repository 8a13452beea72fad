"""Agreements: reschedule proposals, quotes, change orders (bookings/services/agreements.py) and their money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from bookings.errors import (
    DepositPaymentOpen,
    InvalidBooking,
    NotProposalAuthor,
    NotProposalCounterparty,
    ProposalExpired,
    ProposalNotAllowed,
    ProposalNotOpen,
    RescheduleRequiresProposal,
    SlotTaken,
)
from bookings.models import (
    Booking,
    BookingProposal,
    BookingProposalHistory,
    BookingStatus,
    ProposalKind,
    ProposalStatus,
)
from bookings.pricing import price_change_breakdown
from bookings.services import (
    booking_update,
    cancellation_fee_for,
    change_order_create,
    proposal_accept,
    proposal_decline,
    proposal_expire_due,
    proposal_withdraw,
    quote_create,
    reschedule_propose,
)
from bookings.tests.factories import BookingFactory
from dumuwaks.core.idempotency import IdempotencyKeyReused
from payments.models import Payment, PaymentPurpose, PaymentStatus, Payout, PayoutKind
from payments.receipts import payment_outcome_lines
from payments.services.common import lock_booking
from payments.services.escrow import escrow_release_if_complete
from payments.tests.helpers import assert_reconciled, escrow, paid_payment, set_status

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)
R = ProposalKind.RESCHEDULE
Q = ProposalKind.QUOTE
CO = ProposalKind.CHANGE_ORDER


def _start(hours: float):
    return (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)


@pytest.fixture
def accepted(customer, technician, service_category):
    """Accepted, deposit paid (KES 1000 of 5000 in escrow), 3 days ahead."""
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        category=service_category,
        price=Decimal("5000"),
        scheduled_start=_start(72),
    )
    paid_payment(booking)
    set_status(booking, BookingStatus.ACCEPTED, accepted_at=timezone.now())
    return booking


def _history(proposal):
    return list(
        BookingProposalHistory.objects.filter(proposal=proposal).values_list(
            "from_status", "to_status", "actor_id"
        )
    )


# --- reschedule ---------------------------------------------------------------------------------------------


def test_reschedule_moves_the_booking_only_when_the_other_party_accepts(
    accepted, customer, technician
):
    old_start, new_start = accepted.scheduled_start, _start(96)
    proposal, created = reschedule_propose(
        booking=accepted, actor=customer, scheduled_start=new_start, reason="Travelling"
    )
    assert created and proposal.status == ProposalStatus.OPEN
    accepted.refresh_from_db()
    assert accepted.scheduled_start == old_start  # nothing moves yet
    assert proposal.previous_start == old_start
    assert proposal.expires_at == min(timezone.now() + 24 * H, old_start) or (
        proposal.expires_at <= timezone.now() + 24 * H
    )

    with pytest.raises(NotProposalCounterparty):  # the proposer cannot accept their own
        proposal_accept(booking=accepted, proposal_id=proposal.pk, kind=R, actor=customer)
    proposal_accept(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)

    accepted.refresh_from_db()
    assert accepted.scheduled_start == new_start
    assert accepted.scheduled_end == new_start + H
    assert accepted.status == BookingStatus.ACCEPTED
    assert _history(proposal) == [
        ("", "open", customer.pk),
        ("open", "accepted", technician.pk),
    ]
    # Answering again the same way is a no-op; another answer is refused.
    again = proposal_accept(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)
    assert again.status == ProposalStatus.ACCEPTED and len(_history(proposal)) == 2
    with pytest.raises(ProposalNotOpen):
        proposal_decline(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)


def test_declined_reschedule_changes_nothing(accepted, customer, technician):
    old = accepted.scheduled_start
    proposal, _ = reschedule_propose(
        booking=accepted, actor=technician, scheduled_start=_start(100), reason="Van broke down"
    )
    proposal_decline(
        booking=accepted, proposal_id=proposal.pk, kind=R, actor=customer, note="No, sorry"
    )
    accepted.refresh_from_db()
    proposal.refresh_from_db()
    assert accepted.scheduled_start == old
    assert proposal.status == ProposalStatus.DECLINED and proposal.decided_by_id == customer.pk


def test_a_new_proposal_supersedes_the_open_one(accepted, customer, technician):
    first, _ = reschedule_propose(
        booking=accepted, actor=customer, scheduled_start=_start(96), reason="Travelling"
    )
    counter, _ = reschedule_propose(
        booking=accepted, actor=technician, scheduled_start=_start(98), reason="Later suits me"
    )
    first.refresh_from_db()
    assert first.status == ProposalStatus.SUPERSEDED
    assert counter.status == ProposalStatus.OPEN
    assert BookingProposal.objects.filter(booking=accepted, status="open").count() == 1


def test_accepting_into_a_taken_slot_is_slot_taken_and_nothing_changes(
    accepted, customer, technician
):
    target = _start(120)
    proposal, _ = reschedule_propose(
        booking=accepted, actor=customer, scheduled_start=target, reason="Travelling"
    )
    # Meanwhile the technician took another job at that time.
    BookingFactory(
        technician=technician,
        scheduled_start=target,
        scheduled_end=target + H,
        status=BookingStatus.ACCEPTED,
    )
    with pytest.raises(SlotTaken):
        proposal_accept(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)
    proposal.refresh_from_db()
    accepted.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN
    assert accepted.scheduled_start != target


def test_proposing_a_slot_the_technician_holds_is_slot_taken(accepted, customer, technician):
    target = _start(120)
    BookingFactory(technician=technician, scheduled_start=target, scheduled_end=target + H)
    with pytest.raises(SlotTaken):
        reschedule_propose(booking=accepted, actor=customer, scheduled_start=target, reason="x")
    assert not BookingProposal.objects.exists()


def test_only_accepted_bookings_are_rescheduled_by_agreement(customer, technician):
    pending = BookingFactory(customer=customer, technician=technician)
    with pytest.raises(ProposalNotAllowed):
        reschedule_propose(booking=pending, actor=customer, scheduled_start=_start(80), reason="x")


def test_direct_edit_of_an_accepted_bookings_time_is_refused(accepted, customer):
    old = accepted.scheduled_start
    with pytest.raises(RescheduleRequiresProposal) as exc:
        booking_update(booking=accepted, actor=customer, scheduled_start=_start(90))
    assert f"/api/v1/bookings/{accepted.pk}/reschedule-proposals" in exc.value.message
    # The same time (a PUT repeating it) and other fields are still fine.
    booking_update(booking=accepted, actor=customer, scheduled_start=old, title="Kitchen tap")
    accepted.refresh_from_db()
    assert accepted.title == "Kitchen tap" and accepted.scheduled_start == old


def test_pending_booking_time_is_still_edited_directly(customer, technician):
    pending = BookingFactory(customer=customer, technician=technician)
    new = _start(130)
    booking_update(booking=pending, actor=customer, scheduled_start=new)
    pending.refresh_from_db()
    assert pending.scheduled_start == new


def test_an_unanswered_proposal_expires_lazily_and_by_the_beat_job(accepted, customer, technician):
    proposal, _ = reschedule_propose(
        booking=accepted, actor=customer, scheduled_start=_start(96), reason="Travelling"
    )
    BookingProposal.objects.filter(pk=proposal.pk).update(expires_at=timezone.now() - H)
    with pytest.raises(ProposalExpired):
        proposal_accept(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.EXPIRED  # committed although the answer failed
    old = accepted.scheduled_start
    accepted.refresh_from_db()
    assert accepted.scheduled_start == old

    second, _ = reschedule_propose(
        booking=accepted, actor=technician, scheduled_start=_start(97), reason="Again"
    )
    assert proposal_expire_due() == 0
    BookingProposal.objects.filter(pk=second.pk).update(expires_at=timezone.now() - H)
    assert proposal_expire_due() == 1
    second.refresh_from_db()
    assert second.status == ProposalStatus.EXPIRED
    assert _history(second)[-1] == ("open", "expired", None)


def test_cancellation_fee_counts_from_the_agreed_time(customer, technician, service_category):
    booking = BookingFactory(
        customer=customer,
        technician=technician,
        category=service_category,
        price=Decimal("5000"),
        scheduled_start=_start(30),
        deposit_paid=True,
        status=BookingStatus.ACCEPTED,
    )
    proposal, _ = reschedule_propose(
        booking=booking, actor=technician, scheduled_start=_start(4), reason="Earlier works"
    )
    now = timezone.now()
    # Proposed, not agreed: 30 h ahead, no fee.
    assert cancellation_fee_for(booking=booking, cancelled_by=customer, at=now) == 0
    proposal_accept(booking=booking, proposal_id=proposal.pk, kind=R, actor=customer)
    booking.refresh_from_db()
    # Agreed: 4 h ahead, 50 % of the KES 1000 deposit.
    assert cancellation_fee_for(booking=booking, cancelled_by=customer, at=now) == Decimal("500")


def test_idempotency_key_returns_the_same_proposal(accepted, customer):
    kwargs = dict(booking=accepted, actor=customer, scheduled_start=_start(96), reason="x")
    first, created = reschedule_propose(idempotency_key="k-1", **kwargs)
    again, created_again = reschedule_propose(idempotency_key="k-1", **kwargs)
    assert created and not created_again and first.pk == again.pk
    other = BookingFactory(customer=customer, status=BookingStatus.ACCEPTED)
    with pytest.raises(IdempotencyKeyReused):
        reschedule_propose(
            booking=other,
            actor=customer,
            scheduled_start=_start(99),
            reason="x",
            idempotency_key="k-1",
        )


def test_withdraw_is_for_the_author_only(accepted, customer, technician):
    proposal, _ = reschedule_propose(
        booking=accepted, actor=customer, scheduled_start=_start(96), reason="x"
    )

    with pytest.raises(NotProposalAuthor):
        proposal_withdraw(booking=accepted, proposal_id=proposal.pk, kind=R, actor=technician)
    proposal_withdraw(booking=accepted, proposal_id=proposal.pk, kind=R, actor=customer)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.WITHDRAWN


# --- quotes -------------------------------------------------------------------------------------------------


def test_quote_accepted_after_the_deposit_accepts_the_booking_at_the_quoted_price(
    customer, technician, service_category
):
    booking = BookingFactory(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )
    paid_payment(booking)  # KES 1000
    quote, _ = quote_create(
        booking=booking, technician=technician, price="6000", note="Two taps, not one"
    )
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING and booking.price == Decimal("5000")
    proposal_accept(booking=booking, proposal_id=quote.pk, kind=Q, actor=customer)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED
    assert (
        booking.price,
        booking.deposit_amount,
        booking.balance_amount,
        booking.platform_fee,
        booking.technician_share,
    ) == (Decimal("6000"), Decimal("1000"), Decimal("5000"), Decimal("900"), Decimal("5100"))
    last = booking.status_history.order_by("-id").first()
    assert (last.actor_id, last.to_status) == (technician.pk, "accepted")
    assert f"Quote {quote.pk}" in last.note


def test_quote_before_the_deposit_reprices_it_and_accepts_when_paid(
    customer, technician, service_category
):
    booking = BookingFactory(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )
    quote, _ = quote_create(booking=booking, technician=technician, price="4000", note="Simple")
    proposal_accept(booking=booking, proposal_id=quote.pk, kind=Q, actor=customer)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING
    assert (booking.price, booking.deposit_amount, booking.balance_amount) == (
        Decimal("4000"),
        Decimal("800"),
        Decimal("3200"),
    )
    payment = paid_payment(booking)
    assert payment.amount == Decimal("800")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACCEPTED
    assert escrow(booking) == Decimal("800")


def test_quote_is_not_accepted_while_a_deposit_payment_for_the_old_price_is_open(
    customer, technician, service_category
):
    booking = BookingFactory(
        customer=customer, technician=technician, category=service_category, price=Decimal("5000")
    )
    Payment.objects.create(
        booking=booking,
        payer=customer,
        purpose=PaymentPurpose.DEPOSIT,
        amount=Decimal("1000"),
        status=PaymentStatus.PENDING,
    )
    quote, _ = quote_create(booking=booking, technician=technician, price="4000", note="Simple")
    with pytest.raises(DepositPaymentOpen):
        proposal_accept(booking=booking, proposal_id=quote.pk, kind=Q, actor=customer)
    booking.refresh_from_db()
    quote.refresh_from_db()
    assert booking.price == Decimal("5000") and quote.status == ProposalStatus.OPEN


def test_open_job_quotes_from_two_technicians_the_customer_picks_one(
    customer, technician, other_technician, service_category
):
    booking = BookingFactory(
        customer=customer, technician=None, category=service_category, price=Decimal("5000")
    )
    paid_payment(booking)
    mine, _ = quote_create(booking=booking, technician=technician, price="5500", note="Me")
    theirs, _ = quote_create(booking=booking, technician=other_technician, price="5200", note="Me")
    proposal_accept(booking=booking, proposal_id=theirs.pk, kind=Q, actor=customer)
    booking.refresh_from_db()
    mine.refresh_from_db()
    assert booking.technician_id == other_technician.pk
    assert booking.status == BookingStatus.ACCEPTED and booking.price == Decimal("5200")
    assert mine.status == ProposalStatus.SUPERSEDED


def test_quote_only_on_a_pending_booking(accepted, technician):
    with pytest.raises(ProposalNotAllowed):
        quote_create(booking=accepted, technician=technician, price="6000", note="x")


def test_quote_price_has_the_minimum(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    with pytest.raises(InvalidBooking) as exc:
        quote_create(booking=booking, technician=technician, price="99", note="x")
    assert "price" in exc.value.fields
    assert not BookingProposal.objects.exists()


# --- change orders ------------------------------------------------------------------------------------------


def test_change_order_raises_the_price_and_the_balance_collects_it(accepted, customer, technician):
    set_status(accepted, BookingStatus.IN_PROGRESS)
    order, _ = change_order_create(
        booking=accepted, technician=technician, amount="1500", note="Second leak"
    )
    assert (order.price_before, order.price_after) == (Decimal("5000"), Decimal("6500"))
    proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)
    accepted.refresh_from_db()
    assert (
        accepted.price,
        accepted.deposit_amount,
        accepted.balance_amount,
        accepted.platform_fee,
        accepted.technician_share,
    ) == (Decimal("6500"), Decimal("1000"), Decimal("5500"), Decimal("975"), Decimal("5525"))

    # The rest of the job: the balance (KES 5500) and the release split exactly as stored.
    set_status(
        accepted, BookingStatus.CONFIRMED, completed_at=timezone.now(), confirmed_at=timezone.now()
    )
    balance = paid_payment(accepted, PaymentPurpose.BALANCE)
    assert balance.amount == Decimal("5500")
    with transaction.atomic():  # released by the payment already; releasing again moves nothing
        escrow_release_if_complete(booking=lock_booking(accepted.pk))
    payout = Payout.objects.get(booking=accepted, kind=PayoutKind.TECHNICIAN_PAYOUT)
    assert payout.amount == Decimal("5525")
    assert escrow(accepted) == 0
    assert_reconciled()


def test_change_order_below_the_paid_deposit_refunds_the_excess(accepted, customer, technician):
    order, _ = change_order_create(
        booking=accepted, technician=technician, amount="-4500", note="Only a washer"
    )
    proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)
    accepted.refresh_from_db()
    order.refresh_from_db()
    assert (accepted.price, accepted.deposit_amount, accepted.balance_amount) == (
        Decimal("500"),
        Decimal("500"),
        Decimal("0"),
    )
    assert order.refund_amount == Decimal("500")
    assert escrow(accepted) == Decimal("500")
    refund = Payout.objects.get(booking=accepted, kind=PayoutKind.REFUND)
    assert refund.amount == Decimal("500") and refund.recipient_id == customer.pk
    assert_reconciled()
    # Approving again changes nothing: no second refund.
    proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)
    assert Payout.objects.filter(booking=accepted, kind=PayoutKind.REFUND).count() == 1


def test_change_order_rules(accepted, customer, technician, other_technician):
    with pytest.raises(InvalidBooking):
        change_order_create(booking=accepted, technician=technician, amount="0", note="x")
    with pytest.raises(InvalidBooking) as exc:  # the minimum booking price still holds
        change_order_create(booking=accepted, technician=technician, amount="-4950", note="x")
    assert "amount" in exc.value.fields
    with pytest.raises(NotProposalCounterparty):
        change_order_create(booking=accepted, technician=other_technician, amount="10", note="x")
    order, _ = change_order_create(booking=accepted, technician=technician, amount="200", note="x")
    with pytest.raises(NotProposalCounterparty):  # the technician cannot approve their own
        proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=technician)
    proposal_decline(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)
    accepted.refresh_from_db()
    assert accepted.price == Decimal("5000")
    with pytest.raises(ProposalNotOpen):
        proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)


def test_change_order_expires_when_the_work_is_completed(accepted, customer, technician):
    order, _ = change_order_create(booking=accepted, technician=technician, amount="200", note="x")
    set_status(accepted, BookingStatus.COMPLETED, completed_at=timezone.now())
    assert proposal_expire_due() == 1
    order.refresh_from_db()
    assert order.status == ProposalStatus.EXPIRED
    assert Booking.objects.get(pk=accepted.pk).price == Decimal("5000")


@pytest.mark.parametrize(
    ("price", "held", "deposit", "balance", "refund"),
    [
        ("6000", None, "1200", "4800", "0"),
        ("6000", "1000", "1000", "5000", "0"),
        ("800", "1000", "800", "0", "200"),
        ("1000", "1000", "1000", "0", "0"),
    ],
)
def test_price_change_breakdown_adds_up(price, held, deposit, balance, refund):
    change = price_change_breakdown(price, deposit_held=Decimal(held) if held else None)
    a = change.amounts
    assert (a.deposit, a.balance, change.refund) == (
        Decimal(deposit),
        Decimal(balance),
        Decimal(refund),
    )
    assert a.deposit + a.balance == a.price == Decimal(price)
    assert a.platform_fee + a.technician_share == a.price


def test_receipt_of_the_deposit_follows_a_lowered_price(accepted, customer, technician):
    deposit = Payment.objects.get(booking=accepted, purpose=PaymentPurpose.DEPOSIT)
    order, _ = change_order_create(
        booking=accepted, technician=technician, amount="-4400", note="Only a washer"
    )
    proposal_accept(booking=accepted, proposal_id=order.pk, kind=CO, actor=customer)
    lines = payment_outcome_lines(deposit)
    assert any("Held in escrow by Dumu Waks: KES 600.00" in line for line in lines), lines
    assert any("Being refunded to you: KES 400.00" in line for line in lines), lines


def test_quote_expires_once_another_technician_took_the_job(
    customer, technician, other_technician, service_category
):
    booking = BookingFactory(
        customer=customer, technician=None, category=service_category, price=Decimal("5000")
    )
    paid_payment(booking)
    quote, _ = quote_create(booking=booking, technician=technician, price="5500", note="Me")
    assert proposal_expire_due() == 0
    Booking.objects.filter(pk=booking.pk).update(technician=other_technician)  # took it (setup)
    assert proposal_expire_due() == 1
    quote.refresh_from_db()
    assert quote.status == ProposalStatus.EXPIRED
    assert _history(quote)[-1] == ("open", "expired", None)
