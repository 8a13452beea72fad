"""Writes for bookings. Import from here: `from bookings.services import booking_create, ...`."""

from bookings.services.agreements import (
    change_order_create,
    proposal_accept,
    proposal_decline,
    proposal_expire_due,
    proposal_withdraw,
    quote_create,
    reschedule_propose,
)
from bookings.services.availability import availability_replace
from bookings.services.bookings import (
    booking_auto_confirm_if_due,
    booking_cancel,
    booking_create,
    booking_expire_if_stale,
    booking_mark_deposit_paid,
    booking_transition,
    booking_update,
    lock_booking,
)
from bookings.services.cancellation import (
    CancellationQuote,
    cancellation_fee_for,
    cancellation_quote,
)
from bookings.services.disputes import (
    dispute_add_note,
    dispute_open,
    dispute_resolve,
    dispute_transition,
)
from bookings.services.guarantee import (
    guarantee_claim_accept,
    guarantee_claim_decline,
    guarantee_claim_open,
    guarantee_claim_process_if_due,
    guarantee_claim_report,
    guarantee_claim_withdraw,
    guarantee_claims_process_due,
)

__all__ = [
    "CancellationQuote",
    "availability_replace",
    "booking_auto_confirm_if_due",
    "booking_cancel",
    "booking_create",
    "booking_expire_if_stale",
    "booking_mark_deposit_paid",
    "booking_transition",
    "booking_update",
    "cancellation_fee_for",
    "cancellation_quote",
    "change_order_create",
    "dispute_add_note",
    "dispute_open",
    "dispute_resolve",
    "dispute_transition",
    "guarantee_claim_accept",
    "guarantee_claim_decline",
    "guarantee_claim_open",
    "guarantee_claim_process_if_due",
    "guarantee_claim_report",
    "guarantee_claim_withdraw",
    "guarantee_claims_process_due",
    "lock_booking",
    "proposal_accept",
    "proposal_decline",
    "proposal_expire_due",
    "proposal_withdraw",
    "quote_create",
    "reschedule_propose",
]
