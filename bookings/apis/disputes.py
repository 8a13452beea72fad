"""Disputes API: the list (staff's queue, or a party's own disputes), resolving and notes (staff)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors, serializers
from bookings.errors import DisputeNotFound
from bookings.filters import DisputeFilter
from bookings.services import dispute_add_note, dispute_resolve
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsStaffMember, is_staff_member


def _dispute_for_staff(pk: int):
    dispute = selectors.dispute_queue().filter(pk=pk).first()
    if dispute is None:
        raise DisputeNotFound()
    return dispute


class BookingDisputeQueueApi(GenericAPIView):
    filter_backends = [FilterSetInSelector]  # the selectors apply DisputeFilter
    filterset_class = DisputeFilter
    serializer_class = serializers.BookingDisputeListOutputSerializer

    @extend_schema(
        summary="Disputes: staff's queue, or my own as a customer or technician",
        description=(
            "Support and admins: every dispute, oldest first (the queue), with internal `notes`. "
            "Customers and technicians: the disputes on their own bookings, newest first, with status "
            "and outcome (`outcome`, `refundAmount`, `resolutionNotes` once resolved), never the notes."
        ),
        responses={
            200: serializers.BookingDisputeListOutputSerializer(many=True),
            **error_responses(400, 401),
        },
        examples=[
            OpenApiExample(
                "A customer's resolved dispute",
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 5,
                            "bookingId": 311,
                            "bookingNumber": "DW-2611-000311",
                            "openedById": 3,
                            "reason": "The sink still leaks.",
                            "evidence": [],
                            "status": "resolved",
                            "outcome": "partial_refund",
                            "refundAmount": "400.00",
                            "currency": "KES",
                            "resolvedById": 2,
                            "resolvedAt": "2026-12-02T15:00:00+03:00",
                            "resolutionNotes": "Half the job was redone by another technician.",
                            "createdAt": "2026-11-30T09:00:00+03:00",
                            "updatedAt": "2026-12-02T15:00:00+03:00",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        staff = is_staff_member(request.user)
        queryset = (
            selectors.dispute_queue(filters=request.query_params)
            if staff
            else selectors.disputes_of_party(user=request.user, filters=request.query_params)
        )
        page = self.paginate_queryset(queryset)
        output = (
            serializers.BookingDisputeStaffOutputSerializer
            if staff
            else serializers.BookingDisputeOutputSerializer
        )
        return self.get_paginated_response(output(page, many=True).data)


class BookingDisputeResolveApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        request=serializers.BookingDisputeResolveInputSerializer,
        responses={
            200: serializers.BookingDisputeStaffOutputSerializer,
            **error_responses(400, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        dispute = _dispute_for_staff(pk)
        payload = serializers.BookingDisputeResolveInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        dispute_resolve(
            dispute=dispute,
            actor=request.user,
            outcome=data["outcome"],
            refund_amount=data.get("refund_amount"),
            notes=data["notes"],
        )
        return Response(
            serializers.BookingDisputeStaffOutputSerializer(_dispute_for_staff(pk)).data
        )


class BookingDisputeNoteApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        request=serializers.BookingDisputeNoteInputSerializer,
        responses={
            201: serializers.BookingDisputeNoteOutputSerializer,
            **error_responses(400, 403, 404),
        },
    )
    def post(self, request, pk: int):
        dispute = _dispute_for_staff(pk)
        payload = serializers.BookingDisputeNoteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = dispute_add_note(
            dispute=dispute, author=request.user, body=payload.validated_data["body"]
        )
        return Response(
            serializers.BookingDisputeNoteOutputSerializer(note).data,
            status=status.HTTP_201_CREATED,
        )
