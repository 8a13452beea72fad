"""Live job tracking over the WebSocket (notifications/consumers.py → bookings/services/tracking.py), end to
end over the real Redis channel layer and cache: who may send and follow, validation, the rate limit, the
last known position for a late follower, and nothing left once the job moves on."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from bookings.models import Booking, BookingStatus
from bookings.selectors.tracking import position_key
from bookings.services import booking_transition
from bookings.tests.factories import BookingFactory
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack

pytestmark = [
    pytest.mark.usefixtures("fresh_channel_layer"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 5


async def _connect(user):
    app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, f"/ws/?token={AccessToken.for_user(user)}")
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "ready"
    return communicator


async def _next(communicator, *, skip=("presence",)) -> dict:
    async def _loop():
        while True:
            event = await communicator.receive_json_from(timeout=TIMEOUT)
            if event.get("type") not in skip:
                return event

    return await asyncio.wait_for(_loop(), TIMEOUT + 1)


async def _nothing_but_presence(communicator) -> bool:
    while not await communicator.receive_nothing(timeout=0.3):
        event = await communicator.receive_json_from(timeout=TIMEOUT)
        if event.get("type") != "presence":
            return False
    return True


def _update(booking_id, **overrides) -> dict:
    return {
        "action": "location.update",
        "requestId": "loc",
        "bookingId": booking_id,
        "lat": -1.2800,
        "lng": 36.8100,
        "accuracy": 8.5,
        "heading": 270,
        "speed": 5.2,
        "recordedAt": timezone.now().isoformat(),
        **overrides,
    }


async def _subscribe(communicator, booking_id) -> dict:
    await communicator.send_json_to(
        {"action": "tracking.subscribe", "requestId": "sub", "bookingId": booking_id}
    )
    return await _next(communicator)


@pytest.fixture
def trip(customer, technician):
    return BookingFactory(
        customer=customer, technician=technician, deposit_paid=True, status=BookingStatus.EN_ROUTE
    )


async def test_the_customer_and_staff_following_get_the_position_and_nobody_else_does(
    trip, customer, technician, support_agent, other_customer, other_technician
):
    follower = await _connect(customer)
    staff = await _connect(support_agent)
    outsider = await _connect(other_customer)
    stranger = await _connect(other_technician)
    sender = await _connect(technician)

    subscribed = await _subscribe(follower, trip.pk)
    assert subscribed == {
        "type": "tracking.subscribed",
        "requestId": "sub",
        "data": {"bookingId": trip.pk, "status": "en_route", "position": None},
    }
    assert (await _subscribe(staff, trip.pk))["type"] == "tracking.subscribed"
    refused = await _subscribe(outsider, trip.pk)
    assert refused["type"] == "error" and refused["data"]["code"] == "booking_not_found"
    # The technician sends; following their own position is not theirs to do.
    refused = await _subscribe(sender, trip.pk)
    assert refused["type"] == "error" and refused["data"]["code"] == "tracking_forbidden"
    # Someone else's technician cannot inject a position.
    await stranger.send_json_to(_update(trip.pk))
    refused = await _next(stranger)
    assert refused["type"] == "error" and refused["data"]["code"] == "booking_not_found"
    await follower.send_json_to({**_update(trip.pk), "action": "location.update"})
    refused = await _next(follower)
    assert refused["data"]["code"] == "tracking_forbidden"

    await sender.send_json_to(_update(trip.pk))
    ack = await _next(sender)
    assert ack["type"] == "location.ack" and ack["requestId"] == "loc"
    assert ack["data"]["bookingId"] == trip.pk and ack["data"]["minIntervalSeconds"] == 5
    for socket in (follower, staff):
        event = await _next(socket)
        assert event["type"] == "location.updated" and "requestId" not in event
        data = event["data"]
        assert data["bookingId"] == trip.pk and data["status"] == "en_route"
        assert (data["lat"], data["lng"], data["accuracy"], data["heading"], data["speed"]) == (
            -1.28,
            36.81,
            8.5,
            270,
            5.2,
        )
        assert 1850 < data["distanceMeters"] < 1950
        assert data["etaSeconds"] >= 120 and data["etaAt"] and data["recordedAt"]
    for socket in (outsider, stranger, sender):
        assert await _nothing_but_presence(socket)
    for socket in (follower, staff, outsider, stranger, sender):
        await socket.disconnect()


async def test_a_customer_subscribing_mid_journey_gets_the_last_known_position(
    trip, customer, technician
):
    sender = await _connect(technician)
    await sender.send_json_to(_update(trip.pk, lat=-1.30))
    assert (await _next(sender))["type"] == "location.ack"
    follower = await _connect(customer)
    subscribed = await _subscribe(follower, trip.pk)
    position = subscribed["data"]["position"]
    assert position["lat"] == -1.30 and position["bookingId"] == trip.pk
    assert set(position) == {
        "bookingId",
        "status",
        "lat",
        "lng",
        "accuracy",
        "heading",
        "speed",
        "recordedAt",
        "distanceMeters",
        "etaSeconds",
        "etaAt",
    }
    await sender.disconnect()
    await follower.disconnect()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": "12.5"}, "lat"),
        ({"lng": -180.5}, "lng"),
        ({"lng": True}, "lng"),
        ({"accuracy": -1}, "accuracy"),
        ({"heading": 361}, "heading"),
        ({"speed": 250}, "speed"),
        ({"recordedAt": "yesterday"}, "recordedAt"),
        ({"recordedAt": "2020-01-01T10:00:00+03:00"}, "recordedAt"),  # too old
        ({"recordedAt": "2999-01-01T10:00:00+03:00"}, "recordedAt"),  # the future
        ({"bookingId": "x"}, "bookingId"),
        ({"lat": None}, "lat"),
    ],
)
async def test_invalid_positions_get_a_validation_error_and_store_nothing(
    trip, technician, customer, overrides, field
):
    follower = await _connect(customer)
    await _subscribe(follower, trip.pk)
    sender = await _connect(technician)
    await sender.send_json_to(_update(trip.pk, **overrides))
    error = await _next(sender)
    assert error["type"] == "error" and error["requestId"] == "loc"
    assert error["data"]["code"] == "validation_error"
    assert field in error["data"]["fields"], error
    assert await database_sync_to_async(cache.get)(position_key(trip.pk)) is None
    assert await _nothing_but_presence(follower)
    # The socket stays open, and a valid update right after is accepted (a refusal uses no quota).
    await sender.send_json_to(_update(trip.pk))
    assert (await _next(sender))["type"] == "location.ack"
    await sender.disconnect()
    await follower.disconnect()


async def test_updates_faster_than_the_interval_are_refused_without_disconnecting(
    trip, technician, customer
):
    follower = await _connect(customer)
    await _subscribe(follower, trip.pk)
    sender = await _connect(technician)
    second_phone = await _connect(technician)  # the limit is per booking, not per socket
    await sender.send_json_to(_update(trip.pk))
    assert (await _next(sender))["type"] == "location.ack"
    assert (await _next(follower))["type"] == "location.updated"
    for socket in (sender, second_phone):
        await socket.send_json_to(_update(trip.pk, lat=-1.0))
        error = await _next(socket)
        assert error["type"] == "error" and error["data"]["code"] == "location_too_frequent"
    assert await _nothing_but_presence(follower)
    await sender.send_json_to({"action": "ping", "requestId": "p"})
    assert (await _next(sender))["type"] == "pong"
    for socket in (sender, second_phone, follower):
        await socket.disconnect()


async def test_anonymous_sockets_cannot_follow_or_send(trip):
    app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, "/ws/")
    await communicator.connect(timeout=TIMEOUT)
    assert await communicator.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 4401,
    }


async def test_once_work_starts_the_position_is_gone_and_followers_are_told(
    trip, technician, customer
):
    follower = await _connect(customer)
    sender = await _connect(technician)
    await _subscribe(follower, trip.pk)
    await sender.send_json_to(_update(trip.pk))
    assert (await _next(sender))["type"] == "location.ack"
    assert (await _next(follower))["type"] == "location.updated"

    def arrive_then_start():
        booking = Booking.objects.get(pk=trip.pk)
        booking_transition(booking=booking, to=BookingStatus.ARRIVED, actor=technician)
        booking_transition(booking=booking, to=BookingStatus.IN_PROGRESS, actor=technician)

    await database_sync_to_async(arrive_then_start)()
    ended = await _next(follower, skip=("presence", "booking.status_changed", "notification.new"))
    assert ended == {
        "type": "tracking.ended",
        "data": {"bookingId": trip.pk, "status": "in_progress"},
    }
    assert await database_sync_to_async(cache.get)(position_key(trip.pk)) is None
    # Nothing more can be sent or read.
    await sender.send_json_to(_update(trip.pk))
    assert (await _next(sender, skip=("presence", "booking.status_changed")))["data"][
        "code"
    ] == "tracking_not_active"
    again = await _subscribe(follower, trip.pk)
    while again["type"] in ("booking.status_changed", "notification.new"):
        again = await _next(follower)
    assert again["type"] == "error" and again["data"]["code"] == "tracking_not_active"
    await sender.disconnect()
    await follower.disconnect()
