"""The one formatting module (`core.base.formatting`, re-exported by `ui.format`): how money,
prices, percentages, points, counts, measured figures and missing values read."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base import formatting
from core.base.formatting import (MISSING, count, decimal_text, exact_percent, measured, money,
                                  number, percent, percent_digits, points, price, share, usd)


def test_money_keeps_every_digit_of_a_huge_amount_grouped_in_thousands():
    assert money(Decimal("1000000000031991.20")) == "1,000,000,000,031,991.20"
    assert money(Decimal("1E+15"), places=2) == "1,000,000,000,000,000.00"
    assert money(Decimal("123456789012345678.99")) == "123,456,789,012,345,678.99"


def test_money_pads_to_the_minor_unit_but_never_rounds():
    assert money(Decimal("5"), places=2) == "5.00"
    assert money(Decimal("0.125"), places=2) == "0.125"  # more digits than cents: all kept
    assert money(Decimal("1000.10")) == "1,000.10"


def test_negative_money_puts_the_sign_before_the_symbol():
    assert money(Decimal("-0.01")) == "-0.01"
    assert money(Decimal("-1234.50"), symbol="$") == "-$1,234.50"


def test_money_refuses_a_float_which_has_lost_its_cents_already():
    with pytest.raises(TypeError, match="never a float"):
        money(1000000000031991.2)  # type: ignore[arg-type]


@given(st.decimals(min_value=Decimal("-1e18"), max_value=Decimal("1e18"), places=2,
                   allow_nan=False, allow_infinity=False))
def test_money_reads_back_as_the_same_amount(amount):
    assert Decimal(money(amount).replace(",", "")) == amount


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT, Decimal("NaN")])
def test_every_formatter_writes_a_missing_value_as_a_dash(missing):
    for shown in (money, usd, price, number, count, measured, percent, share, exact_percent,
                  percent_digits, points):
        assert shown(missing) == MISSING == "—"


@pytest.mark.parametrize("value, shown", [
    (551234.5, "$551,234.50"), (1e15, "$1,000,000,000,000,000.00"), (-3, "-$3.00"),
    (Decimal("0.004"), "$0.00"), (0.005, "$0.01")])  # half up, on the decimal the float reads as
def test_usd_figures_have_a_dollar_sign_and_cents(value, shown):
    assert usd(value) == shown


def test_usd_can_round_to_whole_dollars_and_carry_a_sign():
    assert usd(1234.56, places=0) == "$1,235"
    assert usd(12.5, places=0, signed=True) == "+$13"
    assert usd(-12.5, places=0, signed=True) == "-$13"
    assert usd(0.0, signed=True) == "$0.00"  # zero has no sign


@pytest.mark.parametrize("value, shown", [
    (0.00001234, "$0.00001234"), (0.5, "$0.5000"), (12.3456, "$12.35"), (1234.5, "$1,234.50"),
    (0, "$0.00"), (-0.0012345, "-$0.001235")])
def test_a_price_keeps_four_significant_digits_below_a_dollar(value, shown):
    assert price(value) == shown


@pytest.mark.parametrize("value, shown", [
    (551234.5, "551,235"), (5.512e5, "551,200"), (12.345, "12.35"), (0.0001234, "0.0001234"),
    (3.0, "3"), (1e15, "1,000,000,000,000,000"), (-42.25, "-42.25")])
def test_a_measured_figure_never_has_an_exponent(value, shown):
    assert measured(value) == shown
    assert "e" not in measured(value)


def test_percentages_and_points():
    assert percent(128.04, signed=True) == "+128.0%"
    assert percent(-4.6, signed=True) == "-4.6%"
    assert percent(12.345) == "12.3%"
    assert percent(-0.04, signed=True) == "0.0%"  # rounds to zero: no sign
    assert share(0.95) == "95%"
    assert share(Decimal("0.8125"), places=1) == "81.3%"
    assert exact_percent(Decimal("70.00")) == "70%"
    assert exact_percent(Decimal("70.50")) == "70.5%"
    assert points(Decimal("5")) == "+5 pts"
    assert points(Decimal("-2.50")) == "-2.5 pts"
    assert points(Decimal("0")) == "±0 pts"


def test_counts_are_grouped_and_numpy_integers_stay_exact():
    assert count(5000) == "5,000"
    assert count(np.int64(2**62)) == f"{2**62:,}"
    assert count(-12, signed=True) == "-12"
    assert count(12, signed=True) == "+12"
    assert number(1e15, 2) == "1,000,000,000,000,000.00"
    assert number(-0.004, 2) == "0.00"


def test_a_decimal_is_written_with_every_digit_and_no_exponent():
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("-0.10")) == "-0.10"
    assert formatting.exact(0.1) == Decimal("0.1")


def test_the_pages_use_the_same_functions():
    from ui import format as ui_format

    assert ui_format.money is money and ui_format.usd is usd and ui_format.percent is percent
    assert ui_format.pct(Decimal("70.5")) == "70.5%"
    assert ui_format.signed_points(Decimal("-2")) == "-2 pts"


@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False))
def test_a_split_percentage_reads_alike_in_a_label_a_message_and_on_a_page(value):
    from core.allocation.split import format_pct

    assert format_pct(value) == percent_digits(value) == exact_percent(value).removesuffix("%")
    assert "E" not in format_pct(value) and Decimal(format_pct(value)) == value
    assert format_pct(Decimal("80.00")) == "80" and format_pct(Decimal("2.50")) == "2.5"
