import pytest
from django.urls import reverse

from accounts.tests.factories import TechnicianFactory
from bookings.tests.factories import BookingFactory
from conftest import bearer_client
from notifications.models import Conversation, ConversationParticipant, Message
from notifications.services import chat
from social.tests.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations"
MESSAGES = "/api/v1/messages"


def test_routes_have_no_trailing_slash():
    assert reverse("conversation-list") == CONVERSATIONS
    assert reverse("message-detail", kwargs={"pk": 3}) == "/api/v1/messages/3"


def test_anonymous_is_401(anon_client):
    assert anon_client.get(CONVERSATIONS).status_code == 401
    assert anon_client.get(f"{MESSAGES}?conversation=1").status_code == 401


def test_open_booking_conversation_then_get_it_again(customer_client, booking, technician):
    created = customer_client.post(CONVERSATIONS, {"bookingId": booking.pk})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["kind"] == "booking" and body["bookingId"] == booking.pk
    assert body["booking"] == {
        "id": booking.pk,
        "number": booking.number,
        "title": booking.title,
        "status": booking.status,
    }
    assert body["unreadCount"] == 0 and body["lastMessage"] is None
    assert {p["user"]["id"] for p in body["participants"]} == {booking.customer_id, technician.pk}
    again = customer_client.post(CONVERSATIONS, {"bookingId": booking.pk})
    assert again.status_code == 200 and again.json()["id"] == body["id"]


def test_create_validation_and_idor(customer_client, other_customer_client, booking, technician):
    assert customer_client.post(CONVERSATIONS, {}).status_code == 400
    both = customer_client.post(CONVERSATIONS, {"bookingId": booking.pk, "userId": technician.pk})
    assert both.status_code == 400 and both.json()["code"] == "validation_error"
    assert customer_client.post(CONVERSATIONS, {"bookingId": "x"}).status_code == 400
    assert customer_client.post(CONVERSATIONS, {"bookingId": 999999}).status_code == 404
    outsider = other_customer_client.post(CONVERSATIONS, {"bookingId": booking.pk})
    assert outsider.status_code == 404 and outsider.json()["code"] == "booking_not_found"
    assert not Conversation.objects.exists()


def test_direct_conversation_rules(customer_client, technician, customer, other_customer):
    refused = customer_client.post(CONVERSATIONS, {"userId": technician.pk})
    assert refused.status_code == 403 and refused.json()["code"] == "messaging_not_allowed"
    assert customer_client.post(CONVERSATIONS, {"userId": other_customer.pk}).status_code == 403
    assert customer_client.post(CONVERSATIONS, {"userId": 999999}).status_code == 404
    BookingFactory(customer=customer, technician=technician)
    allowed = customer_client.post(CONVERSATIONS, {"userId": technician.pk})
    assert allowed.status_code == 201 and allowed.json()["kind"] == "direct"


def test_list_shows_last_message_and_my_unread_count(
    customer_client, technician_client, booking_conversation, customer, technician
):
    chat.message_send(conversation=booking_conversation, sender=customer, body="one")
    chat.message_send(conversation=booking_conversation, sender=customer, body="two")
    mine = customer_client.get(CONVERSATIONS).json()
    theirs = technician_client.get(CONVERSATIONS).json()
    assert mine["count"] == 1 and theirs["count"] == 1
    assert mine["results"][0]["unreadCount"] == 0
    assert theirs["results"][0]["unreadCount"] == 2
    assert theirs["results"][0]["lastMessage"]["body"] == "two"
    assert theirs["results"][0]["lastMessage"]["senderId"] == customer.pk
    assert customer_client.get(f"{CONVERSATIONS}?kind=direct").json()["count"] == 0
    assert customer_client.get(f"{CONVERSATIONS}?kind=booking").json()["count"] == 1
    assert customer_client.get(f"{CONVERSATIONS}?kind=nope").status_code == 400


def test_list_runs_constant_queries(
    customer_client, customer, django_assert_max_num_queries, service_category
):
    def _make(n):
        for i in range(n):
            tech = TechnicianFactory(
                email=f"qtech{n}-{i}@example.co.ke",
                phone_number=f"+2547990{n}{i:04d}",
                skill=service_category,
            )
            booking = BookingFactory(customer=customer, technician=tech)
            conversation, _ = chat.conversation_get_or_create_for_booking(
                booking=booking, user=customer
            )
            chat.message_send(conversation=conversation, sender=tech, body=f"hi {i}")

    _make(2)
    with django_assert_max_num_queries(8) as small:
        assert customer_client.get(CONVERSATIONS).status_code == 200
    _make(8)
    with django_assert_max_num_queries(8) as large:
        body = customer_client.get(CONVERSATIONS).json()
    assert body["count"] == 10 and len(body["results"]) == 10
    assert len(large.captured_queries) == len(small.captured_queries)
    # Most recent activity first.
    times = [c["lastMessageAt"] for c in body["results"]]
    assert times == sorted(times, reverse=True)


