"""Matching endpoints under /api/v1/matching/ (customers and corporate clients only)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsCustomer
from matching import selectors, services
from matching.errors import MatchNotFound, UnknownCategory
from matching.filters import MatchFilter
from matching.models import CustomerBlock
from matching.serializers import (
    CustomerBlockOutputSerializer,
    MatchAcceptInputSerializer,
    MatchDetailOutputSerializer,
    MatchFeedbackInputSerializer,
    MatchFindInputSerializer,
    MatchingPreferenceInputSerializer,
    MatchingPreferenceOutputSerializer,
    MatchOutputSerializer,
    MatchRejectInputSerializer,
    MatchSearchOutputSerializer,
    MatchTechnicianSerializer,
)

TAGS = ["matching"]


class _CustomerView(APIView):
    permission_classes = [IsCustomer]


def _match_response(customer, match_id: int, code=status.HTTP_200_OK) -> Response:
    match = selectors.match_get_for_customer(customer=customer, match_id=match_id)
    return Response(MatchDetailOutputSerializer(match).data, status=code)


class MatchFindApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Rank technicians for a job and store the suggestions",
        description=(
            "Candidates have the skill, approved KYC, are available and free in the slot, lie within "
            "both their own service radius and your maximum distance, and are not blocked by you. "
            "Each gets nine factor scores in [0, 1] (skill match 25 %, proximity 20 %, availability "
            "15 %, rating 15 % Bayesian-smoothed, experience 10 %, pricing fit 5 %, response time 5 %, "
            "completion rate 3 %, your preference 2 % by default; your own or learned weights when "
            "set), a weighted total and readable reasons. Ties: distance, then technician id. The "
            "top `limit` are stored as suggested matches that expire after 24 h or at the slot."
        ),
        request=MatchFindInputSerializer,
        responses={200: MatchSearchOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        data = MatchFindInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        category = selectors.category_resolve(
            category_id=params.pop("category_id", None), slug=params.pop("category", None)
        )
        if category is None:
            raise UnknownCategory(fields={"category_id": [UnknownCategory.message]})
        search_id, _ = services.match_search(customer=request.user, category=category, **params)
        matches = list(
            selectors.match_list_for_customer(customer=request.user)
            .filter(search_id=search_id)
            .order_by("rank")
        )
        body = {"search_id": search_id, "count": len(matches), "results": matches}
        return Response(MatchSearchOutputSerializer(body).data)


class MyMatchesApi(ListAPIView):
    permission_classes = [IsCustomer]
    serializer_class = MatchOutputSerializer
    filter_backends = [FilterSetInSelector]  # the selector applies MatchFilter
    filterset_class = MatchFilter

    def get_queryset(self):
        return selectors.match_list_for_customer(
            customer=self.request.user, filters=self.request.query_params
        )

    @extend_schema(
        tags=TAGS,
        summary="My match suggestions, newest first",
        responses={200: MatchOutputSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MatchDetailApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="One of my matches",
        responses={200: MatchDetailOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        match = selectors.match_get_for_customer(customer=request.user, match_id=pk)
        if match is None:
            raise MatchNotFound()
        return Response(MatchDetailOutputSerializer(match).data)


class MatchAcceptApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Book the matched technician (creates a pending booking)",
        description=(
            "Price: the budget of the search when given, else the technician's estimate "
            "(hourly rate × duration, rounded up to the shilling), else the category's typical "
            "minimum. The bookings slot and availability rules apply (409 slot_taken, "
            "technician_unavailable, …); a match past its expiry answers 409 match_expired."
        ),
        request=MatchAcceptInputSerializer,
        responses={200: MatchDetailOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        data = MatchAcceptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.match_accept(match_id=pk, customer=request.user, **data.validated_data)
        return _match_response(request.user, pk)


class MatchRejectApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Reject a suggestion (teaches your ranking)",
        request=MatchRejectInputSerializer,
        responses={200: MatchDetailOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        data = MatchRejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.match_reject(
            match_id=pk, customer=request.user, reason=data.validated_data["reason"]
        )
        return _match_response(request.user, pk)


class MatchFeedbackApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Rate an accepted or rejected suggestion (once)",
        request=MatchFeedbackInputSerializer,
        responses={200: MatchDetailOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        data = MatchFeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.match_feedback(match_id=pk, customer=request.user, **data.validated_data)
        return _match_response(request.user, pk)


class MatchingPreferencesApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="My matching preferences",
        responses={200: MatchingPreferenceOutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        preference = selectors.preference_for(request.user)
        return Response(MatchingPreferenceOutputSerializer(preference).data)

    @extend_schema(
        tags=TAGS,
        summary="Change my matching preferences (fields sent only)",
        description=(
            "`weights` must name all nine factors (skillMatch, proximity, availability, rating, "
            "experience, pricingFit, responseTime, completionRate, customerPreference), each ≥ 0, "
            "summing to 1 (±1e-6). Saving weights resets what was learned from your choices."
        ),
        request=MatchingPreferenceInputSerializer,
        responses={200: MatchingPreferenceOutputSerializer, **error_responses(400, 401, 403)},
    )
    def put(self, request):
        data = MatchingPreferenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.matching_preferences_update(
            customer=request.user, **data.validated_data
        )
        return Response(MatchingPreferenceOutputSerializer(preference).data)


class CustomerBlockApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Never suggest this technician to me again",
        request=None,
        responses={
            201: CustomerBlockOutputSerializer,
            200: OpenApiResponse(CustomerBlockOutputSerializer, description="Already blocked"),
            **error_responses(401, 403, 404),
        },
    )
    def post(self, request, technician_id: int):
        block, created = services.customer_block_create(
            customer=request.user, technician_id=technician_id
        )
        return Response(
            CustomerBlockOutputSerializer(block).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=TAGS,
        summary="Unblock a technician",
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, technician_id: int):
        services.customer_block_delete(customer=request.user, technician_id=technician_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


_TECHNICIAN_EXAMPLE = {
    "id": 7,
    "handle": "otieno.ouma",
    "fullName": "Otieno Ouma",
    "avatarUrl": "",
    "hourlyRate": "1500.00",
    "ratingAverage": "4.70",
    "ratingCount": 31,
    "jobsCompleted": 48,
    "profileUrl": "/api/v1/technicians/7",
}


class CustomerBlockListApi(GenericAPIView):
    permission_classes = [IsCustomer]
    filter_backends: list = []
    queryset = CustomerBlock.objects.none()
    serializer_class = CustomerBlockOutputSerializer

    @extend_schema(
        tags=TAGS,
        summary="The technicians I blocked, latest first",
        description="Unblock one with DELETE /matching/block/{technicianId}.",
        responses={200: CustomerBlockOutputSerializer(many=True), **error_responses(401, 403)},
        examples=[
            OpenApiExample(
                "One blocked technician",
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "technicianId": 7,
                            "technician": _TECHNICIAN_EXAMPLE,
                            "createdAt": "2026-12-01T09:30:00+03:00",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.customer_blocks(customer=request.user))
        return self.get_paginated_response(CustomerBlockOutputSerializer(page, many=True).data)


class FavouriteListApi(GenericAPIView):
    permission_classes = [IsCustomer]
    filter_backends: list = []
    queryset = User.objects.none()
    serializer_class = MatchTechnicianSerializer

    @extend_schema(
        tags=TAGS,
        summary="My favourite technicians, by name",
        description=(
            "Favourites are the preferred technicians of your matching preferences "
            "(`preferredTechnicianIds`): matching ranks them first among equals (customer preference "
            "factor)."
        ),
        responses={200: MatchTechnicianSerializer(many=True), **error_responses(401, 403)},
        examples=[
            OpenApiExample(
                "One favourite",
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [_TECHNICIAN_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.favourite_technicians(customer=request.user))
        return self.get_paginated_response(MatchTechnicianSerializer(page, many=True).data)


class FavouriteApi(_CustomerView):
    @extend_schema(
        tags=TAGS,
        summary="Add a technician to my favourites",
        request=None,
        responses={
            201: MatchTechnicianSerializer,
            200: OpenApiResponse(MatchTechnicianSerializer, description="Already a favourite"),
            **error_responses(401, 403, 404, 409),
        },
        examples=[
            OpenApiExample("Added", value=_TECHNICIAN_EXAMPLE, response_only=True),
            OpenApiExample(
                "Blocked",
                value={
                    "code": "technician_blocked",
                    "message": "You blocked this technician; unblock them first.",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request, technician_id: int):
        technician, created = services.favourite_add(
            customer=request.user, technician_id=technician_id
        )
        return Response(
            MatchTechnicianSerializer(technician).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=TAGS,
        summary="Remove a technician from my favourites",
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, technician_id: int):
        services.favourite_remove(customer=request.user, technician_id=technician_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
