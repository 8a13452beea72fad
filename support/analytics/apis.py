"""GET /api/v1/analytics/… for support staff and admins."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsStaffMember
from support.analytics import selectors
from support.analytics.serializers import (
    AnalyticsBookingsOutputSerializer,
    AnalyticsRangeFilterSerializer,
    AnalyticsRevenueFilterSerializer,
    AnalyticsRevenueOutputSerializer,
    AnalyticsTechnicianFilterSerializer,
    AnalyticsTechnicianOutputSerializer,
)

TAGS = ["analytics"]


def _parse(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    data["date_from"] = data.pop("from", None)
    data["date_to"] = data.pop("to", None)
    return data


class AnalyticsBookingsApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAGS,
        parameters=[AnalyticsRangeFilterSerializer],
        responses={200: AnalyticsBookingsOutputSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        data = selectors.booking_analytics(**_parse(AnalyticsRangeFilterSerializer, request))
        return Response(AnalyticsBookingsOutputSerializer(data).data)


class AnalyticsRevenueApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAGS,
        parameters=[AnalyticsRevenueFilterSerializer],
        responses={200: AnalyticsRevenueOutputSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        data = selectors.revenue_analytics(**_parse(AnalyticsRevenueFilterSerializer, request))
        return Response(AnalyticsRevenueOutputSerializer(data).data)


class AnalyticsTechniciansApi(GenericAPIView):
    permission_classes = [IsStaffMember]
    filter_backends: list = []
    serializer_class = AnalyticsTechnicianOutputSerializer

    @extend_schema(
        tags=TAGS,
        parameters=[AnalyticsTechnicianFilterSerializer],
        responses={
            200: AnalyticsTechnicianOutputSerializer(many=True),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request):
        qs = selectors.technician_performance(
            **_parse(AnalyticsTechnicianFilterSerializer, request)
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            AnalyticsTechnicianOutputSerializer(page, many=True).data
        )
