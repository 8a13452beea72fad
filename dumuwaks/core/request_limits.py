"""Refuse request bodies the API cannot reasonably handle before any view parses them, and answer
infrastructure outages anywhere in the stack with 503 — always in the `{"code", "message"}` body.

DRF's parsers read the WSGI stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not protect JSON
endpoints: without this a 20 MB JSON string is read and decoded in full, and JSON nested thousands deep
makes the decoder raise RecursionError (a 500).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import JsonResponse

from dumuwaks.core.errors import ServiceUnavailable, error_body

logger = logging.getLogger(__name__)

DEFAULT_MAX_JSON_BODY_BYTES = 1_048_576  # 1 MiB: our largest JSON input is a few KB
DEFAULT_MAX_BODY_BYTES = 110 * 1_048_576  # multipart: the 100 MB video upload plus form overhead
DEFAULT_MAX_JSON_DEPTH = 64

_JSON_TYPES = ("application/json", "text/json")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _JSON_TYPES or media_type.endswith("+json")


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
    return JsonResponse(
        error_body(
            "payload_too_large",
            f"The request body is too large (at most {limit} bytes).",
            max_bytes=limit,
        ),
        status=413,
    )


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
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse(
                error_body("bad_request", "Invalid Content-Length header."), status=400
            )
        if length < 0:
            return JsonResponse(
                error_body("bad_request", "Invalid Content-Length header."), status=400
            )
        is_json = _is_json(request.META.get("CONTENT_TYPE", ""))
        if is_json:
            limit = getattr(settings, "API_MAX_JSON_BODY_BYTES", DEFAULT_MAX_JSON_BODY_BYTES)
        else:
            limit = getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        if length > limit:
            return _too_large(limit)
        if is_json and length:
            max_depth = getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
            # request.body caches the bytes, so the parser later reads them from memory, not the socket.
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
        from dumuwaks.core.health import is_infrastructure_outage

        if is_infrastructure_outage(exception):
            logger.warning("infrastructure outage during request: %r", exception)
            response = JsonResponse(
                error_body(ServiceUnavailable.code, ServiceUnavailable.message), status=503
            )
            response["Retry-After"] = "5"
            return response
        return None
