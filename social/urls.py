"""Social routes, included at /api/v1/ with no prefix.

Order matters for media: public ids contain slashes (`dumuwaks/users/7/uploads/ab12…`), so the `<path:…>`
routes come after every fixed `media/…` path, and `…/details` before the bare delete route.
"""

from django.urls import path

from social.apis import media as media_apis

urlpatterns = [
    path("media/upload/image", media_apis.MediaImageUploadApi.as_view(), name="media-upload-image"),
    path(
        "media/upload/images", media_apis.MediaImagesUploadApi.as_view(), name="media-upload-images"
    ),
    path("media/upload/video", media_apis.MediaVideoUploadApi.as_view(), name="media-upload-video"),
    path("media/upload/media", media_apis.MediaMixedUploadApi.as_view(), name="media-upload-media"),
    path(
        "media/upload/profile-picture",
        media_apis.MediaProfilePictureUploadApi.as_view(),
        name="media-upload-profile-picture",
    ),
    path(
        "media/delete-multiple", media_apis.MediaDeleteManyApi.as_view(), name="media-delete-many"
    ),
    path(
        "media/generate-signature",
        media_apis.MediaGenerateSignatureApi.as_view(),
        name="media-generate-signature",
    ),
    path(
        "media/confirm-upload",
        media_apis.MediaConfirmUploadApi.as_view(),
        name="media-confirm-upload",
    ),
    path("media/optimize-url", media_apis.MediaOptimizeUrlApi.as_view(), name="media-optimize-url"),
    path(
        "media/<path:public_id>/details",
        media_apis.MediaDetailsApi.as_view(),
        name="media-details",
    ),
    path("media/<path:public_id>", media_apis.MediaDeleteApi.as_view(), name="media-delete"),
]
