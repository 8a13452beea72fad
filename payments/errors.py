"""Stable error codes of the payments API."""

from dumuwaks.core.errors import ApplicationError, Conflict, Forbidden, NotFound, ValidationFailed


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    message = "Payment not found."


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    message = "Payout not found."


class BookingNotFoundForPayment(NotFound):
    code = "booking_not_found"
    message = "Booking not found."


class PaymentNotDue(Conflict):
    code = "payment_not_due"
    message = "This booking has nothing to pay for that purpose right now."


class AlreadyPaid(Conflict):
    code = "already_paid"
    message = "This has already been paid."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different request."


class InvalidIdempotencyKey(ValidationFailed):
    code = "invalid_idempotency_key"
    message = "The Idempotency-Key header must be 1-128 printable characters."


class PayoutNotProcessable(Conflict):
    code = "payout_not_processable"
    message = "This payout cannot be processed in its current state."


class PayoutOutcomeUnknown(Conflict):
    code = "payout_outcome_unknown"
    message = (
        "An earlier attempt of this payout did not fail definitively; it is being checked with M-Pesa. "
        "No new attempt was sent."
    )


class PayoutFinal(Conflict):
    code = "payout_final"
    message = (
        "This payout is final (paid, cancelled or carried into a later payout); nothing to check."
    )


class FinanceOnly(Forbidden):
    code = "finance_only"
    message = "Only administrators may move money."


class StripeDisabled(Conflict):
    code = "stripe_disabled"
    message = "Card payments are not enabled."


class CardProviderError(ApplicationError):
    status_code = 502
    code = "card_provider_error"
    message = "The card payment provider refused or could not be reached. Please try again."


class UnbalancedTransaction(Exception):
    """Programming error: a ledger posting whose debits and credits differ. Never caught by views."""
