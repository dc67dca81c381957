"""clamp_to_policy: any target becomes a split the policy allows from the live one."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.allocation.policy import Policy
from core.allocation.split import BUCKETS, Split
from core.allocation.validation import ProposalInput, validate_proposal
from core.rebalancer.suggestion import clamp_to_policy

D = Decimal
POLICY = Policy()


def split(*values: float | str) -> Split:
    return Split(*(D(str(v)) for v in values))


def problems(result: Split, live: Split, policy: Policy) -> list[str]:
    """Everything that would stop the split: validation errors and step-limit breaches."""
    check = validate_proposal(ProposalInput(*(getattr(result, b) for b in BUCKETS),
                                            reasoning="test", confidence=1, proposed_by="system"),
                              policy=policy, live=live)
    step = [w for w in check.warnings if "step limit" in w]
    return check.errors + step


# --- strategies --------------------------------------------------------------------------------

@st.composite
def whole_live_splits(draw: st.DrawFn, policy: Policy = POLICY) -> Split:
    """A whole-percentage split inside the bounds of `policy`."""
    values = {}
    for bucket in ("dao", "lucky", "creator"):
        low, high = policy.bounds[bucket]
        values[bucket] = D(draw(st.integers(int(low), int(high))))
    values["reinvestment"] = 100 - sum(values.values())
    low, high = policy.bounds["reinvestment"]
    assume(low <= values["reinvestment"] <= high)
    return Split(**values)


@st.composite
def policies_around_a_live_split(draw: st.DrawFn) -> tuple[Policy, Split]:
    """A live split in hundredths, and a policy whose bounds contain it and whose step varies."""
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=3, max_size=3)))
    hundredths = [a - b for a, b in zip([*cuts, 10_000], [0, *cuts])]
    live = Split(*(D(h) / 100 for h in hundredths))
    bounds = {}
    for bucket, value in live.items():
        below = D(draw(st.integers(0, 3000))) / 100
        above = D(draw(st.integers(0, 3000))) / 100
        bounds[bucket] = (max(D(0), value - below), min(D(100), value + above))
    step = draw(st.sampled_from([D("0.5"), D(1), D("2.5"), D(5), D(15), D(40), D(100)]))
    return Policy(bounds=bounds, max_step=step, baseline=live), live


targets = st.builds(
    Split, *(st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False,
                         allow_infinity=False) for _ in BUCKETS))


# --- properties --------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(live=whole_live_splits(), target=targets)
def test_any_target_becomes_a_valid_whole_split_within_the_step_of_the_live_one(live, target):
    result, _notes = clamp_to_policy(target, live, POLICY)
    assert result.total == 100
    assert all(v == v.to_integral_value() for _, v in result.items())
    assert problems(result, live, POLICY) == []


@settings(max_examples=300, deadline=None)
@given(case=policies_around_a_live_split(), target=targets)
def test_any_policy_and_live_split_inside_its_bounds_gives_a_valid_split(case, target):
    policy, live = case
    result, _notes = clamp_to_policy(target, live, policy)
    assert result.total == 100
    assert problems(result, live, policy) == []
    if all(v == v.to_integral_value() for _, v in live.items()):
        assert all(v == v.to_integral_value() for _, v in result.items())


@settings(max_examples=200, deadline=None)
@given(live=whole_live_splits(), target=targets)
def test_clamping_is_deterministic_and_a_valid_result_is_its_own_clamp(live, target):
    first, notes = clamp_to_policy(target, live, POLICY)
    assert clamp_to_policy(target, live, POLICY) == (first, notes)
    assert clamp_to_policy(first, live, POLICY) == (first, [])


@settings(max_examples=200, deadline=None)
@given(live=whole_live_splits(), goal=whole_live_splits())
def test_every_bucket_heads_toward_a_valid_target_and_never_past_it(live, goal):
    result, _notes = clamp_to_policy(goal, live, POLICY)
    for bucket in BUCKETS:
        low, high = sorted((getattr(live, bucket), getattr(goal, bucket)))
        assert low <= getattr(result, bucket) <= high


def _brute_force_nearest(target: Split, policy: Policy) -> Decimal:
    ranges = [range(int(policy.bounds[b][0]), int(policy.bounds[b][1]) + 1) for b in BUCKETS[1:]]
    best = None
    for dao, lucky, creator in itertools.product(*ranges):
        reinvestment = 100 - dao - lucky - creator
        low, high = policy.bounds["reinvestment"]
        if not low <= reinvestment <= high:
            continue
        distance = sum((D(v) - getattr(target, b)) ** 2
                       for b, v in zip(BUCKETS, (reinvestment, dao, lucky, creator)))
        best = distance if best is None or distance < best else best
    assert best is not None
    return best


@settings(max_examples=25, deadline=None)
@given(target=targets)
def test_without_a_step_limit_in_the_way_the_result_is_the_nearest_valid_split(target):
    free = replace(POLICY, max_step=D(100))
    result, _notes = clamp_to_policy(target, split(80, 15, 3, 2), free)
    distance = sum((v - getattr(target, b)) ** 2 for b, v in result.items())
    assert distance == _brute_force_nearest(target, free)


# --- examples ----------------------------------------------------------------------------------

def test_a_valid_target_within_the_step_is_returned_unchanged_with_no_notes():
    assert clamp_to_policy(split(74, 15, 6, 5), split(80, 15, 3, 2), POLICY) == (
        split(74, 15, 6, 5), [])


def test_a_target_beyond_the_step_limit_goes_part_of_the_way_in_every_buckets_direction():
    result, notes = clamp_to_policy(split(85, 13, 1, 1), split(65, 15, 12, 8), POLICY)
    assert result == split(80, 13, 4, 3)
    assert len(notes) == 1 and "step limit" in notes[0] and "part of the way" in notes[0]


def test_repeated_clamps_reach_a_distant_target_in_several_approvals():
    live, goal, runs = split(80, 15, 3, 2), split(45, 30, 15, 10), 0
    while live != goal:
        live, _ = clamp_to_policy(goal, live, POLICY)
        runs += 1
    assert runs == 3  # 35 points of reinvestment at 15 per step


def test_out_of_bounds_values_are_clamped_and_the_notes_say_which_and_why():
    result, notes = clamp_to_policy(split(95, 2, 2, 1), split(80, 15, 3, 2), POLICY)
    assert result == split(90, 5, 3, 2)
    assert "reinvestment: 95 is above the maximum 90, lowered to 90" in notes
    assert "dao: 2 is below the minimum 5, raised to 5" in notes


def test_fractional_and_badly_summed_targets_become_whole_percentages_summing_to_100():
    result, notes = clamp_to_policy(split("70.4", "15.3", "9.6", "5.2"), split(80, 15, 3, 2), POLICY)
    assert result.total == 100 and result == split(70, 15, 10, 5)
    assert any(n.startswith("total: the target's four summed to 100.5") for n in notes)
    assert "lucky: 9.6 rounded to a whole percentage" in notes


def test_a_live_split_outside_tightened_bounds_is_brought_back_inside_them():
    tight = replace(POLICY, bounds={**POLICY.bounds, "lucky": (D(1), D(5))}, max_step=D(2))
    result, notes = clamp_to_policy(split(65, 15, 12, 8), split(65, 15, 12, 8), tight)
    assert validate_proposal(ProposalInput(*(getattr(result, b) for b in BUCKETS), "x", 1,
                                           "system"), policy=tight).errors == []
    assert result.lucky == 5  # 12 -> 5: seven points, the least that gets back inside
    assert any("outside the policy bounds" in n and "moves up to 7 points" in n for n in notes)


def test_a_non_finite_target_is_refused():
    with pytest.raises(ValueError, match="not a finite number"):
        clamp_to_policy(Split(D("NaN"), D(15), D(3), D(2)), split(80, 15, 3, 2), POLICY)
