"""Post endpoints under /api/v1/posts. Thin: parse, call one service/selector, render."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import StandardPagination
from dumuwaks.core.permissions import IsStaffMember
from social.filters import PostFilter, PostReportFilter
from social.models import Comment, Post, PostReport
from social.selectors import posts as post_selectors
from social.serializers.posts import (
    CommentCreateInputSerializer,
    CommentOutputSerializer,
    CommentReplyOutputSerializer,
    PostCreateInputSerializer,
    PostFeedFilterSerializer,
    PostFeedOutputSerializer,
    PostLikeOutputSerializer,
    PostModerateInputSerializer,
    PostOutputSerializer,
    PostReportCreatedOutputSerializer,
    PostReportInputSerializer,
    PostReportOutputSerializer,
    PostShareOutputSerializer,
    PostUpdateInputSerializer,
)
from social.services import posts as post_services

TAGS = ["posts"]


def _visible_post(request, pk: int) -> Post:
    return post_selectors.post_get_visible(post_id=pk, user=request.user, details=False)


def _render_post(request, pk: int, *, status_code=status.HTTP_200_OK) -> Response:
    post = post_selectors.post_get_visible(post_id=pk, user=request.user)
    return Response(PostOutputSerializer(post).data, status=status_code)


class PostListCreateApi(GenericAPIView):
    queryset = Post.objects.none()
    pagination_class = StandardPagination
    filter_backends = [FilterSetInSelector]  # the selector applies PostFilter
    filterset_class = PostFilter

    @extend_schema(
        responses={200: PostOutputSerializer(many=True), **error_responses(400, 401)},
        tags=TAGS,
        description="Published posts, newest first. `author=<your id>` also lists your hidden/removed posts.",
    )
    def get(self, request):
        queryset = post_selectors.post_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(PostOutputSerializer(page, many=True).data)

    @extend_schema(
        request=PostCreateInputSerializer,
        responses={201: PostOutputSerializer, **error_responses(400, 401)},
        tags=TAGS,
    )
    def post(self, request):
        serializer = PostCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = post_services.post_create(author=request.user, **serializer.validated_data)
        return _render_post(request, post.pk, status_code=status.HTTP_201_CREATED)


class PostFeedApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="Opaque; taken from `next`"),
            OpenApiParameter("pageSize", int, description="1-100, default 20"),
        ],
        responses={200: PostFeedOutputSerializer, **error_responses(400, 401)},
        tags=TAGS,
        description=(
            "Ranked feed: score = (likes×3 + comments×5 + shares×10 + 1) / (age_hours + 2)^1.5, computed as "
            "of the snapshot time `feedToken` fixed by the first page. Follow `next` (it carries an opaque "
            "`cursor`): the pages together hold every post of the snapshot exactly once, even while new "
            "likes arrive. Start again without a cursor to refresh."
        ),
    )
    def get(self, request):
        params = PostFeedFilterSerializer(
            data={
                key: value
                for key, value in (
                    ("cursor", request.query_params.get("cursor")),
                    ("page_size", request.query_params.get("pageSize")),
                )
                if value is not None
            }
        )
        params.is_valid(raise_exception=True)
        token = params.validated_data.get("cursor")
        cursor = post_selectors.FeedCursor.decode(token) if token else None
        posts, next_cursor, total, as_of = post_selectors.feed_page(
            user=request.user, cursor=cursor, page_size=params.validated_data["page_size"]
        )
        next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", next_cursor.encode())
            if next_cursor
            else None
        )
        body = {
            "count": total,
            "next": next_url,
            "previous": None,
            "feed_token": as_of,
            "results": posts,
        }
        return Response(PostFeedOutputSerializer(body).data)


class PostDetailApi(APIView):
    @extend_schema(responses={200: PostOutputSerializer, **error_responses(401, 404)}, tags=TAGS)
    def get(self, request, pk: int):
        return _render_post(request, pk)

    @extend_schema(
        request=PostUpdateInputSerializer,
        responses={200: PostOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        _visible_post(request, pk)
        serializer = PostUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post_services.post_update(post_id=pk, actor=request.user, **serializer.validated_data)
        return _render_post(request, pk)

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        tags=TAGS,
        description="The author deletes for good; staff deleting another user's post removes it (moderation).",
    )
    def delete(self, request, pk: int):
        _visible_post(request, pk)
        post_services.post_delete(post_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostLikeApi(APIView):
    def _render(self, pk: int, liked: bool) -> Response:
        like_count = Post.objects.values_list("like_count", flat=True).get(pk=pk)
        return Response(PostLikeOutputSerializer({"liked": liked, "like_count": like_count}).data)

    @extend_schema(
        request=None,
        responses={200: PostLikeOutputSerializer, **error_responses(401, 404)},
        tags=TAGS,
        description="Idempotent: liking twice keeps one like.",
    )
    def post(self, request, pk: int):
        post_services.post_like(post=_visible_post(request, pk), user=request.user)
        return self._render(pk, True)

    @extend_schema(
        request=None,
        responses={200: PostLikeOutputSerializer, **error_responses(401, 404)},
        tags=TAGS,
        description="Idempotent: unliking a post you do not like changes nothing.",
    )
    def delete(self, request, pk: int):
        post_services.post_unlike(post=_visible_post(request, pk), user=request.user)
        return self._render(pk, False)


class PostShareApi(APIView):
    @extend_schema(
        request=None,
        responses={200: PostShareOutputSerializer, **error_responses(401, 404)},
        tags=TAGS,
        description="Records one share per user (idempotent) and returns the share count.",
    )
    def post(self, request, pk: int):
        post_services.post_share(post=_visible_post(request, pk), user=request.user)
        share_count = Post.objects.values_list("share_count", flat=True).get(pk=pk)
        return Response(
            PostShareOutputSerializer({"shared": True, "share_count": share_count}).data
        )


class PostCommentListCreateApi(GenericAPIView):
    queryset = Comment.objects.none()
    pagination_class = StandardPagination

    @extend_schema(
        responses={200: CommentOutputSerializer(many=True), **error_responses(401, 404)},
        tags=TAGS,
        description="Top-level comments, oldest first, each with all its replies.",
    )
    def get(self, request, pk: int):
        post = _visible_post(request, pk)
        page = self.paginate_queryset(post_selectors.comment_list(post=post))
        return self.get_paginated_response(CommentOutputSerializer(page, many=True).data)

    @extend_schema(
        request=CommentCreateInputSerializer,
        responses={201: CommentReplyOutputSerializer, **error_responses(400, 401, 404)},
        tags=TAGS,
        description="`parentId` replies to a top-level comment; replying to a reply is a 400.",
    )
    def post(self, request, pk: int):
        serializer = CommentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = post_services.comment_create(
            post=_visible_post(request, pk), author=request.user, **serializer.validated_data
        )
        return Response(CommentReplyOutputSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDeleteApi(APIView):
    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        tags=TAGS,
        description="The comment's author, the post's author or staff. Replies are deleted with it.",
    )
    def delete(self, request, pk: int):
        post_services.comment_delete(comment_id=pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostReportApi(APIView):
    @extend_schema(
        request=PostReportInputSerializer,
        responses={201: PostReportCreatedOutputSerializer, **error_responses(400, 401, 404, 409)},
        tags=TAGS,
        description="One report per user and post (a second one is 409 `already_reported`).",
    )
    def post(self, request, pk: int):
        serializer = PostReportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = post_services.post_report(
            post=_visible_post(request, pk),
            reporter=request.user,
            reason=serializer.validated_data["reason"],
        )
        return Response(
            PostReportCreatedOutputSerializer(report).data, status=status.HTTP_201_CREATED
        )


class PostModerateApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        request=PostModerateInputSerializer,
        responses={200: PostOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=TAGS,
        description="Staff: hide, remove or restore a post; open reports are resolved with it.",
    )
    def post(self, request, pk: int):
        serializer = PostModerateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post_services.post_moderate(post_id=pk, actor=request.user, **serializer.validated_data)
        return _render_post(request, pk)


class PostReportQueueApi(GenericAPIView):
    queryset = PostReport.objects.none()
    pagination_class = StandardPagination
    permission_classes = [IsStaffMember]
    filter_backends = [FilterSetInSelector]  # the selector applies PostReportFilter
    filterset_class = PostReportFilter

    @extend_schema(
        responses={200: PostReportOutputSerializer(many=True), **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request):
        queryset = post_selectors.report_queue(filters=request.query_params)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(PostReportOutputSerializer(page, many=True).data)
