"""Media endpoints under /api/v1/media/. Thin: parse, call one service/selector, render."""

from djangorestframework_camel_case.parser import CamelCaseMultiPartParser
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from dumuwaks.core.openapi import error_responses
from social.errors import FileTooLarge
from social.selectors.media import media_get_for_actor, media_get_public
from social.serializers.media import (
    MediaAssetListOutputSerializer,
    MediaAssetOutputSerializer,
    MediaConfirmUploadInputSerializer,
    MediaDeleteManyInputSerializer,
    MediaDeleteManyOutputSerializer,
    MediaImagesUploadInputSerializer,
    MediaImageUploadInputSerializer,
    MediaMixedUploadInputSerializer,
    MediaOptimizeUrlInputSerializer,
    MediaOptimizeUrlOutputSerializer,
    MediaProfilePictureInputSerializer,
    MediaProfilePictureOutputSerializer,
    MediaSignatureInputSerializer,
    MediaSignatureOutputSerializer,
    MediaVideoUploadInputSerializer,
)
from social.services import media as media_services
from social.storage.validation import MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, MB

_MULTIPART_OVERHEAD = 1 * MB
MAX_FILES = media_services.MAX_FILES_PER_REQUEST
# Mixed uploads may carry several videos; cap the whole request so one call cannot fill the disk.
MAX_MIXED_REQUEST_BYTES = 2 * MAX_VIDEO_BYTES + _MULTIPART_OVERHEAD

_MULTIPART_PARSERS = [CamelCaseMultiPartParser]
_UPLOAD_ERRORS = error_responses(400, 401, 413, 503)


