"""The one pricing function for a booking. Whole shillings in, whole shillings out.

Rule (see dumuwaks/core/money.py): deposit = round_half_up(price × 20 %), balance = price − deposit;
platform fee = round_half_up(price × 15 %), technician share = price − platform fee. So
deposit + balance == price and platform_fee + technician_share == price, to the shilling.
"""

from dataclasses import dataclass
from decimal import Decimal

from dumuwaks.core.money import DEFAULT_CURRENCY, ceil_shillings, split_amount, to_decimal

DEPOSIT_RATE = Decimal("0.20")
# The lowest price a booking may have. At KES 1-2 the 20 % deposit rounded to 0.00 and the booking could never
# proceed; at KES 100 the deposit is at least KES 20, and every split (deposit/balance, platform fee/technician
# share, cancellation fee tiers) stays in whole, non-zero shillings. Checked by `booking_create` (and the
# API's input serializer, so the OpenAPI schema states it).
MIN_BOOKING_PRICE = Decimal("100")
# No "%" in it: DRF formats validator messages with "%".
MIN_BOOKING_PRICE_MESSAGE = (
    f"The price must be at least KES {MIN_BOOKING_PRICE}"
    f" (a deposit of at least KES {MIN_BOOKING_PRICE * DEPOSIT_RATE:.0f})."
)
PLATFORM_FEE_RATE = Decimal("0.15")
TECHNICIAN_SHARE_RATE = Decimal("1") - PLATFORM_FEE_RATE


@dataclass(frozen=True)
class PriceBreakdown:
    price: Decimal
    deposit: Decimal
    balance: Decimal
    platform_fee: Decimal
    technician_share: Decimal
    currency: str = DEFAULT_CURRENCY


def price_breakdown(price, currency: str = DEFAULT_CURRENCY) -> PriceBreakdown:
    """Split a quoted price. A price with cents is first rounded up to the next shilling."""
    whole_price = ceil_shillings(price)
    deposit, balance = split_amount(whole_price, DEPOSIT_RATE)
    platform_fee, technician_share = split_amount(whole_price, PLATFORM_FEE_RATE)
    return PriceBreakdown(
        price=whole_price,
        deposit=deposit,
        balance=balance,
        platform_fee=platform_fee,
        technician_share=technician_share,
        currency=currency,
    )


@dataclass(frozen=True)
class PriceChange:
    """A booking's amounts after an agreed new price (`price_change_breakdown`) and what goes back."""

    amounts: PriceBreakdown
    refund: Decimal  # part of the paid deposit above the new price: refunded to the customer


def price_change_breakdown(
    new_price, *, deposit_held: Decimal | None, currency: str = DEFAULT_CURRENCY
) -> PriceChange:
    """The amounts of a booking whose price changes by agreement (a quote, a change order).

    `deposit_held`: the deposit the customer paid and still has in escrow (the booking's `deposit_amount`
    once `deposit_paid_at` is set), or None while it is unpaid.
    - Unpaid deposit: everything follows the new price (`price_breakdown`): deposit 20 % of it.
    - Paid deposit: money received stays received. The deposit stays what was paid and the balance is the
      rest of the new price; a new price below the deposit keeps `new price` of it (balance 0) and refunds
      the excess. Either way deposit + balance == price, and the 85/15 split is of the new price.
    """
    amounts = price_breakdown(new_price, currency)
    if deposit_held is None:
        return PriceChange(amounts=amounts, refund=Decimal("0.00"))
    held = to_decimal(deposit_held)
    kept = min(held, amounts.price)
    return PriceChange(
        amounts=PriceBreakdown(
            price=amounts.price,
            deposit=kept,
            balance=amounts.price - kept,
            platform_fee=amounts.platform_fee,
            technician_share=amounts.technician_share,
            currency=currency,
        ),
        refund=held - kept,
    )
