"""A logout ends every access token issued up to that instant, and none issued after it (issue 19, item 3).

simplejwt's `iat` is whole seconds, so an access token issued in the same second as the logout used to keep
working, on REST and on the sockets opened with it. Ours carry `iat` to the microsecond (accounts.jwt) and
the check compares exactly. The clock is frozen at chosen instants inside one second (time-machine), except
for the socket test, whose other thread must not see a frozen clock: it signs in and out right after a
second begins.
"""

import time
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt import tokens as simplejwt_tokens

from accounts.authentication import JWTAuthentication
from accounts.jwt import epoch_seconds
from accounts.models import User
from accounts.services import auth_issue_tokens
from accounts.tests.factories import DEFAULT_PASSWORD
from dumuwaks.routing import websocket_urlpatterns
from dumuwaks.ws_auth import JWTAuthMiddlewareStack, access_token_still_accepted
from notifications.consumers import CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_start():
    """The start of a whole second (a little in the past, so tokens read outside the frozen clock are not
    from the future): every instant used below is inside it unless said otherwise."""
    return timezone.now().replace(microsecond=0) - timedelta(seconds=30)


def _at(second_start, milliseconds: int):
    return time_machine.travel(second_start + timedelta(milliseconds=milliseconds), tick=False)


def _login() -> dict:
    response = APIClient().post(
        "/api/v1/auth/login",
        {"email": "wanjiku@example.co.ke", "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    return response.json()


def _logout(session: dict):
    response = APIClient(headers={"Authorization": f"Bearer {session['access']}"}).post(
        "/api/v1/auth/logout", {"refresh": session["refresh"]}, format="json"
    )
    assert response.status_code == 204


def _refresh(refresh: str) -> dict:
    response = APIClient().post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    return response.json()


def _me(access: str):
    return APIClient().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def _assert_refused(access: str):
    response = _me(access)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    # The rule sockets re-run when a logout is announced (dumuwaks.ws_auth, notifications.consumers).
    assert not access_token_still_accepted(JWTAuthentication().get_validated_token(access))


def _assert_accepted(access: str, user):
    response = _me(access)
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert access_token_still_accepted(JWTAuthentication().get_validated_token(access))


def _iat(access: str):
    return JWTAuthentication().get_validated_token(access)["iat"]


def test_logout_ends_the_access_token_issued_earlier_in_the_same_second(customer, second_start):
    with _at(second_start, 100):
        session = _login()
    with _at(second_start, 400):
        _logout(session)
    valid_after = User.objects.get(pk=customer.pk).access_tokens_valid_after
    assert valid_after == second_start + timedelta(milliseconds=400)
    assert int(_iat(session["access"])) == int(valid_after.timestamp())  # the old rule let it live

    with _at(second_start, 500):
        _assert_refused(session["access"])


def test_the_cut_off_is_exact_to_the_microsecond(customer, second_start):
    logout_at = second_start + timedelta(milliseconds=400)

    def token_minted_at(moment) -> str:
        with time_machine.travel(moment, tick=False):
            return auth_issue_tokens(customer)["access"]

    just_before = token_minted_at(logout_at - timedelta(microseconds=1))
    just_after = token_minted_at(logout_at + timedelta(microseconds=1))
    with time_machine.travel(logout_at, tick=False):
        _logout(_login())
    with _at(second_start, 500):
        _assert_refused(just_before)
        _assert_accepted(just_after, customer)


def test_a_sign_in_right_after_the_logout_in_the_same_second_works(customer, second_start):
    with _at(second_start, 100):
        session = _login()
    with _at(second_start, 400):
        _logout(session)
    with _at(second_start, 401):
        again = _login()
    with _at(second_start, 600):
        _assert_accepted(again["access"], customer)
        _assert_refused(session["access"])


def test_another_device_refreshing_after_the_logout_gets_a_working_token(customer, second_start):
    with _at(second_start, 100):
        phone = _login()
        laptop = _login()
    with _at(second_start, 400):
        _logout(phone)
    with _at(second_start, 700):
        # The laptop's access token predates the logout; its refresh token does not end with it.
        _assert_refused(laptop["access"])
        refreshed = _refresh(laptop["refresh"])
        _assert_accepted(refreshed["access"], customer)
        _assert_refused(phone["access"])


def test_tokens_carry_the_instant_of_their_own_minting(customer, second_start):
    with _at(second_start, 123):
        session = _login()
    with _at(second_start, 456):
        refreshed = _refresh(session["refresh"])

    assert _iat(session["access"]) == epoch_seconds(second_start + timedelta(milliseconds=123))
    # The refreshed access token is dated by the refresh request, not copied from the refresh token.
    assert _iat(refreshed["access"]) == epoch_seconds(second_start + timedelta(milliseconds=456))
    assert not float(_iat(refreshed["access"])).is_integer()


def test_whole_second_tokens_compare_as_the_start_of_their_second(customer, second_start):
    """simplejwt's own classes (tests' helpers, tokens minted before precise `iat`) still work: an earlier
    second is refused and a later one accepted, as before; within the logout's second the token cannot be
    told from one issued before it, so it is refused."""

    def whole_second_token(milliseconds: int) -> str:
        with _at(second_start, milliseconds):
            return str(simplejwt_tokens.RefreshToken.for_user(customer).access_token)

    earlier, same_second, later = (whole_second_token(ms) for ms in (-500, 600, 1200))
    assert isinstance(_iat(same_second), int)
    with _at(second_start, 400):
        _logout(_login())
    with _at(second_start, 1300):
        _assert_refused(earlier)
        _assert_refused(same_second)
        _assert_accepted(later, customer)


def test_access_tokens_work_when_no_logout_ever_happened(customer, second_start):
    with _at(second_start, 100):
        session = _login()
    assert User.objects.get(pk=customer.pk).access_tokens_valid_after is None
    with _at(second_start, 200):
        _assert_accepted(session["access"], customer)


@pytest.mark.django_db(transaction=True)  # the logout's revalidation is sent after commit
@pytest.mark.usefixtures("fresh_channel_layer")
def test_a_socket_opened_with_a_token_of_the_logouts_own_second_closes(customer):
    """As the system test found it: sign in, open the socket and sign out at once."""

    now = time.time()
    time.sleep(1 - (now - int(now)) + 0.01)  # a second has just begun: the rest fits in it
    session = _login()

    async def scenario():
        app = JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        socket = WebsocketCommunicator(app, f"/ws/?token={session['access']}")
        connected, _ = await socket.connect(timeout=5)
        assert connected
        assert await socket.receive_json_from(timeout=5) == {
            "type": "ready",
            "data": {"userId": customer.pk},
        }
        await database_sync_to_async(_logout)(session)
        assert await socket.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": CLOSE_UNAUTHENTICATED,
        }
        await socket.disconnect()

    async_to_sync(scenario)()
    valid_after = User.objects.get(pk=customer.pk).access_tokens_valid_after
    assert int(_iat(session["access"])) == int(
        valid_after.timestamp()
    )  # the case the old rule missed
