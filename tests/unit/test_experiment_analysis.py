"""What a switchback experiment found: block values, the estimate and its block-bootstrap interval,
the randomisation p-value, the verdict and the guardrails, on synthetic daily figures with a known
effect (seeded: every run of these tests sees the same numbers)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats

from core.allocation.split import Split
from core.experiments.analysis import (NOT_ENOUGH_BLOCKS, analyse, block_values, check_guardrails,
                                       estimate_changes, randomisation_p_values, redraw_schedules)
from core.experiments.design import ExperimentDesign, Guardrail, draw_schedule

CONTROL, B, C = Split.of(80, 15, 3, 2), Split.of(70, 18, 8, 4), Split.of(60, 25, 10, 5)
START = date(2026, 1, 1)


def daily_series(days: int, rng: np.random.Generator, *, level: float = 100.0, cv: float = 0.15,
                 phi: float = 0.6, trend: float = 0.0) -> np.ndarray:
    """Daily figures around `level`: log-normal noise of about `cv`, AR(1) from day to day
    (`phi`: neighbouring days alike, as real figures are) and a growth of `trend` (log) over the
    whole series."""
    noise = np.empty(days)
    noise[0] = rng.normal(0, cv)
    step = cv * np.sqrt(1 - phi ** 2)
    for day in range(1, days):
        noise[day] = phi * noise[day - 1] + rng.normal(0, step)
    return level * np.exp(noise + trend * np.arange(days) / days)


def days_of(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


def two_day_blocks(series: np.ndarray, blocks: int) -> np.ndarray:
    """Blocks of 48 h from START with a 24 h burn-in: each block is its second day."""
    return series[1:2 * blocks:2][:blocks]


def design(arms=(CONTROL, B), blocks=28, **changes) -> ExperimentDesign:
    return ExperimentDesign(arms=arms, block_hours=48, blocks=blocks, burn_in_hours=24, **changes)


def with_effect(values: np.ndarray, schedule, effect_pct: float) -> np.ndarray:
    return values * np.where(np.asarray(schedule) != 0, 1 + effect_pct / 100, 1.0)


# --- block values ----------------------------------------------------------------------------------

def test_a_block_is_the_mean_of_the_whole_days_inside_it_after_its_burn_in():
    made = ExperimentDesign((CONTROL, B), block_hours=72, blocks=4, burn_in_hours=24)
    starts_at = datetime(2026, 1, 1, tzinfo=UTC)
    figures = block_values(days_of(12), np.arange(12, dtype=float),
                           made.block_bounds(starts_at), made.burn_in_hours)
    assert figures.values.tolist() == [1.5, 4.5, 7.5, 10.5]  # days 1-2, 4-5, 7-8, 10-11
    assert figures.hours_used.tolist() == [48, 48, 48, 48]


def test_a_day_that_straddles_a_switch_or_the_burn_in_belongs_to_no_block():
    made = ExperimentDesign((CONTROL, B), block_hours=36, blocks=4, burn_in_hours=6)
    starts_at = datetime(2026, 1, 1, tzinfo=UTC)  # blocks end at 36 h, 72 h, 108 h, 144 h
    figures = block_values(days_of(6), [10.0, 20, 30, 40, 50, 60], made.block_bounds(starts_at),
                           made.burn_in_hours)
    # Block 1 measures 06:00 day 0 to 12:00 day 1: no whole day. Block 2, from 18:00 on day 1
    # to midnight on day 3: day 2 only.
    assert np.isnan(figures.values[0]) and figures.values[1] == 30.0


def test_a_missing_day_is_skipped_and_a_block_not_yet_over_is_not_observed():
    made = design(blocks=4)
    starts_at = datetime(2026, 1, 1, tzinfo=UTC)
    series = [1.0, 2.0, 3.0, np.nan, 5.0, 6.0, 7.0, 8.0]
    figures = block_values(days_of(8), series, made.block_bounds(starts_at), 0,
                           until=datetime(2026, 1, 6, 12, tzinfo=UTC))
    assert figures.values[:2].tolist() == [1.5, 3.0]
    assert figures.hours_used[:2].tolist() == [48, 24]
    assert np.isnan(figures.values[2:]).all()  # the third ends at 00:00 on 7 January


def test_hourly_figures_are_measured_the_same_way():
    made = ExperimentDesign((CONTROL, B), block_hours=6, blocks=4, burn_in_hours=2)
    starts_at = datetime(2026, 1, 1, tzinfo=UTC)
    hours = [starts_at + timedelta(hours=i) for i in range(24)]
    figures = block_values(hours, np.arange(24, dtype=float), made.block_bounds(starts_at), 2,
                           step=timedelta(hours=1))
    assert figures.values.tolist() == [3.5, 9.5, 15.5, 21.5]


# --- the estimate, its interval and the verdict ----------------------------------------------------

def test_an_injected_thirty_percent_is_found_with_its_interval_containing_thirty():
    made = design()
    committed = draw_schedule(made, random.Random(1))
    series = daily_series(56, np.random.default_rng(1))
    values = with_effect(two_day_blocks(series, 28), committed.schedule, 30)
    results = analyse(made, committed.schedule, values)
    effect = results.effects[0]
    assert effect.ci95[0] < 30 < effect.ci95[1] and effect.ci95[0] > 0
    assert 20 < effect.change_pct < 40 and effect.p_value < 0.01
    assert results.verdict.startswith("70/18/8/4 raised tokens per day by ")
    assert results.verdict == (f"70/18/8/4 raised tokens per day by {effect.change_pct:.0f}% "
                               f"(95%: {effect.ci95[0]:.0f} … {effect.ci95[1]:.0f}%)")


def test_an_a_a_experiments_intervals_contain_zero_in_about_95_percent_of_runs():
    # 300 experiments, each on its own autocorrelated series with its own schedule.
    rng = np.random.default_rng(2)
    runs, blocks = 300, 28
    values = np.stack([two_day_blocks(daily_series(2 * blocks, rng), blocks) for _ in range(runs)])
    schedules = redraw_schedules(2, blocks // 2, runs, rng)
    change, low, high = estimate_changes(values, schedules, 2, rng=rng)
    coverage = np.mean((low <= 0) & (0 <= high)) * 100
    assert 90 <= coverage <= 99
    assert abs(np.mean(change)) < 1.5


def test_intervals_stay_honest_on_a_growing_platform_with_three_arms():
    # A trend of +65 % over the experiment: the rounds keep each arm beside the others in time.
    rng = np.random.default_rng(3)
    runs, blocks = 240, 24
    values = np.stack([two_day_blocks(daily_series(2 * blocks, rng, trend=0.5), blocks)
                       for _ in range(runs)])
    schedules = redraw_schedules(3, blocks // 3, runs, rng)
    _, low, high = estimate_changes(values, schedules, 3, rng=rng)
    assert 90 <= np.mean((low <= 0) & (0 <= high)) * 100 <= 99


def test_the_randomisation_p_value_is_uniform_under_no_effect():
    rng = np.random.default_rng(4)
    runs = 240
    for blocks in (24, 28):  # 2^12 schedules, all enumerated; 2^14, drawn at random
        values = np.stack([two_day_blocks(daily_series(2 * blocks, rng), blocks)
                           for _ in range(runs)])
        schedules = redraw_schedules(2, blocks // 2, runs, rng)
        p = randomisation_p_values(values, schedules, 2, blocks // 2, rng=rng)[:, 0]
        assert stats.kstest(p, "uniform").pvalue > 0.01, blocks


def test_under_an_effect_the_p_values_crowd_near_zero_so_the_uniformity_check_can_fail():
    # Under an effect of 30 % the p-values crowd near 0: the KS check sees it at once.
    rng = np.random.default_rng(5)
    values = np.stack([two_day_blocks(daily_series(56, rng), 28) for _ in range(100)])
    schedules = redraw_schedules(2, 14, 100, rng)
    p = randomisation_p_values(with_effect(values, schedules, 30), schedules, 2, 14, rng=rng)
    assert stats.kstest(p[:, 0], "uniform").pvalue < 1e-6


def test_with_few_schedules_the_p_value_is_counted_over_every_one_of_them():
    made = ExperimentDesign((CONTROL, B), block_hours=48, blocks=4)
    # Rounds (10, 12) and (20, 30): 4 schedules, the arm's mean minus the control's is
    # +-1 +-10 over two: 5.5, -4.5, 4.5, -5.5. Observed 5.5: two of four are as extreme.
    results = analyse(made, (0, 1, 0, 1), [10.0, 12.0, 20.0, 30.0])
    assert results.effects[0].p_value == 0.5
    assert results.effects[0].change_pct == pytest.approx((21 / 15 - 1) * 100)


def test_the_same_blocks_always_give_the_same_interval_and_p_value():
    made = design()
    schedule = draw_schedule(made, random.Random(6)).schedule
    values = two_day_blocks(daily_series(56, np.random.default_rng(6)), 28)
    assert analyse(made, schedule, values) == analyse(made, schedule, values)


def test_no_effect_reads_as_no_detectable_difference_with_what_the_design_could_detect():
    made = design()
    schedule = draw_schedule(made, random.Random(2)).schedule
    values = two_day_blocks(daily_series(56, np.random.default_rng(7)), 28)
    results = analyse(made, schedule, values, mde_pct=18.2)
    assert not results.effects[0].detected
    assert results.verdict == "no detectable difference (the design could detect ±18%)"
    own = analyse(made, schedule, values).verdict  # without a simulation: from the interval
    assert own.startswith("no detectable difference (the design could detect ±")


def test_with_three_arms_each_verdict_names_its_arm():
    made = design(arms=(CONTROL, B, C), blocks=24)
    schedule = draw_schedule(made, random.Random(3)).schedule
    values = two_day_blocks(daily_series(48, np.random.default_rng(8)), 24)
    values = values * np.where(np.asarray(schedule) == 2, 0.6, 1.0)
    verdict = analyse(made, schedule, values, metric="volume_per_day", mde_pct=15).verdict
    first, second = verdict.split("; ")
    assert first == "70/18/8/4: no detectable difference (the design could detect ±15%)"
    assert second.startswith("60/25/10/5 lowered trading volume per day by ")


def test_before_two_blocks_of_every_arm_have_ended_there_are_not_enough_blocks_yet():
    made = design()
    schedule = draw_schedule(made, random.Random(4)).schedule
    values = np.full(28, np.nan)
    values[:3] = [100.0, 110.0, 105.0]
    results = analyse(made, schedule, values)
    assert results.verdict == NOT_ENOUGH_BLOCKS and results.effects == []
    assert sum(a.blocks_used for a in results.arms) == 3


def test_the_results_read_as_the_cli_contract_prints_them():
    made = design(blocks=8)
    schedule = (0, 1, 1, 0, 0, 1, 1, 0)
    shown = analyse(made, schedule, [100.0, 120, 118, 99, 101, 125, 119, 100]).as_json()
    assert set(shown) == {"metric", "arms", "effects", "verdict"}
    assert shown["arms"][0] == {"arm": 0, "days_used": 4, "mean_per_day": 100.0}
    assert set(shown["effects"][0]) == {"arm", "change_pct", "ci95", "p_value"}
    assert shown["effects"][0]["change_pct"] == 20.5


def test_a_schedule_that_is_not_the_designs_is_refused():
    with pytest.raises(ValueError, match="schedule: not 2 rounds of the 2 arms"):
        analyse(design(blocks=4), (0, 0, 1, 1), [1.0, 2, 3, 4])


# --- guardrails ------------------------------------------------------------------------------------

def test_an_arm_that_cuts_a_guarded_metric_beyond_its_limit_breaches_the_guardrail():
    made = design(guardrails=(Guardrail("volume_per_day", Decimal(10)),
                              Guardrail("wallet_connections", Decimal(10))))
    schedule = draw_schedule(made, random.Random(5)).schedule
    rng = np.random.default_rng(9)
    volume = with_effect(two_day_blocks(daily_series(56, rng), 28), schedule, -40)
    wallets = with_effect(two_day_blocks(daily_series(56, rng), 28), schedule, -3)
    breaches = check_guardrails(made, schedule, {"volume_per_day": volume,
                                                 "wallet_connections": wallets})
    assert [(b.metric, b.arm) for b in breaches] == [("volume_per_day", 1)]
    assert breaches[0].ci95[1] < 0 and breaches[0].change_pct < -10
    assert breaches[0].message.startswith("guardrail volume_per_day:-10 breached by 70/18/8/4: -")


def test_a_drop_within_the_limit_or_on_too_few_blocks_breaches_nothing():
    made = design(guardrails=(Guardrail("volume_per_day", Decimal(50)),))
    schedule = draw_schedule(made, random.Random(6)).schedule
    volume = with_effect(two_day_blocks(daily_series(56, np.random.default_rng(10)), 28),
                         schedule, -30)
    assert check_guardrails(made, schedule, {"volume_per_day": volume}) == []
    early = np.where(np.arange(28) < 3, volume, np.nan)
    strict = design(guardrails=(Guardrail("volume_per_day", Decimal(1)),))
    assert check_guardrails(strict, schedule, {"volume_per_day": early}) == []
    assert check_guardrails(strict, schedule, {"volume_per_day": volume}) != []
