"""Thin HTTP layer of the bookings API: parse → one service/selector → render."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, ServiceCategory, User
from bookings import list_cache, selectors, serializers
from bookings.errors import BookingNotFound, DisputeNotFound, InvalidBooking, TechnicianNotFound
from bookings.models import BookingStatus, DisputeNote, TimeOff, WeeklyAvailability
from bookings.services import (
    availability_replace,
    booking_cancel,
    booking_create,
    booking_transition,
    booking_update,
    cancellation_quote,
    dispute_add_note,
    dispute_open,
    dispute_resolve,
)
from dumuwaks.core import rendered_cache
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.ordering import camel_orderings
from dumuwaks.core.permissions import IsStaffMember, IsTechnician

MAX_FREE_SLOT_DAYS = 31


def _booking_for(request, pk: int):
    booking = selectors.booking_get_for_user(user=request.user, booking_id=pk)
    if booking is None:
        raise BookingNotFound()
    return booking


def _render(request, booking, status_code=status.HTTP_200_OK):
    data = serializers.BookingOutputSerializer(booking, context={"request": request}).data
    return Response(data, status=status_code)


_LIST_PARAMS = [
    OpenApiParameter("status", str, description="Comma-separated statuses"),
    OpenApiParameter("category", int, description="Service category id"),
    OpenApiParameter("from", str, description="Scheduled start on/after (ISO 8601)"),
    OpenApiParameter("to", str, description="Scheduled start before (ISO 8601)"),
    OpenApiParameter("available", bool, description="Technicians: open paid jobs in their skills"),
    OpenApiParameter("ordering", str, enum=camel_orderings(selectors.BOOKING_ORDERINGS)),
]


class BookingListCreateApi(GenericAPIView):
    filter_backends: list = []
    serializer_class = serializers.BookingOutputSerializer

    @extend_schema(
        parameters=_LIST_PARAMS,
        responses={200: serializers.BookingOutputSerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        query = serializers.BookingListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        filters = selectors.BookingListFilters(
            user=request.user,
            statuses=params.get("status"),
            category_id=params.get("category"),
            date_from=params.get("from"),
            date_to=params.get("to"),
            available=params["available"],
            ordering=params["ordering"],
        )
        if rendered_cache.usable():
            return Response(
                list_cache.booking_page(request=request, filters=filters, paginator=self.paginator)
            )
        page = self.paginate_queryset(
            selectors.bookings_displayed(selectors.booking_list(filters=filters))
        )
        data = serializers.BookingOutputSerializer(
            page, many=True, context={"request": request}
        ).data
        return self.get_paginated_response(data)

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


class BookingDetailApi(APIView):
    @extend_schema(responses={200: serializers.BookingOutputSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        if rendered_cache.usable():
            cached = list_cache.booking_detail(request=request, booking_id=pk)
            if cached is None:
                raise BookingNotFound()
            return Response(cached)
        return _render(request, _booking_for(request, pk))

    def _update(self, request, pk: int, *, partial: bool):
        booking = _booking_for(request, pk)
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
        request=serializers.BookingUpdateInputSerializer,
        responses={200: serializers.BookingOutputSerializer, **error_responses(400, 404, 409)},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
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
        booking = _booking_for(request, pk)
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
        booking = _booking_for(request, pk)
        payload = self.input_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        booking_transition(
            booking=booking,
            to=self.target_status,
            actor=request.user,
            note=payload.validated_data.get("note", ""),
            updates=self.updates(payload.validated_data),
        )
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


class BookingStartApi(_BookingActionApi):
    target_status = BookingStatus.IN_PROGRESS

    @_action_schema("Technician starts the work")
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
        booking = _booking_for(request, pk)
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
        booking = _booking_for(request, pk)
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
        booking = _booking_for(request, pk)
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


# --- Disputes (staff) -----------------------------------------------------------------------------------------


def _dispute_queryset():
    return selectors.dispute_queue().prefetch_related(
        Prefetch("notes", queryset=DisputeNote.objects.order_by("created_at", "id"))
    )


def _dispute_for_staff(pk: int):
    dispute = _dispute_queryset().filter(pk=pk).first()
    if dispute is None:
        raise DisputeNotFound()
    return dispute


class BookingDisputeQueueApi(GenericAPIView):
    permission_classes = [IsStaffMember]
    filter_backends: list = []
    serializer_class = serializers.BookingDisputeStaffOutputSerializer

    @extend_schema(
        parameters=[serializers.BookingDisputeQuerySerializer],
        responses={
            200: serializers.BookingDisputeStaffOutputSerializer(many=True),
            **error_responses(400, 403),
        },
    )
    def get(self, request):
        query = serializers.BookingDisputeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = _dispute_queryset()
        if query.validated_data.get("status"):
            queryset = queryset.filter(status=query.validated_data["status"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            serializers.BookingDisputeStaffOutputSerializer(page, many=True).data
        )


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


# --- Availability ---------------------------------------------------------------------------------------------


def _availability_of(technician) -> dict:
    return {
        "weekly_hours": list(
            WeeklyAvailability.objects.filter(technician=technician).values(
                "weekday", "start_time", "end_time"
            )
        ),
        "time_off": list(TimeOff.objects.filter(technician=technician).order_by("starts_at")),
    }


class MyAvailabilityApi(APIView):
    permission_classes = [IsTechnician]

    @extend_schema(
        summary="My weekly working hours and time-off (no weekly hours = available any time)",
        responses={200: serializers.BookingAvailabilitySerializer, **error_responses(403)},
    )
    def get(self, request):
        return Response(
            serializers.BookingAvailabilitySerializer(_availability_of(request.user)).data
        )

    @extend_schema(
        summary="Replace my weekly working hours and time-off",
        request=serializers.BookingAvailabilitySerializer,
        responses={200: serializers.BookingAvailabilitySerializer, **error_responses(400, 403)},
    )
    def put(self, request):
        payload = serializers.BookingAvailabilitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        availability_replace(
            technician=request.user,
            weekly_hours=payload.validated_data["weekly_hours"],
            time_off=payload.validated_data["time_off"],
        )
        return Response(
            serializers.BookingAvailabilitySerializer(_availability_of(request.user)).data
        )


class TechnicianFreeSlotsApi(APIView):
    @extend_schema(
        summary="Free slots of a technician between two dates (at most 31 days)",
        parameters=[
            OpenApiParameter(
                "from", str, description="First local date (YYYY-MM-DD), default today"
            ),
            OpenApiParameter("to", str, description="Last local date, default from + 6 days"),
            OpenApiParameter("duration", int, description="Slot length in minutes (default 60)"),
        ],
        responses={
            200: serializers.BookingFreeSlotsOutputSerializer,
            **error_responses(400, 404),
        },
    )
    def get(self, request, pk: int):
        technician = User.objects.filter(pk=pk, role=Role.TECHNICIAN, is_active=True).first()
        if technician is None:
            raise TechnicianNotFound()
        query = serializers.BookingFreeSlotsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        date_from = query.validated_data.get("from") or timezone.localdate()
        date_to = query.validated_data.get("to") or date_from + timedelta(days=6)
        if date_to < date_from:
            raise InvalidBooking(fields={"to": ["Must not be before from."]})
        if (date_to - date_from).days + 1 > MAX_FREE_SLOT_DAYS:
            raise InvalidBooking(fields={"to": [f"At most {MAX_FREE_SLOT_DAYS} days at a time."]})
        slot_minutes = query.validated_data["duration"]
        slots, has_hours = selectors.technician_free_slots(
            technician=technician, date_from=date_from, date_to=date_to, slot_minutes=slot_minutes
        )
        data = {
            "technician_id": technician.pk,
            "date_from": date_from,
            "date_to": date_to,
            "slot_minutes": slot_minutes,
            "has_working_hours": has_hours,
            "slots": [{"start": s.start, "end": s.end} for s in slots],
        }
        return Response(serializers.BookingFreeSlotsOutputSerializer(data).data)
