"""What either engine hands back (`Suggestion`), and making any target a split the policy allows.

`clamp_to_policy` is pure and deterministic. It works in two stages:

1. *Bounds*: the target is replaced by the nearest split (least squares) on the grid of whole
   percentages that sums to exactly 100 and keeps every bucket inside the policy bounds.
2. *Step*: when that split is more than `max_step` points away from the live split in some
   bucket, the proposal goes only part of the way there, along the straight line from the live
   split, so that the largest move is exactly the step limit. Later runs continue toward it.

Why not simply the nearest split inside the step limit too? Because that spreads the points a
capped bucket cannot take evenly over the others, which can stall or turn a bucket around: from
65/15/12/8 toward 85/13/1/1 with a 15-point step, the nearest splits are 80/14/3/3, 80/15/2/3 and
80/15/3/2 (DAO barely or not reduced, a three-way tie), while moving along the line gives
80/13/4/3, every bucket heading where the target asks. With a live split in whole percentages no
bucket ever moves against, or past, its target (a property test checks this).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from core.allocation.policy import LOW_CONFIDENCE, Policy
from core.allocation.split import BUCKETS, HUNDRED, Split, format_pct
from core.base.formatting import decimal_text

WHOLE = Decimal(1)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Suggestion:
    """A proposed split with its explanation, as the rule engine or the AI advisor made it."""

    split: Split
    reasoning: str
    confidence: Decimal  # 0..1
    should_rebalance: bool
    engine: str  # "rules" or "ai"
    fallback_reason: str | None = None
    rules_fired: list[str] = field(default_factory=list)
    # Where the engine wanted to go before the step limit; later runs continue toward it.
    target: Split | None = None
    notes: list[str] = field(default_factory=list)  # what clamp_to_policy changed, and why

    def as_json(self) -> dict[str, Any]:
        return {"suggested_allocation": self.split.as_json(), "reasoning": self.reasoning,
                "confidence": float(self.confidence), "should_rebalance": self.should_rebalance,
                "engine": self.engine, "fallback_reason": self.fallback_reason,
                "rules_fired": list(self.rules_fired),
                "target_allocation": self.target.as_json() if self.target else None,
                "notes": list(self.notes)}


def largest_move(split: Split, live: Split) -> Decimal:
    return max(abs(v) for v in split.delta(live).values())


def policy_gate(split: Split, live: Split, policy: Policy, confidence: Decimal) -> str | None:
    """Why a suggestion should not be filed, or None when it should be.

    Both engines go through the same gate: a change smaller than `min_delta` in every bucket is
    noise, and a confidence under 0.5 is the seed's "consider gathering more data".
    """
    moved = largest_move(split, live)
    if moved < policy.min_delta:
        return (f"no bucket moves by the minimum {format_pct(policy.min_delta)} points "
                f"(largest move {format_pct(moved)})")
    if confidence < LOW_CONFIDENCE:
        return (f"confidence {decimal_text(confidence.normalize())} is under {LOW_CONFIDENCE}: "
                "gather more data first")
    return None


# --- the grid search ---------------------------------------------------------------------------

def _up(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(ROUND_CEILING) * unit


def _down(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(ROUND_FLOOR) * unit


def _round(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(ROUND_HALF_UP) * unit


Box = dict[str, tuple[Decimal, Decimal]]


def _feasible(box: Box) -> bool:
    return (all(low <= high for low, high in box.values())
            and sum(low for low, _ in box.values()) <= HUNDRED
            <= sum(high for _, high in box.values()))


def _project(point: dict[str, Decimal], box: Box) -> dict[str, Decimal]:
    """The nearest real point in `box` summing to 100: every bucket shifted by the same amount
    and clipped to its box, the shift found on the piecewise-linear total."""
    def clipped(shift: Decimal) -> dict[str, Decimal]:
        return {b: min(max(point[b] + shift, box[b][0]), box[b][1]) for b in BUCKETS}

    kinks = sorted({edge - point[b] for b in BUCKETS for edge in box[b]})
    before, total_before = kinks[0], sum(clipped(kinks[0]).values())
    if total_before >= HUNDRED:  # every bucket at its minimum, and those sum to 100
        return clipped(before)
    for kink in kinks[1:]:
        total = sum(clipped(kink).values())
        if total >= HUNDRED:  # linear between the two kinks
            shift = before + (HUNDRED - total_before) * (kink - before) / (total - total_before)
            return clipped(shift)
        before, total_before = kink, total
    return clipped(kinks[-1])  # unreachable for a feasible box


def _nearest_on_grid(point: dict[str, Decimal], box: Box, unit: Decimal) -> dict[str, Decimal]:
    """The grid point inside `box` summing to exactly 100 nearest to `point` (least squares).

    Start from the real nearest point rounded to the grid, bring the total to 100 one unit at a
    time where that costs least, then trade units between buckets while a trade brings the split
    closer. For a sum of separable convex costs a split no single trade improves is the optimum.
    Ties keep the earlier state and BUCKETS order, so the result is deterministic.
    """
    real = _project(point, box)
    values = {b: min(max(_round(real[b], unit), box[b][0]), box[b][1]) for b in BUCKETS}
    total = sum(values.values())
    while total > HUNDRED:
        bucket = max((b for b in BUCKETS if values[b] > box[b][0]),
                     key=lambda b: (values[b] - point[b], -BUCKETS.index(b)))
        values[bucket] -= unit
        total -= unit
    while total < HUNDRED:
        bucket = max((b for b in BUCKETS if values[b] < box[b][1]),
                     key=lambda b: (point[b] - values[b], -BUCKETS.index(b)))
        values[bucket] += unit
        total += unit
    traded = True
    while traded:
        traded = False
        for give in BUCKETS:
            for take in BUCKETS:
                # Moving one unit from `give` to `take` shortens the distance exactly when this holds.
                if (give != take and values[give] - unit >= box[give][0]
                        and values[take] + unit <= box[take][1]
                        and unit + values[take] - point[take] < values[give] - point[give]):
                    values[give] -= unit
                    values[take] += unit
                    traded = True
    return values


def _tidy(value: Decimal) -> Decimal:
    return value.quantize(WHOLE) if value == value.to_integral_value() else value.quantize(CENT)


def _clamp_on(target: Split, live: Split, policy: Policy, unit: Decimal,
              step: Decimal) -> tuple[Split, list[str]] | None:
    bounds: Box = {b: (_up(policy.bounds[b][0], unit), _down(policy.bounds[b][1], unit))
                   for b in BUCKETS}
    current = {b: getattr(live, b) for b in BUCKETS}
    stepped: Box = {b: (max(bounds[b][0], _up(current[b] - step, unit)),
                        min(bounds[b][1], _down(current[b] + step, unit))) for b in BUCKETS}
    if not _feasible(bounds) or not _feasible(stepped):
        return None
    inside = _nearest_on_grid({b: getattr(target, b) for b in BUCKETS}, bounds, unit)
    farthest = max(abs(inside[b] - current[b]) for b in BUCKETS)
    if farthest > step:
        share = step / farthest
        on_the_way = {b: current[b] + share * (inside[b] - current[b]) for b in BUCKETS}
    else:
        on_the_way = dict(inside)
    result = _nearest_on_grid(on_the_way, stepped, unit)
    split = Split(**{b: _tidy(result[b]) for b in BUCKETS})
    return split, _explain(target, live, policy, unit, inside, split, farthest, step)


def _explain(target: Split, live: Split, policy: Policy, unit: Decimal,
             inside: dict[str, Decimal], result: Split, farthest: Decimal,
             step: Decimal) -> list[str]:
    notes: list[str] = []
    if target.total != HUNDRED:
        notes.append(f"total: the target's four summed to {format_pct(target.total)}, not 100; "
                     "rebalanced to sum to exactly 100")
    for bucket, wanted in target.items():
        low, high = policy.bounds[bucket]
        if wanted < low:
            notes.append(f"{bucket}: {format_pct(wanted)} is below the minimum {format_pct(low)}, "
                         f"raised to {format_pct(inside[bucket])}")
        elif wanted > high:
            notes.append(f"{bucket}: {format_pct(wanted)} is above the maximum {format_pct(high)}, "
                         f"lowered to {format_pct(inside[bucket])}")
        elif wanted != _round(wanted, unit) and unit == WHOLE:
            notes.append(f"{bucket}: {format_pct(wanted)} rounded to a whole percentage")
    if step > policy.max_step:
        notes.append(f"step limit: the live split {live.label()} is outside the policy bounds, "
                     f"and getting back inside them takes a bucket more than the limit "
                     f"{format_pct(policy.max_step)}; this proposal moves up to "
                     f"{format_pct(step)} points, the least that does")
    if farthest > step:
        goal = Split(**inside)
        notes.append(f"step limit: reaching {goal.label()} from the live {live.label()} moves a "
                     f"bucket {format_pct(farthest)} points, more than the limit "
                     f"{format_pct(step)}; this proposal goes part of the way "
                     f"({result.label()}) and later runs can continue")
    return notes


def clamp_to_policy(target: Split, live: Split, policy: Policy) -> tuple[Split, list[str]]:
    """The split nearest `target` that the policy allows from `live`, and notes on what changed.

    Whole percentages summing to exactly 100, each bucket inside the bounds, none moving more
    than `max_step` points from `live`. Falls back to hundredths only for a policy whose bounds
    or step leave no whole-percentage split (fractional bounds, or a fractional live split with a
    step under one point). A live split outside the bounds is brought back inside them even when
    that takes more than `max_step`, and the notes say so.
    """
    for name, value in [*target.items(), *live.items()]:
        if not value.is_finite():
            raise ValueError(f"{name}: {value} is not a finite number")
    for unit in (WHOLE, CENT):
        clamped = _clamp_on(target, live, policy, unit, policy.max_step)
        if clamped is not None:
            return clamped
    # Only when the live split is outside the bounds (an admin tightened them): getting back
    # inside the bounds comes first, with the step limit widened as little as that needs.
    for unit in (WHOLE, CENT):
        widened = _up(policy.max_step, WHOLE)
        while widened <= HUNDRED:
            clamped = _clamp_on(target, live, policy, unit, widened)
            if clamped is not None:
                return clamped
            widened += WHOLE
    raise ValueError("bounds: no split satisfies the policy bounds")  # check_policy prevents it
