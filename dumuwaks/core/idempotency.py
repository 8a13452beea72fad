"""The `Idempotency-Key` header of initiating POSTs (payments, booking proposals): parsing and its errors.

A client sends a key of its own (1-128 printable ASCII characters) and may repeat the request with it after a
lost answer: the server returns what the first request created instead of doing it again. Keys are scoped to
the user who sent them and stored on the row the request created, under a unique constraint.
"""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from dumuwaks.core.errors import Conflict, ValidationFailed

_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different request."


class InvalidIdempotencyKey(ValidationFailed):
    code = "invalid_idempotency_key"
    message = "The Idempotency-Key header must be 1-128 printable characters."


def idempotency_header(description: str) -> OpenApiParameter:
    """The header as the OpenAPI schema documents it; `description` says what a repeated key returns."""
    return OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description=description,
    )


def idempotency_key(request) -> str | None:
    """The request's key, None without one; 400 `invalid_idempotency_key` when malformed."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidIdempotencyKey()
    return key