def test_detail_and_read_are_participant_only(
    customer_client, technician_client, other_customer_client, booking_conversation, customer
):
    message = chat.message_send(conversation=booking_conversation, sender=customer, body="x")
    url = f"{CONVERSATIONS}/{booking_conversation.pk}"
    assert customer_client.get(url).status_code == 200
    assert other_customer_client.get(url).status_code == 404
    assert other_customer_client.post(f"{url}/read", {}).status_code == 404
    assert customer_client.get(f"{CONVERSATIONS}/999999").status_code == 404

    read = technician_client.post(f"{url}/read", {"messageId": message.pk})
    assert read.status_code == 200
    assert read.json()["messageIds"] == [message.pk] and read.json()["unreadCount"] == 0
    assert technician_client.post(f"{url}/read", {"messageId": 999999}).status_code == 404


def test_send_list_and_cursor_pagination(customer_client, technician_client, booking_conversation):
    for i in range(5):
        sent = customer_client.post(
            MESSAGES, {"conversationId": booking_conversation.pk, "body": f"m{i}"}
        )
        assert sent.status_code == 201, sent.json()
    page1 = technician_client.get(f"{MESSAGES}?conversation={booking_conversation.pk}&pageSize=2")
    assert page1.status_code == 200
    body = page1.json()
    assert [m["body"] for m in body["results"]] == ["m4", "m3"]
    assert body["next"] and body["previous"] is None
    page2 = technician_client.get(body["next"])
    assert [m["body"] for m in page2.json()["results"]] == ["m2", "m1"]


def test_message_list_constant_queries(
    customer_client, customer, booking_conversation, django_assert_max_num_queries
):
    url = f"{MESSAGES}?conversation={booking_conversation.pk}"
    chat.message_send(conversation=booking_conversation, sender=customer, body="first")
    with django_assert_max_num_queries(6) as small:
        customer_client.get(url)
    for i in range(20):
        chat.message_send(conversation=booking_conversation, sender=customer, body=f"{i}")
    with django_assert_max_num_queries(6) as large:
        assert len(customer_client.get(url).json()["results"]) == 21
    assert len(large.captured_queries) == len(small.captured_queries)


def test_message_list_and_send_idor(other_customer_client, booking_conversation, customer):
    chat.message_send(conversation=booking_conversation, sender=customer, body="secret")
    listing = other_customer_client.get(f"{MESSAGES}?conversation={booking_conversation.pk}")
    assert listing.status_code == 404
    assert "secret" not in listing.content.decode()
    sent = other_customer_client.post(
        MESSAGES, {"conversationId": booking_conversation.pk, "body": "spam"}
    )
    assert sent.status_code == 404
    assert not Message.objects.filter(body="spam").exists()
    assert ConversationParticipant.objects.filter(unread_count__gt=0).count() == 1


def test_message_input_validation(customer_client, booking_conversation):
    assert customer_client.get(MESSAGES).status_code == 400
    assert customer_client.get(f"{MESSAGES}?conversation=abc").status_code == 400
    empty = customer_client.post(MESSAGES, {"conversationId": booking_conversation.pk, "body": " "})
    assert empty.status_code == 400
    too_long = customer_client.post(
        MESSAGES, {"conversationId": booking_conversation.pk, "body": "x" * 4001}
    )
    assert too_long.status_code == 400
    bad_attachment = customer_client.post(
        MESSAGES,
        {"conversationId": booking_conversation.pk, "attachments": ["chat/a"]},
        format="json",
    )
    assert bad_attachment.status_code == 400
    assert not Message.objects.exists()


