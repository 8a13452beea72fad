"""A booking's attachments are the customer's own uploads (social's media rule, as for posts, reviews and
chat messages): never a bare link, never someone else's upload, on create and on edit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from social.tests.factories import MediaAssetFactory

pytestmark = pytest.mark.django_db

BOOKINGS = "/api/v1/bookings"


def _payload(category, attachments):
    start = (timezone.now() + timedelta(hours=48)).replace(minute=0, second=0, microsecond=0)
    return {
        "categoryId": category.pk,
        "title": "Fix a leaking sink",
        "address": "Kilimani, Argwings Kodhek Rd",
        "scheduledStart": start.isoformat(),
        "durationMinutes": 60,
        "price": "1500",
        "attachments": attachments,
    }


def _as_stored(asset) -> dict:
    return {"url": asset.delivery_url, "publicId": asset.public_id, "type": asset.resource_type}


def _foreign_ref(kind, *, customer, technician, other_customer):
    return {
        "a bare link": {"url": "https://evil.example/x.exe", "type": "document"},
        "the technician's upload": {"publicId": MediaAssetFactory(owner=technician).public_id},
        "a stranger's upload": {"publicId": MediaAssetFactory(owner=other_customer).public_id},
        "a deleted upload of mine": {
            "publicId": MediaAssetFactory(
                owner=customer, is_deleted=True, deleted_at=timezone.now()
            ).public_id
        },
        "an unknown id": {"publicId": f"dumuwaks/users/{customer.pk}/uploads/nothing"},
    }[kind]


FOREIGN = [
    "a bare link",
    "the technician's upload",
    "a stranger's upload",
    "a deleted upload of mine",
    "an unknown id",
]


def test_customer_attaches_their_own_uploads(customer, customer_client, service_category):
    photo = MediaAssetFactory(owner=customer)
    video = MediaAssetFactory(owner=customer, resource_type="video")
    response = customer_client.post(
        BOOKINGS,
        _payload(
            service_category,
            [
                {"publicId": photo.public_id},
                # A client that still sends url and type: the upload's own are stored.
                {"publicId": video.public_id, "url": "https://evil.example/x.exe", "type": "image"},
            ],
        ),
    )
    assert response.status_code == 201, response.json()
    expected = [_as_stored(photo), _as_stored(video)]
    assert response.json()["attachments"] == expected
    booking = Booking.objects.get()
    assert booking.attachments == [
        {"url": a["url"], "public_id": a["publicId"], "type": a["type"]} for a in expected
    ]
    detail = customer_client.get(f"{BOOKINGS}/{booking.pk}").json()
    assert detail["attachments"] == expected


@pytest.mark.parametrize("kind", FOREIGN)
def test_create_refuses_attachments_that_are_not_the_customers_uploads(
    kind, customer, customer_client, technician, other_customer, service_category, domain_events
):
    ref = _foreign_ref(
        kind, customer=customer, technician=technician, other_customer=other_customer
    )
    response = customer_client.post(BOOKINGS, _payload(service_category, [ref]))
    assert response.status_code == 400, response.json()
    body = response.json()
    if kind == "a bare link":
        assert body["code"] == "validation_error"
        assert any(name.startswith("attachments") for name in body["fields"]), body
    else:  # someone else's upload answers exactly like one that does not exist
        assert body["code"] == "invalid_media" and list(body["fields"]) == ["attachments"]
    assert not Booking.objects.exists()
    assert domain_events == []


def test_customer_replaces_attachments_with_their_own_uploads(customer, customer_client):
    booking = BookingFactory(customer=customer)
    photo = MediaAssetFactory(owner=customer)
    response = customer_client.patch(
        f"{BOOKINGS}/{booking.pk}", {"attachments": [{"publicId": photo.public_id}]}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["attachments"] == [_as_stored(photo)]
    booking.refresh_from_db()
    assert booking.attachments == [
        {"url": photo.delivery_url, "public_id": photo.public_id, "type": "image"}
    ]
    cleared = customer_client.patch(f"{BOOKINGS}/{booking.pk}", {"attachments": []})
    assert cleared.status_code == 200 and cleared.json()["attachments"] == []


@pytest.mark.parametrize("kind", FOREIGN)
def test_edit_refuses_attachments_that_are_not_the_customers_uploads(
    kind, customer, customer_client, technician, other_customer
):
    mine = MediaAssetFactory(owner=customer)
    kept = [{"url": mine.delivery_url, "public_id": mine.public_id, "type": "image"}]
    booking = BookingFactory(customer=customer, title="Before", attachments=kept)
    ref = _foreign_ref(
        kind, customer=customer, technician=technician, other_customer=other_customer
    )
    response = customer_client.patch(
        f"{BOOKINGS}/{booking.pk}", {"title": "After", "attachments": [ref]}
    )
    assert response.status_code == 400, response.json()
    booking.refresh_from_db()
    assert booking.attachments == kept and booking.title == "Before"


def test_technician_cannot_attach_to_someone_elses_booking(technician, technician_client):
    booking = BookingFactory(technician=technician)
    photo = MediaAssetFactory(owner=technician)
    response = technician_client.patch(
        f"{BOOKINGS}/{booking.pk}", {"attachments": [{"publicId": photo.public_id}]}
    )
    assert response.status_code == 409 and response.json()["code"] == "booking_not_editable"
    booking.refresh_from_db()
    assert booking.attachments == []
