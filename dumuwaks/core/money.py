"""Money rules for the whole platform: the only module that rounds.

Amounts are `Decimal` with two places and a currency code (KES unless said otherwise). M-Pesa moves whole
shillings only, so everything the platform charges or pays is computed in whole shillings.

Rounding rule (written once, tested in dumuwaks/core/tests/test_money.py):
- amounts the customer owes are rounded UP to the next shilling (`ceil_shillings`): we never ask M-Pesa for
  less than the price;
- a split of a whole-shilling total is computed as `part = round_half_up(total * rate)` and `rest = total - part`,
  so the parts always add up exactly to the whole (`split_amount`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.db import models

DEFAULT_CURRENCY = "KES"
CENTS = Decimal("0.01")
SHILLING = Decimal("1")
MAX_DIGITS = 12
DECIMAL_PLACES = 2


def to_decimal(value) -> Decimal:
    if isinstance(value, float):  # floats never carry money: go through their shortest repr
        value = repr(value)
    return Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP)


def ceil_shillings(amount) -> Decimal:
    return to_decimal(amount).quantize(SHILLING, rounding=ROUND_CEILING).quantize(CENTS)


def round_half_up_shillings(amount) -> Decimal:
    return to_decimal(amount).quantize(SHILLING, rounding=ROUND_HALF_UP).quantize(CENTS)


def to_mpesa_amount(amount) -> int:
    """Whole shillings for Daraja. Refuses amounts with cents instead of silently changing them."""
    value = to_decimal(amount)
    if value != value.quantize(SHILLING):
        raise ValueError(f"M-Pesa takes whole shillings; {value} has cents")
    return int(value)


def split_amount(total, rate) -> tuple[Decimal, Decimal]:
    """Split a whole-shilling `total` into (part, rest) with part = round_half_up(total * rate).

    `part + rest == total` always holds.
    """
    total = to_decimal(total)
    part = round_half_up_shillings(total * Decimal(str(rate)))
    return part, total - part


class MoneyField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)


class CurrencyField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("default", DEFAULT_CURRENCY)
        super().__init__(*args, **kwargs)
