import json
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.selectors import user_for_access_token
from accounts.tests.factories import DEFAULT_PASSWORD
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack
from notifications.consumers import CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db


def _session(client):
    response = client.post(
        "/api/v1/auth/login",
        {"email": "wanjiku@example.co.ke", "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    return response.json()


def _me(access):
    return APIClient().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def _refresh(refresh):
    return APIClient().post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")


def test_access_token_expires_after_15_minutes(anon_client, customer):
    session = _session(anon_client)
    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        assert _me(session["access"]).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        response = _me(session["access"])
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"


def test_refresh_rotates_and_blacklists_the_old_token(anon_client, customer):
    session = _session(anon_client)
    rotated = _refresh(session["refresh"])
    assert rotated.status_code == 200
    pair = rotated.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != session["refresh"]
    assert _me(pair["access"]).status_code == 200

    replay = _refresh(session["refresh"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_not_valid"
    assert _refresh(pair["refresh"]).status_code == 200


def test_refresh_token_expires_after_7_days(anon_client, customer):
    session = _session(anon_client)
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23), tick=False):
        assert _refresh(session["refresh"]).status_code == 200
    session = _session(anon_client)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1), tick=False):
        assert _refresh(session["refresh"]).status_code == 401


def test_refresh_rejects_bad_input():
    missing = APIClient().post("/api/v1/auth/refresh", {}, format="json")
    assert missing.status_code == 400
    assert "refresh" in missing.json()["fields"]
    garbage = _refresh("garbage")
    assert garbage.status_code == 401
    assert garbage.json()["code"] == "token_not_valid"


def test_logout_revokes_the_refresh_token_and_ends_access_tokens(anon_client, customer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        session = _session(anon_client)
        other_device = _session(anon_client)
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        client = APIClient(headers={"Authorization": f"Bearer {session['access']}"})
        response = client.post(
            "/api/v1/auth/logout", {"refresh": session["refresh"]}, format="json"
        )
        assert response.status_code == 204
        assert _refresh(session["refresh"]).status_code == 401
        # The signed-out access token is refused at once, not after its 15 minutes.
        assert _me(session["access"]).status_code == 401
        # Other devices' access tokens end too; their refresh tokens still work, so they refresh once.
        assert _me(other_device["access"]).status_code == 401
        refreshed = _refresh(other_device["refresh"])
        assert refreshed.status_code == 200
        assert _me(refreshed.json()["access"]).status_code == 200
        # Signing in again within the same second works.
        again = _session(anon_client)
        assert _me(again["access"]).status_code == 200
        reuse = APIClient(headers={"Authorization": f"Bearer {again['access']}"}).post(
            "/api/v1/auth/logout", {"refresh": session["refresh"]}, format="json"
        )
        assert reuse.status_code == 400
        assert reuse.json()["code"] == "invalid_token"


async def _socket_answer(access: str) -> dict:
    """What a socket opened with `access` receives first, through production's middleware and routes."""
    app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    socket = WebsocketCommunicator(app, f"/ws/?token={access}")
    connected, _ = await socket.connect(timeout=5)
    assert connected  # accepted first, so that browsers can read a close code
    answer = await socket.receive_output(timeout=5)
    await socket.disconnect()
    if answer["type"] == "websocket.send":
        return json.loads(answer["text"])
    return answer


@pytest.mark.django_db(transaction=True)  # the socket middleware reads the user on another thread
@pytest.mark.usefixtures("fresh_channel_layer")
def test_a_signed_out_access_token_is_refused_on_websockets_too(anon_client, customer):
    session = _session(anon_client)
    ready = async_to_sync(_socket_answer)(session["access"])
    assert ready == {"type": "ready", "data": {"userId": customer.pk}}
    # As a logout two seconds after this sign-in leaves it (time_machine would freeze the socket thread's
    # connection timeout too).
    User.objects.filter(pk=customer.pk).update(
        access_tokens_valid_after=timezone.now() + timedelta(seconds=2)
    )
    assert async_to_sync(_socket_answer)(session["access"]) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }


def test_logout_refuses_another_users_token(anon_client, customer, other_customer_client):
    session = _session(anon_client)
    response = other_customer_client.post(
        "/api/v1/auth/logout", {"refresh": session["refresh"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert _refresh(session["refresh"]).status_code == 200


def test_logout_needs_authentication_and_a_token(anon_client, customer_client):
    assert (
        anon_client.post("/api/v1/auth/logout", {"refresh": "x"}, format="json").status_code == 401
    )
    missing = customer_client.post("/api/v1/auth/logout", {}, format="json")
    assert missing.status_code == 400
    assert "refresh" in missing.json()["fields"]


def test_the_token_user_read_matches_the_orm(customer):
    """The hand-built read behind every access token gives the same user as the ORM, all fields."""

    customer.access_tokens_valid_after = timezone.now()
    customer.locked_until = timezone.now() + timedelta(minutes=5)
    customer.save()
    loaded = user_for_access_token(user_id=customer.pk)
    expected = User.objects.get(pk=customer.pk)
    for field in User._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
        # from_db gets raw column values: a field needing a converter would differ from the ORM's.
        assert not field.get_db_converters(connection), field.name
    assert loaded._state.adding is False and loaded._state.db == "default"
    assert user_for_access_token(user_id=customer.pk + 10_000) is None
