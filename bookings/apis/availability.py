"""Availability API: a technician's own working hours and time-off, and any technician's free slots."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from bookings import selectors, serializers
from bookings.errors import InvalidBooking, TechnicianNotFound
from bookings.models import TimeOff, WeeklyAvailability
from bookings.services import availability_replace
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsTechnician

MAX_FREE_SLOT_DAYS = 31


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
