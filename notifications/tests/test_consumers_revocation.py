"""What ends access tokens on REST ends the WebSockets opened with them (issue 14, item 6).

The services run for real and commit (transaction=True): the socket closes only because the service's
after-commit `auth.revalidate` reached the user's group over the real Redis channel layer, the path a socket on
another web instance takes too, and the consumer re-ran the REST check on its own token. Sockets whose
token REST still accepts, and other users' sockets, stay open.
"""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django import forms
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import tokens
from accounts.services import (
    auth_logout,
    password_change,
    password_reset_confirm,
    user_delete,
)
from accounts.tests.factories import DEFAULT_PASSWORD
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack
from notifications.consumers import CLOSE_UNAUTHENTICATED
from notifications.realtime import envelope, user_group, user_sockets_revalidate_after_commit

pytestmark = [
    pytest.mark.usefixtures("fresh_channel_layer"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 5
NEW_PASSWORD = "Mvua-Nyingi-2026!"


def _earlier_access_token(user) -> str:
    """An access token issued a few seconds ago, so a logout now certainly refuses it."""
    token = AccessToken.for_user(user)
    token.set_iat(at_time=token.current_time - timedelta(seconds=5))
    return str(token)


async def _connect(user, access: str) -> WebsocketCommunicator:
    app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, f"/ws/?token={access}")
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    assert await communicator.receive_json_from(timeout=TIMEOUT) == {
        "type": "ready",
        "data": {"userId": user.pk},
    }
    return communicator


async def _assert_closed_unauthenticated(communicator):
    assert await communicator.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }
    await communicator.disconnect()  # the client's side of the close handshake


async def _assert_open(communicator, user):
    """Still served: a marker sent to the user's group after the revalidation arrives (so the socket has
    handled everything before it, group messages being delivered in order), then a ping is answered."""
    # The marker: a pong nobody asked for (no requestId), unlike the answer to the ping below.
    await get_channel_layer().group_send(user_group(user.pk), envelope("pong", {}))
    assert await communicator.receive_json_from(timeout=TIMEOUT) == {"type": "pong", "data": {}}
    await communicator.send_json_to({"action": "ping", "requestId": "still-there"})
    assert await communicator.receive_json_from(timeout=TIMEOUT) == {
        "type": "pong",
        "requestId": "still-there",
        "data": {},
    }


def _logout(user):
    auth_logout(user=user, refresh=str(RefreshToken.for_user(user)))


def _change_password(user):
    return password_change(user=user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD)


def _reset_password(user):
    password_reset_confirm(
        token=tokens.make_user_token(user, tokens.PASSWORD_RESET), new_password=NEW_PASSWORD
    )


def _delete_account(user):
    user_delete(user=user, actor=user)


@pytest.mark.parametrize(
    "end_tokens",
    [_logout, _change_password, _reset_password, _delete_account],
    ids=["logout", "password-change", "password-reset", "deletion"],
)
async def test_ending_the_tokens_closes_every_socket_of_that_user_only(
    end_tokens, customer, other_customer
):
    phone = await _connect(customer, _earlier_access_token(customer))
    laptop = await _connect(customer, _earlier_access_token(customer))
    bystander = await _connect(other_customer, _earlier_access_token(other_customer))

    await database_sync_to_async(end_tokens)(customer)

    await _assert_closed_unauthenticated(phone)
    await _assert_closed_unauthenticated(laptop)
    assert await bystander.receive_nothing(timeout=0.2)
    await _assert_open(bystander, other_customer)
    await bystander.disconnect()


async def test_a_socket_opened_with_the_token_a_password_change_returns_stays_open(customer):
    old = await _connect(customer, _earlier_access_token(customer))

    fresh = await database_sync_to_async(_change_password)(customer)
    await _assert_closed_unauthenticated(old)

    current = await _connect(customer, fresh["access"])
    # Another revalidation (as any later trigger would send) re-runs the check instead of closing blindly.
    await database_sync_to_async(user_sockets_revalidate_after_commit)(customer.pk)
    await _assert_open(current, customer)
    await current.disconnect()


async def test_a_revalidation_leaves_a_socket_with_an_accepted_token_open(customer):
    socket = await _connect(customer, _earlier_access_token(customer))
    await database_sync_to_async(user_sockets_revalidate_after_commit)(customer.pk)
    await _assert_open(socket, customer)
    await socket.disconnect()


# --- the Django admin (staff deactivating, re-passwording or deleting an account) ---------------------------


def _admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _change_form_data(client, user) -> dict:
    """The admin change form of `user` as the browser would post it back unchanged."""
    form = client.get(f"/admin/accounts/user/{user.pk}/change/").context["adminform"].form
    data = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value, widget = bound.value(), bound.field.widget
        if isinstance(widget, forms.MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def _admin_deactivate(admin_user, user):
    client = _admin_client(admin_user)
    data = _change_form_data(client, user)
    del data["is_active"]  # the checkbox cleared
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active


def _admin_set_password(admin_user, user):
    response = _admin_client(admin_user).post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.context["form"].errors


def _admin_delete(admin_user, user):
    response = _admin_client(admin_user).post(
        f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "staff_action",
    [_admin_deactivate, _admin_set_password, _admin_delete],
    ids=["deactivate", "set-password", "delete"],
)
async def test_staff_ending_an_account_in_the_admin_closes_its_sockets(
    staff_action, admin_user, customer, other_customer
):
    socket = await _connect(customer, _earlier_access_token(customer))
    bystander = await _connect(other_customer, _earlier_access_token(other_customer))

    await database_sync_to_async(staff_action)(admin_user, customer)

    await _assert_closed_unauthenticated(socket)
    await _assert_open(bystander, other_customer)
    await bystander.disconnect()


async def test_saving_an_account_in_the_admin_without_deactivating_it_leaves_its_sockets_open(
    admin_user, customer
):
    socket = await _connect(customer, _earlier_access_token(customer))

    def _save_unchanged():
        client = _admin_client(admin_user)
        data = _change_form_data(client, customer)
        data["first_name"] = "Wanjiru"
        assert client.post(f"/admin/accounts/user/{customer.pk}/change/", data).status_code == 302

    await database_sync_to_async(_save_unchanged)()
    await _assert_open(socket, customer)
    await socket.disconnect()


async def test_a_logout_committed_between_the_handshake_check_and_joining_the_group_still_closes(
    customer,
):
    """The handshake accepted the token, then the logout committed before the socket joined its user group,
    so its announcement reached nobody: the consumer checks once more after joining."""
    refresh = await database_sync_to_async(RefreshToken.for_user)(customer)
    access = _earlier_access_token(customer)

    def logout_after_the_handshake_check(inner):
        # An ASGI layer between the token middleware (which has accepted the token) and the consumer.
        async def app(scope, receive, send):
            await database_sync_to_async(auth_logout)(user=customer, refresh=str(refresh))
            return await inner(scope, receive, send)

        return app

    app = JWTAuthMiddlewareStack(logout_after_the_handshake_check(URLRouter(websocket_urlpatterns)))
    communicator = WebsocketCommunicator(app, f"/ws/?token={access}")
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    await _assert_closed_unauthenticated(communicator)
