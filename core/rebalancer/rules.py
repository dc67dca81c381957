"""The rule engine: the seed's "How AI decides allocations" as deterministic arithmetic.

The target is the policy's baseline (80/15/3/2 unless an admin changed it) plus one adjustment per
rule that fires. Every adjustment moves points between buckets, so the target always sums to 100;
`clamp_to_policy` then keeps it inside the bounds and the step limit from the live split. The
target depends on the metrics and the baseline only, never on the live split: once a suggestion is
approved, the same metrics give the same target and nothing more to do.

Thresholds are the seed's; how far each rule moves grows with how far past its threshold the
figure is, in whole points and capped (the tiers are written next to each rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from core.allocation.policy import Policy
from core.allocation.split import BUCKETS, Split
from core.base.formatting import decimal_text, measured, money, usd
from core.base.formatting import price as price_text
from core.platform_data.metrics_model import PlatformMetrics
from core.rebalancer.suggestion import Suggestion, clamp_to_policy, policy_gate

GROWTH_HIGH = Decimal(20)  # percent, last 7 days against the previous 7
GROWTH_LOW = Decimal(-15)
ENGAGEMENT_HIGH = Decimal(70)
ENGAGEMENT_VERY_HIGH = Decimal(85)
ENGAGEMENT_LOW = Decimal(30)
DAO_LOW = Decimal(500)  # USD
DAO_HEALTHY = Decimal(2000)
PRICE_LOW = Decimal("0.01")  # USD, average token price
PRICE_VERY_LOW = Decimal("0.005")
PRICE_HIGH = Decimal("0.05")
PRICE_VERY_HIGH = Decimal("0.10")

FULL_DATA_DAYS = 28
MIN_DATA_DAYS = 7
TOO_LITTLE_DATA_CAP = Decimal("0.4")


@dataclass(frozen=True)
class RuleEffect:
    rule: str  # stable id, listed in Suggestion.rules_fired
    text: str  # the sentence for the reasoning, with the figure that fired it
    moves: dict[str, int]  # points per bucket; they sum to zero

    def __post_init__(self) -> None:
        assert sum(self.moves.values()) == 0, self.moves


def _dec(value: float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def _tiers(excess: Decimal, width: int) -> int:
    """Whole tiers of `width` in `excess` (0 just past a threshold)."""
    return int((excess / width).to_integral_value(ROUND_FLOOR))


def _pct(value: Decimal) -> str:
    """A growth rate, a measured figure in percent: `+60%`, `-25.5%`."""
    return f"{measured(value, signed=True)}%"


def _dollars(value: Decimal) -> str:
    """A threshold in dollars as the rules' sentences write it: `$2,000`, `$0.01`."""
    return usd(value, places=0 if value == value.to_integral_value() else 2)


def _beside(fmt: Callable[[Decimal], str], value: Decimal, threshold: Decimal) -> str:
    """The figure as pages write it, or with every digit when rounding would make it read as the
    very threshold it was compared with (`$0.0099999 < $0.01`, never `$0.01000 < $0.01`)."""
    shown = fmt(value)
    digits = re.search(r"[\d,.]+", shown)
    if value == threshold or digits is None:
        return shown
    if Decimal(digits[0].replace(",", "")) != abs(threshold):
        return shown
    return re.sub(r"[\d,.]+", money(abs(value)), shown, count=1)


# The thresholds as the sentences (and the advisor's prompt) write them.
GROWTH_HIGH_TEXT, GROWTH_LOW_TEXT = _pct(GROWTH_HIGH), _pct(GROWTH_LOW)
ENGAGEMENT_HIGH_TEXT, ENGAGEMENT_LOW_TEXT = measured(ENGAGEMENT_HIGH), measured(ENGAGEMENT_LOW)
DAO_LOW_TEXT, DAO_HEALTHY_TEXT = _dollars(DAO_LOW), _dollars(DAO_HEALTHY)
PRICE_LOW_TEXT, PRICE_HIGH_TEXT = _dollars(PRICE_LOW), _dollars(PRICE_HIGH)


def _moves(text: str, moves: dict[str, int]) -> str:
    parts = [f"{b} {'+' if moves[b] > 0 else ''}{moves[b]}" for b in BUCKETS if moves.get(b)]
    return f"{text}: {', '.join(parts)}"


def _effect(rule: str, text: str, **moves: int) -> RuleEffect:
    return RuleEffect(rule, _moves(text, moves), moves)


