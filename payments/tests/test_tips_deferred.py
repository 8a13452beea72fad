"""The bound on a small tip's wait (rules.TIP_DEFERRED_MAX_WAIT): a tip payout still `deferred` that long after
it was made is paid on its own by the money sweep (beat), from the payouts alone; before the bound, or once a
payout carried it, the sweep leaves it alone."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from conftest import race
from dumuwaks.core.errors import InvalidTransition
from notifications.catalogue import CATALOGUE
from payments import rules, tasks
from payments.models import (
    LedgerEntry,
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
    PayoutStatusHistory,
)
from payments.selectors.balances import account_balance
from payments.services.common import lock_booking, lock_payment
from payments.services.escrow import escrow_release_if_complete
from payments.services.ledger import tips_payable_code
from payments.services.payments import payment_mark_succeeded
from payments.services.payouts import payout_send, payout_transition
from payments.services.sweep import payments_sweep
from payments.services.tips import tip_payout_release_deferred
from payments.tests.fakes.daraja import PATH_B2C
from payments.tests.helpers import (
    assert_reconciled,
    deliver_b2c_result_twice,
    make_booking,
    paid_payment,
    set_status,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(booking):
    paid_payment(booking)
    set_status(booking, "completed", completed_at=timezone.now())
    return booking


def _credited_tip(booking, amount: str) -> Payout:
    """A tip whose money arrived (the callback's service), and its payout."""
    payment = Payment.objects.create(
        booking=booking,
        payer=booking.customer,
        purpose=PaymentPurpose.TIP,
        amount=Decimal(amount),
        phone=booking.customer.phone_number,
        status=PaymentStatus.PENDING,
    )
    with transaction.atomic():
        payment_mark_succeeded(booking=lock_booking(booking.pk), payment=lock_payment(payment.pk))
    return Payout.objects.get(kind=PayoutKind.TIP, source_payment=payment)


def _age(payout: Payout, by: timedelta) -> None:
    Payout.objects.filter(pk=payout.pk).update(created_at=timezone.now() - by)


def _released(result) -> list:
    return [row for row in result.completed if row[1] == "tip_payout_released"]


def test_small_tip_deferred_past_the_bound_is_paid_on_its_own_by_the_sweep(mpesa, done, technician):
    payout = _credited_tip(done, "150")
    assert payout.status == PayoutStatus.DEFERRED
    _age(payout, rules.TIP_DEFERRED_MAX_WAIT - timedelta(minutes=1))
    assert _released(payments_sweep()) == []  # not yet: the next payout may still carry it
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.DEFERRED

    _age(payout, rules.TIP_DEFERRED_MAX_WAIT + timedelta(minutes=1))
    assert tasks.payments_sweep_task.apply().get()["failed"] == 0  # the beat job
    payout.refresh_from_db()
    assert (payout.status, payout.phone, payout.amount) == (
        PayoutStatus.QUEUED,
        technician.phone_number,
        Decimal("150.00"),
    )
    history = PayoutStatusHistory.objects.filter(payout=payout).order_by("-id").first()
    assert (history.from_status, history.to_status) == (PayoutStatus.DEFERRED, PayoutStatus.QUEUED)
    assert "paid on its own" in history.note

    assert payout_send(payout_id=payout.pk) == "accepted"
    assert [r.json["Amount"] for r in mpesa.requests_to(PATH_B2C)] == [150]
    payout.refresh_from_db()
    deliver_b2c_result_twice(mpesa, payout)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert sorted(
        LedgerEntry.objects.filter(transaction__reference=f"payout:{payout.pk}:paid").values_list(
            "account__code", "side", "amount"
        )
    ) == [
        ("mpesa_b2c_disbursed", "debit", Decimal("150.00")),
        (tips_payable_code(technician.pk), "credit", Decimal("150.00")),
    ]
    assert not LedgerEntry.objects.filter(transaction__reference=f"payout:{payout.pk}:carried")
    assert account_balance(tips_payable_code(technician.pk)) == 0

    # Later runs find nothing more to do: one payout, one B2C request.
    assert _released(payments_sweep()) == []
    assert len(mpesa.requests_to(PATH_B2C)) == 1
    assert_reconciled()


def test_released_tip_is_held_for_review_when_the_number_changed_recently(mpesa, done, technician):
    payout = _credited_tip(done, "150")
    _age(payout, rules.TIP_DEFERRED_MAX_WAIT + timedelta(minutes=1))
    technician.phone_changed_at = timezone.now()
    technician.save(update_fields=["phone_changed_at"])
    assert _released(payments_sweep()) == [(done.pk, "tip_payout_released", "pending_review")]
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PENDING_REVIEW
    assert payout.review_reason == "M-Pesa number changed in the last 24 hours"
    assert mpesa.requests_to(PATH_B2C) == []


def test_tip_carried_before_the_bound_is_not_paid_again(mpesa, done, customer, technician):
    tip_payout = _credited_tip(done, "150")
    other = make_booking(customer, technician)
    paid_payment(other)
    set_status(other, "confirmed", completed_at=timezone.now(), confirmed_at=timezone.now())
    paid_payment(other, purpose=PaymentPurpose.BALANCE)
    carrier = Payout.objects.get(kind=PayoutKind.TECHNICIAN_PAYOUT, booking=other)
    tip_payout.refresh_from_db()
    assert (tip_payout.status, tip_payout.carried_into_id) == (PayoutStatus.CARRIED, carrier.pk)

    _age(tip_payout, rules.TIP_DEFERRED_MAX_WAIT + timedelta(days=1))
    assert _released(payments_sweep()) == []
    assert tip_payout_release_deferred(payout_id=tip_payout.pk) is None
    tip_payout.refresh_from_db()
    assert tip_payout.status == PayoutStatus.CARRIED
    assert carrier.amount == other.technician_share + Decimal("150.00")
    assert Payout.objects.filter(status=PayoutStatus.QUEUED).get() == carrier


def test_only_a_tip_past_the_bound_may_leave_deferred_for_queued(done, technician):
    fresh = _credited_tip(done, "150")
    with pytest.raises(InvalidTransition), transaction.atomic():
        tip_payout_release_deferred(payout_id=fresh.pk)
    fresh.refresh_from_db()
    assert fresh.status == PayoutStatus.DEFERRED

    # A technician share deferred below the B2C minimum has nothing B2C could send on its own.
    share = Payout.objects.create(
        kind=PayoutKind.TECHNICIAN_PAYOUT,
        booking=done,
        recipient=technician,
        amount=Decimal("5.00"),
        status=PayoutStatus.DEFERRED,
        created_at=timezone.now() - timedelta(days=30),
    )
    _age(share, timedelta(days=30))
    assert tip_payout_release_deferred(payout_id=share.pk) is None
    with pytest.raises(InvalidTransition), transaction.atomic():
        payout_transition(payout=share, to=PayoutStatus.QUEUED)
    share.refresh_from_db()
    assert share.status == PayoutStatus.DEFERRED


@pytest.mark.django_db(transaction=True)
def test_release_racing_a_payout_that_carries_the_tip_pays_it_once(mpesa, customer, technician):
    done = make_booking(customer, technician)
    paid_payment(done)
    set_status(done, "completed", completed_at=timezone.now())
    tip_payout = _credited_tip(done, "150")
    _age(tip_payout, rules.TIP_DEFERRED_MAX_WAIT + timedelta(minutes=1))
    # The technician's next job: fully paid while completed, so its release is what the race starts.
    other = make_booking(customer, technician)
    paid_payment(other)
    set_status(other, "completed", completed_at=timezone.now())
    paid_payment(other, purpose=PaymentPurpose.BALANCE)
    set_status(other, "confirmed", confirmed_at=timezone.now())

    def release_other_job():
        with transaction.atomic():
            return escrow_release_if_complete(booking=lock_booking(other.pk))

    swept, released = race(
        lambda: tip_payout_release_deferred(payout_id=tip_payout.pk), release_other_job
    )
    assert released is True, released
    assert not isinstance(swept, Exception), swept
    tip_payout.refresh_from_db()
    carrier = Payout.objects.get(kind=PayoutKind.TECHNICIAN_PAYOUT, booking=other)
    if tip_payout.status == PayoutStatus.CARRIED:  # the release locked first: the tip went with it
        assert swept is None
        assert carrier.amount == other.technician_share + Decimal("150.00")
    else:  # the sweep locked first: the tip goes on its own, the release no longer sees it
        assert swept.pk == tip_payout.pk
        assert tip_payout.status not in (PayoutStatus.DEFERRED, PayoutStatus.CARRIED)
        assert carrier.amount == other.technician_share
    # Either way the 150 is sent exactly once (the send tasks ran after each commit).
    share = int(other.technician_share)
    amounts = sorted(request.json["Amount"] for request in mpesa.requests_to(PATH_B2C))
    assert amounts in ([150, share], [share + 150])
    assert_reconciled()


def _paid_and_confirmed(customer, technician):
    """A job whose full price is in escrow and that is confirmed, its release not yet run."""
    booking = make_booking(customer, technician)
    paid_payment(booking)
    set_status(booking, "completed", completed_at=timezone.now())
    paid_payment(booking, purpose=PaymentPurpose.BALANCE)
    return booking


@pytest.mark.django_db(transaction=True)
def test_two_releases_at_once_carry_a_deferred_tip_once_without_deadlock(
    mpesa, customer, technician
):
    def release(booking):
        def run():
            with transaction.atomic():
                return escrow_release_if_complete(booking=lock_booking(booking.pk))

        return run

    for _ in range(3):  # either release may take the technician payable lock first
        tipped = _paid_and_confirmed(customer, technician)
        tip_payout = _credited_tip(tipped, "150")
        other = _paid_and_confirmed(customer, technician)
        for booking in (tipped, other):
            set_status(booking, "confirmed", confirmed_at=timezone.now())
        results = race(release(tipped), release(other))
        assert results == [True, True], results
        tip_payout.refresh_from_db()
        assert tip_payout.status == PayoutStatus.CARRIED
        carriers = Payout.objects.filter(
            kind=PayoutKind.TECHNICIAN_PAYOUT, booking__in=(tipped, other)
        )
        assert sorted(p.amount for p in carriers) == sorted(
            [tipped.technician_share, other.technician_share + Decimal("150.00")]
            if carriers.get(pk=tip_payout.carried_into_id).booking_id == other.pk
            else [tipped.technician_share + Decimal("150.00"), other.technician_share]
        )
    assert account_balance(tips_payable_code(technician.pk)) == 0
    assert_reconciled()


def test_the_technicians_tip_message_states_the_wait_bound():
    entry = CATALOGUE["tip.received"]
    days = rules.TIP_DEFERRED_MAX_WAIT.days
    assert f"within {days} days" in entry.en[1]
    assert f"ndani ya siku {days}" in entry.sw[1]
