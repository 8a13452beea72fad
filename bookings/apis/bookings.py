"""Bookings API: list, create, detail, status actions, dispute opening, history, quote, stats."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, ServiceCategory, User
from bookings import selectors, serializers
from bookings.apis.common import booking_visible_or_404
from bookings.errors import BookingNotFound, InvalidBooking
from bookings.filters import BookingFilter
from bookings.models import BookingStatus
from bookings.rendering import bookings_rendered
from bookings.services import (
    booking_cancel,
    booking_create,
    booking_transition,
    booking_update,
    cancellation_quote,
    dispute_open,
)
from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import PageWithTotal
from dumuwaks.core.renderers import PreRendered, PreRenderedPage


def _render(request, booking, status_code=status.HTTP_200_OK):
    data = serializers.BookingOutputSerializer(booking, context={"request": request}).data
    return Response(data, status=status_code)


class BookingListCreateApi(GenericAPIView):
    filter_backends = [FilterSetInSelector]
    filterset_class = BookingFilter
    serializer_class = serializers.BookingOutputSerializer

    @extend_schema(
        responses={200: serializers.BookingOutputSerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        # The selectors apply BookingFilter, so the rendered cache pages exactly the filtered list.
        rows = PageWithTotal(
            selectors.booking_list_versions(user=request.user, filters=request.query_params),
            window=self.paginator.expected_window(request),
        )
        page = self.paginate_queryset(rows)
        envelope = self.get_paginated_response([]).data
        del envelope["results"]
        return Response(PreRenderedPage(envelope, bookings_rendered(page, request=request)))

    @extend_schema(
        request=serializers.BookingCreateInputSerializer,
        responses={201: serializers.BookingOutputSerializer, **error_responses(400, 403, 409)},
    )
    def post(self, request):
        payload = serializers.BookingCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        category = ServiceCategory.objects.filter(pk=data["category_id"]).first()
        if category is None:
            raise InvalidBooking(fields={"category_id": ["Unknown service category."]})
        technician = None
        if data.get("technician_id"):
            technician = User.objects.filter(
                pk=data["technician_id"], role=Role.TECHNICIAN, is_active=True
            ).first()
            if technician is None:
                raise InvalidBooking(fields={"technician_id": ["Unknown technician."]})
        booking = booking_create(
            customer=request.user,
            category=category,
            title=data["title"],
            description=data["description"],
            urgency=data["urgency"],
            address=data["address"],
            county=data["county"],
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            scheduled_start=data["scheduled_start"],
            duration_minutes=data["duration_minutes"],
            price=data["price"],
            technician=technician,
            attachments=data.get("attachments", []),
        )
        return _render(request, booking, status.HTTP_201_CREATED)


_UPDATE_DESCRIPTION = (
    "The customer edits a pending or accepted booking. The time of an accepted booking changes only by"
    " agreement: a different `scheduledStart`/`durationMinutes` is 409 `reschedule_requires_proposal`"
    " (propose it with POST /api/v1/bookings/{id}/reschedule-proposals); later statuses are 409"
    " `booking_not_editable`."
)


class BookingDetailApi(APIView):
    @extend_schema(responses={200: serializers.BookingOutputSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        row = selectors.booking_version_for_user(user=request.user, booking_id=pk)
        rendered = bookings_rendered([row] if row else [], request=request)
        if not rendered:
            raise BookingNotFound()
        return Response(PreRendered(rendered[0]))

    def _update(self, request, pk: int, *, partial: bool):
        booking = booking_visible_or_404(request, pk)
        payload = serializers.BookingUpdateInputSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        updated = booking_update(
            booking=booking,
            actor=request.user,
            scheduled_start=changes.pop("scheduled_start", None),
            duration_minutes=changes.pop("duration_minutes", None),
            **changes,
        )
        return _render(request, selectors.bookings_visible_to(request.user).get(pk=updated.pk))

    @extend_schema(
        description=_UPDATE_DESCRIPTION,
        request=serializers.BookingUpdateInputSerializer,
        responses={200: serializers.BookingOutputSerializer, **error_responses(400, 404, 409)},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        description=_UPDATE_DESCRIPTION,
        request=serializers.BookingUpdateInputSerializer,
        responses={200: serializers.BookingOutputSerializer, **error_responses(400, 404, 409)},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    @extend_schema(
        request=serializers.BookingCancelInputSerializer,
        parameters=[OpenApiParameter("reason", str, description="Alternative to the body")],
        responses={
            200: serializers.BookingCancellationOutputSerializer,
            **error_responses(400, 404, 409),
        },
    )
    def delete(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        data = request.data if hasattr(request.data, "get") and request.data else {}
        if not data and request.query_params.get("reason"):
            data = {"reason": request.query_params["reason"]}
        payload = serializers.BookingCancelInputSerializer(data=data)
        payload.is_valid(raise_exception=True)
        cancelled = booking_cancel(
            booking=booking, actor=request.user, reason=payload.validated_data["reason"]
        )
        cancelled = selectors.bookings_visible_to(request.user).get(pk=cancelled.pk)
        paid = cancelled.deposit_paid_at is not None
        out = serializers.BookingCancellationOutputSerializer(
            {
                "fee": cancelled.cancellation_fee,
                "refund": cancelled.deposit_amount - cancelled.cancellation_fee if paid else 0,
                "currency": cancelled.currency,
                "booking": cancelled,
            },
            context={"request": request},
        )
        return Response(out.data)


class _BookingActionApi(APIView):
    """POST bookings/<pk>/<action>: one status transition."""

    target_status: str = ""
    input_serializer = serializers.BookingActionInputSerializer

    def updates(self, data) -> dict:
        return {}

    def post(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        payload = self.input_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            booking_transition(
                booking=booking,
                to=self.target_status,
                actor=request.user,
                note=payload.validated_data.get("note", ""),
                updates=self.updates(payload.validated_data),
            )
        except InvalidTransition:
            # Lost a race for an open job to another technician: it is no longer visible to this one, so
            # the answer is the 404 a request a moment later gets, whichever of the two reads came first.
            booking_visible_or_404(request, pk)
            raise
        # A declining technician may no longer be able to see the booking: render what we changed.
        fresh = selectors.booking_get_for_user(user=request.user, booking_id=pk)
        return _render(request, fresh or booking)


def _action_schema(summary: str, request_serializer=serializers.BookingActionInputSerializer):
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses={200: serializers.BookingOutputSerializer, **error_responses(400, 404, 409)},
    )


class BookingAcceptApi(_BookingActionApi):
    target_status = BookingStatus.ACCEPTED

    @_action_schema("Technician accepts (an assigned booking or an open paid job)")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingDeclineApi(_BookingActionApi):
    target_status = BookingStatus.PENDING

    @_action_schema("Assigned technician declines: back to pending, technician cleared")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingEnRouteApi(_BookingActionApi):
    target_status = BookingStatus.EN_ROUTE

    @_action_schema("Technician is on the way")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingArrivedApi(_BookingActionApi):
    target_status = BookingStatus.ARRIVED

    @_action_schema("Technician has arrived at the job (from en route); the customer is told")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingStartApi(_BookingActionApi):
    target_status = BookingStatus.IN_PROGRESS

    @_action_schema("Technician starts the work (from arrived, or straight from en route)")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingCompleteApi(_BookingActionApi):
    target_status = BookingStatus.COMPLETED
    input_serializer = serializers.BookingCompleteInputSerializer

    def updates(self, data) -> dict:
        changes = {}
        if "completion_notes" in data:
            changes["completion_notes"] = data["completion_notes"]
        if "completion_photos" in data:
            changes["completion_photos"] = [dict(p) for p in data["completion_photos"]]
        return changes

    @_action_schema("Technician marks the work done", serializers.BookingCompleteInputSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingConfirmApi(_BookingActionApi):
    target_status = BookingStatus.CONFIRMED

    @_action_schema("Customer confirms the completed work")
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingDisputeApi(APIView):
    @extend_schema(
        request=serializers.BookingDisputeInputSerializer,
        responses={
            201: serializers.BookingDisputeOutputSerializer,
            **error_responses(400, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        payload = serializers.BookingDisputeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        dispute = dispute_open(
            booking=booking,
            opened_by=request.user,
            reason=payload.validated_data["reason"],
            evidence=[dict(e) for e in payload.validated_data.get("evidence", [])],
        )
        return Response(
            serializers.BookingDisputeOutputSerializer(dispute).data,
            status=status.HTTP_201_CREATED,
        )


class BookingHistoryApi(GenericAPIView):
    filter_backends: list = []
    serializer_class = serializers.BookingHistoryOutputSerializer

    @extend_schema(
        responses={
            200: serializers.BookingHistoryOutputSerializer(many=True),
            **error_responses(404),
        }
    )
    def get(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        page = self.paginate_queryset(selectors.booking_history(booking=booking))
        return self.get_paginated_response(
            serializers.BookingHistoryOutputSerializer(page, many=True).data
        )


class BookingCancellationQuoteApi(APIView):
    @extend_schema(
        responses={
            200: serializers.BookingCancellationQuoteOutputSerializer,
            **error_responses(404),
        }
    )
    def get(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        at = timezone.now()
        quote = cancellation_quote(booking=booking, cancelled_by=request.user, at=at)
        data = {**quote.__dict__, "currency": booking.currency, "at": at}
        return Response(serializers.BookingCancellationQuoteOutputSerializer(data).data)


class BookingStatsApi(APIView):
    @extend_schema(responses={200: serializers.BookingStatsOutputSerializer})
    def get(self, request):
        stats = selectors.booking_stats_for(request.user)
        data = {
            "total": stats["total"],
            "by_status": [{"status": s, "count": n} for s, n in stats["by_status"].items()],
        }
        return Response(serializers.BookingStatsOutputSerializer(data).data)
