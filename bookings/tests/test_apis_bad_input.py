"""Bad input never produces a 500."""

import pytest

from bookings.tests.factories import BookingFactory, DisputeFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        "?category=abc",
        "?from=garbage",
        "?to=2026-13-45",
        "?available=maybe",
        "?ordering=password",
        "?page=999",
        "?pageSize=-1",
    ],
)
def test_list_query_garbage(customer_client, query):
    response = customer_client.get(f"/api/v1/bookings{query}")
    assert response.status_code in (200, 400, 404)
    assert "code" in response.json() or "results" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"scheduledStart": "tomorrow"},
        {"price": "1e30", "durationMinutes": 60},
        {"attachments": "not-a-list"},
        {"attachments": [{"url": "javascript:alert(1)"}]},
        {"technicianId": "abc"},
    ],
)
def test_create_garbage(customer_client, service_category, body):
    response = customer_client.post("/api/v1/bookings", body, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/accept", []),
        ("/complete", {"completionPhotos": "x"}),
        ("/dispute", {"evidence": [{"url": 5}]}),
    ],
)
def test_actions_garbage(customer, customer_client, suffix, body):
    booking = BookingFactory(customer=customer)
    response = customer_client.post(f"/api/v1/bookings/{booking.pk}{suffix}", body, format="json")
    assert response.status_code == 400


def test_resolve_garbage(support_client):
    dispute = DisputeFactory()
    for body in [{"outcome": "burn_it"}, {"outcome": "partial_refund", "refundAmount": "abc"}]:
        response = support_client.post(f"/api/v1/bookings/disputes/{dispute.pk}/resolve", body)
        assert response.status_code == 400
    # More than the price is refused by the service with a field error.
    response = support_client.post(
        f"/api/v1/bookings/disputes/{dispute.pk}/resolve",
        {"outcome": "partial_refund", "refundAmount": "999999"},
    )
    assert response.status_code == 400 and "refundAmount" in response.json()["fields"]
    assert support_client.post("/api/v1/bookings/disputes/999999/resolve", {}).status_code == 404


def test_availability_garbage(technician_client, technician):
    assert (
        technician_client.put("/api/v1/users/me/availability", {"weeklyHours": "x"}).status_code
        == 400
    )
    response = technician_client.get(f"/api/v1/users/{technician.pk}/availability?duration=abc")
    assert response.status_code == 400
