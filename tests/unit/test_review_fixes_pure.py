"""The reviewer's findings that need no database: policy upper limits, metrics-file limits, the
rule engine under narrowed bounds, and the currency's places."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from core.allocation.policy import MAX_HOURS, Policy, with_setting
from core.allocation.split import Split
from core.base.errors import ValidationFailed
from core.base.formatting import measured
from core.platform_data.metrics_model import METRIC_LIMITS, PlatformMetrics
from core.rebalancer.service import suggest
from settings import Settings

D = Decimal
DEFAULT = Policy()
NO_KEY = Settings(_env_file=None, openai_api_key=None)
GOOD = {"growth_rate_pct": 5.0, "engagement_score": 50.0, "dao_balance_usd": 1000.0,
        "avg_token_price_usd": 0.03, "tokens_launched_7d": 3, "days_of_data": 30}


def problems_of(key: str, value: object, policy: Policy = DEFAULT) -> list[str]:
    with pytest.raises(ValidationFailed) as refusal:
        with_setting(policy, key, value)
    return refusal.value.problems


def metric_problems(**changes: object) -> list[str]:
    with pytest.raises(ValidationFailed) as refusal:
        PlatformMetrics.from_json({**GOOD, **changes})
    return refusal.value.problems


# --- policy upper limits -----------------------------------------------------------------------

def test_ten_years_is_the_longest_lifetime_or_cooldown():
    assert MAX_HOURS == 10 * 365 * 24


@pytest.mark.parametrize("key, value", [
    ("proposal_lifetime_hours", "1e9"), ("auto_approve_cooldown_hours", "1e11"),
    ("proposal_lifetime_hours", str(MAX_HOURS + 1)), ("auto_approve_cooldown_hours", str(MAX_HOURS + 1)),
])
def test_a_lifetime_or_cooldown_beyond_ten_years_is_refused_as_above_the_maximum(key, value):
    assert problems_of(key, value) == [f"{key}: {value} is above the maximum {MAX_HOURS}"]


@pytest.mark.parametrize("key", ["proposal_lifetime_hours", "auto_approve_cooldown_hours"])
def test_a_lifetime_or_cooldown_of_exactly_ten_years_is_accepted(key):
    assert getattr(with_setting(DEFAULT, key, str(MAX_HOURS)), key) == MAX_HOURS


def test_a_refused_setting_leaves_the_policy_it_was_given_unchanged():
    policy = Policy()
    problems_of("proposal_lifetime_hours", "1e9", policy)
    assert policy == DEFAULT and policy.proposal_lifetime_hours == 7 * 24


def test_more_than_a_hundred_approvals_is_refused_and_a_hundred_is_accepted():
    assert problems_of("approvals_required", "101") == [
        "approvals_required: 101 is above the maximum 100"]
    # The major tier never needs fewer approvals than the minor one, so it is raised first.
    major = with_setting(DEFAULT, "approvals_required_major", "100")
    assert with_setting(major, "approvals_required", "100").approvals_required == 100


@pytest.mark.parametrize("value", ["0", "0.00"])
def test_a_min_delta_of_zero_is_refused(value):
    assert problems_of("min_delta", value) == ["min_delta: must be above 0"]


def test_a_min_delta_of_one_hundredth_is_accepted():
    assert with_setting(DEFAULT, "min_delta", "0.01").min_delta == D("0.01")


def test_a_baseline_of_70_15_10_5_is_accepted():
    assert with_setting(DEFAULT, "baseline", "70/15/10/5").baseline == Split.of(70, 15, 10, 5)


def test_narrowing_reinvestment_below_the_baseline_is_accepted():
    policy = with_setting(DEFAULT, "reinvestment_max", "75")
    assert policy.bounds["reinvestment"] == (D(40), D(75))
    assert policy.baseline == Split.of(80, 15, 3, 2)  # outside the new bounds, on purpose


@pytest.mark.parametrize("metrics", [
    PlatformMetrics(-30.0, 20.0, D(1000), 0.03, 0, 30),  # declining: wants more reinvestment
    PlatformMetrics(5.0, 50.0, D(1000), 0.03, 3, 30),  # quiet: heads for the baseline, 80
    PlatformMetrics(60.0, 85.0, D(2500), 0.03, 15, 30),  # launch week: incentives up
])
def test_the_rule_engine_suggests_a_split_inside_narrowed_bounds(metrics):
    policy = with_setting(DEFAULT, "reinvestment_max", "75")
    live = Split.of(80, 15, 3, 2)  # itself outside the new bounds
    suggestion = suggest(metrics, live, policy, "rules", NO_KEY)
    assert suggestion.engine == "rules"
    assert suggestion.split.total == 100
    for bucket, value in suggestion.split.items():
        low, high = policy.bounds[bucket]
        assert low <= value <= high, (bucket, value)
    assert suggestion.split.reinvestment <= 75


def test_the_rule_engine_lowers_a_declining_platforms_reinvestment_to_the_new_maximum():
    policy = with_setting(DEFAULT, "reinvestment_max", "75")
    suggestion = suggest(PlatformMetrics(-30.0, 20.0, D(1000), 0.03, 0, 30),
                         Split.of(80, 15, 3, 2), policy, "rules", NO_KEY)
    assert suggestion.split == Split.of(75, 16, 5, 4)
    assert suggestion.should_rebalance is True
    assert "reinvestment: 80 is above the maximum 75, lowered to 75" in suggestion.notes


# --- metrics-file limits -----------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("growth_rate_pct", 1e30), ("dao_balance_usd", 1e16), ("avg_token_price_usd", 1e10),
    ("tokens_launched_7d", 1e10), ("days_of_data", 1e6), ("growth_rate_pct", -1e30),
])
def test_an_implausibly_large_metric_is_refused_naming_its_key(key, value):
    problems = metric_problems(**{key: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"{key}: ")
    assert f"beyond the plausible maximum {measured(METRIC_LIMITS[key])}" in problems[0]


def test_every_implausible_metric_is_reported_not_only_the_first():
    problems = metric_problems(growth_rate_pct=1e30, dao_balance_usd=1e16, avg_token_price_usd=1e10)
    assert [p.split(":")[0] for p in problems] == [
        "growth_rate_pct", "dao_balance_usd", "avg_token_price_usd"]


@pytest.mark.parametrize("key", ["growth_rate_pct", "dao_balance_usd", "avg_token_price_usd"])
def test_a_metric_at_its_plausible_maximum_is_accepted(key):
    metrics = PlatformMetrics.from_json({**GOOD, key: METRIC_LIMITS[key]})
    assert float(getattr(metrics, key)) == METRIC_LIMITS[key]


@given(growth=st.floats(allow_nan=False, allow_infinity=False),
       balance=st.floats(allow_nan=False, allow_infinity=False),
       price=st.floats(allow_nan=False, allow_infinity=False))
def test_metrics_are_either_within_their_limits_or_refused(growth, balance, price):
    data = {**GOOD, "growth_rate_pct": growth, "dao_balance_usd": balance,
            "avg_token_price_usd": price}
    try:
        metrics = PlatformMetrics.from_json(data)
    except ValidationFailed:
        return
    assert -100 <= metrics.growth_rate_pct <= METRIC_LIMITS["growth_rate_pct"]
    assert 0 <= metrics.dao_balance_usd <= D(str(METRIC_LIMITS["dao_balance_usd"]))
    assert 0 <= metrics.avg_token_price_usd <= METRIC_LIMITS["avg_token_price_usd"]
    assert math.isfinite(metrics.growth_rate_pct)


# --- settings ----------------------------------------------------------------------------------

def test_a_currency_with_three_decimal_places_is_refused():
    with pytest.raises(ValidationError) as refusal:
        Settings(_env_file=None, currency_places=3)
    assert refusal.value.errors()[0]["loc"] == ("currency_places",)


@pytest.mark.parametrize("places", [0, 2])
def test_a_currency_with_at_most_two_decimal_places_is_accepted(places):
    assert Settings(_env_file=None, currency_places=places).currency_places == places


def test_a_metrics_file_integer_too_large_for_a_float_is_refused_not_crashed():
    figures = {"growth_rate_pct": 60, "engagement_score": 85, "dao_balance_usd": 2500,
               "avg_token_price_usd": 0.03, "tokens_launched_7d": 10**400, "days_of_data": 14}
    with pytest.raises(ValidationFailed) as refusal:
        PlatformMetrics.from_json(figures)
    assert refusal.value.problems[0].startswith("tokens_launched_7d: 1.00000e+400 is beyond")
