"""What a switchback experiment found: each arm against the control, with honest uncertainty.

**The unit is the block.** Days inside a block share the same arm and the same few launches, so
they are not independent; a block's value is the mean of the metric's figures inside it after its
burn-in (`block_values`), and everything below treats blocks, never days, as the observations.

**Granularity: daily figures.** The platform's figures are per UTC day today
(`core.platform_data.outcomes.daily_figures`), so a block is measured by the *whole* days that lie
inside it after its burn-in; a day that straddles a switch or the burn-in belongs to neither arm
and is dropped (the point of a burn-in, Hu & Wager). With daily figures, blocks should therefore
start at midnight and last whole days. `block_values` takes any step (an hourly series with
`step=timedelta(hours=1)`, whose values are rates per day, works the same), so finer data later
needs no change here. A missing figure (NaN: no row that day) is skipped, never read as zero; a
block with nothing left, or not yet over by `until`, is not observed.

**The estimate:** `change_pct = (mean(arm's blocks) / mean(control's blocks) - 1) * 100`.

**The interval: a block bootstrap by rounds.** The blocks stay the observations, but they are
resampled a round at a time: a round (one block of each arm, side by side in time) is drawn with
replacement, `BOOTSTRAP_RESAMPLES` times, and the 2.5th and 97.5th percentiles of the resampled
change are the 95 % interval. Why rounds and not each arm's blocks separately: neighbouring blocks
are alike (a slow trend, a busy week), and the balanced schedule puts every arm in each stretch of
time, so the comparison is as precise as the blocks *within* a round differ. Resampling each arm
on its own ignores that pairing and measures the spread of the blocks across the whole experiment
instead: on simulated A/A experiments with day-to-day autocorrelation 0.6 its 95 % intervals held
0 in 96 to 100 % of runs, and in all of them with autocorrelation 0.8 or a growth trend, up to 2.9
times as wide as the rounds' (so the minimum detectable effect would be overstated that much);
rounds give 91 to 97 %. Percentile, not BCa: with a dozen rounds BCa's own correction is noise.
The few rounds are corrected for twice (`_spread`): a bootstrap of m values has (m-1)/m of their
variance, and the interval of a mean of m values is a t interval, wider than a normal one.
Measured in tests/unit/test_experiment_analysis.py and test_experiment_power.py.

**The p-value: randomisation inference** (Fisher's exact test of no effect; Bojinov, Simchi-Levi &
Zhao). Under the sharp null that no arm changes anything, the block values would have been the same
under any schedule the design could have drawn, so the observed statistic (the difference of the
two arms' means, two-sided) is set against its value under re-drawn schedules: every schedule when
there are at most `EXACT_LIMIT` (each round's order enumerated), else `RANDOMISATION_DRAWS` random
redraws, p = (1 + as extreme) / (1 + draws). Exact whatever the autocorrelation of the data, which
a normal approximation would not be.

**The verdict** follows the interval (the same rule as the power simulation's "power"): an
interval excluding 0 is a finding, anything else "no detectable difference", with the effect the
design could detect (from the power simulation when given, else `detectable_effect` from this
interval: about 2.8 standard errors). With fewer than `MIN_BLOCKS_PER_ARM` observed blocks in any
arm there is no estimate at all: "not enough blocks yet".

Everything is seeded (`seed`): the same blocks always give the same interval and p-value. The
array functions (`estimate_changes`, `randomisation_p_values`) work on many experiments at once,
which is how `core.experiments.power` analyses each replay exactly as a live experiment.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from core.base.formatting import number
from core.experiments.design import (CONTROL, METRICS, MIN_BLOCKS_PER_ARM, ExperimentDesign,
                                     is_balanced)

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000  # percentile intervals settle by 2,000; cost grows linearly
RANDOMISATION_DRAWS = 2000  # redraws when the schedules are too many to enumerate
EXACT_LIMIT = 5000  # enumerate every schedule up to this many (two arms: 12 rounds)
SEED = 20250119  # fixed: the same blocks always give the same interval and p-value
POWER = 0.80  # the minimum detectable effect is the one found this often at the 5 % level
NOT_ENOUGH_BLOCKS = "not enough blocks yet"
NO_BASE = "the control's mean is 0: there is no percent change to measure"
_CELLS = 2_000_000  # the largest (experiments x draws x blocks) array built at once (16 MB)
_TIE = 1e-9  # relative: a redrawn statistic equal to the observed one up to rounding counts


# --- block values --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockFigures:
    """One value per block (NaN: not observed) and the hours of data behind each."""

    values: np.ndarray
    hours_used: np.ndarray

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.values)


def _instant(value: date | datetime) -> np.datetime64:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    else:
        moment = datetime(value.year, value.month, value.day)
    return np.datetime64(moment, "s")


def block_values(starts: Sequence[date | datetime], values: Sequence[float],
                 bounds: Sequence[tuple[datetime, datetime]], burn_in_hours: int, *,
                 step: timedelta = timedelta(days=1),
                 until: datetime | None = None) -> BlockFigures:
    """Each block's mean figure over the observations lying wholly inside it after its burn-in.

    `starts[i]` is when observation i begins (a date means its midnight UTC) and it covers
    `step`; `starts` ascend. A block not over by `until` is not observed yet."""
    times = np.array([_instant(s) for s in starts], dtype="datetime64[s]")
    figures = np.asarray(values, dtype=float)
    if times.size and np.any(np.diff(times) <= np.timedelta64(0, "s")):
        raise ValueError("block_values: the observations' starts must ascend")
    span = np.timedelta64(int(step.total_seconds()), "s")
    present = ~np.isnan(figures)
    # Running sums: any block's sum and count are two lookups, however many blocks there are.
    sums = np.concatenate([[0.0], np.cumsum(np.where(present, figures, 0.0))])
    counts = np.concatenate([[0], np.cumsum(present)])
    burn_in = timedelta(hours=burn_in_hours)
    out = np.full(len(bounds), np.nan)
    hours = np.zeros(len(bounds))
    for index, (start, end) in enumerate(bounds):
        if until is not None and end > until:
            continue
        first = np.searchsorted(times, _instant(start + burn_in), side="left")
        last = np.searchsorted(times + span, _instant(end), side="right")
        if last > first and counts[last] > counts[first]:
            used = counts[last] - counts[first]
            out[index] = (sums[last] - sums[first]) / used
            hours[index] = used * step.total_seconds() / 3600
    return BlockFigures(out, hours)


# --- the estimators, on many experiments at once -------------------------------------------------

def arm_means(values: np.ndarray, schedules: np.ndarray, arms: int) -> np.ndarray:
    """(experiments, arms): each arm's mean block value (NaN: no observed block)."""
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    out = np.full((values.shape[0], arms), np.nan)
    for arm in range(arms):
        mask = (schedules == arm) & observed
        n = mask.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, arm] = np.where(n > 0, (filled * mask).sum(axis=1) / np.maximum(n, 1), np.nan)
    return out


