"""Power before starting: replay a design over the platform's recorded figures.

Each replay lays the design's blocks over the recorded days from `starts_at` (default: the first
day), draws a fresh balanced schedule as a live experiment would, multiplies the metric on the
non-control arms' blocks by (1 + effect/100), and analyses it with the same estimators as a live
experiment (`core.experiments.analysis.estimate_changes` and `randomisation_p_values`, a whole
batch of replays at once). Multiplying every day of a block multiplies the block's mean, so the
effect is applied to the block values directly.

What it reports (the CLI contract's `experiment simulate`), over every non-control arm of every
replay:
* `coverage_pct`: the share of intervals containing the injected effect (about 95 when honest);
* `power_pct`: the share of intervals excluding 0 (the verdict's own rule for a finding);
* `mean_change_pct`: the mean estimate (near the injected effect when unbiased);
* `minimum_detectable_effect_pct`: the smallest effect (either way) that `POWER` (80 %) of the
  replays' intervals would exclude 0 for. Found exactly, not by a formula such as
  2.8 × CV × sqrt(2/n) nor by a search over effects: multiplying an arm's blocks by (1 + X)
  multiplies every bootstrap resample's ratio by (1 + X) too (the resampling depends only on the
  shapes, so a replay draws the same resamples whatever X), so each replay's interval under any X
  follows from its interval under the X simulated, and so does the X from which it excludes 0.
  Read from replays of the recorded figures, it carries their own autocorrelation, trend and skew.
A replay in which an arm has fewer than `MIN_BLOCKS_PER_ARM` observed blocks (missing days) gets
no estimate, as a live experiment would: it counts as not detected, and outside the coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from core.base.errors import ValidationFailed
from core.base.formatting import count, measured, percent
from core.experiments.analysis import (BOOTSTRAP_RESAMPLES, POWER, RANDOMISATION_DRAWS, SEED,
                                       block_values, estimate_changes, randomisation_p_values,
                                       redraw_schedules)
from core.experiments.design import CONTROL, METRICS, MIN_BLOCKS_PER_ARM, ExperimentDesign

DEFAULT_RUNS = 200
MIN_RUNS, MAX_RUNS = 20, 10_000  # under 20 a share is too coarse to mean anything
MIN_EFFECT_PCT, MAX_EFFECT_PCT = -99, 1000  # -100 % or less would leave nothing to measure


@dataclass(frozen=True)
class Replays:
    """Per replay and non-control arm, shape (runs, arms - 1); NaN where there was no estimate."""

    effect_pct: float
    change: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray


@dataclass(frozen=True)
class PowerEstimate:
    runs: int
    effect_pct: float
    mean_change_pct: float | None
    coverage_pct: float | None
    power_pct: float
    minimum_detectable_effect_pct: float | None

    def as_json(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 2)
        return {"runs": self.runs, "effect_pct": self.effect_pct,
                "mean_change_pct": r(self.mean_change_pct), "coverage_pct": r(self.coverage_pct),
                "power_pct": r(self.power_pct),
                "minimum_detectable_effect_pct": r(self.minimum_detectable_effect_pct)}


def _midnight(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def baseline_blocks(design: ExperimentDesign, starts: Sequence[date | datetime],
                    values: Sequence[float], *, step: timedelta = timedelta(days=1),
                    starts_at: datetime | None = None) -> np.ndarray:
    """The recorded figures' value in each of the design's blocks laid from `starts_at`."""
    if not len(starts):
        raise ValidationFailed("from: there are no recorded figures to replay the design over")
    begin = starts_at or _midnight(starts[0])
    covered = _midnight(starts[-1]) + step
    if covered < design.ends_at(begin):
        have = (covered - begin) / timedelta(hours=1)
        raise ValidationFailed(
            f"from: the recorded figures from {begin.isoformat()} cover {measured(have)} h; "
            f"the design needs {design.blocks} blocks of {design.block_hours} h "
            f"({count(design.blocks * design.block_hours)} h)")
    blocks = block_values(starts, values, design.block_bounds(begin), design.burn_in_hours,
                          step=step).values
    if np.isnan(blocks).all():
        raise ValidationFailed(
            f"block_hours: no block of {design.block_hours} h less its burn-in of "
            f"{design.burn_in_hours} h holds a whole {measured(step / timedelta(hours=1))} h of "
            "recorded figures to measure")
    return blocks


def _check(effect_pct: float, runs: int) -> None:
    problems = []
    if not MIN_EFFECT_PCT <= effect_pct <= MAX_EFFECT_PCT:
        problems.append(f"effect_pct: {measured(effect_pct)} is outside "
                        f"{MIN_EFFECT_PCT}..{MAX_EFFECT_PCT}")
    if isinstance(runs, bool) or not isinstance(runs, int) or not MIN_RUNS <= runs <= MAX_RUNS:
        problems.append(f"runs: {runs} is not a whole number in {MIN_RUNS}..{MAX_RUNS}")
    if problems:
        raise ValidationFailed(*problems)


def replay(design: ExperimentDesign, baseline: np.ndarray, effect_pct: float = 0.0, *,
           runs: int = DEFAULT_RUNS, seed: int = SEED, resamples: int = BOOTSTRAP_RESAMPLES,
           draws: int = RANDOMISATION_DRAWS, p_values: bool = True) -> Replays:
    """`runs` replays of the design over the block values `baseline` (`baseline_blocks`).
    `p_values=False` skips the randomisation test (the minimum detectable effect needs only the
    intervals)."""
    _check(effect_pct, runs)
    arms = len(design.arms)
    # One stream each, so the bootstrap draws the same resamples with or without the p-values
    # (`_mde` relies on that) and whatever the effect.
    draw_rng, boot_rng, test_rng = (np.random.default_rng(s)
                                    for s in np.random.SeedSequence(seed).spawn(3))
    schedules = redraw_schedules(arms, design.rounds, runs, draw_rng)
    base = np.broadcast_to(np.asarray(baseline, dtype=float), schedules.shape)
    values = base * np.where(schedules != CONTROL, 1 + effect_pct / 100, 1.0)
    observed = ~np.isnan(base)
    counts = np.stack([((schedules == a) & observed).sum(axis=1) for a in range(arms)], axis=1)
    enough = counts.min(axis=1) >= MIN_BLOCKS_PER_ARM  # as `analysis.analyse` decides
    p = np.full((runs, arms - 1), np.nan)
    change, low, high = estimate_changes(values, schedules, arms, rng=boot_rng,
                                         resamples=resamples)
    if p_values:
        p = randomisation_p_values(values, schedules, arms, design.rounds, rng=test_rng,
                                   draws=draws)
    for array in (change, low, high, p):
        array[~enough] = np.nan
    return Replays(float(effect_pct), change, low, high, p)


def _mde(replays: Replays) -> float | None:
    """The smallest |X| that `POWER` of the replays' intervals exclude 0 for (module docstring)."""
    scale = 1 + replays.effect_pct / 100
    with np.errstate(invalid="ignore", divide="ignore"):
        # Each interval as it would be with no effect, as ratios of the means.
        low = (1 + replays.low / 100) / scale
        high = (1 + replays.high / 100) / scale
        # From which effect on it excludes 0: upwards (1+X)·low > 1, downwards (1+X)·high < 1.
        up = np.where(low > 0, 1 / low - 1, np.inf)
        down = np.where(high > 0, 1 - 1 / high, np.inf)
    up[np.isnan(up)] = np.inf
    down[np.isnan(down)] = np.inf
    needed = max(np.quantile(up, POWER), np.quantile(down, POWER))
    return float(max(needed, 0.0) * 100) if np.isfinite(needed) else None


