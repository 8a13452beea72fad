import pytest
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from dumuwaks.asgi import application

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


async def _connect(user, origin: bytes | None):
    headers = [(b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(
        application, f"/ws/?token={AccessToken.for_user(user)}", headers=headers
    )
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


async def test_native_app_without_origin_header_may_connect_with_a_token(customer):
    assert await _connect(customer, origin=None)


async def test_the_web_client_origin_may_connect(customer, settings):
    assert await _connect(customer, origin=settings.CLIENT_WEB_URL.encode())


async def test_a_foreign_site_is_refused(customer):
    assert not await _connect(customer, origin=b"https://evil.example.com")
