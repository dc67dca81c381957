"""The rule engine on the seed's scenarios, at its thresholds, and anywhere in a wide input space."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.allocation.policy import Policy
from core.allocation.split import BUCKETS, Split
from core.allocation.validation import ProposalInput, validate_proposal
from core.platform_data.metrics_model import PlatformMetrics
from core.rebalancer.rules import evaluate_rules, rule_confidence, suggest_by_rules, target_split
from core.rebalancer.suggestion import clamp_to_policy

D = Decimal
POLICY = Policy()
BASELINE = Split(D(80), D(15), D(3), D(2))
NEUTRAL = dict(growth_rate_pct=0.0, engagement_score=50.0, dao_balance_usd=D(1000),
               avg_token_price_usd=0.03, tokens_launched_7d=5, days_of_data=30)


def split(*values: int) -> Split:
    return Split(*(D(v) for v in values))


def metrics(**changes: object) -> PlatformMetrics:
    return PlatformMetrics(**{**NEUTRAL, **changes})  # type: ignore[arg-type]


def moves(m: PlatformMetrics) -> dict[str, dict[str, int]]:
    fired, _neutral = evaluate_rules(m)
    return {effect.rule: effect.moves for effect in fired}


LAUNCH_WEEK = PlatformMetrics(growth_rate_pct=60.0, engagement_score=85.0,
                              dao_balance_usd=D(2500), avg_token_price_usd=0.03,
                              tokens_launched_7d=15, days_of_data=30)
MARKET_DOWNTURN = PlatformMetrics(growth_rate_pct=-25.0, engagement_score=30.0,
                                  dao_balance_usd=D(1800), avg_token_price_usd=0.005,
                                  tokens_launched_7d=2, days_of_data=30)


# --- the seed's scenarios ----------------------------------------------------------------------

def test_launch_week_moves_every_bucket_the_way_the_seeds_example_does():
    live = split(80, 15, 3, 2)
    s = suggest_by_rules(LAUNCH_WEEK, live, POLICY)
    delta = s.split.delta(live)
    # The seed: 80/15/3/2 -> 65/15/12/8, reinvestment down, dao the same, lucky and creator up.
    assert delta["reinvestment"] < 0 and delta["dao"] == 0
    assert delta["lucky"] > 0 and delta["creator"] > 0
    assert s.split == split(74, 15, 6, 5)
    assert s.should_rebalance and s.engine == "rules" and s.fallback_reason is None
    assert s.confidence >= D("0.8")
    assert "Community growth +60% > +20%: reinvestment -7, lucky +4, creator +3" in s.reasoning
    assert "Engagement 85 > 70" in s.reasoning
    assert "DAO balance $2,500.00 > $2,000" in s.reasoning and "dao held" in s.reasoning
    assert s.rules_fired == ["community_growth_high", "engagement_high", "dao_balance_healthy_held"]


def test_market_downturn_moves_every_bucket_the_way_the_seeds_example_does():
    live = split(65, 15, 12, 8)
    s = suggest_by_rules(MARKET_DOWNTURN, live, POLICY)
    delta = s.split.delta(live)
    # The seed: 65/15/12/8 -> 80/12/5/3, reinvestment up, dao, lucky and creator down.
    assert delta["reinvestment"] > 0 and delta["dao"] < 0
    assert delta["lucky"] < 0 and delta["creator"] < 0
    assert s.split == split(80, 13, 4, 3)
    assert s.target == split(85, 13, 1, 1)
    assert s.should_rebalance and s.confidence >= D("0.8")
    assert "Community growth -25% < -15%" in s.reasoning
    assert "Avg token price $0.005000 < $0.01" in s.reasoning
    assert "engagement 30 (within 30..70)" in s.reasoning  # the seed's rule is "< 30"
    assert "step limit" in s.reasoning


def test_a_suggestion_once_approved_gives_no_rebalance_on_the_same_metrics():
    first = suggest_by_rules(LAUNCH_WEEK, split(80, 15, 3, 2), POLICY)
    again = suggest_by_rules(LAUNCH_WEEK, first.split, POLICY)
    assert again.split == first.split and not again.should_rebalance
    assert "no bucket moves by the minimum 2 points" in again.reasoning


def test_a_distant_target_is_reached_over_several_approvals_and_then_rests():
    live, runs = split(65, 15, 12, 8), 0
    while (s := suggest_by_rules(MARKET_DOWNTURN, live, POLICY)).should_rebalance:
        live, runs = s.split, runs + 1
    assert runs == 2 and live == split(85, 13, 1, 1)


def test_the_target_depends_on_the_metrics_and_the_baseline_never_on_the_live_split():
    a = suggest_by_rules(MARKET_DOWNTURN, split(65, 15, 12, 8), POLICY)
    b = suggest_by_rules(MARKET_DOWNTURN, split(50, 30, 10, 10), POLICY)
    assert a.target == b.target
    moved = replace(POLICY, baseline=split(70, 20, 6, 4))
    assert suggest_by_rules(MARKET_DOWNTURN, split(65, 15, 12, 8), moved).target == split(75, 18, 4, 3)


# --- thresholds --------------------------------------------------------------------------------

@pytest.mark.parametrize(("growth", "expected"), [
    (20.0, {}),
    (20.01, {"community_growth_high": {"reinvestment": -3, "lucky": 2, "creator": 1}}),
    (40.0, {"community_growth_high": {"reinvestment": -5, "lucky": 3, "creator": 2}}),
    (1000.0, {"community_growth_high": {"reinvestment": -9, "lucky": 5, "creator": 4}}),
    (-15.0, {}),
    (-15.01, {"community_growth_low": {"reinvestment": 2, "lucky": -1, "creator": -1}}),
    (-30.0, {"community_growth_low": {"reinvestment": 4, "lucky": -2, "creator": -2}}),
    (-100.0, {"community_growth_low": {"reinvestment": 6, "lucky": -3, "creator": -3}}),
])
def test_growth_fires_only_strictly_past_its_thresholds_and_grows_with_the_figure(growth, expected):
    assert moves(metrics(growth_rate_pct=growth)) == expected


@pytest.mark.parametrize(("engagement", "expected"), [
    (70.0, {}),
    (70.01, {"engagement_high": {"reinvestment": 1, "lucky": -1}}),
    (85.0, {"engagement_high": {"reinvestment": 1, "lucky": -1}}),
    (100.0, {"engagement_high": {"reinvestment": 2, "lucky": -2}}),
    (30.0, {}),
    (29.99, {"engagement_low": {"reinvestment": -2, "lucky": 1, "creator": 1}}),
    (0.0, {"engagement_low": {"reinvestment": -6, "lucky": 3, "creator": 3}}),
])
def test_engagement_fires_only_strictly_past_its_thresholds(engagement, expected):
    assert moves(metrics(engagement_score=engagement)) == expected


@pytest.mark.parametrize(("balance", "expected"), [
    ("500", {}),
    ("499.99", {"dao_balance_low": {"reinvestment": -2, "dao": 2}}),
    ("0", {"dao_balance_low": {"reinvestment": -4, "dao": 4}}),
    ("2000", {}),
    ("2000.01", {"dao_balance_healthy": {"reinvestment": 1, "dao": -1}}),
    ("6000", {"dao_balance_healthy": {"reinvestment": 3, "dao": -3}}),
    ("10000000", {"dao_balance_healthy": {"reinvestment": 5, "dao": -5}}),
])
def test_the_dao_balance_fires_only_strictly_past_its_thresholds(balance, expected):
    assert moves(metrics(dao_balance_usd=D(balance))) == expected


def test_a_healthy_treasury_is_not_cut_while_the_community_grows_fast():
    fired = moves(metrics(dao_balance_usd=D(9000), growth_rate_pct=25.0))
    assert fired["dao_balance_healthy_held"] == {}


@pytest.mark.parametrize(("price", "expected"), [
    (0.01, {}),
    (0.0099, {"token_price_low": {"reinvestment": 3, "dao": -2, "lucky": -1, "creator": 0}}),
    (0.005, {"token_price_low": {"reinvestment": 3, "dao": -2, "lucky": -1, "creator": 0}}),
    (0.0049, {"token_price_low": {"reinvestment": 4, "dao": -2, "lucky": -1, "creator": -1}}),
    (0.0, {}),  # no priced tokens yet is not a poor price
    (0.05, {}),
    (0.0501, {"token_price_high": {"reinvestment": -2, "lucky": 1, "creator": 1}}),
    (100.0, {"token_price_high": {"reinvestment": -4, "lucky": 2, "creator": 2}}),
])
def test_the_token_price_fires_only_strictly_past_its_thresholds(price, expected):
    assert moves(metrics(avg_token_price_usd=price)) == expected


def _sentence(m: PlatformMetrics) -> str:
    [effect] = evaluate_rules(m)[0]
    return effect.text


@pytest.mark.parametrize(("changes", "expected"), [
    # Rounded as pages round, these would read as the very threshold they were compared with.
    ({"avg_token_price_usd": 0.0099999}, "Avg token price $0.0099999 < $0.01"),
    ({"avg_token_price_usd": 0.0500001}, "Avg token price $0.0500001 > $0.05"),
    ({"dao_balance_usd": D("2000.001")}, "DAO balance $2,000.001 > $2,000"),
    ({"dao_balance_usd": D("499.999")}, "DAO balance $499.999 < $500"),
    ({"engagement_score": 70.00001}, "Engagement 70.00001 > 70"),
    ({"growth_rate_pct": -15.000001}, "Community growth -15.000001% < -15%"),
    # Otherwise the figure reads as pages write it.
    ({"avg_token_price_usd": 0.0099}, "Avg token price $0.009900 < $0.01"),
    ({"dao_balance_usd": D("2500")}, "DAO balance $2,500.00 > $2,000"),
])
def test_a_figure_just_past_a_threshold_never_reads_as_the_threshold_itself(changes, expected):
    assert _sentence(metrics(**changes)).startswith(expected)


def test_the_advisors_prompt_names_the_rule_engines_own_thresholds():
    from core.rebalancer import rules
    from core.rebalancer.advisor import SYSTEM_PROMPT

    for name in ("GROWTH_HIGH", "GROWTH_LOW", "ENGAGEMENT_HIGH", "ENGAGEMENT_LOW", "DAO_LOW",
                 "DAO_HEALTHY", "PRICE_LOW", "PRICE_HIGH"):
        assert getattr(rules, f"{name}_TEXT") in SYSTEM_PROMPT, name
    # The texts are the pages' own formats of the constants.
    assert [rules.DAO_HEALTHY_TEXT, rules.PRICE_LOW_TEXT] == ["$2,000", "$0.01"]


def test_neutral_metrics_fire_nothing_and_aim_at_the_baseline():
    target, fired, neutral = target_split(metrics(), POLICY)
    assert fired == [] and target == BASELINE and len(neutral) == 4
    s = suggest_by_rules(metrics(), BASELINE, POLICY)
    assert not s.should_rebalance and s.reasoning.startswith("No rule fired.")


# --- confidence --------------------------------------------------------------------------------

def test_zero_data_gives_low_confidence_and_no_rebalance():
    empty = PlatformMetrics(0.0, 0.0, D(0), 0.0, 0, 0)
    s = suggest_by_rules(empty, BASELINE, POLICY)
    assert s.confidence <= D("0.4") and not s.should_rebalance
    assert "only 0 days of data" in s.reasoning and "No rebalance: confidence" in s.reasoning


@pytest.mark.parametrize(("days", "low", "high"), [
    (0, D(0), D("0.4")), (6, D(0), D("0.4")), (7, D("0.35"), D("0.45")),
    (14, D("0.5"), D("0.6")), (28, D("0.8"), D("0.8")), (365, D("0.8"), D("0.8")),
])
def test_confidence_grows_with_the_days_of_data_up_to_four_weeks(days, low, high):
    confidence, _why = rule_confidence(metrics(days_of_data=days))  # no strong signal
    assert low <= confidence <= high


def test_growth_and_engagement_agreeing_give_more_confidence_than_conflicting():
    agree, why_agree = rule_confidence(metrics(growth_rate_pct=50.0, engagement_score=90.0))
    conflict, why_conflict = rule_confidence(metrics(growth_rate_pct=50.0, engagement_score=10.0))
    assert agree > rule_confidence(metrics())[0] > conflict
    assert "agree" in why_agree and "conflict" in why_conflict


# --- anywhere in a wide input space ------------------------------------------------------------

wide_metrics = st.builds(
    PlatformMetrics,
    growth_rate_pct=st.floats(-100, 1000, allow_nan=False),
    engagement_score=st.floats(0, 100, allow_nan=False),
    dao_balance_usd=st.decimals(0, 10_000_000, places=2, allow_nan=False, allow_infinity=False),
    avg_token_price_usd=st.floats(0, 100, allow_nan=False),
    tokens_launched_7d=st.integers(0, 10_000),
    days_of_data=st.integers(0, 365),
)


@st.composite
def live_splits(draw: st.DrawFn) -> Split:
    values = {b: D(draw(st.integers(int(POLICY.bounds[b][0]), int(POLICY.bounds[b][1]))))
              for b in BUCKETS[1:]}
    values["reinvestment"] = 100 - sum(values.values())
    low, high = POLICY.bounds["reinvestment"]
    assume(low <= values["reinvestment"] <= high)
    return Split(**values)


@settings(max_examples=400, deadline=None)
@given(m=wide_metrics, live=live_splits())
def test_any_metrics_and_live_split_give_a_valid_explained_suggestion(m, live):
    s = suggest_by_rules(m, live, POLICY)
    check = validate_proposal(ProposalInput(*(getattr(s.split, b) for b in BUCKETS), s.reasoning,
                                            s.confidence, "system"), policy=POLICY, live=live)
    assert check.errors == []
    assert not [w for w in check.warnings if "step limit" in w]
    assert s.split.total == 100 and s.target is not None and s.target.total == 100
    assert all(v == v.to_integral_value() for _, v in s.split.items())
    assert D(0) <= s.confidence <= D(1)
    assert s.should_rebalance == (max(abs(v) for v in s.split.delta(live).values())
                                  >= POLICY.min_delta and s.confidence >= D("0.5"))
    assert s.split == clamp_to_policy(s.target, live, POLICY)[0]
    assert suggest_by_rules(m, live, POLICY) == s  # deterministic
