from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookings.pricing import price_breakdown
from dumuwaks.core.money import ceil_shillings, split_amount, to_decimal, to_mpesa_amount


def test_ceil_shillings_rounds_up_owed_amounts():
    assert ceil_shillings("100.01") == Decimal("101.00")
    assert ceil_shillings("100.00") == Decimal("100.00")


def test_split_rounds_half_up_and_rest_takes_the_remainder():
    assert split_amount(Decimal("1001"), Decimal("0.15")) == (Decimal("150.00"), Decimal("851.00"))
    assert split_amount(Decimal("1010"), Decimal("0.15")) == (
        Decimal("152.00"),
        Decimal("858.00"),
    )  # 151.5 → 152


def test_mpesa_amount_refuses_cents():
    assert to_mpesa_amount(Decimal("250.00")) == 250
    with pytest.raises(ValueError):
        to_mpesa_amount(Decimal("250.50"))


def test_float_input_goes_through_its_repr():
    assert to_decimal(0.1) == Decimal("0.10")


def test_price_breakdown_of_a_typical_job():
    breakdown = price_breakdown(Decimal("2999"))
    assert breakdown.deposit == Decimal("600.00")  # 599.8 → 600
    assert breakdown.balance == Decimal("2399.00")
    assert breakdown.platform_fee == Decimal("450.00")  # 449.85 → 450
    assert breakdown.technician_share == Decimal("2549.00")


@given(st.decimals(min_value=1, max_value=250_000, places=2))
def test_price_parts_always_add_up_to_the_whole(price):
    breakdown = price_breakdown(price)
    assert breakdown.price == breakdown.price.to_integral_value()
    assert breakdown.deposit + breakdown.balance == breakdown.price
    assert breakdown.platform_fee + breakdown.technician_share == breakdown.price
    for part in (
        breakdown.deposit,
        breakdown.balance,
        breakdown.platform_fee,
        breakdown.technician_share,
    ):
        assert part == part.to_integral_value() and part >= 0
