"""Body limits under ASGI: refused in front of Django's ASGIHandler, which reads every body in full first.

The ASGI application is called directly with a fake server side whose `receive` counts what it handed out,
so "refused before reading" is a number, not an inference from timing (tests/test_body_limits_servers.py
does the same through real uvicorn and gunicorn processes).
"""

from __future__ import annotations

import asyncio
import json
from itertools import chain, repeat

import pytest
from asgiref.sync import async_to_sync

from dumuwaks.asgi import application
from dumuwaks.core import request_limits
from dumuwaks.core.request_limits import (
    MAX_BODY_BYTES,
    MAX_JSON_BODY_BYTES,
    RequestLimitsASGIMiddleware,
)

CHUNK = 64 * 1024
JSON_LIMIT = MAX_JSON_BODY_BYTES
UPLOAD_LIMIT = MAX_BODY_BYTES
GAVE_UP = object()  # in a chunk list: the client disconnects here


class FakeServer:
    """One HTTP request as a server presents it to the application: body messages out, response in."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self.pulls = 0  # body messages handed to the application
        self.bytes_pulled = 0
        self.sent: list[dict] = []

    async def receive(self):
        try:
            body, more_body = next(self._chunks)
        except StopIteration:
            # Body over and the client still connected: a server keeps the application waiting here
            # (Django listens for a disconnect while the view runs).
            await asyncio.Future()
        if body is GAVE_UP:
            return {"type": "http.disconnect"}
        self.pulls += 1
        self.bytes_pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.sent
        return starts[0]["status"]

    @property
    def headers(self) -> dict[bytes, bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"])

    def json(self):
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def _request(method, path, *, headers=(), chunks=((b"", False),)) -> FakeServer:
    server = FakeServer(chunks)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    async_to_sync(application)(scope, server.receive, server.send)
    return server


def _split(body: bytes, size: int):
    """`body` as a server hands it over in pieces of `size` bytes (the last one says no more follows)."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    return [(piece, i < len(pieces) - 1) for i, piece in enumerate(pieces)]


def _endless(up_to: int):
    """An upload that goes on until the client gives up after `up_to` bytes (so a broken limit fails the
    test with "no response" instead of hanging it)."""
    return chain(repeat((b"x" * CHUNK, True), up_to // CHUNK + 1), [(GAVE_UP, False)])


def _assert_too_large(server: FakeServer, limit: int):
    assert server.status == 413
    assert server.json() == {
        "code": "payload_too_large",
        "message": f"The request body is too large (at most {limit} bytes).",
        "maxBytes": limit,
    }
    assert server.headers[b"content-type"] == b"application/json"
    # The unread rest of the body must not be parsed as the next request on this connection.
    assert server.headers[b"connection"] == b"close"
    assert len(server.sent) == 2  # our 413 and nothing from Django after it


# --- refused from the Content-Length header: nothing received ----------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "length", "limit"),
    [
        ("application/json", JSON_LIMIT + 1, JSON_LIMIT),
        ("application/vnd.api+json; charset=utf-8", 200 * 1_048_576, JSON_LIMIT),
        ("multipart/form-data; boundary=xyz", UPLOAD_LIMIT + 1, UPLOAD_LIMIT),
        ("application/octet-stream", 1_073_741_824, UPLOAD_LIMIT),
        ("", 1_073_741_824, UPLOAD_LIMIT),
    ],
)
def test_oversized_content_length_is_413_before_any_body_is_received(content_type, length, limit):
    headers = [("content-length", str(length))]
    if content_type:
        headers.append(("content-type", content_type))
    server = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_endless(CHUNK))

    _assert_too_large(server, limit)
    assert server.pulls == 0


def test_get_with_an_oversized_body_is_refused_too_because_django_would_read_it():
    server = _request(
        "GET", "/api/v1/health", headers=[("content-length", "1073741824")], chunks=_endless(CHUNK)
    )

    _assert_too_large(server, UPLOAD_LIMIT)
    assert server.pulls == 0


@pytest.mark.parametrize(
    "lengths", [["abc"], ["-1"], ["+5"], ["1_0"], ["5, 5"], ["0x10"], ["10", "11"]]
)
def test_invalid_content_length_is_400_before_any_body_is_received(lengths):
    headers = [("content-type", "application/json")]
    headers += [("content-length", value) for value in lengths]
    server = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_endless(CHUNK))

    assert server.status == 400
    assert server.json() == {"code": "bad_request", "message": "Invalid Content-Length header."}
    assert server.headers[b"connection"] == b"close"
    assert server.pulls == 0


