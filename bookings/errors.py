"""Stable error codes of the bookings API."""

from dumuwaks.core.errors import ApplicationError, Conflict, Forbidden, NotFound, ValidationFailed


class BookingNotFound(NotFound):
    code = "booking_not_found"
    message = "Booking not found."


class DisputeNotFound(NotFound):
    code = "dispute_not_found"
    message = "Dispute not found."


class TechnicianNotFound(NotFound):
    code = "technician_not_found"
    message = "Technician not found."


class InvalidBooking(ValidationFailed):
    code = "invalid_booking"
    message = "The booking details are invalid."


class CustomersOnly(Forbidden):
    code = "customers_only"
    message = "Only customers can book technicians."


class TechniciansOnly(Forbidden):
    code = "technicians_only"
    message = "Only technicians can do this."


class SlotTaken(Conflict):
    code = "slot_taken"
    message = "The technician already has a booking in this time slot."


class TechnicianUnavailable(Conflict):
    code = "technician_unavailable"
    message = "The technician is not available in this time slot."


class TechnicianNotEligible(Conflict):
    code = "technician_not_eligible"
    message = "This technician cannot take this booking."


class DepositNotPaid(Conflict):
    code = "deposit_not_paid"
    message = "The booking deposit has not been paid yet."


class BookingNotEditable(Conflict):
    code = "booking_not_editable"
    message = "This booking can no longer be changed."


class DisputeWindowClosed(Conflict):
    code = "dispute_window_closed"
    message = "The period for disputing this booking has ended."


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"
    message = "A dispute is already open for this booking."


class InvalidDisputeResolution(ValidationFailed):
    """A field of the resolution is invalid (named in `fields`), like a serializer's validation error."""

    code = "validation_error"
    message = "The dispute resolution is invalid."


class ProposalNotFound(NotFound):
    code = "proposal_not_found"
    message = "Proposal not found."


class ProposalNotAllowed(Conflict):
    """The booking is not in a state where this kind of proposal can be made or accepted."""

    code = "proposal_not_allowed"
    message = "This booking cannot take this proposal now."


class ProposalNotOpen(Conflict):
    code = "proposal_not_open"
    message = "This proposal was already answered, withdrawn or replaced."


class ProposalExpired(Conflict):
    code = "proposal_expired"
    message = "This proposal was not answered in time and has expired."


class ProposalOutdated(Conflict):
    code = "proposal_outdated"
    message = "The booking changed since this proposal was made; ask for a new one."


class NotProposalCounterparty(Forbidden):
    code = "not_proposal_counterparty"
    message = "Only the other party of the booking can answer this proposal."


class NotProposalAuthor(Forbidden):
    code = "not_proposal_author"
    message = "Only the person who made this proposal can withdraw it."


class RescheduleRequiresProposal(Conflict):
    code = "reschedule_requires_proposal"
    message = (
        "An accepted booking's time changes only by agreement: propose the new time with"
        " POST /api/v1/bookings/{id}/reschedule-proposals and the other party accepts or declines it."
    )


class DepositPaymentOpen(Conflict):
    code = "deposit_payment_open"
    message = (
        "A deposit payment for the old price is still open; wait until it completes or expires, then"
        " accept the quote."
    )


# --- Live tracking (bookings/services/tracking.py); sent as WebSocket `error` events --------------------------


class TrackingForbidden(Forbidden):
    """The caller sees the booking but has no part in its tracking (a customer sending positions, the
    technician subscribing to their own)."""

    code = "tracking_forbidden"
    message = (
        "Only the assigned technician sends positions; only the customer and staff follow them."
    )


class TrackingNotActive(Conflict):
    code = "tracking_not_active"
    message = "This booking is not being tracked now."


class LocationTooFrequent(ApplicationError):
    status_code = 429
    code = "location_too_frequent"
    message = "Too many positions for this booking; send at most one every {seconds} seconds."


class GuaranteeClaimNotFound(NotFound):
    code = "guarantee_claim_not_found"
    message = "Guarantee claim not found."


class GuaranteeWindowClosed(Conflict):
    code = "guarantee_window_closed"
    message = "The workmanship guarantee covers a job for 14 days after it was confirmed."


class GuaranteeClaimExists(Conflict):
    code = "guarantee_claim_exists"
    message = "This booking already has a guarantee claim; it covers one return visit."


class GuaranteeClaimNotAllowed(Conflict):
    """The claim is not in the state this step needs (answered already, visit not yet due, ...)."""

    code = "guarantee_claim_not_allowed"
    message = "This guarantee claim cannot take this step now."


class NotGuaranteeParty(Forbidden):
    code = "not_guarantee_party"
    message = "Only the customer or the technician of the job can take this step."