def _refuse_oversized_request(request, limit: int) -> None:
    """Runs before the body is parsed (DRF parses lazily), so an oversized request is not even read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise FileTooLarge(
            f"The request is {length} bytes; this endpoint accepts at most {limit} bytes.",
            extra={"maxBytes": limit},
        )


class _UploadView(APIView):
    parser_classes = _MULTIPART_PARSERS
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "media_upload"
    request_limit = MAX_IMAGE_BYTES + _MULTIPART_OVERHEAD

    def _validated(self, request, serializer_class):
        _refuse_oversized_request(request, self.request_limit)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class MediaImageUploadApi(_UploadView):
    @extend_schema(
        request=MediaImageUploadInputSerializer,
        responses={201: MediaAssetOutputSerializer, **_UPLOAD_ERRORS},
        tags=["media"],
    )
    def post(self, request):
        data = self._validated(request, MediaImageUploadInputSerializer)
        asset = media_services.media_upload(
            owner=request.user, uploaded=data["image"], allowed=("image",)
        )
        return Response(MediaAssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class MediaImagesUploadApi(_UploadView):
    request_limit = MAX_FILES * MAX_IMAGE_BYTES + _MULTIPART_OVERHEAD

    @extend_schema(
        request=MediaImagesUploadInputSerializer,
        responses={201: MediaAssetListOutputSerializer, **_UPLOAD_ERRORS},
        tags=["media"],
    )
    def post(self, request):
        data = self._validated(request, MediaImagesUploadInputSerializer)
        assets = media_services.media_upload_many(
            owner=request.user, files=data["images"], allowed=("image",)
        )
        body = {"assets": MediaAssetOutputSerializer(assets, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


class MediaVideoUploadApi(_UploadView):
    request_limit = MAX_VIDEO_BYTES + _MULTIPART_OVERHEAD

    @extend_schema(
        request=MediaVideoUploadInputSerializer,
        responses={201: MediaAssetOutputSerializer, **_UPLOAD_ERRORS},
        tags=["media"],
    )
    def post(self, request):
        data = self._validated(request, MediaVideoUploadInputSerializer)
        asset = media_services.media_upload(
            owner=request.user, uploaded=data["video"], allowed=("video",)
        )
        return Response(MediaAssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class MediaMixedUploadApi(_UploadView):
    request_limit = MAX_MIXED_REQUEST_BYTES

    @extend_schema(
        request=MediaMixedUploadInputSerializer,
        responses={201: MediaAssetListOutputSerializer, **_UPLOAD_ERRORS},
        tags=["media"],
    )
    def post(self, request):
        data = self._validated(request, MediaMixedUploadInputSerializer)
        assets = media_services.media_upload_many(owner=request.user, files=data["media"])
        body = {"assets": MediaAssetOutputSerializer(assets, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


class MediaProfilePictureUploadApi(_UploadView):
    @extend_schema(
        request=MediaProfilePictureInputSerializer,
        responses={201: MediaProfilePictureOutputSerializer, **_UPLOAD_ERRORS},
        tags=["media"],
    )
    def post(self, request):
        data = self._validated(request, MediaProfilePictureInputSerializer)
        asset = media_services.media_upload_profile_picture(
            user=request.user, uploaded=data["profile_picture"]
        )
        body = {"avatar_url": request.user.avatar_url, "asset": asset}
        return Response(
            MediaProfilePictureOutputSerializer(body).data, status=status.HTTP_201_CREATED
        )


class MediaDeleteManyApi(APIView):
    @extend_schema(
        request=MediaDeleteManyInputSerializer,
        responses={200: MediaDeleteManyOutputSerializer, **error_responses(400, 401, 503)},
        tags=["media"],
    )
    def post(self, request):
        serializer = MediaDeleteManyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = media_services.media_delete_many(
            actor=request.user, public_ids=serializer.validated_data["public_ids"]
        )
        return Response(MediaDeleteManyOutputSerializer(result).data)


class MediaGenerateSignatureApi(APIView):
    @extend_schema(
        request=MediaSignatureInputSerializer,
        responses={200: MediaSignatureOutputSerializer, **error_responses(400, 401, 409)},
        tags=["media"],
        description=(
            "Signed parameters for a direct upload to Cloudinary into the caller's own folder. "
            "Send exactly `timestamp`, `folder`, `allowed_formats`, `signature` and `api_key` with the file "
            "to `uploadUrl`, then register the result with `POST media/confirm-upload`."
        ),
    )
    def post(self, request):
        serializer = MediaSignatureInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signed = media_services.media_direct_upload_sign(
            owner=request.user, resource_type=serializer.validated_data["resource_type"]
        )
        return Response(MediaSignatureOutputSerializer(signed).data)


class MediaConfirmUploadApi(APIView):
    @extend_schema(
        request=MediaConfirmUploadInputSerializer,
        responses={
            201: MediaAssetOutputSerializer,
            200: MediaAssetOutputSerializer,
            **error_responses(400, 401, 404, 409, 413, 503),
        },
        tags=["media"],
    )
    def post(self, request):
        serializer = MediaConfirmUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asset, created = media_services.media_direct_upload_confirm(
            owner=request.user, **serializer.validated_data
        )
        return Response(
            MediaAssetOutputSerializer(asset).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MediaOptimizeUrlApi(APIView):
    @extend_schema(
        request=MediaOptimizeUrlInputSerializer,
        responses={200: MediaOptimizeUrlOutputSerializer, **error_responses(400, 401, 404)},
        tags=["media"],
    )
    def post(self, request):
        serializer = MediaOptimizeUrlInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        asset = media_get_public(public_id=options.pop("public_id"))
        url = media_services.media_optimized_url(asset=asset, **options)
        return Response(MediaOptimizeUrlOutputSerializer({"url": url}).data)


class MediaDetailsApi(APIView):
    @extend_schema(
        responses={200: MediaAssetOutputSerializer, **error_responses(401, 404)}, tags=["media"]
    )
    def get(self, request, public_id: str):
        asset = media_get_for_actor(actor=request.user, public_id=public_id)
        return Response(MediaAssetOutputSerializer(asset).data)


class MediaDeleteApi(APIView):
    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 404, 503)},
        tags=["media"],
        description="Owner or staff only; anyone else gets 404 as if the asset did not exist.",
    )
    def delete(self, request, public_id: str):
        media_services.media_delete(actor=request.user, public_id=public_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
