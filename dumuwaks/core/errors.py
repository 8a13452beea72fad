"""One error body for the whole API: `{"code", "message", "fields"?}`.

Domain code raises `ApplicationError` (or a subclass) with a stable snake_case code; DRF's own exceptions,
Django's 404/PermissionDenied and unexpected exceptions are translated here too, so no client ever sees
another shape.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from dumuwaks.core.health import is_infrastructure_outage

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the client can act on. `code` is stable API contract; `message` is for humans."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict | None = None,
        extra: dict | None = None,
    ):
        self.message = message or self.message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.fields = fields
        self.extra = extra or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"
    message = "Some fields are invalid."


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    message = "Not found."


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    message = "You do not have permission to perform this action."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "This status change is not allowed."


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    message = "A service we depend on is unavailable. Please try again shortly."


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return body


def validation_error_fields(detail) -> dict:
    """The `fields` of a validation error body (HTTP and WebSocket alike): DRF details are nested
    dicts/lists of ErrorDetail; the contract is field -> list of strings, nested fields dotted."""
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in _iter_messages(detail)]}
    fields: dict = {}
    for name, value in detail.items():
        if isinstance(value, dict):
            for sub_name, sub_messages in validation_error_fields(value).items():
                key = name if sub_name == "non_field_errors" else f"{name}.{sub_name}"
                fields[key] = sub_messages
        else:
            fields[name] = [str(item) for item in _iter_messages(value)]
    return fields


def _iter_messages(value):
    if isinstance(value, list | tuple):
        for item in value:
            yield from _iter_messages(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_messages(item)
    else:
        yield value


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    set_rollback()
    if isinstance(exc, ApplicationError):
        body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
        return Response(body, status=exc.status_code)

    if isinstance(exc, exceptions.ValidationError):
        fields = validation_error_fields(exc.detail)
        return Response(
            error_body("validation_error", "Some fields are invalid.", fields),
            status=status.HTTP_400_BAD_REQUEST,
        )

    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        code = code or (exc.get_codes() if isinstance(exc.get_codes(), str) else "error")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail
        message = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            exc.status_code = status.HTTP_401_UNAUTHORIZED
        return Response(error_body(code, message), status=exc.status_code, headers=headers)

    # Raised by Django's form/multipart parsing inside DRF's request.data, or by the JSON decoder.
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):  # too many fields/files, malformed multipart, ...
        return Response(
            error_body("bad_request", "The request could not be parsed."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DataError):
        # PostgreSQL refused a value validation let through (e.g. "\u0000" inside a JSON field): the input
        # was bad, so 400; logged with the traceback because the serializer should have caught it.
        logger.warning("database rejected request data", exc_info=exc)
        return Response(
            error_body("invalid_input", "Some of the data sent cannot be stored."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, OverflowError):
        # Dates/numbers at the edge of their range (from=0001-01-01 shifted by a time zone, 9999-12-31 + 1 day):
        # the client sent an unusable value. Logged with the traceback: the input should have been validated.
        logger.warning("value out of range in request", exc_info=exc)
        return Response(
            error_body("invalid_input", "A value in the request is out of range."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RecursionError | UnicodeError):
        return Response(
            error_body("parse_error", "The request body could not be parsed."),
            status=status.HTTP_400_BAD_REQUEST,
        )

    if is_infrastructure_outage(exc):
        logger.warning("infrastructure outage during request: %r", exc)
        return Response(
            error_body(ServiceUnavailable.code, ServiceUnavailable.message),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    logger.exception("unhandled error in API view", exc_info=exc)
    return Response(
        error_body("server_error", "Something went wrong on our side. It has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


# Plain Django views (URLs that matched no DRF view) answer with the same body.
def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request):
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)


def json_permission_denied(request, exception=None):
    return JsonResponse(error_body("permission_denied", "Forbidden."), status=403)


def json_bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)
