"""Review endpoints under /api/v1/reviews. Thin: parse, call one service/selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import StandardPagination
from social.models import Review
from social.selectors import reviews as review_selectors
from social.serializers.reviews import (
    ReviewCreateInputSerializer,
    ReviewListOutputSerializer,
    ReviewOutputSerializer,
    ReviewRespondInputSerializer,
    ReviewStatsOutputSerializer,
    ReviewUpdateInputSerializer,
)
from social.services import reviews as review_services

TAGS = ["reviews"]


def _render(request, pk: int, *, status_code=status.HTTP_200_OK) -> Response:
    review = review_selectors.review_get_visible(review_id=pk, user=request.user)
    return Response(ReviewOutputSerializer(review).data, status=status_code)


class ReviewCreateApi(APIView):
    @extend_schema(
        request=ReviewCreateInputSerializer,
        responses={201: ReviewOutputSerializer, **error_responses(400, 401, 404, 409)},
        tags=TAGS,
        description=(
            "A party of a confirmed (or dispute-resolved) booking reviews the other side, once. "
            "The review stays blind until both sides reviewed or 7 days after the first review."
        ),
    )
    def post(self, request):
        serializer = ReviewCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = review_services.review_create(reviewer=request.user, **serializer.validated_data)
        return _render(request, review.pk, status_code=status.HTTP_201_CREATED)


class ReviewDetailApi(APIView):
    def get_permissions(self):
        # Published reviews are public, like the technician's review list.
        if self.request.method == "GET":
            return [AllowAny()]
        return super().get_permissions()

    @extend_schema(responses={200: ReviewOutputSerializer, **error_responses(401, 404)}, tags=TAGS)
    def get(self, request, pk: int):
        return _render(request, pk)

    @extend_schema(
        request=ReviewUpdateInputSerializer,
        responses={200: ReviewOutputSerializer, **error_responses(400, 401, 404)},
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        serializer = ReviewUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review_services.review_update(review_id=pk, actor=request.user, **serializer.validated_data)
        return _render(request, pk)

    @extend_schema(request=None, responses={204: None, **error_responses(401, 404)}, tags=TAGS)
    def delete(self, request, pk: int):
        review_services.review_delete(review_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewRespondApi(APIView):
    @extend_schema(
        request=ReviewRespondInputSerializer,
        responses={200: ReviewOutputSerializer, **error_responses(400, 401, 404, 409)},
        tags=TAGS,
        description="The reviewee answers a published review, once.",
    )
    def post(self, request, pk: int):
        serializer = ReviewRespondInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review_services.review_respond(
            review_id=pk, actor=request.user, response=serializer.validated_data["response"]
        )
        return _render(request, pk)


class TechnicianReviewListApi(GenericAPIView):
    queryset = Review.objects.none()
    pagination_class = StandardPagination
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: ReviewOutputSerializer(many=True), **error_responses(404)},
        tags=TAGS,
        description="Published customer reviews of a technician (`pk` is the technician's user id).",
    )
    def get(self, request, pk: int):
        page = self.paginate_queryset(review_selectors.technician_reviews(technician_id=pk))
        return self.get_paginated_response(ReviewOutputSerializer(page, many=True).data)


class TechnicianReviewStatsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: ReviewStatsOutputSerializer, **error_responses(404)},
        tags=TAGS,
        description="Computed in the database from published customer reviews.",
    )
    def get(self, request, pk: int):
        stats = review_selectors.technician_review_stats(technician_id=pk)
        return Response(ReviewStatsOutputSerializer(stats).data)


class BookingReviewListApi(APIView):
    @extend_schema(
        responses={200: ReviewListOutputSerializer, **error_responses(401, 404)},
        tags=TAGS,
        description=(
            "The booking's parties: their own review and the other side's once published. Support"
            " and admins: every review of the booking, blind and hidden ones too, each with"
            " `visibility`. Anyone else: 404."
        ),
    )
    def get(self, request, pk: int):
        reviews = review_selectors.booking_reviews_visible(booking_id=pk, user=request.user)
        return Response(ReviewListOutputSerializer({"results": reviews}).data)
