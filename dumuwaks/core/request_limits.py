"""Refuse request bodies the API cannot reasonably handle before any view parses them, and answer
infrastructure outages anywhere in the stack with 503 — always in the `{"code", "message"}` body.

DRF's parsers read the WSGI stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not protect JSON
endpoints: without this a 20 MB JSON string is read and decoded in full, and JSON nested thousands deep
makes the decoder raise RecursionError (a 500).

Two layers enforce the same limits (`body_limit`):
- `RequestLimitsMiddleware` (Django) under WSGI. gunicorn hands Django a lazy stream, and this middleware runs
  second (after RequestIdMiddleware, which reads headers only), so an oversized Content-Length is refused
  before a byte of the body is read. A chunked body has no CONTENT_LENGTH, so Django reads 0 bytes of it.
- `RequestLimitsASGIMiddleware` (pure ASGI) under uvicorn. Django's ASGIHandler reads the whole body into a
  temporary file before any Django middleware runs, so the check has to happen in front of it: from the
  Content-Length header before anything is received, and by counting bytes as they are received when there
  is no Content-Length (chunked) — the body never reaches Django past the limit.
"""

from __future__ import annotations

import logging
import re

from django.http import JsonResponse

from dumuwaks.core.errors import ServiceUnavailable, error_body
from dumuwaks.core.health import is_infrastructure_outage

logger = logging.getLogger(__name__)

# Product limits, the same in every deployment (README, "Product rules"); read at call time, so a test
# changes one with monkeypatch.setattr.
MAX_JSON_BODY_BYTES = 1_048_576  # 1 MiB: our largest JSON input is a few KB
MAX_BODY_BYTES = 110 * 1_048_576  # multipart: the 100 MB video upload plus form overhead
MAX_JSON_DEPTH = 64

_JSON_TYPES = ("application/json", "text/json")
_CONTENT_LENGTH = re.compile(r"[0-9]+")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _JSON_TYPES or media_type.endswith("+json")


def body_limit(content_type: str) -> int:
    """The most bytes a request body of this Content-Type may have: JSON is capped far lower than uploads."""
    if _is_json(content_type):
        return MAX_JSON_BODY_BYTES
    return MAX_BODY_BYTES


def parse_content_length(raw: str) -> int:
    """The declared body length; ValueError unless `raw` is plain ASCII digits (no sign, `_`, or list)."""
    raw = raw.strip(" \t")
    if not _CONTENT_LENGTH.fullmatch(raw):
        raise ValueError(f"invalid Content-Length {raw[:40]!r}")
    return int(raw)


def json_nesting_depth(raw: bytes, limit: int) -> int:
    """Deepest array/object nesting in `raw`, stopping as soon as it exceeds `limit` (linear, no recursion).

    Brackets inside strings do not count; the document need not be valid JSON (the parser decides that).
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _too_large(limit: int) -> JsonResponse:
    # JsonResponse does not go through the camelCase renderer: the key is written as the API spells it.
    return JsonResponse(
        error_body(
            "payload_too_large",
            f"The request body is too large (at most {limit} bytes).",
            maxBytes=limit,
        ),
        status=413,
    )


def _invalid_content_length() -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Invalid Content-Length header."), status=400)


class RequestLimitsMiddleware:
    """Content-Length caps (JSON vs. everything else) and a JSON nesting-depth cap."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refused = self._check(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    def _check(self, request):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        try:
            length = parse_content_length(request.META.get("CONTENT_LENGTH") or "0")
        except ValueError:
            return _invalid_content_length()
        content_type = request.META.get("CONTENT_TYPE", "")
        limit = body_limit(content_type)
        if length > limit:
            return _too_large(limit)
        is_json = _is_json(content_type)
        if is_json:
            max_depth = MAX_JSON_DEPTH
            # request.body caches the bytes, so the parser later reads them from memory, not the socket.
            # Read even without a Content-Length: under ASGI a chunked body is there (already capped by
            # RequestLimitsASGIMiddleware); under WSGI Django reads 0 bytes of it.
            body = request.body
            # Counting brackets runs in C; the byte-by-byte scan only runs when deep nesting is possible.
            could_be_deep = body.count(b"[") + body.count(b"{") > max_depth
            if could_be_deep and json_nesting_depth(body, max_depth) > max_depth:
                return JsonResponse(
                    error_body(
                        "parse_error",
                        f"JSON is nested too deeply (at most {max_depth} levels).",
                    ),
                    status=400,
                )
        return None

    def process_exception(self, request, exception):
        """Outages raised outside DRF views (middleware, plain Django views) are a 503 too, not a 500."""
        if is_infrastructure_outage(exception):
            logger.warning("infrastructure outage during request: %r", exception)
            response = JsonResponse(
                error_body(ServiceUnavailable.code, ServiceUnavailable.message), status=503
            )
            response["Retry-After"] = "5"
            return response
        return None


class RequestLimitsASGIMiddleware:
    """The body limits in front of Django's ASGIHandler, which reads every body in full before routing.

    Wraps the HTTP application only. Refuses from the Content-Length header without receiving anything, and
    otherwise counts the body as it is received: once past the limit it answers 413 itself and hands the
    application an `http.disconnect`, so Django (which has not started a response: it reads the whole body
    first) drops the request. Applies to every method, since Django reads a GET body as well. Refusals carry
    `Connection: close`: the unread rest of the body must not be parsed as a next request.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_lengths = []
        content_types = []
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared_lengths.append(value.decode("latin-1"))
            elif name == b"content-type":
                content_types.append(value.decode("latin-1"))
        # Django joins repeated headers with "," into META; the limit is decided on the same string.
        limit = body_limit(",".join(content_types))
        try:
            declared = _declared_length(declared_lengths)
        except ValueError:
            await _send_refusal(send, _invalid_content_length(), scope)
            return
        if declared is not None and declared > limit:
            await _send_refusal(send, _too_large(limit), scope)
            return
        body = _CountedBody(limit, scope, receive, send)
        await self.app(scope, body.receive, body.send)


def _declared_length(values: list[str]) -> int | None:
    """The Content-Length of a request (None if it has none); ValueError if invalid or repeated differently."""
    lengths = {parse_content_length(raw) for raw in values}
    if len(lengths) > 1:
        raise ValueError("conflicting Content-Length headers")
    return lengths.pop() if lengths else None


class _CountedBody:
    """One request's `receive`/`send` pair, refusing the body once more than `limit` bytes arrived."""

    __slots__ = ("_receive", "_send", "limit", "received", "refused", "response_started", "scope")

    def __init__(self, limit: int, scope, receive, send):
        self.limit = limit
        self.scope = scope
        self.received = 0
        self.refused = False
        self.response_started = False
        self._receive = receive
        self._send = send

    async def receive(self):
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.refused = True
                if not self.response_started:
                    await _send_refusal(self._send, _too_large(self.limit), self.scope)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message):
        if self.refused:
            return  # the client has its 413 (or, mid-response, is being dropped)
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)


async def _send_refusal(send, response: JsonResponse, scope) -> None:
    logger.warning(
        "request body refused in front of Django: %s %s -> %s",
        scope.get("method"),
        scope.get("path"),
        response.status_code,
    )
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.items()
    ]
    headers.append((b"content-length", str(len(response.content)).encode("ascii")))
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
