"""Public technician profiles, and technicians' own portfolio (staff hide items)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.models import PortfolioItem
from accounts.serializers import technicians as s
from accounts.services import portfolio as portfolio_services
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import StandardPagination
from dumuwaks.core.permissions import IsStaffMember, IsTechnician
from dumuwaks.core.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

TAG = ["technicians"]

_MEDIA_EXAMPLE = {
    "id": 41,
    "resourceType": "image",
    "url": "https://res.cloudinary.com/dumuwaks/image/upload/v1/dumuwaks/users/7/uploads/ab12.jpg",
    "thumbnailUrl": "https://res.cloudinary.com/dumuwaks/image/upload/c_fill,w_300/ab12.jpg",
    "optimizedUrl": "https://res.cloudinary.com/dumuwaks/image/upload/q_auto,f_auto/ab12.jpg",
}
_PORTFOLIO_PUBLIC_EXAMPLE = {
    "id": 12,
    "title": "Kitchen sink and waste pipe replaced",
    "description": "Replaced a corroded trap and re-sealed the sink in Kilimani.",
    "category": {"id": 1, "slug": "plumbing", "name": "Plumbing"},
    "media": [_MEDIA_EXAMPLE],
    "mediaUrl": "",
    "completedOn": "2026-11-28",
    "isVerifiedJob": True,
}
_PORTFOLIO_OWNER_EXAMPLE = {
    **_PORTFOLIO_PUBLIC_EXAMPLE,
    "bookingId": 311,
    "position": 0,
    "isHidden": False,
    "hiddenReason": "",
    "createdAt": "2026-11-29T09:15:00+03:00",
    "updatedAt": "2026-11-29T09:15:00+03:00",
}
_PROFILE_EXAMPLE = {
    "id": 7,
    "handle": "otieno.ouma",
    "firstName": "Otieno",
    "lastName": "Ouma",
    "fullName": "Otieno Ouma",
    "avatarUrl": "https://res.cloudinary.com/dumuwaks/image/upload/v1/avatars/7.jpg",
    "bio": "Plumber in Nairobi West since 2015.",
    "skills": [{"categoryId": 1, "slug": "plumbing", "name": "Plumbing", "yearsOfExperience": 9}],
    "serviceArea": {"county": "Nairobi", "radiusKm": 20},
    "hourlyRate": "1500.00",
    "currency": "KES",
    "isAvailable": True,
    "isKycVerified": True,
    "jobsCompleted": 48,
    "responseTimeMinutes": 12,
    "returnVisitRate": 0.04,
    "ratings": {
        "average": 4.7,
        "count": 31,
        "aspects": {
            "quality": 4.8,
            "timeliness": 4.5,
            "professionalism": 4.9,
            "communication": 4.6,
            "value": 4.4,
        },
        "distribution": {"1": 0, "2": 1, "3": 1, "4": 5, "5": 24},
    },
    "recentReviews": [
        {
            "id": 90,
            "bookingId": 311,
            "direction": "customer_to_technician",
            "reviewer": {
                "id": 3,
                "handle": "wanjiku.kamau",
                "fullName": "Wanjiku Kamau",
                "avatarUrl": "",
                "role": "customer",
            },
            "reviewee": {
                "id": 7,
                "handle": "otieno.ouma",
                "fullName": "Otieno Ouma",
                "avatarUrl": "",
                "role": "technician",
            },
            "overall": 5,
            "ratings": {
                "quality": 5,
                "timeliness": 4,
                "professionalism": 5,
                "communication": 5,
                "value": None,
            },
            "comment": "Came on time and fixed the leak for good.",
            "media": [],
            "response": "Asante sana!",
            "respondedAt": "2026-11-30T10:00:00+03:00",
            "isPublished": True,
            "visibleFrom": "2026-11-29T18:00:00+03:00",
            "createdAt": "2026-11-29T18:00:00+03:00",
            "editedAt": None,
        }
    ],
    "portfolio": [_PORTFOLIO_PUBLIC_EXAMPLE],
    "nextFreeSlots": [
        {"start": "2026-12-08T08:00:00+03:00", "end": "2026-12-08T09:00:00+03:00"},
        {"start": "2026-12-08T09:00:00+03:00", "end": "2026-12-08T10:00:00+03:00"},
    ],
    "memberSince": "2025-03-02T11:20:00+03:00",
    "profileUrl": "/api/v1/technicians/7",
}
_VALIDATION_EXAMPLE = OpenApiExample(
    "Invalid input",
    value={
        "code": "validation_error",
        "message": "Some fields are invalid.",
        "fields": {"bookingId": ["Not one of your completed bookings."]},
    },
    response_only=True,
    status_codes=["400"],
)
_NOT_FOUND_EXAMPLE = OpenApiExample(
    "Not yours or no such item",
    value={"code": "portfolio_item_not_found", "message": "Portfolio item not found."},
    response_only=True,
    status_codes=["404"],
)


class TechnicianProfileApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "technician_profile"

    @extend_schema(
        tags=TAG,
        operation_id="technicians_retrieve",
        summary="A technician's public profile",
        description=(
            "Open to everyone, signed in or not (throttled per account or address: "
            "`technician_profile`, 60/min). `id` is the technician's user id. Never shows contacts, "
            "the exact location or KYC documents; `isKycVerified` says whether staff approved the "
            "identity. Ratings come from published customer reviews; staff-hidden portfolio items "
            "are left out. A user who is not an active technician is 404 `technician_not_found`."
        ),
        responses={
            200: s.TechnicianPublicProfileSerializer,
            **error_responses(404, 429),
        },
        examples=[
            OpenApiExample("Profile", value=_PROFILE_EXAMPLE, response_only=True),
            OpenApiExample(
                "Not a technician",
                value={"code": "technician_not_found", "message": "Technician not found."},
                response_only=True,
                status_codes=["404"],
            ),
        ],
    )
    def get(self, request, pk: int):
        data = selectors.technician_public_profile(technician_id=pk)
        return Response(s.TechnicianPublicProfileSerializer(data).data)


class MyPortfolioApi(GenericAPIView):
    permission_classes = [IsTechnician]
    pagination_class = StandardPagination
    filter_backends: list = []
    queryset = PortfolioItem.objects.none()
    serializer_class = s.PortfolioItemOwnerSerializer

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_list",
        summary="My portfolio, in profile order (hidden items included and marked)",
        responses={
            200: s.PortfolioItemOwnerSerializer(many=True),
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.portfolio_items_of_owner(technician=request.user))
        return self.get_paginated_response(s.PortfolioItemOwnerSerializer(page, many=True).data)

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_create",
        summary="Add an item at the end of my portfolio",
        description=(
            "`mediaIds` are your own uploads (`POST /media/upload/image` and friends), at most 10. "
            "`bookingId`, optional, is one of your completed or confirmed bookings, each shown once: "
            "the item then shows as a verified job. `completedOn` may not be in the future. "
            "At most 50 items (409 `portfolio_full`)."
        ),
        request=s.PortfolioItemCreateInputSerializer,
        responses={201: s.PortfolioItemOwnerSerializer, **error_responses(400, 401, 403, 409)},
        examples=[
            OpenApiExample(
                "New item",
                value={
                    "title": "Kitchen sink and waste pipe replaced",
                    "description": "Replaced a corroded trap and re-sealed the sink in Kilimani.",
                    "categoryId": 1,
                    "mediaIds": [41],
                    "completedOn": "2026-11-28",
                    "bookingId": 311,
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=_PORTFOLIO_OWNER_EXAMPLE, response_only=True),
            _VALIDATION_EXAMPLE,
        ],
    )
    def post(self, request):
        data = s.PortfolioItemCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = portfolio_services.portfolio_item_create(
            technician=request.user, **data.validated_data
        )
        item = selectors.portfolio_item_of_owner(technician=request.user, item_id=item.pk)
        return Response(s.PortfolioItemOwnerSerializer(item).data, status=status.HTTP_201_CREATED)


class MyPortfolioItemApi(APIView):
    permission_classes = [IsTechnician]

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_retrieve",
        summary="One of my portfolio items",
        responses={200: s.PortfolioItemOwnerSerializer, **error_responses(401, 403, 404)},
        examples=[_NOT_FOUND_EXAMPLE],
    )
    def get(self, request, pk: int):
        item = selectors.portfolio_item_of_owner(technician=request.user, item_id=pk)
        return Response(s.PortfolioItemOwnerSerializer(item).data)

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_partial_update",
        summary="Change one of my portfolio items (the fields sent)",
        description="`mediaIds` replaces the list; `null` clears `categoryId`, `completedOn` or "
        "`bookingId`. The rules of creation apply.",
        request=s.PortfolioItemUpdateInputSerializer,
        responses={200: s.PortfolioItemOwnerSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Retitle and drop the booking",
                value={"title": "Sink replaced", "bookingId": None},
                request_only=True,
            ),
            _VALIDATION_EXAMPLE,
            _NOT_FOUND_EXAMPLE,
        ],
    )
    def patch(self, request, pk: int):
        data = s.PortfolioItemUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        portfolio_services.portfolio_item_update(
            technician=request.user, item_id=pk, **data.validated_data
        )
        item = selectors.portfolio_item_of_owner(technician=request.user, item_id=pk)
        return Response(s.PortfolioItemOwnerSerializer(item).data)

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_destroy",
        summary="Delete one of my portfolio items (its uploads stay in my media)",
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        examples=[_NOT_FOUND_EXAMPLE],
    )
    def delete(self, request, pk: int):
        portfolio_services.portfolio_item_delete(technician=request.user, item_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyPortfolioReorderApi(APIView):
    permission_classes = [IsTechnician]

    @extend_schema(
        tags=TAG,
        operation_id="users_me_portfolio_reorder",
        summary="Put my portfolio items in a new order",
        description="`itemIds` lists every one of your items once; the first is shown first.",
        request=s.PortfolioReorderInputSerializer,
        responses={
            200: s.PortfolioItemOwnerSerializer(many=True),
            **error_responses(400, 401, 403),
        },
        examples=[
            OpenApiExample("New order", value={"itemIds": [14, 12, 13]}, request_only=True),
            OpenApiExample(
                "Not every item once",
                value={
                    "code": "validation_error",
                    "message": "Some fields are invalid.",
                    "fields": {"itemIds": ["List each of your portfolio items exactly once."]},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        data = s.PortfolioReorderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        portfolio_services.portfolio_reorder(
            technician=request.user, item_ids=data.validated_data["item_ids"]
        )
        items = selectors.portfolio_items_of_owner(technician=request.user)
        return Response(s.PortfolioItemOwnerSerializer(items, many=True).data)


class PortfolioModerateApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAG,
        operation_id="portfolio_moderate",
        summary="Hide a portfolio item from the public profile, or show it again (staff)",
        description="The owner still sees a hidden item, marked `isHidden` with the reason. "
        "Idempotent.",
        request=s.PortfolioModerateInputSerializer,
        responses={200: s.PortfolioItemStaffSerializer, **error_responses(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Hide",
                value={"action": "hide", "reason": "Photo shows a customer's ID card."},
                request_only=True,
            ),
            _NOT_FOUND_EXAMPLE,
        ],
    )
    def post(self, request, pk: int):
        data = s.PortfolioModerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        portfolio_services.portfolio_item_moderate(
            item_id=pk,
            actor=request.user,
            hidden=data.validated_data["action"] == "hide",
            reason=data.validated_data["reason"],
        )
        return Response(
            s.PortfolioItemStaffSerializer(selectors.portfolio_item_for_staff(item_id=pk)).data
        )
