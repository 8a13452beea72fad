from dumuwaks.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    message = "Support ticket not found."


class TicketStaffOnly(Forbidden):
    code = "support_staff_only"
    message = "Only support staff may do this."


class TicketCreatorOnly(Forbidden):
    code = "ticket_creator_only"
    message = "Only the person who opened the ticket may do this."


class InvalidAssignee(ValidationFailed):
    code = "invalid_assignee"
    message = "Tickets can only be assigned to active support agents or administrators."


class TicketClosed(Conflict):
    code = "ticket_closed"
    message = "This ticket is closed. Reopen it to continue the conversation."


class TicketNotFinished(Conflict):
    code = "ticket_not_finished"
    message = "Only resolved or closed tickets can be rated."


class TicketAlreadyRated(Conflict):
    code = "ticket_already_rated"
    message = "This ticket has already been rated."


class InternalNoteStaffOnly(Forbidden):
    code = "internal_note_staff_only"
    message = "Only support staff may write internal notes."


class RelatedBookingNotFound(ValidationFailed):
    code = "related_booking_not_found"
    message = "The booking does not exist or is not yours."


class RelatedPaymentNotFound(ValidationFailed):
    code = "related_payment_not_found"
    message = "The payment does not exist or is not yours."


class ResolutionRequired(ValidationFailed):
    message = "Write a resolution to resolve or close this ticket: what was done for the customer."

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("fields", {"resolution": ["This field is required."]})
        super().__init__(message, **kwargs)
