"""The approval tier of a proposal (pure) and the policy keys added with it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.allocation.policy import (DEFAULT_MAX_DISTRIBUTION, MAJOR, MINOR, Policy,
                                    SETTABLE_KEYS, policy_from_dict, with_setting)
from core.allocation.split import DEFAULT_SPLIT, Split
from core.allocation.validation import proposal_tier
from core.base.errors import ValidationFailed

POLICY = Policy()


def split(*values: int | str) -> Split:
    return Split.of(*values)


def test_a_move_of_exactly_the_step_limit_is_minor_and_one_point_more_is_major():
    assert proposal_tier(split(65, 20, 10, 5), DEFAULT_SPLIT, POLICY) == MINOR
    assert proposal_tier(split("64.99", "20.01", 10, 5), DEFAULT_SPLIT, POLICY) == MAJOR


def test_the_tier_follows_the_policys_step_limit():
    narrow = with_setting(POLICY, "max_step", "5")
    assert proposal_tier(split(75, 15, 6, 4), DEFAULT_SPLIT, POLICY) == MINOR
    assert proposal_tier(split(74, 15, 6, 5), DEFAULT_SPLIT, narrow) == MAJOR


@given(st.integers(0, 3000), st.integers(0, 200))
def test_a_tier_is_major_exactly_when_some_bucket_moves_more_than_the_step(to_dao, to_lucky):
    # Hundredths of a point moved from reinvestment to dao and from creator to lucky.
    cents = Decimal("0.01")
    moved = Split(Decimal(80) - to_dao * cents, Decimal(15) + to_dao * cents,
                  Decimal(3) + to_lucky * cents, Decimal(2) - to_lucky * cents)
    biggest = max(abs(v) for v in moved.delta(DEFAULT_SPLIT).values())
    assert proposal_tier(moved, DEFAULT_SPLIT, POLICY) == (MAJOR if biggest > 15 else MINOR)


def test_the_approvals_a_tier_needs():
    policy = with_setting(with_setting(POLICY, "approvals_required_major", "3"),
                          "approvals_required", "2")
    assert (policy.approvals_for(MINOR), policy.approvals_for(MAJOR)) == (2, 3)
    assert (POLICY.approvals_for(MINOR), POLICY.approvals_for(MAJOR)) == (1, 2)


def test_the_new_keys_are_settable_and_default_off():
    assert {"approvals_required_major", "min_hours_between_activations",
            "max_distribution"} <= set(SETTABLE_KEYS)
    assert (POLICY.min_hours_between_activations, POLICY.max_distribution) == (
        0, DEFAULT_MAX_DISTRIBUTION)


def test_the_major_count_may_never_fall_below_the_minor_count():
    with pytest.raises(ValidationFailed, match="approvals_required_major: 1 is below "
                                               "approvals_required 2"):
        with_setting(with_setting(POLICY, "approvals_required", "2"),
                     "approvals_required_major", "1")


def test_a_policy_stored_before_the_major_tier_needs_at_least_its_minor_count():
    # Stored before the key existed: the default (2), or the minor count when it is higher.
    assert policy_from_dict({"approvals_required": 1}).approvals_required_major == 2
    assert policy_from_dict({"approvals_required": 4}).approvals_required_major == 4


def test_max_distribution_round_trips_exactly_as_a_string():
    policy = with_setting(POLICY, "max_distribution", "1000000.10")
    assert policy.as_json()["max_distribution"] == "1000000.10"
    assert policy_from_dict(policy.as_json()).max_distribution == Decimal("1000000.10")
    assert with_setting(policy, "max_distribution", "off").max_distribution is None