def _ratio_pct(arm: np.ndarray, control: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        change = (arm / control - 1.0) * 100.0
    return np.where(np.isfinite(change), change, np.nan)


def _spread(rounds: np.ndarray) -> np.ndarray:
    """How far each experiment's block values are spread about their arm's mean before the
    resampling: sqrt(m/(m-1)) turns the bootstrap's biased variance of m rounds into the unbiased
    one, and t(m-1)/z widens the percentile interval as a t interval is wider than a normal one
    (with 7 rounds the two together are 1.35; with the first alone, 95 % intervals of 7 or 8 rounds
    covered 87 to 92 % of simulated A/A runs)."""
    m = np.maximum(rounds, 2).astype(float)
    level = 1 - (1 - CONFIDENCE) / 2
    return np.sqrt(m / (m - 1)) * stats.t.ppf(level, m - 1) / stats.norm.ppf(level)


def by_round(values: np.ndarray, schedules: np.ndarray, arms: int) -> np.ndarray:
    """(experiments, rounds, arms): each round's block value of each arm (the schedule's
    rounds hold every arm once, `design.is_balanced`)."""
    runs, blocks = values.shape
    shape = (runs, blocks // arms, arms)
    order = np.argsort(schedules.reshape(shape), axis=2)
    return np.take_along_axis(values.reshape(shape), order, axis=2)


def _bootstrap_means(values: np.ndarray, schedules: np.ndarray, arms: int,
                     rng: np.random.Generator, resamples: int) -> np.ndarray:
    """(experiments, resamples, arms): each arm's mean block value over rounds resampled with
    replacement (see the module's docstring: rounds keep each block beside the blocks of the
    other arms it ran next to). NaN where a resample holds no observed block of an arm."""
    table = by_round(values, schedules, arms)
    present = ~np.isnan(table)
    used = present.any(axis=2)
    rounds = used.sum(axis=1)
    # The rounds with data first, so that drawing among the first m picks only them.
    order = np.argsort(~used, axis=1, kind="stable")[:, :max(int(rounds.max()), 1)]
    table = np.take_along_axis(table, order[:, :, None], axis=1)
    present = np.take_along_axis(present, order[:, :, None], axis=1)
    counts = present.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, table, 0.0).sum(axis=1, keepdims=True) / counts
    spread = _spread(rounds)[:, None, None]
    table = np.where(present, mean + (table - mean) * spread, 0.0)
    picks = (rng.random((values.shape[0], resamples, table.shape[1]))
             * np.maximum(rounds, 1)[:, None, None]).astype(np.intp)
    rows = np.arange(values.shape[0])[:, None, None]
    taken = present[rows, picks]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (table[rows, picks] * taken).sum(axis=2) / taken.sum(axis=2)


def estimate_changes(values: np.ndarray, schedules: np.ndarray, arms: int, *,
                     rng: np.random.Generator, resamples: int = BOOTSTRAP_RESAMPLES
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For many experiments (rows of block values and their balanced schedules): each
    non-control arm's change in percent against the control and its bootstrap interval, as
    three arrays of shape (experiments, arms - 1): change, low, high. NaN where an arm has no
    observed block or the control's mean is 0."""
    means = arm_means(values, schedules, arms)
    change = _ratio_pct(means[:, 1:], means[:, [CONTROL]])
    tail = (1 - CONFIDENCE) / 2 * 100
    low = np.full_like(change, np.nan)
    high = np.full_like(change, np.nan)
    # A few experiments at a time keep the (experiments, resamples, rounds, arms) arrays small.
    chunk = max(1, _CELLS // (resamples * values.shape[1]))
    for first in range(0, values.shape[0], chunk):
        rows = slice(first, first + chunk)
        boot = _bootstrap_means(values[rows], schedules[rows], arms, rng, resamples)
        resampled = _ratio_pct(boot[:, :, 1:], boot[:, :, [CONTROL]])
        for arm in range(arms - 1):
            ok = ~np.isnan(change[rows, arm])
            if ok.any():
                # A zero control mean in a resample leaves NaN there; nanpercentile skips it.
                low[rows, arm][ok], high[rows, arm][ok] = np.nanpercentile(
                    resampled[ok, :, arm], [tail, 100 - tail], axis=1)
    return change, low, high


def schedule_count(arms: int, rounds: int) -> int:
    """How many schedules the design can draw: each round's order, independently."""
    return math.factorial(arms) ** rounds


def _all_schedules(arms: int, rounds: int) -> np.ndarray:
    orders = list(itertools.permutations(range(arms)))
    return np.array([np.concatenate(choice) for choice in itertools.product(orders, repeat=rounds)],
                    dtype=np.int8)


def redraw_schedules(arms: int, rounds: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, arms * rounds): schedules drawn as the design draws them, each round shuffled."""
    return np.argsort(rng.random((draws, rounds, arms)), axis=2).reshape(draws, -1).astype(np.int8)


def randomisation_p_values(values: np.ndarray, schedules: np.ndarray, arms: int, rounds: int, *,
                           rng: np.random.Generator, draws: int = RANDOMISATION_DRAWS,
                           exact_limit: int = EXACT_LIMIT) -> np.ndarray:
    """(experiments, arms - 1): the two-sided randomisation p-value of each arm's difference of
    means against the control, the schedule re-drawn under the design (blocks not observed, NaN,
    are left out of every redraw alike)."""
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    exact = schedule_count(arms, rounds) <= exact_limit
    shared = _all_schedules(arms, rounds) if exact else None
    stats_observed = _differences(filled[:, None, :], observed[:, None, :],
                                  schedules[:, None, :], arms)[:, 0, :]
    out = np.full((values.shape[0], arms - 1), np.nan)
    # A few experiments at a time keep the (experiments, draws, blocks) arrays small.
    chunk = max(1, _CELLS // max(1, (len(shared) if exact else draws) * values.shape[1]))
    for first in range(0, values.shape[0], chunk):
        rows = slice(first, first + chunk)
        n = filled[rows].shape[0]
        redrawn = (np.broadcast_to(shared, (n, *shared.shape)) if shared is not None else
                   redraw_schedules(arms, rounds, n * draws, rng).reshape(n, draws, -1))
        stats = _differences(filled[rows, None, :], observed[rows, None, :], redrawn, arms)
        target = np.abs(stats_observed[rows])[:, None, :] * (1 - _TIE)
        valid = ~np.isnan(stats)
        extreme = (np.abs(np.where(valid, stats, 0.0)) >= target) & valid
        # Enumerated: the observed schedule is among them. Drawn: counted once more (valid
        # whatever the number of draws, never 0).
        extra = 0 if exact else 1
        out[rows] = (extreme.sum(axis=1) + extra) / (valid.sum(axis=1) + extra)
    out[np.isnan(stats_observed)] = np.nan
    return out


def _differences(filled: np.ndarray, observed: np.ndarray, schedules: np.ndarray,
                 arms: int) -> np.ndarray:
    """(experiments, schedules, arms - 1): mean(arm) - mean(control) under each schedule."""
    means = []
    for arm in range(arms):
        mask = (schedules == arm) & observed
        n = mask.sum(axis=2)
        total = (mask * filled).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(n > 0, total / np.maximum(n, 1), np.nan))
    return np.stack([means[arm] - means[CONTROL] for arm in range(1, arms)], axis=2)


# --- one live experiment -------------------------------------------------------------------------

@dataclass(frozen=True)
class ArmSummary:
    arm: int
    blocks_used: int
    days_used: int
    mean_per_day: float | None


@dataclass(frozen=True)
class Effect:
    """One non-control arm against the control."""

    arm: int
    change_pct: float | None
    ci95: tuple[float, float] | None
    p_value: float | None

    @property
    def detected(self) -> bool:
        return self.ci95 is not None and (self.ci95[0] > 0 or self.ci95[1] < 0)

    def as_json(self) -> dict[str, Any]:
        return {"arm": self.arm, "change_pct": _round(self.change_pct, 2),
                "ci95": [round(v, 2) for v in self.ci95] if self.ci95 else None,
                "p_value": _round(self.p_value, 4)}


@dataclass(frozen=True)
class ExperimentResults:
    metric: str
    arms: list[ArmSummary]
    effects: list[Effect]
    verdict: str

    @property
    def enough_blocks(self) -> bool:
        return bool(self.effects)

    def as_json(self) -> dict[str, Any]:
        return {"metric": self.metric,
                "arms": [{"arm": a.arm, "days_used": a.days_used,
                          "mean_per_day": _round(a.mean_per_day)} for a in self.arms],
                "effects": [e.as_json() for e in self.effects], "verdict": self.verdict}


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _figures(figures: BlockFigures | Sequence[float], blocks: int) -> BlockFigures:
    if isinstance(figures, BlockFigures):
        result = figures
    else:
        values = np.asarray(figures, dtype=float)
        result = BlockFigures(values, np.where(np.isnan(values), 0.0, 24.0))
    if result.values.shape != (blocks,):
        raise ValueError(f"results: {result.values.shape[0]} block values for {blocks} blocks")
    return result


def detectable_effect(standard_error: float, rounds: int) -> float:
    """The effect found with `POWER` at the 5 % level: (t(0.975) + t(0.80)) standard errors with
    rounds - 1 degrees of freedom, which is the textbook 2.8 (1.96 + 0.84) for many rounds and
    more for few, as the intervals are wider then (`_spread`)."""
    df = max(rounds, 2) - 1
    return float((stats.t.ppf(1 - (1 - CONFIDENCE) / 2, df) + stats.t.ppf(POWER, df))
                 * standard_error)


def _pct_text(value: float) -> str:
    """12.34 -> "12", 2.71 -> "2.7", -0.04 -> "0": as precise as a verdict needs."""
    # A rounded zero has no sign in the formatting module: -0.04 reads "0", not "-0".
    return number(value, 0) if abs(value) >= 9.95 else number(value, 1).removesuffix(".0")


def _describe(effect: Effect, label: str, phrase: str, mde_pct: float | None,
              named: bool, rounds: int) -> str:
    if effect.change_pct is None or effect.ci95 is None:
        return f"{label}: {NO_BASE}"
    low, high = effect.ci95
    if effect.detected:
        verb = "raised" if effect.change_pct > 0 else "lowered"
        return (f"{label} {verb} {phrase} by {_pct_text(abs(effect.change_pct))}% "
                f"(95%: {_pct_text(low)} … {_pct_text(high)}%)")
    if mde_pct is None:  # the interval is about 2 t(0.975) standard errors wide
        t = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, max(rounds, 2) - 1)
        mde_pct = detectable_effect((high - low) / (2 * t), rounds)
    text = f"no detectable difference (the design could detect ±{_pct_text(mde_pct)}%)"
    return f"{label}: {text}" if named else text


def analyse(design: ExperimentDesign, schedule: Sequence[int],
            figures: BlockFigures | Sequence[float], *, metric: str | None = None,
            mde_pct: float | None = None, seed: int = SEED,
            resamples: int = BOOTSTRAP_RESAMPLES, draws: int = RANDOMISATION_DRAWS
            ) -> ExperimentResults:
    """Each arm against the control on `metric` (default: the design's primary metric), from
    the per-block figures (`block_values`, or one value per block, NaN where not observed).

    `mde_pct`: the effect the design could detect, from the power simulation run when the
    experiment was created; without it the verdict derives one from the interval itself."""
    metric = metric or design.metric
    arms = len(design.arms)
    blocks = _figures(figures, design.blocks)
    plan = np.asarray(schedule, dtype=np.int8)
    if plan.shape != (design.blocks,) or not is_balanced(schedule, arms):
        raise ValueError(f"schedule: not {design.rounds} rounds of the {arms} arms")
    values, plans = blocks.values[None, :], plan[None, :]
    means = arm_means(values, plans, arms)[0]
    observed = blocks.observed
    summaries = []
    for arm in range(arms):
        mine = (plan == arm) & observed
        summaries.append(ArmSummary(arm, int(mine.sum()),
                                    int(round(blocks.hours_used[mine].sum() / 24)),
                                    None if np.isnan(means[arm]) else float(means[arm])))
    if min(s.blocks_used for s in summaries) < MIN_BLOCKS_PER_ARM:
        return ExperimentResults(metric, summaries, [], NOT_ENOUGH_BLOCKS)
    boot_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    change, low, high = estimate_changes(values, plans, arms, rng=boot_rng, resamples=resamples)
    p = randomisation_p_values(values, plans, arms, design.rounds, rng=test_rng, draws=draws)
    effects = []
    for arm in range(1, arms):
        c, lo, hi = change[0, arm - 1], low[0, arm - 1], high[0, arm - 1]
        found = not (np.isnan(c) or np.isnan(lo))
        effects.append(Effect(arm, float(c) if found else None,
                              (float(lo), float(hi)) if found else None,
                              None if np.isnan(p[0, arm - 1]) else float(p[0, arm - 1])))
    named = arms > 2
    phrase = METRICS[metric]
    rounds = int((~np.isnan(by_round(values, plans, arms))).any(axis=2).sum())
    verdict = "; ".join(_describe(e, design.arms[e.arm].label(), phrase, mde_pct, named, rounds)
                        for e in effects)
    return ExperimentResults(metric, summaries, effects, verdict)


# --- guardrails ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GuardrailBreach:
    metric: str
    arm: int
    change_pct: float
    ci95: tuple[float, float]
    message: str


def check_guardrails(design: ExperimentDesign, schedule: Sequence[int],
                     figures: Mapping[str, BlockFigures | Sequence[float]], *,
                     seed: int = SEED,
                     resamples: int = BOOTSTRAP_RESAMPLES) -> list[GuardrailBreach]:
    """The guardrails an arm has broken: its change on the guardrail's metric is below -PCT
    *and* its whole interval lies below 0. Both, because a guardrail stops an experiment: the
    estimate alone would stop it on noise; the interval alone on a drop smaller than allowed.
    Nothing is breached before every arm has `MIN_BLOCKS_PER_ARM` observed blocks."""
    breaches = []
    arms = len(design.arms)
    plans = np.asarray(schedule, dtype=np.int8)[None, :]
    for guardrail in design.guardrails:
        values = _figures(figures[guardrail.metric], design.blocks).values[None, :]
        counts = [int(((plans == a) & ~np.isnan(values)).sum()) for a in range(arms)]
        if min(counts) < MIN_BLOCKS_PER_ARM:
            continue
        change, low, high = estimate_changes(values, plans, arms,
                                             rng=np.random.default_rng(seed), resamples=resamples)
        limit = -float(guardrail.max_drop_pct)
        for arm in range(1, arms):
            c, lo, hi = change[0, arm - 1], low[0, arm - 1], high[0, arm - 1]
            if not np.isnan(c) and not np.isnan(hi) and c < limit and hi < 0:
                label = design.arms[arm].label()
                breaches.append(GuardrailBreach(
                    guardrail.metric, arm, float(c), (float(lo), float(hi)),
                    f"guardrail {guardrail.label()} breached by {label}: {_pct_text(c)}% "
                    f"(95%: {_pct_text(lo)} … {_pct_text(hi)}%)"))
    return breaches