def test_content_length_at_the_limit_passes_and_one_byte_more_does_not(monkeypatch):
    monkeypatch.setattr(request_limits, "MAX_BODY_BYTES", 1000)
    at_limit = _request(
        "POST",
        "/api/v1/auth/login",
        headers=[("content-type", "text/plain"), ("content-length", "1000")],
        chunks=_split(b"x" * 1000, 300),
    )
    # The view answered (DRF parses no text/plain): the body was let through.
    assert at_limit.status == 415
    assert at_limit.json()["code"] == "unsupported_media_type"
    assert at_limit.bytes_pulled == 1000

    over = _request(
        "POST",
        "/api/v1/auth/login",
        headers=[("content-type", "text/plain"), ("content-length", "1001")],
        chunks=_split(b"x" * 1001, 300),
    )
    _assert_too_large(over, 1000)
    assert over.pulls == 0


# --- refused while streaming: pulled only up to the limit --------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "declared", "limit"),
    [
        ("application/json", None, JSON_LIMIT),  # chunked
        ("multipart/form-data; boundary=xyz", None, UPLOAD_LIMIT),
        # A server that let more bytes through than were declared (uvicorn and gunicorn frame by the header,
        # but the limit does not rely on it).
        ("application/json", "10", JSON_LIMIT),
    ],
)
def test_body_streamed_past_the_limit_stops_being_pulled_at_the_limit(
    content_type, declared, limit
):
    headers = [("content-type", content_type), ("transfer-encoding", "chunked")]
    if declared is not None:
        headers = [("content-type", content_type), ("content-length", declared)]
    server = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_endless(limit + CHUNK))

    _assert_too_large(server, limit)
    # Exactly the chunk that crossed the limit was the last one taken.
    assert server.pulls == limit // CHUNK + 1
    assert server.bytes_pulled <= limit + CHUNK


def test_streamed_body_at_the_limit_passes_and_one_byte_more_does_not(monkeypatch):
    monkeypatch.setattr(request_limits, "MAX_BODY_BYTES", 1000)
    headers = [("content-type", "text/plain"), ("transfer-encoding", "chunked")]
    at_limit = _request(
        "POST", "/api/v1/auth/login", headers=headers, chunks=_split(b"x" * 1000, 7)
    )
    # The view answered (DRF ignores a body without Content-Length: no fields): the body was let through.
    assert at_limit.status == 400
    assert at_limit.json()["code"] == "validation_error"
    assert at_limit.bytes_pulled == 1000

    over = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_split(b"x" * 1001, 7))
    _assert_too_large(over, 1000)
    assert over.bytes_pulled == 1001


# --- bodies under the limit reach Django intact -------------------------------------------------------------


@pytest.mark.django_db
def test_body_under_the_limit_reaches_the_view_intact():
    # Only the password is missing: the view saw the email, so the body arrived whole (split in 3-byte pieces).
    body = json.dumps({"email": "nobody@example.com"}).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    server = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_split(body, 3))

    assert server.status == 400
    assert server.json() == {
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"password": ["This field is required."]},
    }
    assert server.bytes_pulled == len(body)


def test_chunked_body_under_the_limit_is_handed_on_message_for_message():
    """Nothing is buffered or rewritten: the application receives exactly what the server delivered."""
    delivered = [(b'{"a": ', True), (b"", True), (b'"b"', True), (b"}", False)]
    received = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received.append(message)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = FakeServer(delivered)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    }
    async_to_sync(RequestLimitsASGIMiddleware(app))(scope, server.receive, server.send)

    assert received == [
        {"type": "http.request", "body": body, "more_body": more} for body, more in delivered
    ]
    assert server.status == 204


@pytest.mark.django_db
def test_chunked_json_nested_too_deep_is_400_not_500():
    """The depth check runs without a Content-Length too: under ASGI Django has the chunked body.

    DRF's parsers ignore a body without Content-Length, but views reading `request.body` (the M-Pesa and
    Stripe callbacks) would decode it; the middleware has to refuse it first. This is also the proof that a
    chunked body reaches Django through the ASGI limits.
    """
    body = b"[" * 10_000 + b"]" * 10_000
    headers = [("content-type", "application/json"), ("transfer-encoding", "chunked")]
    server = _request("POST", "/api/v1/auth/login", headers=headers, chunks=_split(body, CHUNK))

    assert server.status == 400
    assert server.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_request_without_a_body_is_unaffected():
    server = _request("GET", "/api/v1/no-such-endpoint")

    assert server.status == 404
    assert server.json()["code"] == "not_found"


# --- other scopes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
def test_non_http_scopes_pass_through_untouched(scope_type):
    seen = []

    async def inner(scope, receive, send):
        seen.append((scope, receive, send))

    async def receive():
        raise AssertionError("the middleware must not receive on a non-HTTP scope")

    async def send(message):
        raise AssertionError("the middleware must not send on a non-HTTP scope")

    scope = {"type": scope_type, "headers": [(b"content-length", b"1073741824")]}
    async_to_sync(RequestLimitsASGIMiddleware(inner))(scope, receive, send)

    assert seen == [(scope, receive, send)]
