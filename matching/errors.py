"""Stable error codes of the matching API."""

from dumuwaks.core.errors import Conflict, NotFound, ValidationFailed


class MatchNotFound(NotFound):
    code = "match_not_found"
    message = "Match not found."


class MatchTechnicianNotFound(NotFound):
    code = "technician_not_found"
    message = "Technician not found."


class UnknownCategory(ValidationFailed):
    code = "unknown_category"
    message = "No active service category matches this id or slug."


class LocationRequired(ValidationFailed):
    code = "location_required"
    message = "Give latitude and longitude, or save a location on your profile."


class InvalidWeights(ValidationFailed):
    code = "invalid_weights"
    message = "Weights must cover every factor, be ≥ 0 and sum to 1."


class InvalidPreferences(ValidationFailed):
    code = "invalid_preferences"
    message = "The matching preferences are invalid."


class MatchExpired(Conflict):
    code = "match_expired"
    message = "This suggestion has expired. Search again."


class FeedbackAlreadyGiven(Conflict):
    code = "feedback_already_given"
    message = "Feedback for this match was already given."


class FeedbackNotAllowed(Conflict):
    code = "feedback_not_allowed"
    message = "Feedback can be given once the match is accepted or rejected."


class PriceUnknown(Conflict):
    code = "price_unknown"
    message = "Give a budget: this technician has no hourly rate to estimate the price from."


class TechnicianBlocked(Conflict):
    code = "technician_blocked"
    message = "You blocked this technician; unblock them first."


class FavouriteNotFound(NotFound):
    code = "favourite_not_found"
    message = "This technician is not one of your favourites."
