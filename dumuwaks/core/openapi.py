"""Shared OpenAPI pieces so every endpoint documents its errors the same way."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

_DESCRIPTIONS = {
    400: "Validation error",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict / invalid state transition",
    413: "Payload too large",
    429: "Throttled",
    503: "Dependency unavailable",
}


def error_responses(*statuses: int) -> dict:
    """`@extend_schema(responses={200: Out, **error_responses(400, 404)})`."""
    return {
        code: OpenApiResponse(
            response=ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error")
        )
        for code in statuses
    }
