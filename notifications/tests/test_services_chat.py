import pytest
from django.db.models import F

from bookings.tests.factories import BookingFactory
from notifications.errors import (
    BookingNotFound,
    ConversationNotFound,
    InvalidMessage,
    MessageDeleted,
    MessageNotFound,
    MessagingNotAllowed,
    NotMessageSender,
    UserNotFound,
)
from notifications.models import Conversation, ConversationKind, ConversationParticipant, Message
from notifications.services import chat
from social.errors import InvalidMediaRefs
from social.tests.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db


def _unread(conversation, user):
    return ConversationParticipant.objects.get(conversation=conversation, user=user).unread_count


def test_booking_conversation_has_both_parties_and_is_unique(booking, customer, technician):
    first, created = chat.conversation_get_or_create_for_booking(booking=booking, user=customer)
    second, created_again = chat.conversation_get_or_create_for_booking(
        booking=booking, user=technician
    )
    assert created and not created_again
    assert first.pk == second.pk
    assert first.kind == ConversationKind.BOOKING
    assert set(first.participants.values_list("user_id", flat=True)) == {customer.pk, technician.pk}


def test_outsider_cannot_open_booking_conversation(booking, other_customer, other_technician):
    for outsider in (other_customer, other_technician):
        with pytest.raises(BookingNotFound):
            chat.conversation_get_or_create_for_booking(booking=booking, user=outsider)
    assert not Conversation.objects.exists()


def test_staff_joins_booking_conversation(booking, support_agent, customer, technician):
    conversation, _ = chat.conversation_get_or_create_for_booking(
        booking=booking, user=support_agent
    )
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        customer.pk,
        technician.pk,
        support_agent.pk,
    }


def test_technician_assigned_later_joins_existing_conversation(customer, technician):
    booking = BookingFactory(customer=customer, technician=None)
    conversation, _ = chat.conversation_get_or_create_for_booking(booking=booking, user=customer)
    assert list(conversation.participants.values_list("user_id", flat=True)) == [customer.pk]
    booking.technician = technician
    booking.save(update_fields=["technician"])
    chat.conversation_get_or_create_for_booking(booking=booking, user=customer)
    assert conversation.participants.filter(user=technician).exists()


def test_direct_between_customer_and_technician_needs_a_shared_booking(
    customer, technician, other_technician
):
    with pytest.raises(MessagingNotAllowed):
        chat.conversation_get_or_create_direct(user=customer, other=technician)
    BookingFactory(customer=customer, technician=technician)
    conversation, created = chat.conversation_get_or_create_direct(user=technician, other=customer)
    again, created_again = chat.conversation_get_or_create_direct(user=customer, other=technician)
    assert created and not created_again and conversation.pk == again.pk
    with pytest.raises(MessagingNotAllowed):
        chat.conversation_get_or_create_direct(user=customer, other=other_technician)
    assert Conversation.objects.count() == 1


def test_direct_rules_for_peers_staff_and_self(customer, other_customer, support_agent):
    with pytest.raises(MessagingNotAllowed):
        chat.conversation_get_or_create_direct(user=customer, other=other_customer)
    with pytest.raises(UserNotFound):
        chat.conversation_get_or_create_direct(user=customer, other=customer)
    conversation, created = chat.conversation_get_or_create_direct(
        user=support_agent, other=customer
    )
    assert created and conversation.kind == ConversationKind.DIRECT


def test_support_conversation(customer, support_agent):
    conversation = chat.conversation_create_support(
        customer=customer, agent=support_agent, subject="TCK-1: refund"
    )
    assert conversation.kind == ConversationKind.SUPPORT
    assert set(conversation.participants.values_list("user_id", flat=True)) == {
        customer.pk,
        support_agent.pk,
    }


