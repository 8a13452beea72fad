"""User administration, technician self-service, public technician search and categories."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts import serializers as s
from accounts.filters import TechnicianSearchFilter, UserFilter
from accounts.models import ServiceCategory, TechnicianProfile, User
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import StandardPagination
from dumuwaks.core.permissions import IsStaffMember, IsTechnician

TAG = ["users"]


class _ListApi(GenericAPIView):
    """A paginated list; GenericAPIView so the schema shows `{count, next, previous, results}`."""

    pagination_class = StandardPagination
    filter_backends: list = []  # no `ordering` parameter

    def paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


class UserListApi(_ListApi):
    permission_classes = [IsStaffMember]
    queryset = User.objects.none()
    serializer_class = s.AccountUserSerializer
    filter_backends = [FilterSetInSelector]  # the selector applies UserFilter
    filterset_class = UserFilter

    @extend_schema(
        tags=TAG,
        operation_id="users_list",
        responses={200: s.AccountUserSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request):
        queryset = selectors.user_list(filters=request.query_params)
        return self.paginated(queryset, s.AccountUserSerializer)


class UserDetailApi(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="users_retrieve",
        responses={200: s.AccountUserSerializer, **error_responses(401, 404)},
    )
    def get(self, request, pk: int):
        user = selectors.user_get_for_viewer(viewer=request.user, user_id=pk)
        return Response(s.AccountUserSerializer(user).data)

    def _update(self, request, pk: int):
        user = selectors.user_get_for_viewer(viewer=request.user, user_id=pk, for_write=True)
        data = s.AccountUserUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.user_update(user=user, data=data.validated_data)
        return Response(s.AccountUserSerializer(selectors.user_get_with_profile(user_id=pk)).data)

    @extend_schema(
        tags=TAG,
        operation_id="users_update",
        request=s.AccountUserUpdateInputSerializer,
        responses={200: s.AccountUserSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Self or admin. Only the fields sent change (PUT behaves like PATCH).",
    )
    def put(self, request, pk: int):
        return self._update(request, pk)

    @extend_schema(
        tags=TAG,
        operation_id="users_partial_update",
        request=s.AccountUserUpdateInputSerializer,
        responses={200: s.AccountUserSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk)

    @extend_schema(
        tags=TAG,
        operation_id="users_destroy",
        responses={
            204: OpenApiResponse(description="Deactivated and anonymised"),
            **error_responses(401, 403, 404),
        },
        description="Deactivates and anonymises the account and revokes its refresh tokens; "
        "bookings and payments keep the row.",
    )
    def delete(self, request, pk: int):
        user = selectors.user_get_for_viewer(viewer=request.user, user_id=pk, for_write=True)
        services.user_delete(user=user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TechnicianSearchApi(_ListApi):
    permission_classes = [AllowAny]
    queryset = TechnicianProfile.objects.none()
    serializer_class = s.TechnicianSearchResultSerializer
    filter_backends = [FilterSetInSelector]  # the selector applies TechnicianSearchFilter
    filterset_class = TechnicianSearchFilter

    @extend_schema(
        tags=TAG,
        operation_id="users_technicians_search",
        responses={200: s.TechnicianSearchResultSerializer(many=True), **error_responses(400)},
        description="Approved technicians; with lat/lng only those within radiusKm, nearest first.",
    )
    def get(self, request):
        queryset = selectors.technician_search(filters=request.query_params)
        return self.paginated(queryset, s.TechnicianSearchResultSerializer)


class KycReviewApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAG,
        operation_id="users_kyc_review",
        request=s.AccountKycReviewInputSerializer,
        responses={
            200: s.AccountTechnicianProfileSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        data = s.AccountKycReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = selectors.technician_profile_get_for_staff(user_id=pk)
        profile = services.kyc_review(profile=profile, actor=request.user, **data.validated_data)
        return Response(s.AccountTechnicianProfileSerializer(profile).data)


class MyTechnicianProfileApi(APIView):
    permission_classes = [IsTechnician]

    @extend_schema(
        tags=TAG,
        operation_id="users_me_technician_profile_update",
        request=s.AccountTechnicianProfileInputSerializer,
        responses={200: s.AccountTechnicianProfileSerializer, **error_responses(400, 401, 403)},
        description="Only the fields sent change; `skills`, when sent, replaces the whole set.",
    )
    def put(self, request):
        data = s.AccountTechnicianProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = services.technician_profile_update(user=request.user, **data.validated_data)
        user = selectors.user_get_with_profile(user_id=profile.user_id)
        return Response(s.AccountTechnicianProfileSerializer(user.technician_profile).data)


class MyKycApi(APIView):
    permission_classes = [IsTechnician]

    @extend_schema(
        tags=TAG,
        operation_id="users_me_kyc_submit",
        request=s.AccountKycSubmitInputSerializer,
        responses={
            200: s.AccountTechnicianProfileSerializer,
            **error_responses(400, 401, 403, 409),
        },
    )
    def post(self, request):
        data = s.AccountKycSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = services.kyc_submit(user=request.user, **data.validated_data)
        return Response(s.AccountTechnicianProfileSerializer(profile).data)


class CategoryListApi(_ListApi):
    permission_classes = [AllowAny]
    queryset = ServiceCategory.objects.none()
    serializer_class = s.AccountCategorySerializer

    @extend_schema(
        tags=["categories"],
        operation_id="categories_list",
        responses={200: s.AccountCategorySerializer(many=True)},
    )
    def get(self, request):
        return self.paginated(selectors.category_list(), s.AccountCategorySerializer)
