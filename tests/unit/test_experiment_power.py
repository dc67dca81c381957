"""Power before starting: the design replayed over recorded daily figures with fresh schedules,
analysed as a live experiment. Seeded synthetic figures with noise and autocorrelation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from core.allocation.split import Split
from core.base.errors import ValidationFailed
from core.experiments.design import ExperimentDesign
from core.experiments.power import (MAX_RUNS, MIN_EFFECT_PCT, MIN_RUNS, baseline_blocks,
                                    detectable_sentence, minimum_detectable_effect, replay,
                                    simulate)
from tests.unit.test_experiment_analysis import daily_series, days_of

CONTROL, B, C = Split.of(80, 15, 3, 2), Split.of(70, 18, 8, 4), Split.of(60, 25, 10, 5)
DESIGN = ExperimentDesign((CONTROL, B), block_hours=48, blocks=28, burn_in_hours=24)
RECORDED = daily_series(60, np.random.default_rng(11), phi=0.7)
DAYS = days_of(60)


def test_an_injected_thirty_percent_is_found_in_every_replay_and_covered_by_its_intervals():
    found = simulate(DESIGN, DAYS, RECORDED, 30, runs=200, seed=1)
    assert found.runs == 200 and found.effect_pct == 30
    assert found.power_pct == 100
    assert 28 < found.mean_change_pct < 32
    assert 90 <= found.coverage_pct <= 99


def test_a_a_replays_of_the_recorded_figures_cover_zero_about_95_percent_of_the_time():
    for design, seed in ((DESIGN, 2), (ExperimentDesign((CONTROL, B, C), 48, 24, 24), 3),
                         (ExperimentDesign((CONTROL, B), 24, 28), 4)):
        nothing = simulate(design, DAYS, RECORDED, 0, runs=200, seed=seed)
        assert 90 <= nothing.coverage_pct <= 99, design
        assert nothing.power_pct == pytest.approx(100 - nothing.coverage_pct)
        assert abs(nothing.mean_change_pct) < 2


def test_the_replays_p_values_are_uniform_when_nothing_is_injected():
    p = replay(DESIGN, baseline_blocks(DESIGN, DAYS, RECORDED), 0, runs=300, seed=5).p_value
    assert stats.kstest(p[:, 0], "uniform").pvalue > 0.01


def test_the_minimum_detectable_effect_is_found_with_80_percent_power():
    mde = minimum_detectable_effect(DESIGN, DAYS, RECORDED, runs=200, seed=6)
    assert 3 < mde < 30
    at_mde = simulate(DESIGN, DAYS, RECORDED, mde, runs=200, seed=6)
    assert at_mde.power_pct == pytest.approx(80, abs=1)
    assert at_mde.minimum_detectable_effect_pct == pytest.approx(mde)
    assert simulate(DESIGN, DAYS, RECORDED, mde / 2, runs=200, seed=6).power_pct < 50


def test_a_longer_experiment_can_detect_a_smaller_effect():
    short = ExperimentDesign((CONTROL, B), block_hours=48, blocks=8, burn_in_hours=24)
    assert minimum_detectable_effect(short, DAYS, RECORDED, seed=7) > \
        minimum_detectable_effect(DESIGN, DAYS, RECORDED, seed=7)


def test_replays_in_which_an_arm_lacks_two_measured_blocks_count_as_finding_nothing():
    gappy = RECORDED.copy()
    gappy[1:40:2] = np.nan  # the measured day of each of the first 20 blocks is missing
    found = simulate(DESIGN, DAYS, gappy, 30, runs=200, seed=8)
    assert 0 < found.power_pct < 100  # 8 measured blocks: sometimes one arm holds 0 or 1


def test_the_recorded_figures_must_cover_the_whole_design():
    with pytest.raises(ValidationFailed) as refused:
        simulate(DESIGN, DAYS[:50], RECORDED[:50], 10)
    assert refused.value.problems == [
        "from: the recorded figures from 2026-01-01T00:00:00+00:00 cover 1,200 h; the design needs "
        "28 blocks of 48 h (1,344 h)"]


def test_blocks_that_hold_no_whole_day_cannot_be_measured_with_daily_figures():
    hourly_blocks = ExperimentDesign((CONTROL, B), block_hours=12, blocks=20)
    with pytest.raises(ValidationFailed, match="block_hours: no block of 12 h less its burn-in "
                                               "of 0 h holds a whole 24 h of recorded figures"):
        simulate(hourly_blocks, DAYS, RECORDED, 10)


def test_the_replay_can_start_later_in_the_recorded_figures():
    later = datetime(2026, 1, 3, tzinfo=UTC)
    assert baseline_blocks(DESIGN, DAYS, RECORDED, starts_at=later)[0] == RECORDED[3]
    baseline_blocks(DESIGN, DAYS, RECORDED, starts_at=later + timedelta(days=2))  # 56 days left
    with pytest.raises(ValidationFailed, match="cover 1,320 h"):
        baseline_blocks(DESIGN, DAYS, RECORDED, starts_at=later + timedelta(days=3))


@pytest.mark.parametrize(("effect", "runs", "message"), [
    (-100, 200, f"effect_pct: -100 is outside {MIN_EFFECT_PCT}..1000"),
    (10, MIN_RUNS - 1, f"runs: {MIN_RUNS - 1} is not a whole number in {MIN_RUNS}..{MAX_RUNS}"),
])
def test_an_impossible_effect_or_number_of_runs_is_refused(effect, runs, message):
    with pytest.raises(ValidationFailed) as refused:
        simulate(DESIGN, DAYS, RECORDED, effect, runs=runs)
    assert refused.value.problems == [message]


def test_the_power_reads_as_the_cli_contract_prints_it_and_the_form_says_it_in_words():
    shown = simulate(DESIGN, DAYS, RECORDED, 20, runs=MIN_RUNS, seed=9).as_json()
    assert set(shown) == {"runs", "effect_pct", "mean_change_pct", "coverage_pct", "power_pct",
                          "minimum_detectable_effect_pct"}
    assert detectable_sentence(DESIGN, 14.6) == \
        "with 28 blocks of 48 h you can detect a change of about ±15% in tokens per day"
