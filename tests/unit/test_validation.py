"""Validation of a proposed split: the seed's rules, as errors (blocking) and warnings (not)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.allocation.policy import Policy, with_setting
from core.allocation.split import BUCKETS, Split
from core.allocation.validation import ProposalInput, validate_proposal

POLICY = Policy()
LIVE = Split.of(80, 15, 3, 2)


def proposal(reinvestment=70, dao=18, lucky=8, creator=4, **fields) -> ProposalInput:
    fields.setdefault("reasoning", "Strong community growth")
    return ProposalInput(reinvestment, dao, lucky, creator, **fields)


def errors_of(p: ProposalInput, policy: Policy = POLICY) -> list[str]:
    return validate_proposal(p, policy=policy).errors


def test_the_seed_example_split_is_valid_without_warnings():
    result = validate_proposal(proposal(), policy=POLICY, live=LIVE)
    assert result.valid
    assert result.errors == [] and result.warnings == []
    assert result.split == Split.of(70, 18, 8, 4)
    assert result.confidence == Decimal(1)


@pytest.mark.parametrize("split, total", [((80, 15, 3, 3), "101"), ((70, 15, 8, 4), "97"),
                                          (("70.01", 18, 8, 4), "100.01")])
def test_a_split_not_summing_to_100_is_refused_naming_the_total(split, total):
    errors = errors_of(proposal(*split))
    assert errors == [f"total: the four sum to {total}, not exactly 100"]


@pytest.mark.parametrize("bucket, value, words", [
    ("reinvestment", "39.99", "below the minimum 40"),
    ("reinvestment", "90.01", "above the maximum 90"),
    ("dao", "4.99", "below the minimum 5"),
    ("dao", "30.01", "above the maximum 30"),
    ("lucky", "0.99", "below the minimum 1"),
    ("lucky", "15.01", "above the maximum 15"),
    ("creator", "0.99", "below the minimum 1"),
    ("creator", "10.01", "above the maximum 10"),
])
def test_each_bound_of_the_default_policy_is_enforced_and_named(bucket, value, words):
    values = {"reinvestment": 70, "dao": 18, "lucky": 8, "creator": 4}
    values[bucket] = value
    errors = errors_of(proposal(**values))
    assert f"{bucket}: {value} is {words}" in errors


@pytest.mark.parametrize("split", [(90, 5, 1, 4), (45, 30, 15, 10), (88, 5, 6, 1)])
def test_values_exactly_on_a_bound_are_allowed(split):
    assert errors_of(proposal(*split)) == []


@pytest.mark.parametrize("confidence", ["-0.01", "1.01", -1, 2, "1.0001"])
def test_confidence_outside_0_to_1_is_refused(confidence):
    errors = errors_of(proposal(confidence=confidence))
    assert len(errors) == 1
    assert errors[0].startswith("confidence: ") and "outside 0..1" in errors[0]


@pytest.mark.parametrize("confidence", [0, "0", 1, "1.0", "0.5", 0.85])
def test_confidence_at_and_inside_the_ends_is_accepted(confidence):
    assert errors_of(proposal(confidence=confidence)) == []


@pytest.mark.parametrize("reasoning", ["", "   ", "\n\t", None, 42])
def test_empty_or_missing_reasoning_is_refused(reasoning):
    assert errors_of(proposal(reasoning=reasoning)) == ["reasoning: must not be empty"]


@pytest.mark.parametrize("proposed_by", ["governor", "", None, "AI", "bob"])
def test_an_unknown_proposer_is_refused(proposed_by):
    errors = errors_of(proposal(proposed_by=proposed_by))
    assert len(errors) == 1
    assert errors[0].startswith("proposed_by: ") and "ai, manual, system" in errors[0]


@pytest.mark.parametrize("proposed_by", ["ai", "manual", "system"])
def test_each_known_proposer_is_accepted(proposed_by):
    assert errors_of(proposal(proposed_by=proposed_by)) == []


@pytest.mark.parametrize("bucket", BUCKETS)
@pytest.mark.parametrize("bad, words", [
    (float("nan"), "is not a finite number"),
    ("NaN", "is not a finite number"),
    (Decimal("NaN"), "is not a finite number"),
    (float("inf"), "is not a finite number"),
    ("-Infinity", "is not a finite number"),
    ("seventy", "is not a number"),
    ("", "is not a number"),
    (None, "is not a number"),
    (True, "is not a number"),
    ("70.001", "has more than 2 decimal places"),
    ("4.125", "has more than 2 decimal places"),
    ("1e-999999999", "has more than 2 decimal places"),
    ("1e999999999", "is too large"),
])
def test_a_percentage_that_is_not_an_exact_finite_number_is_refused_naming_the_field(bucket, bad, words):
    values = {"reinvestment": 70, "dao": 18, "lucky": 8, "creator": 4}
    values[bucket] = bad
    errors = errors_of(proposal(**values))
    assert errors[0].startswith(f"{bucket}: ") and words in errors[0]
    # A number that is only too precise is checked against its bounds too (all rules at once).
    assert all(e.startswith(f"{bucket}: ") for e in errors), errors
    assert len(errors) == 1 or "decimal places" in errors[0], errors


def test_a_long_over_precise_value_is_refused_even_beyond_28_digits():
    # 80.000...0001 rounds to 80 in Decimal's default 28-digit context; it must still be refused.
    errors = errors_of(proposal("70.00000000000000000000000000001", 18, 8, 4))
    assert errors == ["reinvestment: 70.00000000000000000000000000001 has more than 2 decimal places"]


@pytest.mark.parametrize("value", ["70.00", "70.000", "7e1", " 70 ", 70.0, Decimal("70.00")])
def test_trailing_zeros_exponents_and_spaces_are_exact_enough(value):
    result = validate_proposal(proposal(reinvestment=value), policy=POLICY)
    assert result.errors == []
    assert result.split.reinvestment == 70


@pytest.mark.parametrize("bad", [float("nan"), "inf", "high", None])
def test_confidence_that_is_not_a_finite_number_is_refused(bad):
    errors = errors_of(proposal(confidence=bad))
    assert len(errors) == 1 and errors[0].startswith("confidence: ")


def test_every_problem_is_reported_at_once():
    errors = errors_of(proposal(95, 3, 1, 1, reasoning=" ", confidence=7, proposed_by="x"))
    fields = [e.split(":")[0] for e in errors]
    assert fields == ["reinvestment", "dao", "confidence", "reasoning", "proposed_by"]


def test_confidence_is_rounded_to_the_four_places_the_log_stores():
    assert validate_proposal(proposal(confidence="0.12345"), policy=POLICY).confidence == Decimal("0.1235")
    assert validate_proposal(proposal(confidence="1e-30"), policy=POLICY).confidence == 0


# --- warnings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("confidence", ["0.49", 0.3, "0"])
def test_low_confidence_warns_but_does_not_block(confidence):
    result = validate_proposal(proposal(confidence=confidence), policy=POLICY)
    assert result.valid
    [warning] = result.warnings
    assert warning.startswith("confidence: ") and "consider gathering more data" in warning


def test_confidence_of_exactly_one_half_does_not_warn():
    assert validate_proposal(proposal(confidence="0.5"), policy=POLICY).warnings == []


def widened(**bounds: str) -> Policy:
    policy = POLICY
    for key, value in bounds.items():
        policy = with_setting(policy, key, value)
    return policy


@pytest.mark.parametrize("split, policy_keys, bucket, note", [
    ((35, 30, 15, 20), {"reinvestment_min": "30", "creator_max": "20"}, "reinvestment",
     "35 is under 40, may reduce system sustainability"),
    ((92, 5, 1, 2), {"reinvestment_max": "95"}, "reinvestment",
     "92 is over 90, may reduce community incentives"),
    ((88, 4, 4, 4), {"dao_min": "0"}, "dao", "4 is under 5, may limit governance"),
    ((80, 15, "0.5", "4.5"), {"lucky_min": "0"}, "lucky", "0.5 is under 1, may reduce user engagement"),
    ((80, 15, 5, 0), {"creator_min": "0"}, "creator", "0 is under 1, may reduce builder activity"),
])
def test_sustainability_thresholds_warn_when_an_admin_widens_the_bounds(split, policy_keys, bucket, note):
    policy = widened(**policy_keys)
    blocked = validate_proposal(proposal(*split), policy=POLICY)
    assert any(e.startswith(f"{bucket}: ") for e in blocked.errors)  # the default policy blocks it
    result = validate_proposal(proposal(*split), policy=policy)
    assert result.valid, result.errors
    assert result.warnings == [f"{bucket}: {note}"]


def test_a_bucket_moving_more_than_15_points_from_the_live_split_warns():
    result = validate_proposal(proposal(64, 20, 10, 6), policy=POLICY, live=LIVE)
    assert result.valid and result.tier == "major"
    assert result.warnings == [
        "reinvestment: moves 16 points from the live split (80 -> 64), more than the step limit 15",
        "tier: a major change (a bucket moves more than max_step 15 points): it needs 2 approvals "
        "(approvals_required_major) and is never auto-approved"]


def test_a_move_of_exactly_15_points_does_not_warn():
    result = validate_proposal(proposal(65, 20, 10, 5), policy=POLICY, live=LIVE)
    assert result.valid and result.warnings == [] and result.tier == "minor"


def test_without_a_live_split_no_step_warning_is_given():
    assert validate_proposal(proposal(64, 20, 10, 6), policy=POLICY).warnings == []


# --- properties -----------------------------------------------------------------------------------

def cents(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low * 100, high * 100)


@st.composite
def splits_inside_the_default_bounds(draw) -> tuple[Decimal, ...]:
    dao = draw(cents(5, 30))
    lucky = draw(cents(1, 15))
    creator = draw(cents(1, 10))
    reinvestment = 10_000 - dao - lucky - creator
    # The minimums of the other three sum to 7 and their maximums to 55, so reinvestment always
    # lands in 45..93; keep the draws where it is inside 40..90.
    assume(4_000 <= reinvestment <= 9_000)
    return tuple(Decimal(v).scaleb(-2) for v in (reinvestment, dao, lucky, creator))


@given(splits_inside_the_default_bounds(),
       st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False),
       st.sampled_from(["ai", "manual", "system"]),
       # Any text a reasoning may hold: no control characters (core.base.parsing refuses them).
       st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(str.strip),
       st.sampled_from([str, float, Decimal]))
def test_any_split_with_two_places_inside_the_bounds_summing_to_100_validates(
        split, confidence, proposed_by, reasoning, as_type):
    values = [as_type(v) for v in split]
    result = validate_proposal(ProposalInput(*values, reasoning=reasoning, confidence=confidence,
                                             proposed_by=proposed_by), policy=POLICY)
    assert result.errors == []
    assert result.split == Split(*split)
    assert result.split.total == 100


@given(st.tuples(*[st.integers(0, 10_000)] * 4).filter(lambda t: sum(t) != 10_000))
def test_any_split_not_summing_to_100_is_refused(split_in_cents):
    values = [Decimal(v).scaleb(-2) for v in split_in_cents]
    errors = errors_of(ProposalInput(*values, reasoning="r"))
    assert any(e.startswith("total: ") for e in errors)


@given(st.integers(3, 40), st.integers(1, 10**6))
def test_any_value_with_more_than_two_places_is_refused(places, digits):
    value = Decimal(digits * 10 + 1).scaleb(-places)  # the last digit is never zero
    errors = errors_of(proposal(lucky=value))
    assert any(e.startswith("lucky: ") and "more than 2 decimal places" in e for e in errors)


def test_an_over_precise_split_is_told_its_bounds_too_not_only_its_decimals():
    errors = errors_of(proposal("95", "3", "1.555", "0.445"))
    assert errors == ["lucky: 1.555 has more than 2 decimal places",
                      "creator: 0.445 has more than 2 decimal places",
                      "reinvestment: 95 is above the maximum 90",
                      "dao: 3 is below the minimum 5",
                      "creator: 0.445 is below the minimum 1"]
