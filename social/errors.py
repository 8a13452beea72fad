"""Errors of the social app (media, posts, reviews); codes are API contract."""

from rest_framework import status

from dumuwaks.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)


# --- media ---
class UnsupportedFileType(ValidationFailed):
    code = "unsupported_file_type"
    message = "Only JPEG, PNG, GIF and WebP images and MP4, MOV and AVI videos are accepted."


class FileTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "file_too_large"
    message = "The file is too large."


class TooManyFiles(ValidationFailed):
    code = "too_many_files"
    message = "Too many files in one request."


class MediaNotFound(NotFound):
    code = "media_not_found"
    message = "Media not found."


class MediaProviderError(ServiceUnavailable):
    code = "media_provider_unavailable"
    message = "The media service could not be reached. Please try again shortly."


class DirectUploadUnavailable(Conflict):
    code = "direct_upload_unavailable"
    message = "Direct uploads need the Cloudinary media backend."


class InvalidUploadSignature(ValidationFailed):
    code = "invalid_upload_signature"
    message = "The upload signature does not match."


# --- posts ---
class PostNotFound(NotFound):
    code = "post_not_found"
    message = "Post not found."


class CommentNotFound(NotFound):
    code = "comment_not_found"
    message = "Comment not found."


class InvalidMediaRefs(ValidationFailed):
    code = "invalid_media"


class InvalidPortfolioBooking(ValidationFailed):
    code = "invalid_portfolio_booking"
    message = (
        "A portfolio post must link a completed or confirmed booking you did as the technician."
    )


class ReplyDepthExceeded(ValidationFailed):
    code = "reply_depth_exceeded"
    message = "You can only reply to a top-level comment."


class AlreadyReported(Conflict):
    code = "already_reported"
    message = "You have already reported this post."


class CannotReportOwnPost(ValidationFailed):
    code = "cannot_report_own_post"
    message = "You cannot report your own post."


class InvalidFeedCursor(ValidationFailed):
    code = "invalid_cursor"
    message = "The feed cursor is invalid or expired; start again from the first page."


# --- reviews ---
class ReviewNotFound(NotFound):
    code = "review_not_found"
    message = "Review not found."


class BookingNotReviewable(Conflict):
    code = "booking_not_reviewable"
    message = "Only confirmed (or dispute-resolved) bookings can be reviewed."


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    message = "You have already reviewed this booking."


class AlreadyResponded(Conflict):
    code = "already_responded"
    message = "This review already has a response."


class MissingAspectRatings(ValidationFailed):
    code = "missing_aspect_ratings"
    message = (
        "Rate quality, timeliness, professionalism and communication (1-5); value is optional."
    )