def test_send_counts_unread_for_others_only(booking_conversation, customer, technician):
    message = chat.message_send(conversation=booking_conversation, sender=customer, body=" Hello ")
    assert message.body == "Hello"
    assert _unread(booking_conversation, technician) == 1
    assert _unread(booking_conversation, customer) == 0
    booking_conversation.refresh_from_db()
    assert booking_conversation.last_message_at == message.created_at


def test_send_rejects_outsiders_and_bad_input(booking_conversation, other_customer, customer):
    with pytest.raises(ConversationNotFound):
        chat.message_send(conversation=booking_conversation, sender=other_customer, body="hi")
    with pytest.raises(InvalidMessage):
        chat.message_send(conversation=booking_conversation, sender=customer, body="   ")
    with pytest.raises(InvalidMediaRefs):  # a bare link is not one of the sender's uploads
        chat.message_send(
            conversation=booking_conversation,
            sender=customer,
            body="x",
            attachments=[{"url": "https://x/y.jpg", "type": "exe", "size": 1}],
        )
    assert not Message.objects.exists()


def test_reply_must_be_in_same_conversation(booking_conversation, customer, support_agent):
    support = chat.conversation_create_support(customer=customer, agent=support_agent, subject="s")
    elsewhere = chat.message_send(conversation=support, sender=customer, body="elsewhere")
    with pytest.raises(MessageNotFound):
        chat.message_send(
            conversation=booking_conversation, sender=customer, body="re", reply_to=elsewhere.pk
        )
    original = chat.message_send(conversation=booking_conversation, sender=customer, body="q")
    reply = chat.message_send(
        conversation=booking_conversation, sender=customer, body="a", reply_to=original
    )
    assert reply.reply_to_id == original.pk


def test_attachments_are_the_senders_own_uploads(
    booking_conversation, customer, technician, other_customer
):
    photo = MediaAssetFactory(owner=customer)
    message = chat.message_send(
        conversation=booking_conversation,
        sender=customer,
        body="",
        attachments=[{"public_id": photo.public_id, "url": "https://evil.example/x.exe"}],
    )
    assert message.attachments == [
        {
            "url": photo.delivery_url,
            "publicId": photo.public_id,
            "type": "image",
            "size": photo.bytes,
        }
    ]
    for owner in (technician, other_customer):
        with pytest.raises(InvalidMediaRefs) as refused:
            chat.message_send(
                conversation=booking_conversation,
                sender=customer,
                body="x",
                attachments=[{"public_id": MediaAssetFactory(owner=owner).public_id}],
            )
        assert list(refused.value.fields) == ["attachments"]
    assert Message.objects.count() == 1


def test_edit_and_delete_only_own(booking_conversation, customer, technician):
    message = chat.message_send(conversation=booking_conversation, sender=customer, body="v1")
    with pytest.raises(NotMessageSender):
        chat.message_edit(message=message.pk, user=technician, body="hacked")
    with pytest.raises(NotMessageSender):
        chat.message_delete(message=message.pk, user=technician)
    edited = chat.message_edit(message=message.pk, user=customer, body="v2")
    assert edited.is_edited and edited.body == "v2"
    chat.message_delete(message=message.pk, user=customer)
    message.refresh_from_db()
    assert message.is_deleted and message.body == "" and message.deleted_at is not None
    with pytest.raises(MessageDeleted):
        chat.message_edit(message=message.pk, user=customer, body="v3")


def test_mark_read_lists_newly_read_ids_and_never_goes_back(
    booking_conversation, customer, technician
):
    m1 = chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    m2 = chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    m3 = chat.message_send(conversation=booking_conversation, sender=customer, body="3")
    result = chat.conversation_mark_read(
        conversation=booking_conversation, user=technician, up_to_message=m2
    )
    assert result["message_ids"] == [m1.pk, m2.pk]
    assert result["unread_count"] == 1
    again = chat.conversation_mark_read(
        conversation=booking_conversation, user=technician, up_to_message=m1
    )
    assert again["message_ids"] == [] and again["last_read_message_id"] == m2.pk
    latest = chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert latest["message_ids"] == [m3.pk] and latest["unread_count"] == 0
    assert _unread(booking_conversation, technician) == 0


