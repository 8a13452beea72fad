"""Stable error codes of the bookings API."""

from dumuwaks.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


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
