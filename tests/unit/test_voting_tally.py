"""The tally: each address's latest vote, Snapshot's delegation, exact sums, the quorum as a
fraction of the snapshot's total (every choice counts towards it), For > Against to pass."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base.errors import ValidationFailed
from core.voting.addresses import parse_address
from core.voting.snapshot_file import snapshot_from_text, to_units
from core.voting.tally import (DEFAULT_QUORUM_PCT, Standing, latest_votes, standings, tally,
                               tally_snapshot)

A, B, C, D = (parse_address("0x" + c * 40) for c in "abcd")


@dataclass(frozen=True)
class V:
    address: str
    support: str
    timestamp: int = 100


def units(tokens) -> int:
    return to_units(Decimal(tokens))  # exactly: Decimal(tokens) * UNIT would round past 28 digits


def test_the_policys_default_quorum_is_four_percent():
    assert DEFAULT_QUORUM_PCT == Decimal(4)


def test_sums_are_exact_decimal_strings_and_the_vote_passes_with_more_for_than_against():
    result = tally([V(A, "for"), V(B, "against"), V(C, "abstain")],
                   {A: units("0.1"), B: units("0.000000000000000001"), C: units("2")},
                   total_units=units(50), quorum_pct=Decimal(4))
    assert result.as_json() == {"for": "0.1", "against": "0.000000000000000001", "abstain": "2",
                                "quorum": "2", "quorum_met": True, "passed": True, "voters": 3}


def test_a_tie_between_for_and_against_fails_even_with_the_quorum_met():
    result = tally([V(A, "for"), V(B, "against")], {A: units(5), B: units(5)}, units(100))
    assert (result.quorum_met, result.passed) == (True, False)


def test_a_quorum_met_exactly_counts_as_met():
    # 4% of 250 is 10: 6 for + 3 against + 1 abstain is exactly 10.
    result = tally([V(A, "for"), V(B, "against"), V(C, "abstain")],
                   {A: units(6), B: units(3), C: units(1)}, units(250))
    assert result.quorum == Decimal(10)
    assert (result.quorum_met, result.passed) == (True, True)


def test_one_base_unit_short_of_the_quorum_is_not_met():
    result = tally([V(A, "for")], {A: units(10) - 1}, units(250))
    assert (result.quorum_met, result.passed) == (False, False)


def test_against_and_abstain_count_towards_the_quorum_but_not_for_passing():
    result = tally([V(A, "for"), V(B, "abstain")], {A: units(1), B: units(9)}, units(250))
    assert (result.quorum_met, result.passed) == (True, True)
    result = tally([V(A, "against"), V(B, "abstain")], {A: units(1), B: units(9)}, units(250))
    assert (result.quorum_met, result.passed) == (True, False)


def test_a_fractional_quorum_is_exact_beyond_decimals_default_28_digits():
    total = units("123456789012.345678901234567891")  # 30 significant digits
    result = tally([], {}, total, Decimal("2.5"))
    assert result.quorum == Decimal("3086419725.308641972530864197275")
    assert result.as_json()["quorum"] == "3086419725.308641972530864197275"


def test_a_zero_quorum_is_met_by_nobody_voting_but_nothing_passes_without_for():
    result = tally([], {}, units(10), Decimal(0))
    assert (result.quorum_met, result.passed, result.voters) == (True, False, 0)


@pytest.mark.parametrize(("pct", "message"), [
    ("100.01", "vote_quorum_pct: 100.01 is outside 0..100 (percent of the snapshot's total)"),
    ("-1", "vote_quorum_pct: -1 is outside 0..100 (percent of the snapshot's total)"),
    ("2.555", "vote_quorum_pct: 2.555 has more than 2 decimal places"),
])
def test_a_quorum_percentage_out_of_range_is_refused(pct, message):
    with pytest.raises(ValidationFailed) as refused:
        tally([], {}, units(1), pct)
    assert refused.value.problems == [message]


def test_a_later_vote_by_the_same_address_replaces_the_earlier_one_whatever_the_order():
    votes = [V(A, "against", 300), V(A, "for", 100), V(A, "abstain", 200)]
    assert latest_votes(votes)[A].support == "against"
    result = tally(votes, {A: units(1)}, units(10))
    assert (result.for_, result.against, result.voters) == (0, 1, 1)


def test_the_same_vote_recorded_twice_counts_once():
    result = tally([V(A, "for"), V(A, "for")], {A: units(3)}, units(10))
    assert (result.for_, result.voters) == (3, 1)


def test_two_different_votes_at_the_same_timestamp_are_refused_as_unordered():
    with pytest.raises(ValidationFailed) as refused:
        latest_votes([V(A, "for", 5), V(A, "against", 5)])
    assert refused.value.problems == [
        f"votes: {A} voted for and against at the same timestamp 5; which came later cannot be told"]


def test_votes_timestamped_outside_the_window_do_not_count():
    votes = [V(A, "for", 99), V(B, "for", 100), V(C, "against", 200), V(D, "against", 201),
             V(B, "against", 250)]  # B's change of mind came after closing
    result = tally(votes, {A: 1, B: 2, C: 4, D: 8}, 100, window=(100, 200))
    assert (result.for_units, result.against_units, result.voters) == (2, 4, 2)


def test_each_vote_s_standing_names_the_next_vote_that_replaced_it_whatever_the_order():
    votes = [V(A, "against", 300), V(B, "for", 150), V(A, "for", 100), V(A, "abstain", 200)]
    assert standings(votes) == [Standing(True, None), Standing(True, None),
                                Standing(False, 200), Standing(False, 300)]


def test_a_vote_outside_the_window_does_not_count_and_replaces_nothing():
    votes = [V(B, "for", 100), V(B, "against", 250)]  # B's change of mind came after closing
    assert standings(votes, window=(100, 200)) == [Standing(True, None), Standing(False, None)]


def test_a_voter_missing_from_the_weights_counts_zero():
    result = tally([V(A, "for"), V(B, "against")], {A: units(1)}, units(10))
    assert (result.for_, result.against, result.voters) == (1, 0, 2)


SNAPSHOT = snapshot_from_text(f"address,balance,delegate\n{A},60,\n{B},30,{A}\n{C},10,{A}\n")


def test_a_delegates_vote_carries_the_weight_of_delegators_who_stay_silent():
    result = tally_snapshot([V(A, "for")], SNAPSHOT, Decimal(50))
    assert result.as_json() == {"for": "100", "against": "0", "abstain": "0", "quorum": "50",
                                "quorum_met": True, "passed": True, "voters": 1}


def test_a_delegator_who_votes_against_their_delegate_takes_their_weight_back():
    result = tally_snapshot([V(A, "for"), V(B, "against")], SNAPSHOT, Decimal(50))
    assert (result.for_, result.against, result.passed) == (70, 30, True)
    result = tally_snapshot([V(A, "for"), V(B, "against", 1), V(C, "against")], SNAPSHOT)
    assert (result.for_, result.against) == (60, 40)


def test_delegators_who_vote_without_their_delegate_count_only_themselves():
    result = tally_snapshot([V(B, "for"), V(C, "against")], SNAPSHOT, Decimal(50))
    assert (result.for_, result.against, result.quorum_met) == (30, 10, False)


weights = st.integers(min_value=0, max_value=10 ** 30)


@given(st.lists(st.tuples(st.sampled_from([A, B, C, D]), st.sampled_from(["for", "against", "abstain"]),
                          st.integers(0, 1000)), max_size=30, unique_by=lambda v: (v[0], v[2])),
       st.fixed_dictionaries({a: weights for a in (A, B, C, D)}))
def test_the_sums_are_each_voters_weight_under_their_latest_choice(raw, weight):
    votes = [V(*v) for v in raw]
    result = tally(votes, weight, sum(weight.values()) or 1)
    expected = {"for": 0, "against": 0, "abstain": 0}
    for address in {v.address for v in votes}:
        expected[max((v for v in votes if v.address == address), key=lambda v: v.timestamp).support] \
            += weight[address]
    assert (result.for_units, result.against_units, result.abstain_units) == (
        expected["for"], expected["against"], expected["abstain"])
    assert result.quorum_met == ((sum(expected.values()) * 100) >= (sum(weight.values()) or 1) * 4)
