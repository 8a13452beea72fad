"""The cancellation fee: one function, `cancellation_fee_for`.

A customer cancelling pays part of the booking fee (the 20 % deposit) depending on how long before the
scheduled start they cancel (`remaining = scheduled_start − at`):

    remaining ≥ 24 h                          →  0 %
    6 h ≤ remaining < 24 h                    → 25 % of the deposit
    2 h ≤ remaining < 6 h                     → 50 %
    remaining < 2 h, or technician en route   → 75 %
    (statuses en_route and arrived: the technician has made the trip)

Boundaries belong to the cheaper tier (exactly 6 h before → 25 %; exactly 24 h → nothing).
No fee at all when: the technician or staff cancels (recorded against the technician instead), no technician
is assigned yet (nobody has committed to the slot), or the deposit has not been paid (there is nothing to keep).
The fee is `round_half_up(deposit × rate)` in whole shillings (dumuwaks.core.money.split_amount) and the
refund is `deposit − fee`, so the two add up to the deposit exactly. Payments executes the refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bookings.models import Booking, BookingStatus
from dumuwaks.core.money import split_amount, to_decimal

TIER_NONE = "none"
TIER_25 = "under_24h"
TIER_50 = "under_6h"
TIER_75 = "under_2h_or_en_route"
TIER_NOT_CUSTOMER = "cancelled_by_technician_or_staff"
TIER_UNASSIGNED = "no_technician_assigned"

_EN_ROUTE_OR_LATER = (BookingStatus.EN_ROUTE, BookingStatus.ARRIVED, BookingStatus.IN_PROGRESS)


@dataclass(frozen=True)
class CancellationQuote:
    fee: Decimal
    refund: Decimal
    rate: Decimal
    tier: str
    deposit_amount: Decimal
    deposit_paid: bool
    hours_before_start: Decimal


def _rate_and_tier(*, booking: Booking, cancelled_by, at: datetime) -> tuple[Decimal, str]:
    if cancelled_by is None or cancelled_by.pk != booking.customer_id:
        return Decimal("0"), TIER_NOT_CUSTOMER
    if booking.technician_id is None:
        return Decimal("0"), TIER_UNASSIGNED
    if booking.status in _EN_ROUTE_OR_LATER:
        return Decimal("0.75"), TIER_75
    remaining = booking.scheduled_start - at
    if remaining >= timedelta(hours=24):
        return Decimal("0"), TIER_NONE
    if remaining >= timedelta(hours=6):
        return Decimal("0.25"), TIER_25
    if remaining >= timedelta(hours=2):
        return Decimal("0.50"), TIER_50
    return Decimal("0.75"), TIER_75


def cancellation_fee_for(*, booking: Booking, cancelled_by, at: datetime) -> Decimal:
    """The fee kept from the deposit if `cancelled_by` cancels `booking` at `at` (whole shillings)."""
    if booking.deposit_paid_at is None:
        return to_decimal(0)
    rate, _tier = _rate_and_tier(booking=booking, cancelled_by=cancelled_by, at=at)
    fee, _refund = split_amount(booking.deposit_amount, rate)
    return fee


def cancellation_quote(*, booking: Booking, cancelled_by, at: datetime) -> CancellationQuote:
    rate, tier = _rate_and_tier(booking=booking, cancelled_by=cancelled_by, at=at)
    fee = cancellation_fee_for(booking=booking, cancelled_by=cancelled_by, at=at)
    paid = booking.deposit_paid_at is not None
    refund = to_decimal(booking.deposit_amount) - fee if paid else to_decimal(0)
    hours = Decimal((booking.scheduled_start - at).total_seconds()) / Decimal(3600)
    return CancellationQuote(
        fee=fee,
        refund=refund,
        rate=rate,
        tier=tier,
        deposit_amount=to_decimal(booking.deposit_amount),
        deposit_paid=paid,
        hours_before_start=hours.quantize(Decimal("0.01")),
    )
