"""The allocation policy: defaults, and changing one key at a time with `with_setting`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.allocation.policy import POLICY_KEYS, Policy, check_policy, policy_from_dict, with_setting
from core.allocation.split import Split
from core.base.errors import ValidationFailed

DEFAULT = Policy()


def problems_of(key: str, value: object, policy: Policy = DEFAULT) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        with_setting(policy, key, value)
    return refused.value.problems


def test_the_default_policy_has_the_seeds_bounds_and_one_approval():
    assert DEFAULT.bounds == {"reinvestment": (40, 90), "dao": (5, 30), "lucky": (1, 15),
                              "creator": (1, 10)}
    assert DEFAULT.approvals_required == 1
    assert DEFAULT.max_step == 15
    assert DEFAULT.auto_approve_min_confidence is None
    assert DEFAULT.baseline == Split.of(80, 15, 3, 2)
    check_policy(DEFAULT)  # does not raise


def test_changing_a_bound_returns_a_new_policy_and_leaves_the_old_one_alone():
    updated = with_setting(DEFAULT, "dao_max", "25.5")
    assert updated.bounds["dao"] == (Decimal(5), Decimal("25.5"))
    assert DEFAULT.bounds["dao"] == (Decimal(5), Decimal(30))
    assert updated.bounds["reinvestment"] == DEFAULT.bounds["reinvestment"]


@pytest.mark.parametrize("key, value, expected", [
    ("approvals_required", "2", 2),
    ("max_step", "10", Decimal(10)),
    ("proposal_lifetime_hours", "24", 24),
    ("auto_approve_min_confidence", "0.9", Decimal("0.9")),
    ("auto_approve_min_confidence", "off", None),
    ("distributions_paused", "true", True),
    ("rebalancing_paused", "no", False),
])
def test_each_kind_of_key_is_parsed_from_text(key, value, expected):
    assert getattr(with_setting(DEFAULT, key, value), key) == expected


def test_a_lower_bound_above_its_upper_bound_is_refused():
    problems = problems_of("lucky_min", "16")
    assert "lucky_min: 16 is above lucky_max 15" in problems


def test_an_upper_bound_below_its_lower_bound_is_refused():
    problems = problems_of("dao_max", "4")
    assert "dao_min: 5 is above dao_max 4" in problems


def test_minimums_summing_over_100_are_refused():
    # 80 + 15 + 3 + 2 = 100 is still satisfiable (only the baseline fits) ...
    policy = DEFAULT
    for key, value in [("reinvestment_min", "80"), ("dao_min", "15"), ("lucky_min", "3"),
                       ("creator_min", "2")]:
        policy = with_setting(policy, key, value)
    assert sum(low for low, _ in policy.bounds.values()) == 100
    # ... one point more is not.
    problems = problems_of("creator_min", "3", policy)
    assert "bounds: the minimums sum to more than 100, no split can satisfy them" in problems


def test_maximums_summing_under_100_are_refused():
    policy = DEFAULT
    for key, value in [("reinvestment_max", "80"), ("dao_max", "15"), ("lucky_max", "3"),
                       ("creator_max", "2")]:
        policy = with_setting(policy, key, value)
    assert sum(high for _, high in policy.bounds.values()) == 100
    problems = problems_of("lucky_max", "2.99", policy)
    assert "bounds: the maximums sum to less than 100, no split can satisfy them" in problems


def test_bounds_may_leave_out_the_baseline_split_which_the_rule_engine_clamps():
    assert with_setting(DEFAULT, "reinvestment_max", "75").bounds["reinvestment"][1] == 75


def test_the_baseline_is_set_as_a_whole_and_must_sum_to_100():
    assert with_setting(DEFAULT, "baseline", "70/15/10/5").baseline.label() == "70/15/10/5"
    assert problems_of("baseline", "70/15/10/4") == ["baseline: the four sum to 99, not 100"]
    assert problems_of("baseline", "70/15") == ["baseline: '70/15' is not four percentages like 80/15/3/2"]
    assert problems_of("baseline_dao", "20")[0].startswith("baseline_dao: unknown policy key")


@pytest.mark.parametrize("value, words", [("0", "below the minimum 1"), ("-3", "below the minimum 1"),
                                          ("1.5", "not a whole number"), ("two", "not a number"),
                                          ("nan", "not a finite number")])
def test_approvals_required_below_one_or_not_a_whole_number_is_refused(value, words):
    problems = problems_of("approvals_required", value)
    assert len(problems) == 1
    assert problems[0].startswith("approvals_required: ") and words in problems[0]


def test_a_policy_built_with_zero_approvals_fails_the_whole_policy_check():
    with pytest.raises(ValidationFailed) as refused:
        check_policy(Policy(approvals_required=0))
    assert refused.value.problems == ["approvals_required: must be at least 1"]


@pytest.mark.parametrize("key", ["approval_required", "reinvestment", "dao_minimum", "", "MAX_STEP"])
def test_an_unknown_key_is_refused_and_the_known_keys_are_listed(key):
    problems = problems_of(key, "1")
    assert len(problems) == 1
    assert problems[0].startswith(f"{key}: unknown policy key")
    assert "approvals_required" in problems[0] and "reinvestment_min" in problems[0]


@pytest.mark.parametrize("key, value, words", [
    ("dao_max", "101", "outside 0..100"),
    ("lucky_min", "-1", "outside 0..100"),
    ("creator_max", "9.999", "more than 2 decimal places"),
    ("max_step", "0", "max_step: must be above 0"),
    ("auto_approve_min_confidence", "1.5", "outside 0..1"),
    ("distributions_paused", "maybe", "is not true or false"),
    ("proposal_lifetime_hours", "0", "below the minimum 1"),
])
def test_out_of_range_values_are_refused_naming_the_key(key, value, words):
    problems = problems_of(key, value)
    assert any(p.startswith(key) and words in p for p in problems), problems


def test_the_flat_form_round_trips_through_json():
    policy = with_setting(with_setting(DEFAULT, "dao_max", "25"), "auto_approve_min_confidence", "0.9")
    assert policy_from_dict(policy.as_json()) == policy
    assert set(policy.as_json()) == set(POLICY_KEYS)
