"""calculate_amounts: a total split into the four buckets, exact to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.allocation.money import Amounts, calculate_amounts, parse_total
from core.allocation.split import BUCKETS, DEFAULT_SPLIT, Split
from core.base.errors import ValidationFailed

CENT = Decimal("0.01")
THIRDS = Split.of("33.33", "33.33", "33.33", "0.01")


def parts(amounts: Amounts) -> list[Decimal]:
    return [getattr(amounts, b) for b in BUCKETS]


@st.composite
def any_valid_split(draw) -> Split:
    """Four non-negative percentages with at most 2 places summing to exactly 100."""
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=3, max_size=3)))
    bounds = [0, *cuts, 10_000]
    return Split(*(Decimal(bounds[i + 1] - bounds[i]).scaleb(-2) for i in range(4)))


totals_in_cents = st.one_of(st.integers(0, 10**6), st.integers(0, 10**17))


@given(totals_in_cents, st.one_of(any_valid_split(), st.just(THIRDS), st.just(DEFAULT_SPLIT)))
@example(10**17, THIRDS)  # 10^15 exactly
@example(1, THIRDS)
@example(100_003, DEFAULT_SPLIT)
def test_the_parts_always_sum_exactly_to_the_total_and_none_is_negative(total_cents, split):
    total = Decimal(total_cents).scaleb(-2)
    amounts = calculate_amounts(total, split)
    assert amounts.total == total
    assert sum(parts(amounts)) == total
    for value in parts(amounts):
        assert value >= 0
        assert value == value.quantize(CENT)  # whole cents
        assert not value.is_signed()  # never "-0.00"


@given(totals_in_cents, any_valid_split())
def test_each_part_is_within_one_cent_of_its_exact_share(total_cents, split):
    total = Decimal(total_cents).scaleb(-2)
    amounts = calculate_amounts(total, split)
    for bucket in BUCKETS:
        exact = total * getattr(split, bucket) / 100
        assert abs(getattr(amounts, bucket) - exact) < CENT


@given(totals_in_cents)
def test_a_bucket_at_zero_percent_gets_nothing(total_cents):
    amounts = calculate_amounts(Decimal(total_cents).scaleb(-2), Split.of(90, 10, 0, 0))
    assert amounts.lucky == 0 and amounts.creator == 0


@pytest.mark.parametrize("total, split, expected", [
    ("1000.03", DEFAULT_SPLIT, ("800.02", "150.01", "30.00", "20.00")),
    ("0.01", DEFAULT_SPLIT, ("0.01", "0.00", "0.00", "0.00")),
    ("333.33", DEFAULT_SPLIT, ("266.66", "50.00", "10.00", "6.67")),
    (10**12, DEFAULT_SPLIT, ("800000000000.00", "150000000000.00", "30000000000.00",
                             "20000000000.00")),
    ("1000.03", THIRDS, ("333.31", "333.31", "333.31", "0.10")),
    ("0.01", THIRDS, ("0.01", "0.00", "0.00", "0.00")),
    ("0.02", THIRDS, ("0.01", "0.01", "0.00", "0.00")),
    (10**15, THIRDS, ("333300000000000.00", "333300000000000.00", "333300000000000.00",
                      "100000000000.00")),
    # Three units left over: the 0.01% bucket has the largest remainder, then the earlier ties.
    ("999999999999999.99", THIRDS, ("333300000000000.00", "333300000000000.00",
                                    "333299999999999.99", "100000000000.00")),
    ("0", DEFAULT_SPLIT, ("0.00", "0.00", "0.00", "0.00")),
    ("100", Split.of(70, 18, 8, 4), ("70.00", "18.00", "8.00", "4.00")),
])
def test_named_cases_come_out_to_the_cent(total, split, expected):
    amounts = calculate_amounts(total, split)
    assert amounts.as_json() == dict(zip(BUCKETS, expected))
    assert amounts.total == Decimal(str(total))


def test_leftover_cents_go_to_the_largest_remainders_and_ties_to_the_earlier_bucket():
    # 0.03 over 33.33/33.33/33.33/0.01: the three equal remainders each take one cent.
    assert calculate_amounts("0.03", THIRDS).as_json() == {
        "reinvestment": "0.01", "dao": "0.01", "lucky": "0.01", "creator": "0.00"}
    # 0.01 over 25/25/25/25: a four-way tie, the earliest bucket wins.
    assert calculate_amounts("0.01", Split.of(25, 25, 25, 25)).reinvestment == CENT


@pytest.mark.parametrize("total, words", [
    ("-0.01", "is negative"),
    (-1, "is negative"),
    ("nan", "is not a finite number"),
    (float("nan"), "is not a finite number"),
    (Decimal("sNaN"), "is not a finite number"),
    ("inf", "is not a finite number"),
    (float("-inf"), "is not a finite number"),
    ("1000.001", "has more than 2 decimal places"),
    ("0.005", "has more than 2 decimal places"),
    ("1e-999999999", "has more than 2 decimal places"),
    ("1e999999999", "too large"),
    (10**18, "too large"),
    ("a thousand", "is not a number"),
    ("", "is not a number"),
    (None, "is not a number"),
    (True, "is not a number"),
])
def test_a_bad_total_is_refused_naming_the_profit(total, words):
    with pytest.raises(ValidationFailed) as refused:
        calculate_amounts(total, DEFAULT_SPLIT)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith("profit: ") and words in refused.value.problems[0]


@given(st.integers(-10**15, 10**15), st.integers(3, 30), st.integers(1, 9))
def test_any_total_finer_than_a_cent_is_refused(whole, places, last_digit):
    total = Decimal(f"{whole}.{'0' * (places - 1)}{last_digit}")  # exact: no context rounding
    with pytest.raises(ValidationFailed, match="more than 2 decimal places"):
        calculate_amounts(total, DEFAULT_SPLIT)


@given(st.integers(1, 10**17))
def test_any_negative_total_is_refused(cents):
    with pytest.raises(ValidationFailed, match="is negative"):
        calculate_amounts(Decimal(-cents).scaleb(-2), DEFAULT_SPLIT)


@pytest.mark.parametrize("total", ["-0", "-0.00", Decimal("-0"), -0.0])
def test_negative_zero_is_zero_not_minus_zero(total):
    amounts = calculate_amounts(total, DEFAULT_SPLIT)
    assert amounts.as_json() == {b: "0.00" for b in BUCKETS}
    assert str(parse_total(total)) == "0.00"


@pytest.mark.parametrize("total, stored", [("1000", "1000.00"), ("1000.5", "1000.50"),
                                           ("1e3", "1000.00"), (" 12.30 ", "12.30"), (7, "7.00"),
                                           (0.1, "0.10")])
def test_totals_are_read_exactly_and_kept_to_the_cent(total, stored):
    assert str(parse_total(total)) == stored


def test_a_split_that_does_not_sum_to_100_is_refused():
    with pytest.raises(ValidationFailed, match="not exactly 100"):
        calculate_amounts("100", Split.of(80, 15, 3, 3))


def test_a_coarser_minor_unit_rounds_to_whole_units():
    amounts = calculate_amounts("1001", DEFAULT_SPLIT, minor_unit=Decimal(1))
    assert amounts.as_json() == {"reinvestment": "801", "dao": "150", "lucky": "30", "creator": "20"}
    with pytest.raises(ValidationFailed, match="more than 0 decimal places"):
        calculate_amounts("10.5", DEFAULT_SPLIT, minor_unit=Decimal(1))


@pytest.mark.parametrize("typed, expected", [("1,000.50", "1000.50"), ("12,345,678.9", "12345678.90"),
                                             (" 1,000 ", "1000.00"), ("999.5", "999.50")])
def test_amounts_accept_the_apps_own_thousands_separators(typed, expected):
    assert parse_total(typed) == Decimal(expected)


@pytest.mark.parametrize("typed", ["1,00", "1.000,50", "1,0000", "1,000,0", ",100", "1,,000", "1, 000"])
def test_amounts_refuse_a_comma_that_could_mean_two_different_amounts(typed):
    with pytest.raises(ValidationFailed, match="profit: .* is ambiguous"):
        parse_total(typed)
