"""Stable error codes of the payments API."""

from dumuwaks.core.errors import ApplicationError, Conflict, Forbidden, NotFound, ValidationFailed
from dumuwaks.core.idempotency import (  # noqa: F401 (payments.errors.*)
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)


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


class StripeDisabled(Conflict):
    code = "stripe_disabled"
    message = "Card payments are not enabled."


class CardProviderError(ApplicationError):
    status_code = 502
    code = "card_provider_error"
    message = "The card payment provider refused or could not be reached. Please try again."


class PaymentPending(Conflict):
    """A prompt is already out for this booking and purpose; `extra["payment"]` describes it."""

    code = "payment_pending"
    message = (
        "A payment request for this is already waiting for the customer. Send supersede: true to "
        "cancel it and send a new prompt."
    )


class PhoneConfirmationRequired(ValidationFailed):
    code = "phone_confirmation_required"
    message = (
        "M-Pesa prompts go to your own verified number. To use another number (or an unverified one), "
        "send it in phoneNumber together with confirmPhone: true."
    )


class PaymentProviderUnavailable(ApplicationError):
    """Daraja could not be reached or is rate-limiting us; nothing was sent and nothing was kept."""

    status_code = 503
    code = "payment_provider_unavailable"
    message = "M-Pesa cannot be reached right now. Nothing was charged; please try again shortly."
    retry_after_seconds = 30


class PaymentProviderRejected(ApplicationError):
    status_code = 502
    code = "payment_provider_rejected"
    message = "M-Pesa refused the payment request. Check the phone number and try again."


class PaymentFinal(Conflict):
    code = "payment_final"
    message = "This payment is final; there is nothing to check."


class SuspenseItemResolved(Conflict):
    code = "suspense_item_resolved"
    message = "This suspense item was already matched or refunded."


class SuspenseMatchRefused(Conflict):
    code = "suspense_match_refused"
    message = "This money cannot be credited to that payment."


class SuspenseRefundNoCustomer(Conflict):
    code = "suspense_refund_no_customer"
    message = "No customer is known for the paying number; refund it outside the platform."


class UnbalancedTransaction(Exception):
    """Programming error: a ledger posting whose debits and credits differ. Never caught by views."""


class PayoutAttemptFinal(Conflict):
    code = "payout_attempt_final"
    message = (
        "This payout attempt already has a final outcome (paid or failed); staff cannot settle it again "
        "differently."
    )


class PayoutAttemptRequired(ValidationFailed):
    code = "payout_attempt_required"
    message = "Several attempts of this payout are open: say which one (attempt)."


class PayoutReceiptInUse(Conflict):
    code = "payout_receipt_in_use"
    message = "This M-Pesa receipt is already recorded on another payout attempt."


class PayoutNothingSent(Conflict):
    code = "payout_nothing_sent"
    message = "Nothing was sent for this payout yet: there is no outcome to confirm."


class CallbackNotAttachable(Conflict):
    code = "callback_not_attachable"
    message = "This callback cannot be attached to that payment."


class RecoverySettled(Conflict):
    code = "recovery_settled"
    message = "Nothing of this debt is owed any more."


class RecoveryOlderOpen(Conflict):
    code = "recovery_older_open"
    message = "An older debt of the same debtor is still open: settle it first."


class RecoveryReceiptInUse(Conflict):
    code = "recovery_receipt_in_use"
    message = "This M-Pesa receipt is already recorded."


class TipNotAllowed(Conflict):
    code = "tip_not_allowed"
    message = "A tip can be given once the job is completed."


class TipOnlyByCustomer(Forbidden):
    code = "tip_only_by_customer"
    message = "Only the booking's customer can tip its technician."
