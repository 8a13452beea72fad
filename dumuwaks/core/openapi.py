"""Shared OpenAPI pieces so every endpoint documents its errors and its domain the same way."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
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

# Every operation carries exactly one of these tags (a test holds it); the document lists them in this order
# and groups them by domain (`x-tagGroups`, shown by ReDoc). An operation without an explicit tag gets its
# app's name (`DomainAutoSchema.get_tags`), which must be declared here too.
DOMAIN_TAGS: dict[str, list[tuple[str, str]]] = {
    "accounts": [
        ("auth", "Registration, sign-in, tokens, email/phone verification, 2FA, the own account"),
        ("users", "User administration, technician profiles and KYC, public technician search"),
        ("technicians", "Public technician profiles and technicians' own portfolio"),
        ("categories", "Service categories technicians offer"),
    ],
    "bookings": [
        (
            "bookings",
            "Bookings and their workflow, cancellation, disputes, technician availability",
        ),
    ],
    "payments": [
        ("payments", "M-Pesa STK pushes, card payments, transactions and receipts"),
        ("payouts", "Technician payouts and their review by staff"),
        ("mpesa-callbacks", "Daraja result and timeout callbacks (called by Safaricom)"),
        ("stripe", "Stripe webhook (called by Stripe)"),
    ],
    "matching": [("matching", "Technician matching for a job and the customer's matches")],
    "social": [
        ("posts", "Posts, comments, likes, shares, mentions, reports and moderation"),
        ("media", "Image and video uploads"),
        ("reviews", "Reviews of bookings and technician rating statistics"),
    ],
    "support": [
        ("support", "Support tickets and their messages"),
        ("analytics", "Staff analytics"),
    ],
    "notifications": [("notifications", "Notifications, preferences and push devices")],
    "chat": [("chat", "Conversations and messages (REST side of the chat socket)")],
    "featurephone": [
        ("feature-phone", "A technician's own enrolment for job offers by SMS (feature phones)"),
        (
            "africastalking-callbacks",
            "Inbound SMS and USSD from feature-phone technicians (called by Africa's Talking)",
        ),
    ],
    "platform": [("health", "Liveness and readiness")],
}

_PAGE_NOT_FOUND = (
    "Not found. Lists also answer 404 for a `page` past the last one (or an invalid `cursor`)."
)


# For the rare list whose response is an object around the page (e.g. a page plus totals), which
# drf-spectacular cannot recognise as a paginated list: declare these by hand.
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("pageSize", int, description="Results per page: 1-100, default 20."),
]
PAGE_NOT_FOUND_RESPONSE = OpenApiResponse(response=ErrorSerializer, description=_PAGE_NOT_FOUND)


def error_responses(*statuses: int) -> dict:
    """`@extend_schema(responses={200: Out, **error_responses(400, 404)})`."""
    return {
        code: OpenApiResponse(
            response=ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error")
        )
        for code in statuses
    }


class DomainAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus what every operation of ours shares:

    - an operation without an explicit tag is tagged with its app's name (never the path's "api");
    - every paginated list documents the 404 DRF's paginators answer for a page past the end
      ({"code": "not_found", "message": "Invalid page."}) or an unreadable cursor, once, here.
    """

    def get_tags(self) -> list[str]:
        return [type(self.view).__module__.split(".")[0]]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.method == "GET" and self._is_paginated_list():
            if "404" in responses:
                responses["404"]["description"] = _PAGE_NOT_FOUND
            else:
                responses["404"] = self._get_response_for_code(
                    OpenApiResponse(response=ErrorSerializer, description=_PAGE_NOT_FOUND),
                    "404",
                    direction=direction,
                )
        return responses

    def _is_paginated_list(self) -> bool:
        return bool(self._get_pagination_parameters())