def test_unread_counter_uses_f_expressions(booking_conversation, customer, technician):
    ConversationParticipant.objects.filter(user=technician).update(
        unread_count=F("unread_count") + 5
    )
    chat.message_send(conversation=booking_conversation, sender=customer, body="x")
    assert _unread(booking_conversation, technician) == 6


# --- read markers and receipts, whatever the order of reading and replying ---------------------------------------


@pytest.fixture
def receipts(monkeypatch):
    """The `read_receipt` events the services hand to the channel layer (after commit)."""
    sent = []

    def _record(group, message):
        if message["payload"]["type"] == "read_receipt":
            sent.append(message["payload"]["data"])

    monkeypatch.setattr("notifications.realtime.group_send_after_commit", _record)
    return sent


def _marker(conversation, user):
    return ConversationParticipant.objects.values_list("last_read_message_id", "unread_count").get(
        conversation=conversation, user=user
    )


def test_sending_leaves_the_senders_read_marker_and_unread_count_alone(
    booking_conversation, customer, technician, receipts
):
    chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    chat.message_send(conversation=booking_conversation, sender=technician, body="reply")
    assert _marker(booking_conversation, technician) == (None, 2)
    assert receipts == []


def test_replying_before_reading_still_sends_the_receipt(
    booking_conversation, customer, technician, receipts
):
    c1 = chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    c2 = chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    t1 = chat.message_send(conversation=booking_conversation, sender=technician, body="reply")
    result = chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert result["message_ids"] == [c1.pk, c2.pk] and result["unread_count"] == 0
    assert [(r["userId"], r["messageIds"], r["lastReadMessageId"]) for r in receipts] == [
        (technician.pk, [c1.pk, c2.pk], t1.pk)
    ]
    assert _marker(booking_conversation, technician) == (t1.pk, 0)


def test_read_reply_then_read_again_sends_a_receipt_for_each_new_message(
    booking_conversation, customer, technician, receipts
):
    c1 = chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    chat.message_send(conversation=booking_conversation, sender=technician, body="reply")
    c2 = chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert [r["messageIds"] for r in receipts] == [[c1.pk], [c2.pk]]


def test_partial_read_then_reply_keeps_the_rest_unread_until_read(
    booking_conversation, customer, technician, receipts
):
    c1 = chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    c2 = chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    chat.conversation_mark_read(
        conversation=booking_conversation, user=technician, up_to_message=c1
    )
    chat.message_send(conversation=booking_conversation, sender=technician, body="reply")
    assert _marker(booking_conversation, technician) == (c1.pk, 1)
    chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert [r["messageIds"] for r in receipts] == [[c1.pk], [c2.pk]]


def test_interleaved_replies_then_one_read_receipts_every_message_of_the_other_party(
    booking_conversation, customer, technician, receipts
):
    c1 = chat.message_send(conversation=booking_conversation, sender=customer, body="1")
    chat.message_send(conversation=booking_conversation, sender=technician, body="a")
    c2 = chat.message_send(conversation=booking_conversation, sender=customer, body="2")
    chat.message_send(conversation=booking_conversation, sender=technician, body="b")
    chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert [r["messageIds"] for r in receipts] == [[c1.pk, c2.pk]]
    # The customer reading the technician's replies is a receipt the other way.
    chat.conversation_mark_read(conversation=booking_conversation, user=customer)
    assert [r["userId"] for r in receipts] == [technician.pk, customer.pk]


def test_reading_past_only_your_own_messages_sends_no_receipt(
    booking_conversation, technician, receipts
):
    t1 = chat.message_send(conversation=booking_conversation, sender=technician, body="a")
    result = chat.conversation_mark_read(conversation=booking_conversation, user=technician)
    assert result["message_ids"] == [] and result["last_read_message_id"] == t1.pk
    assert receipts == []