def evaluate_rules(metrics: PlatformMetrics) -> tuple[list[RuleEffect], list[str]]:
    """The rules that fire on these metrics, and one line per signal that is in its neutral band."""
    growth = _dec(metrics.growth_rate_pct)
    engagement = _dec(metrics.engagement_score)
    dao = _dec(metrics.dao_balance_usd)
    price = _dec(metrics.avg_token_price_usd)
    fired: list[RuleEffect] = []
    neutral: list[str] = []

    # 1. Community growth. Up: +1 tier per 20 points past +20% (max 3): lucky +2..5, creator +1..4.
    if growth > GROWTH_HIGH:
        m = min(3, _tiers(growth - GROWTH_HIGH, 20))
        fired.append(_effect("community_growth_high",
                             f"Community growth {_beside(_pct, growth, GROWTH_HIGH)} > "
                             f"{GROWTH_HIGH_TEXT}",
                             reinvestment=-(3 + 2 * m), lucky=2 + m, creator=1 + m))
    # Down: +1 tier per 15 points past -15% (max 2): incentives -1..3 each, into reinvestment.
    elif growth < GROWTH_LOW:
        m = min(2, _tiers(GROWTH_LOW - growth, 15))
        fired.append(_effect("community_growth_low",
                             f"Community growth {_beside(_pct, growth, GROWTH_LOW)} < "
                             f"{GROWTH_LOW_TEXT} (improve the platform, "
                             "incentives down for now)",
                             reinvestment=2 * (1 + m), lucky=-(1 + m), creator=-(1 + m)))
    else:
        neutral.append(f"community growth {_pct(growth)} (within {GROWTH_LOW_TEXT}.."
                       f"{GROWTH_HIGH_TEXT})")

    # 2. Engagement. High: the community is already engaged, so the lottery is trimmed (creator
    # rewards are maintained): lucky -1, or -2 above 85 (ENGAGEMENT_VERY_HIGH). Low: lucky and
    # creator +1 each, +1 more per 10 points under 30 (max +3 each).
    if engagement > ENGAGEMENT_HIGH:
        n = 1 if engagement <= ENGAGEMENT_VERY_HIGH else 2
        fired.append(_effect("engagement_high",
                             f"Engagement {_beside(measured, engagement, ENGAGEMENT_HIGH)} > "
                             f"{ENGAGEMENT_HIGH_TEXT} (already engaged)",
                             reinvestment=n, lucky=-n))
    elif engagement < ENGAGEMENT_LOW:
        n = min(3, 1 + _tiers(ENGAGEMENT_LOW - engagement, 10))
        fired.append(_effect("engagement_low",
                             f"Engagement {_beside(measured, engagement, ENGAGEMENT_LOW)} < "
                             f"{ENGAGEMENT_LOW_TEXT} (attract users, "
                             "improve content)",
                             reinvestment=-2 * n, lucky=n, creator=n))
    else:
        neutral.append(f"engagement {measured(engagement)} (within {ENGAGEMENT_LOW_TEXT}.."
                       f"{ENGAGEMENT_HIGH_TEXT})")

    # 3. DAO treasury. Low: dao +2, +1 per $250 further under $500 (max +4). Healthy: dao -1,
    # -1 more per further $2,000 (max -5), into reinvestment; but not while the community grows
    # past +20%, when more members bring more governance work (the seed's Launch Week keeps 15).
    if dao < DAO_LOW:
        n = min(4, 2 + _tiers(DAO_LOW - dao, 250))
        fired.append(_effect("dao_balance_low",
                             f"DAO balance {_beside(usd, dao, DAO_LOW)} < {DAO_LOW_TEXT} "
                             "(build governance capacity)",
                             reinvestment=-n, dao=n))
    elif dao > DAO_HEALTHY and growth > GROWTH_HIGH:
        fired.append(RuleEffect(
            "dao_balance_healthy_held",
            f"DAO balance {_beside(usd, dao, DAO_HEALTHY)} > {DAO_HEALTHY_TEXT} is healthy, "
            "but dao held: community growth "
            f"{_pct(growth)} brings more governance work", {}))
    elif dao > DAO_HEALTHY:
        n = min(5, 1 + _tiers(dao - DAO_HEALTHY, 2000))
        fired.append(_effect("dao_balance_healthy",
                             f"DAO balance {_beside(usd, dao, DAO_HEALTHY)} > "
                             f"{DAO_HEALTHY_TEXT} (healthy, allocate elsewhere)",
                             reinvestment=n, dao=-n))
    else:
        neutral.append(f"DAO balance {usd(dao)} (within {DAO_LOW_TEXT}..{DAO_HEALTHY_TEXT})")

    # 4. Token performance. Under $0.01: reinvestment +3 from dao -2 and lucky -1; under $0.005
    # also creator -1. Over $0.05: lucky and creator +1 each (+2 over $0.10), from reinvestment.
    # A price of exactly 0 means no priced tokens yet, not a poor price.
    if price == 0:
        neutral.append("avg token price $0 (no priced tokens yet)")
    elif price < PRICE_LOW:
        creator = -1 if price < PRICE_VERY_LOW else 0
        fired.append(_effect("token_price_low",
                             f"Avg token price {_beside(price_text, price, PRICE_LOW)} < "
                             f"{PRICE_LOW_TEXT} (improve the product)",
                             reinvestment=3 - creator, dao=-2, lucky=-1, creator=creator))
    elif price > PRICE_HIGH:
        n = 1 if price <= PRICE_VERY_HIGH else 2
        fired.append(_effect("token_price_high",
                             f"Avg token price {_beside(price_text, price, PRICE_HIGH)} > "
                             f"{PRICE_HIGH_TEXT} (toward community "
                             "rewards)",
                             reinvestment=-2 * n, lucky=n, creator=n))
    else:
        neutral.append(f"avg token price {price_text(price)} (within {PRICE_LOW_TEXT}.."
                       f"{PRICE_HIGH_TEXT})")
    return fired, neutral


