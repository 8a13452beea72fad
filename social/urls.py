"""Social routes, included at /api/v1/ with no prefix.

Order matters for media: public ids contain slashes (`dumuwaks/users/7/uploads/ab12…`), so the `<path:…>`
routes come after every fixed `media/…` path, and `…/details` before the bare delete route.
"""

from django.urls import path

from social.apis import media as media_apis
from social.apis import posts as post_apis
from social.apis import reviews as review_apis

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
    # posts
    path("posts", post_apis.PostListCreateApi.as_view(), name="post-list"),
    path("posts/feed", post_apis.PostFeedApi.as_view(), name="post-feed"),
    path("posts/reports", post_apis.PostReportQueueApi.as_view(), name="post-reports"),
    path("posts/comments/<int:pk>", post_apis.CommentDeleteApi.as_view(), name="comment-detail"),
    path("posts/<int:pk>", post_apis.PostDetailApi.as_view(), name="post-detail"),
    path("posts/<int:pk>/like", post_apis.PostLikeApi.as_view(), name="post-like"),
    path("posts/<int:pk>/share", post_apis.PostShareApi.as_view(), name="post-share"),
    path(
        "posts/<int:pk>/comments",
        post_apis.PostCommentListCreateApi.as_view(),
        name="post-comments",
    ),
    path("posts/<int:pk>/report", post_apis.PostReportApi.as_view(), name="post-report"),
    path("posts/<int:pk>/moderate", post_apis.PostModerateApi.as_view(), name="post-moderate"),
    # reviews
    path("reviews", review_apis.ReviewCreateApi.as_view(), name="review-create"),
    path("reviews/<int:pk>", review_apis.ReviewDetailApi.as_view(), name="review-detail"),
    path("reviews/<int:pk>/respond", review_apis.ReviewRespondApi.as_view(), name="review-respond"),
    path(
        "reviews/technician/<int:pk>",
        review_apis.TechnicianReviewListApi.as_view(),
        name="review-technician-list",
    ),
    path(
        "reviews/technician/<int:pk>/stats",
        review_apis.TechnicianReviewStatsApi.as_view(),
        name="review-technician-stats",
    ),
    path(
        "reviews/booking/<int:pk>",
        review_apis.BookingReviewListApi.as_view(),
        name="review-booking-list",
    ),
]
