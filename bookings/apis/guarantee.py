"""HTTP for the workmanship guarantee (README "Workmanship guarantee").

`/bookings/{id}/guarantee-claims`: GET the booking's claim (a list of at most one), POST the customer's claim;
actions `.../{claimId}/accept|decline` (the job's technician), `.../{claimId}/withdraw` (the customer, until the
return visit started) and `.../{claimId}/confirm|report-failed` (the customer, after the return visit started). A booking the caller may not see, or its claim for anyone but
its two parties and staff, is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors, serializers
from bookings.apis.common import booking_visible_or_404
from bookings.errors import GuaranteeClaimNotFound
from bookings.services import (
    guarantee_claim_accept,
    guarantee_claim_decline,
    guarantee_claim_open,
    guarantee_claim_report,
    guarantee_claim_withdraw,
)
from dumuwaks.core.openapi import error_responses

_PHOTO = {
    "url": "https://res.cloudinary.com/dumuwaks/image/upload/leak-again.jpg",
    "publicId": "dumuwaks/jobs/leak-again",
    "type": "image",
}
_CLAIM_EXAMPLE = {
    "id": 5,
    "bookingId": 7,
    "status": "open",
    "customerId": 3,
    "technicianId": 12,
    "description": "The kitchen tap drips again since Monday.",
    "photos": [_PHOTO],
    "respondBy": "2026-12-09T10:15:00+03:00",
    "visitStart": None,
    "visitEnd": None,
    "declineReason": "",
    "outcomeNote": "",
    "disputeId": None,
    "closedAt": None,
    "createdAt": "2026-12-07T10:15:00+03:00",
    "history": [
        {
            "fromStatus": "",
            "toStatus": "open",
            "actorId": 3,
            "note": "The kitchen tap drips again since Monday.",
            "createdAt": "2026-12-07T10:15:00+03:00",
        }
    ],
}
_SCHEDULED_EXAMPLE = {
    **_CLAIM_EXAMPLE,
    "status": "scheduled",
    "visitStart": "2026-12-08T14:00:00+03:00",
    "visitEnd": "2026-12-08T16:00:00+03:00",
}
_DISPUTED_EXAMPLE = {
    **_CLAIM_EXAMPLE,
    "status": "declined",
    "declineReason": "Out of town.",
    "disputeId": 9,
}
_NOT_ALLOWED = OpenApiExample(
    "Not now",
    value={
        "code": "guarantee_claim_not_allowed",
        "message": "This claim is scheduled; it was answered already.",
    },
    response_only=True,
    status_codes=["409"],
)


def _claim_for(request, booking, claim_id: int):
    claim = (
        selectors.guarantee_claims_visible(booking=booking, user=request.user)
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        raise GuaranteeClaimNotFound()
    return claim


def _action_input(request, pk: int, claim_id: int, input_serializer):
    """What every claim action starts with: the booking and its claim as the caller may see them (404 before
    anything else), then the body parsed (400). Returns `(booking, validated_data)`."""
    booking = booking_visible_or_404(request, pk)
    _claim_for(request, booking, claim_id)
    payload = input_serializer(data=request.data)
    payload.is_valid(raise_exception=True)
    return booking, payload.validated_data


def _render(request, booking, claim_id: int, status_code=status.HTTP_200_OK):
    claim = _claim_for(request, booking, claim_id)
    return Response(
        serializers.BookingGuaranteeClaimOutputSerializer(claim).data, status=status_code
    )


class BookingGuaranteeClaimListCreateApi(GenericAPIView):
    filter_backends: list = []
    serializer_class = serializers.BookingGuaranteeClaimOutputSerializer

    @extend_schema(
        summary="The booking's guarantee claim (at most one)",
        responses={
            200: serializers.BookingGuaranteeClaimOutputSerializer(many=True),
            **error_responses(404),
        },
    )
    def get(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        claims = selectors.guarantee_claims_visible(booking=booking, user=request.user)
        page = self.paginate_queryset(claims)
        return self.get_paginated_response(
            serializers.BookingGuaranteeClaimOutputSerializer(page, many=True).data
        )

    @extend_schema(
        summary="Customer reports that the fix failed (workmanship guarantee)",
        description=(
            "The booking's customer, within 14 days of confirming the job, describes what is wrong again "
            "with up to 10 photos (their own uploads: `publicId`). The technician who did the job has 48 h "
            "to offer a free return visit or decline; declined (or unanswered) becomes a dispute on the "
            "booking with the description and photos as evidence. 409 `guarantee_window_closed` when the "
            "booking is not confirmed or was confirmed more than 14 days ago; 409 "
            "`guarantee_claim_exists` when the booking already had a claim (one return visit per job); 403 "
            "`not_guarantee_party` for anyone but the customer."
        ),
        request=serializers.BookingGuaranteeClaimInputSerializer,
        responses={
            201: serializers.BookingGuaranteeClaimOutputSerializer,
            **error_responses(400, 403, 404, 409),
        },
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "description": "The kitchen tap drips again since Monday.",
                    "photos": [{"publicId": "dumuwaks/jobs/leak-again"}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Claim opened", value=_CLAIM_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "Too late",
                value={
                    "code": "guarantee_window_closed",
                    "message": "The workmanship guarantee covers a job for 14 days after it was "
                    "confirmed.",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        payload = serializers.BookingGuaranteeClaimInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        claim = guarantee_claim_open(
            booking=booking,
            customer=request.user,
            description=payload.validated_data["description"],
            photos=payload.validated_data.get("photos", []),
        )
        return _render(request, booking, claim.pk, status.HTTP_201_CREATED)


def _action_schema(summary: str, description: str, request, example: dict):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={
            200: serializers.BookingGuaranteeClaimOutputSerializer,
            **error_responses(400, 403, 404, 409),
        },
        examples=[
            OpenApiExample("Done", value=example, response_only=True, status_codes=["200"]),
            _NOT_ALLOWED,
        ],
    )


class BookingGuaranteeAcceptApi(APIView):
    @_action_schema(
        "Technician offers the free return visit in a slot",
        "The technician who did the job, before `respondBy`. The slot must be in the future and free in "
        "their calendar (bookings, other return visits: 409 `slot_taken`; time off or outside working "
        "hours: 409 `technician_unavailable`). Nothing is charged for the visit.",
        serializers.BookingGuaranteeAcceptInputSerializer,
        _SCHEDULED_EXAMPLE,
    )
    def post(self, request, pk: int, claim_id: int):
        booking, data = _action_input(
            request, pk, claim_id, serializers.BookingGuaranteeAcceptInputSerializer
        )
        guarantee_claim_accept(
            booking=booking,
            claim_id=claim_id,
            technician=request.user,
            visit_start=data["visit_start"],
            duration_minutes=data.get("duration_minutes"),
        )
        return _render(request, booking, claim_id)


class BookingGuaranteeDeclineApi(APIView):
    @_action_schema(
        "Technician declines the return visit: a dispute is opened",
        "The technician who did the job, before `respondBy`, with a reason. The claim becomes a dispute "
        "on the booking (`disputeId`) with the customer's description and photos as evidence.",
        serializers.BookingGuaranteeDeclineInputSerializer,
        _DISPUTED_EXAMPLE,
    )
    def post(self, request, pk: int, claim_id: int):
        booking, data = _action_input(
            request, pk, claim_id, serializers.BookingGuaranteeDeclineInputSerializer
        )
        guarantee_claim_decline(
            booking=booking,
            claim_id=claim_id,
            technician=request.user,
            reason=data["reason"],
        )
        return _render(request, booking, claim_id)


class _ReportApi(APIView):
    fixed = True

    def post(self, request, pk: int, claim_id: int):
        booking, data = _action_input(
            request, pk, claim_id, serializers.BookingGuaranteeReportInputSerializer
        )
        guarantee_claim_report(
            booking=booking,
            claim_id=claim_id,
            customer=request.user,
            fixed=self.fixed,
            note=data["note"],
        )
        return _render(request, booking, claim_id)


class BookingGuaranteeConfirmApi(_ReportApi):
    fixed = True

    @_action_schema(
        "Customer confirms the return visit fixed it",
        "The customer, once the visit has started (409 `guarantee_claim_not_allowed` before). Without "
        "an answer within 3 days after the visit ends, the claim is closed as fixed.",
        serializers.BookingGuaranteeReportInputSerializer,
        {**_SCHEDULED_EXAMPLE, "status": "fixed", "closedAt": "2026-12-08T17:00:00+03:00"},
    )
    def post(self, request, pk: int, claim_id: int):
        return super().post(request, pk, claim_id)


class BookingGuaranteeReportFailedApi(_ReportApi):
    fixed = False

    @_action_schema(
        "Customer reports the return visit did not fix it: a dispute is opened",
        "The customer, once the visit has started, says what is still wrong (`note`, required: 400). "
        "A dispute on the booking is opened with the claim's description and photos as evidence.",
        serializers.BookingGuaranteeReportInputSerializer,
        {**_SCHEDULED_EXAMPLE, "status": "failed", "disputeId": 9},
    )
    def post(self, request, pk: int, claim_id: int):
        return super().post(request, pk, claim_id)


class BookingGuaranteeWithdrawApi(APIView):
    @_action_schema(
        "Customer withdraws the claim",
        "The customer, while the claim waits for the technician's answer or for the return visit (409 "
        "`guarantee_claim_not_allowed` once the visit started: confirm or report-failed then). A scheduled "
        "visit's slot is freed. Withdrawn is final: the guarantee covers one claim per job.",
        serializers.BookingGuaranteeReportInputSerializer,
        {**_CLAIM_EXAMPLE, "status": "withdrawn", "closedAt": "2026-12-07T12:00:00+03:00"},
    )
    def post(self, request, pk: int, claim_id: int):
        booking, data = _action_input(
            request, pk, claim_id, serializers.BookingGuaranteeReportInputSerializer
        )
        guarantee_claim_withdraw(
            booking=booking,
            claim_id=claim_id,
            customer=request.user,
            note=data["note"],
        )
        return _render(request, booking, claim_id)
