"""The backtest's replay: recorded distributions split again under another split, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.allocation.backtest import check_days, parse_split, replay
from core.allocation.money import calculate_amounts
from core.allocation.split import BUCKETS, Split
from core.base.errors import ValidationFailed
from tests.unit.test_amounts import any_valid_split

# A ledger: each distribution recorded under the split of its day, as `distribute` records it.
ledgers = st.lists(st.tuples(st.integers(0, 10**15), any_valid_split()), max_size=40)


@given(ledgers, any_valid_split())
def test_the_replayed_parts_sum_exactly_to_the_recorded_totals(ledger, proposed):
    recorded = [(Decimal(cents).scaleb(-2), calculate_amounts(Decimal(cents).scaleb(-2), split))
                for cents, split in ledger]
    count, total, actual, replayed = replay(recorded, proposed)
    assert count == len(ledger)
    assert total == sum((t for t, _ in recorded), Decimal(0))
    assert sum(actual.values()) == total
    assert sum(replayed.values()) == total
    assert sum(replayed[b] - actual[b] for b in BUCKETS) == 0
    for bucket in BUCKETS:
        assert actual[bucket] == sum((getattr(a, bucket) for _, a in recorded), Decimal(0))
        assert replayed[bucket] >= 0 and replayed[bucket] == replayed[bucket].quantize(Decimal("0.01"))


def test_each_distribution_is_split_on_its_own_not_the_sum_at_once():
    # Three cents under 50/50: each 0.01 goes whole to one bucket (ties to the earlier one),
    # so the replay gives 0.03 / 0.00, where splitting 0.03 once would give 0.02 / 0.01.
    cent = Decimal("0.01")
    split = Split.of(50, 50, 0, 0)
    recorded = [(cent, calculate_amounts(cent, split))] * 3
    _, _, _, replayed = replay(recorded, split)
    assert (replayed["reinvestment"], replayed["dao"]) == (Decimal("0.03"), Decimal("0.00"))


def test_a_replay_of_nothing_is_zero_everywhere():
    assert replay([], Split.of(80, 15, 3, 2)) == (0, 0, dict.fromkeys(BUCKETS, 0),
                                                  dict.fromkeys(BUCKETS, 0))


@pytest.mark.parametrize(("values", "message"), [
    ((70, 20, 6, 5), "total: the four sum to 101, not exactly 100"),
    ((110, -10, 0, 0), "reinvestment: 110 is outside 0..100"),
    (("x", 20, 6, 4), "reinvestment: 'x' is not a number"),
    ((70.123, 20, 5.877, 4), "reinvestment: 70.123 has more than 2 decimal places"),
])
def test_a_split_that_cannot_be_paid_is_refused_naming_the_field(values, message):
    with pytest.raises(ValidationFailed) as refused:
        parse_split(*values)
    assert message in refused.value.problems


@pytest.mark.parametrize("days", [0, -1, 3651, True, "9"])
def test_the_days_are_a_whole_number_within_ten_years(days):
    with pytest.raises(ValidationFailed, match="days: .* is outside 1..3650"):
        check_days(days)
