"""Domain events from other apps become notifications for the right people."""

import pytest

from bookings.models import BookingStatus
from bookings.services import booking_mark_deposit_paid, booking_transition
from bookings.tests.factories import BookingFactory
from dumuwaks.core import events
from dumuwaks.core.side_effects import publish_after_commit
from notifications import catalogue, producers, sms
from notifications.models import Notification, NotificationDelivery
from notifications.services import chat
from payments.models import PaymentStatus
from payments.tests.factories import PaymentFactory
from social.services.reviews import review_create
from social.tests.factories import PostFactory
from support.services.tickets import ticket_create, ticket_escalate, ticket_message_create

pytestmark = pytest.mark.django_db


def _types_by_user():
    return sorted(Notification.objects.values_list("user_id", "type"))


def test_status_change_notifies_the_other_party(
    customer, technician, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician, deposit_paid=True)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to=BookingStatus.ACCEPTED, actor=technician)
    assert _types_by_user() == [(customer.pk, "booking.accepted")]
    notification = Notification.objects.get()
    assert notification.data == {"type": "booking.accepted", "booking_id": booking.pk}
    assert booking.number in notification.body
    assert len(sms.outbox) == 1 and sms.outbox[0].to == customer.phone_number


def test_customer_cancellation_notifies_technician_in_swahili(
    customer, technician, django_capture_on_commit_callbacks
):
    technician.preferred_language = "sw"
    technician.save(update_fields=["preferred_language"])
    booking = BookingFactory(customer=customer, technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        booking_transition(booking=booking, to=BookingStatus.CANCELLED, actor=customer)
    notification = Notification.objects.get()
    assert notification.user_id == technician.pk
    assert notification.title == "Hifadhi imeghairiwa"


def test_timer_driven_change_notifies_both_parties(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    notified = producers.booking_status_changed_notify(
        booking_id=booking.pk, from_status="pending", to_status="expired", actor_id=None
    )
    assert sorted(notified) == sorted([customer.pk, technician.pk])
    # The deposit was never paid: the customer is told that is why; the technician that it lapsed.
    assert _types_by_user() == sorted(
        [(customer.pk, "booking.expired_unpaid"), (technician.pk, "booking.expired_for_technician")]
    )


def test_an_unknown_status_notifies_nobody_rather_than_showing_a_raw_status(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    notified = producers.booking_status_changed_notify(
        booking_id=booking.pk, from_status="x", to_status="teleported", actor_id=technician.pk
    )
    assert notified == []
    assert not Notification.objects.exists()


def test_deposit_paid_tells_the_assigned_technician_they_can_accept(
    customer, technician, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        booking_mark_deposit_paid(booking_id=booking.pk)
    assert _types_by_user() == [(technician.pk, "booking.deposit_paid")]
    assert "accept" in Notification.objects.get().body


def test_deposit_paid_on_an_open_job_notifies_nobody(customer, django_capture_on_commit_callbacks):
    booking = BookingFactory(customer=customer, technician=None)
    with django_capture_on_commit_callbacks(execute=True):
        booking_mark_deposit_paid(booking_id=booking.pk)
    assert not Notification.objects.exists()


def test_payment_events_notify_the_payer_even_without_a_payment_row(
    customer, technician, django_capture_on_commit_callbacks
):
    booking = BookingFactory(customer=customer, technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        publish_after_commit(events.PaymentFailed(payment_id=987654, booking_id=booking.pk))
    assert _types_by_user() == [(customer.pk, "payment.failed")]


def test_payment_succeeded_uses_the_payment_amount(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    payment = PaymentFactory(booking=booking, status=PaymentStatus.SUCCEEDED)
    producers.payment_result_notify(payment_id=payment.pk, booking_id=None, succeeded=True)
    notification = Notification.objects.get()
    assert notification.user_id == customer.pk
    assert str(booking.deposit_amount) in notification.body


def test_unknown_payout_and_ticket_are_ignored():
    assert producers.payout_paid_notify(payout_id=123456) is None
    assert producers.support_ticket_replied_notify(ticket_id=123456, message_id=None) is None
    assert not Notification.objects.exists()


def test_dispute_events_notify_both(customer, technician, django_capture_on_commit_callbacks):
    booking = BookingFactory(customer=customer, technician=technician)
    with django_capture_on_commit_callbacks(execute=True):
        publish_after_commit(events.DisputeOpened(dispute_id=1, booking_id=booking.pk))
    assert _types_by_user() == sorted(
        [(customer.pk, "dispute.opened"), (technician.pk, "dispute.opened")]
    )


def test_every_catalogue_entry_renders_in_both_languages():
    for type_, entry in catalogue.CATALOGUE.items():
        for language in ("en", "sw"):
            title, body = catalogue.render(type_, language, {})
            assert isinstance(title, str) and isinstance(body, str)
        assert entry.group in {
            "bookings",
            "payments",
            "messages",
            "support",
            "marketing",
            "account",
        }
    # unknown placeholders render empty instead of failing
    assert catalogue.render("booking.accepted", "en", {})[1] == " accepted your booking ."
    with pytest.raises(catalogue.UnknownNotificationType):
        catalogue.render("nope", "en", {})


def test_support_reply_notifies_the_ticket_owner_not_the_author(
    customer, support_agent, django_capture_on_commit_callbacks
):
    ticket = ticket_create(
        created_by=customer, subject="Refund", description="Please refund", category="payment"
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket_message_create(ticket=ticket, author=support_agent, body="We are on it")
        ticket_message_create(ticket=ticket, author=customer, body="Thanks")
    notification = Notification.objects.get()
    assert notification.user_id == customer.pk and notification.type == "support.ticket_replied"
    assert ticket.number in notification.body


def test_booking_created_for_a_technician_is_a_job_request(customer, technician):
    booking = BookingFactory(customer=customer, technician=technician)
    assert producers.booking_created_notify(booking_id=booking.pk) == [technician.pk]
    notification = Notification.objects.get()
    assert notification.user_id == technician.pk and notification.type == "booking.created"
    unassigned = BookingFactory(customer=customer, technician=None)
    assert producers.booking_created_notify(booking_id=unassigned.pk) == []


def test_offline_message_alerts_are_coalesced_per_conversation(
    booking_conversation, customer, technician
):
    first = chat.message_send(conversation=booking_conversation, sender=customer, body="one")
    second = chat.message_send(conversation=booking_conversation, sender=customer, body="two")
    assert producers.offline_recipients_notify(message_id=first.pk) == [technician.pk]
    assert producers.offline_recipients_notify(message_id=second.pk) == []
    assert Notification.objects.filter(user=technician, type="message.received").count() == 1
    assert NotificationDelivery.objects.filter(channel="sms").count() == 1
    # Once read, the next message alerts again.
    Notification.objects.update(is_read=True)
    third = chat.message_send(conversation=booking_conversation, sender=customer, body="three")
    assert producers.offline_recipients_notify(message_id=third.pk) == [technician.pk]


def test_review_notification_does_not_leak_a_blind_rating(
    customer, technician, django_capture_on_commit_callbacks
):
    booking = BookingFactory(
        customer=customer, technician=technician, status=BookingStatus.CONFIRMED
    )
    with django_capture_on_commit_callbacks(execute=True):
        review_create(
            reviewer=customer,
            booking_id=booking.pk,
            overall=2,
            ratings=dict.fromkeys(
                ("quality", "timeliness", "professionalism", "communication", "value"), 2
            ),
        )
    first = Notification.objects.get(user=technician)
    assert first.type == "review.received_blind" and "2/5" not in first.body
    with django_capture_on_commit_callbacks(execute=True):
        review_create(reviewer=technician, booking_id=booking.pk, overall=5, ratings={})
    second = Notification.objects.get(user=customer)
    assert second.type == "review.received" and "5/5" in second.body


def test_mentions_assignments_and_failed_payouts(customer, technician, support_agent):
    post = PostFactory(author=technician)
    assert producers.social_mentioned_notify(post_id=post.pk, user_id=customer.pk) == customer.pk
    assert producers.social_mentioned_notify(post_id=post.pk, user_id=technician.pk) is None
    ticket = ticket_create(
        created_by=customer, subject="Help", description="Please", category="general"
    )
    assert (
        producers.support_ticket_assigned_notify(ticket_id=ticket.pk, agent_id=support_agent.pk)
        == support_agent.pk
    )
    assert producers.payout_failed_notify(payout_id=424242) is None
    assert sorted(Notification.objects.values_list("type", flat=True)) == [
        "social.mentioned",
        "support.ticket_assigned",
    ]


def test_an_escalated_ticket_notifies_its_agent_and_the_administrators(
    customer, support_agent, admin_user, django_capture_on_commit_callbacks
):
    """Through the real path: the escalation service publishes after commit, the task notifies."""
    ticket = ticket_create(
        created_by=customer,
        subject="Charged twice",
        description="Two M-Pesa debits",
        category="payment",
    )
    ticket.assigned_to = support_agent
    ticket.save(update_fields=["assigned_to"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket_escalate(ticket=ticket, actor=support_agent, reason="Customer waited 2 days")

    escalated = Notification.objects.filter(type="support.ticket_escalated")
    assert sorted(escalated.values_list("user_id", flat=True)) == sorted(
        [support_agent.pk, admin_user.pk]
    )
    ticket.refresh_from_db()
    note = escalated.get(user=admin_user)
    assert ticket.number in note.body and "level 1" in note.body
    assert not Notification.objects.filter(user=customer, type="support.ticket_escalated").exists()