def test_edit_and_delete_own_only(
    customer_client, technician_client, other_customer_client, booking_conversation, customer
):
    message = chat.message_send(conversation=booking_conversation, sender=customer, body="v1")
    url = f"{MESSAGES}/{message.pk}"
    forbidden = technician_client.patch(url, {"body": "hacked"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_message_sender"
    assert technician_client.delete(url).status_code == 403
    assert other_customer_client.patch(url, {"body": "hacked"}).status_code == 404
    assert other_customer_client.delete(url).status_code == 404
    message.refresh_from_db()
    assert message.body == "v1" and not message.is_deleted

    edited = customer_client.patch(url, {"body": "v2"})
    assert edited.status_code == 200 and edited.json()["isEdited"] is True
    assert customer_client.delete(url).status_code == 204
    listed = technician_client.get(f"{MESSAGES}?conversation={booking_conversation.pk}").json()
    assert listed["results"][0]["isDeleted"] is True and listed["results"][0]["body"] == ""
    assert customer_client.patch(url, {"body": "v3"}).status_code == 409


def test_send_pushes_after_commit(
    customer_client, booking_conversation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = customer_client.post(
            MESSAGES, {"conversationId": booking_conversation.pk, "body": "hello"}
        )
    assert response.status_code == 201
    # the socket push and the offline-notification task, both deferred to commit
    assert len(callbacks) == 2


# --- attachments: only the sender's own uploads (social's media rule), on REST as on the socket ---------------


def _as_stored(asset) -> dict:
    """What a message shows for an attached upload: the upload's own URL, id, kind and size."""
    return {
        "url": asset.delivery_url,
        "publicId": asset.public_id,
        "type": asset.resource_type,
        "size": asset.bytes,
    }


def _nothing_stored(conversation):
    assert not Message.objects.exists()
    conversation.refresh_from_db()
    assert conversation.last_message_at is None
    assert not ConversationParticipant.objects.filter(unread_count__gt=0).exists()


@pytest.fixture
def support_conversation(customer, support_agent):
    return chat.conversation_create_support(
        customer=customer, agent=support_agent, subject="Malipo"
    )


@pytest.mark.parametrize(
    ("persona", "conversation_fixture"),
    [
        ("customer", "booking_conversation"),
        ("technician", "booking_conversation"),
        ("support_agent", "support_conversation"),
    ],
)
def test_each_participant_attaches_their_own_uploads(request, persona, conversation_fixture):
    user = request.getfixturevalue(persona)
    conversation = request.getfixturevalue(conversation_fixture)
    photo = MediaAssetFactory(owner=user)
    video = MediaAssetFactory(owner=user, resource_type="video", bytes=7_000_000)
    response = bearer_client(user).post(
        MESSAGES,
        {
            "conversationId": conversation.pk,
            "body": "",
            "attachments": [
                {"publicId": photo.public_id},
                # What clients sent before (url, type, size): the upload's values are kept instead.
                {
                    "publicId": video.public_id,
                    "url": "https://evil.example/x.exe",
                    "type": "document",
                    "size": 1,
                },
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    expected = [_as_stored(photo), _as_stored(video)]
    assert response.json()["attachments"] == expected
    assert Message.objects.get().attachments == expected


@pytest.mark.parametrize(
    "attachment",
    [
        "a bare link",
        "another person's upload",
        "an upload of a stranger",
        "a deleted upload of mine",
        "an unknown id",
    ],
)
@pytest.mark.parametrize("persona", ["customer", "technician"])
def test_attachments_that_are_not_the_senders_uploads_are_refused(
    request, persona, attachment, booking_conversation, customer, technician, other_customer
):
    sender = request.getfixturevalue(persona)
    other_party = technician if sender == customer else customer
    ref = {
        "a bare link": {"url": "https://evil.example/x.exe", "type": "document", "size": 1},
        "another person's upload": {"publicId": MediaAssetFactory(owner=other_party).public_id},
        "an upload of a stranger": {"publicId": MediaAssetFactory(owner=other_customer).public_id},
        "a deleted upload of mine": {
            "publicId": MediaAssetFactory(
                owner=sender, is_deleted=True, deleted_at="2025-01-01T00:00:00Z"
            ).public_id
        },
        "an unknown id": {"publicId": f"dumuwaks/users/{sender.pk}/uploads/nothing-here"},
    }[attachment]
    response = bearer_client(sender).post(
        MESSAGES,
        {"conversationId": booking_conversation.pk, "body": "angalia", "attachments": [ref]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    if attachment == "a bare link":
        assert body["code"] == "validation_error"
        assert any(name.startswith("attachments") for name in body["fields"]), body
    else:  # someone else's upload answers exactly like one that does not exist
        assert body["code"] == "invalid_media"
        assert list(body["fields"]) == ["attachments"]
        assert body["message"] == "Some media ids are unknown or not yours."
    _nothing_stored(booking_conversation)


def test_one_foreign_upload_refuses_the_whole_message(
    customer_client, booking_conversation, customer, technician
):
    mine = MediaAssetFactory(owner=customer)
    theirs = MediaAssetFactory(owner=technician)
    response = customer_client.post(
        MESSAGES,
        {
            "conversationId": booking_conversation.pk,
            "attachments": [{"publicId": mine.public_id}, {"publicId": theirs.public_id}],
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_media"
    _nothing_stored(booking_conversation)
