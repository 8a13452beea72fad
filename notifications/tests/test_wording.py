"""Each notification says what is true for its reader in the state the task finds (issue 19)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.services import booking_transition
from bookings.tests.factories import BookingFactory, DisputeFactory
from notifications import catalogue, producers, wording
from notifications.models import Notification
from payments.models import PaymentPurpose, PaymentStatus, PayoutChannel, PayoutKind, PayoutStatus
from payments.tests.factories import PaymentFactory, PayoutFactory

pytestmark = pytest.mark.django_db


def _only(user) -> Notification:
    return Notification.objects.get(user=user)


# --- booking status changes ----------------------------------------------------------------------------------


def test_every_booking_status_has_a_declared_wording_and_every_type_has_texts():
    assert set(wording.BOOKING_STATUS_TYPES) == set(BookingStatus.values)
    declared = {t for by_role in wording.BOOKING_STATUS_TYPES.values() for t in by_role.values()}
    extra = {"booking.auto_confirmed", "booking.expired_unpaid", "booking.deposit_paid"}
    assert declared | extra <= set(catalogue.CATALOGUE)


@pytest.mark.parametrize("status", [BookingStatus.DISPUTED, BookingStatus.RESOLVED])
def test_dispute_statuses_leave_the_notification_to_the_dispute_events(
    status, customer, technician, support_agent
):
    booking = BookingFactory(customer=customer, technician=technician, status=status)
    for actor_id in (customer.pk, technician.pk, support_agent.pk, None):
        assert (
            producers.booking_status_changed_notify(
                booking_id=booking.pk, from_status="", to_status=status, actor_id=actor_id
            )
            == []
        )
    assert not Notification.objects.exists()


def test_a_timer_confirmation_does_not_say_the_customer_confirmed(customer, technician):
    booking = BookingFactory(
        customer=customer, technician=technician, status=BookingStatus.CONFIRMED
    )
    producers.booking_status_changed_notify(
        booking_id=booking.pk, from_status="completed", to_status="confirmed", actor_id=None
    )
    for user in (customer, technician):
        note = _only(user)
        assert note.type == "booking.auto_confirmed"
        assert "automatically" in note.body and customer.first_name not in note.body


def test_a_customer_confirmation_tells_the_technician_who_confirmed(customer, technician):
    booking = BookingFactory(
        customer=customer, technician=technician, status=BookingStatus.CONFIRMED
    )
    producers.booking_status_changed_notify(
        booking_id=booking.pk, from_status="completed", to_status="confirmed", actor_id=customer.pk
    )
    note = Notification.objects.get()
    assert (note.user_id, note.type) == (technician.pk, "booking.confirmed")
    assert customer.get_full_name() in note.body


def test_expiry_after_the_deposit_says_no_technician_accepted_and_the_deposit_comes_back(
    customer, technician
):
    booking = BookingFactory(
        customer=customer, technician=technician, status=BookingStatus.EXPIRED, deposit_paid=True
    )
    producers.booking_status_changed_notify(
        booking_id=booking.pk, from_status="pending", to_status="expired", actor_id=None
    )
    note = _only(customer)
    assert note.type == "booking.expired"
    assert "No technician accepted" in note.body and "refunded" in note.body
    assert _only(technician).type == "booking.expired_for_technician"


def test_a_declined_job_tells_the_customer_it_is_open_to_other_technicians(
    customer, technician, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to=BookingStatus.PENDING, actor=technician)
    note = Notification.objects.get()
    assert (note.user_id, note.type) == (customer.pk, "booking.pending")
    assert note.title == "Looking for another technician"


# --- payments ------------------------------------------------------------------------------------------------


def _succeeded(booking, **fields):
    fields.setdefault("completed_at", timezone.now())
    return PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED, **fields)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_a_deposit_before_any_technician_accepted_does_not_say_the_job_is_confirmed(
    language, customer, technician
):
    customer.preferred_language = language
    customer.save(update_fields=["preferred_language"])
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    payment = _succeeded(booking)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=booking.pk, succeeded=True)
    note = _only(customer)
    assert note.type == "payment.deposit_received"
    text = f"{note.title} {note.body}".lower()
    if language == "en":
        assert note.title == "Deposit received"
        assert "confirmed" not in text and "technician accepts" in text
    else:
        assert note.title == "Malipo ya awali yamepokelewa"
        assert "imethibitishwa" not in text and "fundi atakapokubali" in text
    assert str(payment.amount) in note.body


def test_a_deposit_after_the_technician_accepted_is_a_plain_receipt(customer, technician):
    booking = BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status=BookingStatus.ACCEPTED
    )
    payment = _succeeded(booking)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=booking.pk, succeeded=True)
    assert _only(customer).type == "payment.succeeded"


def test_money_for_a_closed_booking_is_announced_as_coming_back(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician, status="cancelled")
    payment = _succeeded(booking)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=booking.pk, succeeded=True)
    note = _only(customer)
    assert note.type == "payment.refund_due" and "refund" in note.body


def test_the_balance_of_a_dispute_released_to_the_technician_is_a_plain_receipt(
    customer, technician
):
    """Resolved `release_to_technician`, the full price is still owed: the balance is not coming back."""

    booking = BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status="resolved"
    )
    DisputeFactory(
        booking=booking, status="resolved", outcome="release_to_technician", opened_by=customer
    )
    payment = _succeeded(booking, purpose=PaymentPurpose.BALANCE, amount=booking.balance_amount)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=booking.pk, succeeded=True)
    assert _only(customer).type == "payment.succeeded"


def test_a_second_payment_for_the_same_deposit_is_announced_as_a_duplicate(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    first = _succeeded(booking, completed_at=timezone.now() - timedelta(minutes=5))
    second = _succeeded(booking)
    producers.payment_result_notify(payment_id=second.pk, booking_id=booking.pk, succeeded=True)
    assert _only(customer).type == "payment.duplicate"
    Notification.objects.all().delete()
    producers.payment_result_notify(payment_id=first.pk, booking_id=booking.pk, succeeded=True)
    assert _only(customer).type == "payment.deposit_received"


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        ("still_due", "payment.failed"),
        ("succeeded_late", None),
        ("booking_closed", None),
        ("paid_another_way", None),
    ],
)
def test_a_failed_payment_asks_to_try_again_only_when_that_is_still_possible(
    situation, expected, customer, technician
):
    booking = BookingFactory(customer=customer, technician=technician)
    payment = PaymentFactory(booking=booking, status=PaymentStatus.FAILED)
    if situation == "succeeded_late":
        type(payment).objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
    elif situation == "booking_closed":
        type(booking).objects.filter(pk=booking.pk).update(status=BookingStatus.EXPIRED)
    elif situation == "paid_another_way":
        _succeeded(booking, purpose=PaymentPurpose.DEPOSIT)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=booking.pk, succeeded=False)
    assert list(Notification.objects.values_list("type", flat=True)) == (
        [expected] if expected else []
    )


# --- payouts and refunds ---------------------------------------------------------------------------------------


def test_a_technician_payout_is_a_payout(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    payout = PayoutFactory(booking=booking, status=PayoutStatus.PAID)
    producers.payout_paid_notify(payout_id=payout.pk)
    note = _only(technician)
    assert (note.type, note.title) == ("payout.paid", "Payout sent")


@pytest.mark.parametrize(
    ("channel", "type_", "where"),
    [
        (PayoutChannel.MPESA, "refund.paid", "M-Pesa"),
        (PayoutChannel.CARD, "refund.paid_card", "card"),
    ],
)
@pytest.mark.parametrize("language", ["en", "sw"])
def test_a_customer_refund_is_titled_as_a_refund(
    channel, type_, where, language, customer, technician
):
    customer.preferred_language = language
    customer.save(update_fields=["preferred_language"])
    booking = BookingFactory(customer=customer, technician=technician)
    payout = PayoutFactory(
        booking=booking,
        kind=PayoutKind.REFUND,
        channel=channel,
        recipient=customer,
        amount=Decimal("1000.00"),
        status=PayoutStatus.PAID,
    )
    producers.payout_paid_notify(payout_id=payout.pk)
    note = _only(customer)
    assert note.type == type_
    assert note.title == ("Refund sent" if language == "en" else "Pesa zimerudishwa")
    assert "Payout" not in note.title and booking.number in note.body
    if language == "en":
        assert where in note.body


def test_a_failed_refund_is_a_delayed_refund_and_a_payout_paid_meanwhile_says_nothing(
    customer, technician
):
    booking = BookingFactory(customer=customer, technician=technician)
    refund = PayoutFactory(
        booking=booking, kind=PayoutKind.REFUND, recipient=customer, status=PayoutStatus.FAILED
    )
    producers.payout_failed_notify(payout_id=refund.pk)
    assert (_only(customer).type, _only(customer).title) == ("refund.failed", "Refund delayed")
    paid_meanwhile = PayoutFactory(booking=booking, status=PayoutStatus.PAID)
    assert producers.payout_failed_notify(payout_id=paid_meanwhile.pk) is None
    assert not Notification.objects.filter(user=technician).exists()


# --- the balance of a confirmed job (payments/services/balance.py) ------------------------------------------


def _confirmed(customer, technician):
    return BookingFactory(
        customer=customer,
        technician=technician,
        status=BookingStatus.CONFIRMED,
        deposit_paid=True,
        confirmed_at=timezone.now(),
    )


def test_a_balance_reminder_says_whether_a_prompt_waits_on_the_phone(customer, technician):
    booking = _confirmed(customer, technician)
    assert wording.balance_reminder_type(booking=booking) == "payment.balance_due"
    prompt = PaymentFactory(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert wording.balance_reminder_type(booking=booking) == "payment.balance_prompt"
    producers.balance_reminder_notify(booking_id=booking.pk)
    notification = _only(customer)
    assert notification.type == "payment.balance_prompt"
    assert notification.title == "Balance due"
    assert f"KES {booking.balance_amount}" in notification.body and "PIN" in notification.body
    assert notification.data == {"type": "payment.balance_prompt", "booking_id": booking.pk}
    type(prompt).objects.filter(pk=prompt.pk).update(status=PaymentStatus.SUCCEEDED)
    assert wording.balance_reminder_type(booking=booking) is None  # paid meanwhile: nothing to say


def test_no_balance_reminder_for_a_booking_that_moved_on(customer, technician):
    booking = _confirmed(customer, technician)
    type(booking).objects.filter(pk=booking.pk).update(status=BookingStatus.DISPUTED)
    booking.refresh_from_db()
    assert wording.balance_reminder_type(booking=booking) is None
    assert producers.balance_reminder_notify(booking_id=booking.pk) is None
    assert not Notification.objects.exists()


def test_an_overdue_balance_tells_both_parties_unless_it_was_paid(customer, technician):
    booking = _confirmed(customer, technician)
    assert wording.balance_overdue_types(booking=booking) == {
        customer.pk: "payment.balance_overdue",
        technician.pk: "payment.balance_with_support",
    }
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    assert sorted(producers.balance_overdue_notify(booking_id=booking.pk)) == sorted(
        [customer.pk, technician.pk]
    )
    assert _only(technician).title == "Ufuatiliaji wa salio"
    assert "support team will contact you" in _only(customer).body
    PaymentFactory(booking=booking, purpose=PaymentPurpose.BALANCE, status=PaymentStatus.SUCCEEDED)
    assert wording.balance_overdue_types(booking=booking) == {}


def test_every_balance_type_has_both_languages():
    for type_ in (
        "payment.balance_prompt",
        "payment.balance_due",
        "payment.balance_overdue",
        "payment.balance_with_support",
    ):
        entry = catalogue.CATALOGUE[type_]
        assert entry.group == "payments"
        assert entry.en != entry.sw and all(entry.en) and all(entry.sw)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_tips_thank_the_customer_and_tell_the_technician_every_time(language, customer, technician):
    """A tip is never a duplicate nor a refund: a second tip on the same booking is thanked again."""
    technician.preferred_language = language
    technician.save(update_fields=["preferred_language"])
    booking = BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status="confirmed"
    )
    for amount in (Decimal("150.00"), Decimal("300.00")):
        tip = _succeeded(booking, purpose=PaymentPurpose.TIP, amount=amount)
        producers.payment_result_notify(payment_id=tip.pk, booking_id=booking.pk, succeeded=True)
    assert list(
        Notification.objects.filter(user=customer).order_by("id").values_list("type", flat=True)
    ) == ["tip.sent", "tip.sent"]
    received = list(Notification.objects.filter(user=technician).order_by("id"))
    assert [n.type for n in received] == ["tip.received", "tip.received"]
    assert "300.00" in received[1].body
    assert received[1].title == ("You got a tip" if language == "en" else "Umepata bakshishi")