def target_split(metrics: PlatformMetrics,
                 policy: Policy) -> tuple[Split, list[RuleEffect], list[str]]:
    """The baseline plus every rule that fires; also the neutral signals, for the reasoning."""
    fired, neutral = evaluate_rules(metrics)
    values = {b: getattr(policy.baseline, b) for b in BUCKETS}
    for effect in fired:
        for bucket, points in effect.moves.items():
            values[bucket] += points
    return Split(**values), fired, neutral


def _signals(metrics: PlatformMetrics) -> dict[str, int]:
    """Which way each signal points: +1 momentum, -1 decline, 0 neutral."""
    growth, engagement = _dec(metrics.growth_rate_pct), _dec(metrics.engagement_score)
    price = _dec(metrics.avg_token_price_usd)
    return {
        "growth": 1 if growth > GROWTH_HIGH else -1 if growth < GROWTH_LOW else 0,
        "engagement": 1 if engagement > ENGAGEMENT_HIGH else -1 if engagement < ENGAGEMENT_LOW else 0,
        "token price": 1 if price > PRICE_HIGH else -1 if 0 < price < PRICE_LOW else 0,
    }


def rule_confidence(metrics: PlatformMetrics) -> tuple[Decimal, str]:
    """Confidence from how much data there is and how far the signals agree, with the why.

    Data: 0.25 + 0.55 x (days / 28), full weight from 28 days; under 7 days at most 0.4.
    Agreement: +0.05 per signal on the majority side beyond the minority, -0.10 per signal
    pointing the other way (growth up with engagement down is a conflict).
    """
    days = metrics.days_of_data
    weight = Decimal(min(days, FULL_DATA_DAYS)) / FULL_DATA_DAYS
    confidence = Decimal("0.25") + Decimal("0.55") * weight
    signals = _signals(metrics)
    ups = [name for name, s in signals.items() if s > 0]
    downs = [name for name, s in signals.items() if s < 0]
    major, minor = (ups, downs) if len(ups) >= len(downs) else (downs, ups)
    confidence += Decimal("0.05") * (len(major) - len(minor)) - Decimal("0.10") * len(minor)
    if minor:
        agreement = f"{' and '.join(ups)} up against {' and '.join(downs)} down: signals conflict"
    elif len(major) > 1:
        agreement = f"{' and '.join(major)} agree"
    elif major:
        agreement = f"one strong signal ({major[0]})"
    else:
        agreement = "no strong signal"
    data = (f"{days} days of data" + (" (full weight)" if days >= FULL_DATA_DAYS else ""))
    if days < MIN_DATA_DAYS:
        confidence = min(confidence, TOO_LITTLE_DATA_CAP)
        data = f"only {days} days of data (under {MIN_DATA_DAYS}, capped at {TOO_LITTLE_DATA_CAP})"
    confidence = min(max(confidence, Decimal(0)), Decimal(1)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return confidence, f"{data}; {agreement}"


def suggest_by_rules(metrics: PlatformMetrics, live: Split, policy: Policy) -> Suggestion:
    target, fired, neutral = target_split(metrics, policy)
    split, notes = clamp_to_policy(target, live, policy)
    confidence, why = rule_confidence(metrics)
    blocked = policy_gate(split, live, policy, confidence)
    lines = [effect.text + "." for effect in fired] or ["No rule fired."]
    if neutral:
        lines.append("No change from " + ", ".join(neutral) + ".")
    base = (f"baseline {policy.baseline.label()} plus the rules above" if fired
            else "the baseline")
    lines.append(f"Target {target.label()} ({base}); suggested {split.label()} from the live "
                 f"{live.label()}.")
    lines.extend(f"Clamped: {note}." for note in notes)
    lines.append(f"Confidence {decimal_text(confidence.normalize())}: {why}.")
    if blocked:
        lines.append(f"No rebalance: {blocked}.")
    return Suggestion(split=split, reasoning=" ".join(lines), confidence=confidence,
                      should_rebalance=blocked is None, engine="rules",
                      rules_fired=[effect.rule for effect in fired], target=target, notes=notes)