def simulate(design: ExperimentDesign, starts: Sequence[date | datetime], values: Sequence[float],
             effect_pct: float = 0.0, *, runs: int = DEFAULT_RUNS, seed: int = SEED,
             step: timedelta = timedelta(days=1), starts_at: datetime | None = None,
             resamples: int = BOOTSTRAP_RESAMPLES, draws: int = RANDOMISATION_DRAWS
             ) -> PowerEstimate:
    """Power, coverage and the minimum detectable effect of `design` on the recorded figures
    (`starts[i]`, `values[i]`: one per day by default, as `outcomes.daily_figures` gives them)."""
    baseline = baseline_blocks(design, starts, values, step=step, starts_at=starts_at)
    return summarise(replay(design, baseline, effect_pct, runs=runs, seed=seed,
                            resamples=resamples, draws=draws))


def summarise(replays: Replays) -> PowerEstimate:
    runs = replays.change.shape[0]
    estimated = ~np.isnan(replays.change) & ~np.isnan(replays.low)
    effect = replays.effect_pct
    excludes_zero = estimated & ((replays.low > 0) | (replays.high < 0))
    covers = estimated & (replays.low <= effect) & (effect <= replays.high)
    return PowerEstimate(
        runs=runs, effect_pct=effect,
        mean_change_pct=float(replays.change[estimated].mean()) if estimated.any() else None,
        coverage_pct=float(100 * covers.sum() / estimated.sum()) if estimated.any() else None,
        power_pct=float(100 * excludes_zero.mean()),
        minimum_detectable_effect_pct=_mde(replays))


def minimum_detectable_effect(design: ExperimentDesign, starts: Sequence[date | datetime],
                              values: Sequence[float], *, runs: int = DEFAULT_RUNS,
                              seed: int = SEED, step: timedelta = timedelta(days=1),
                              starts_at: datetime | None = None) -> float | None:
    """The design's minimum detectable effect on the recorded figures, from A/A replays without
    the randomisation test (the intervals are all it needs). None: the figures are too few for
    any effect to be found with `POWER`."""
    baseline = baseline_blocks(design, starts, values, step=step, starts_at=starts_at)
    return _mde(replay(design, baseline, 0.0, runs=runs, seed=seed, p_values=False))


def detectable_sentence(design: ExperimentDesign, mde_pct: float | None) -> str:
    """"with 28 blocks of 48 h you can detect a change of about ±15% in tokens per day"."""
    what = f"with {design.blocks} blocks of {design.block_hours} h"
    if mde_pct is None:
        return f"{what} the recorded figures are too few to say what change could be detected"
    return (f"{what} you can detect a change of about ±{percent(mde_pct, 0)} in "
            f"{METRICS[design.metric]}")
