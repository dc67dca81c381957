"""The outcome of a change: its 95 % interval on a small known sample, when a change counts as
a rise or a fall (the interval excludes zero), and the day a still-filling window completes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.allocation.split import Split
from core.platform_data.outcomes import FIGURES, SEED, FigureChange, Outcome, compare_days

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]
BEFORE = [2.0, 3.0, 4.0, 3.0, 5.0]  # tokens launched per day, five days each side
AFTER = [6.0, 5.0, 7.0, 8.0, 6.0]


def _measured() -> FigureChange:
    frame = pd.DataFrame({f: np.nan for f in FIGURES}, index=pd.Index(DAYS, dtype=object))
    frame["tokens_per_day"] = BEFORE + AFTER
    return compare_days(frame, (DAYS[0], DAYS[4]), (DAYS[5], DAYS[9]))["tokens_per_day"]


def _scipy_interval(level: float) -> tuple[float, float]:
    """The same percentile bootstrap computed here, outside the code under test, at `level`."""
    def pct_change(before, after, axis=-1):
        return (np.mean(after, axis=axis) / np.mean(before, axis=axis) - 1) * 100

    result = stats.bootstrap((np.array(BEFORE), np.array(AFTER)), pct_change, n_resamples=1000,
                             method="percentile", confidence_level=level, vectorized=True,
                             paired=False, axis=-1, rng=np.random.default_rng([SEED, 5, 5]))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def test_the_interval_of_a_small_known_sample_is_the_95_percent_bootstrap():
    change = _measured()
    assert (change.before, change.after) == (pytest.approx(3.4), pytest.approx(6.4))
    assert change.change_pct == pytest.approx((6.4 / 3.4 - 1) * 100)
    # Fixed values: an interval computed at another level (80 % gives 57.9 … 133.3) fails here.
    assert change.ci95 == (pytest.approx(45.0, abs=1e-9), pytest.approx(158.333333333, abs=1e-6))
    assert change.ci95 == pytest.approx(_scipy_interval(0.95), abs=1e-9)
    assert _scipy_interval(0.80) != pytest.approx(change.ci95, abs=1e-3)


def _change(low: float | None, high: float | None, pct: float | None = 10.0) -> FigureChange:
    interval = None if low is None or high is None else (low, high)
    return FigureChange(1.0, 1.1, pct, interval, 14, 14)


@pytest.mark.parametrize("change, direction", [
    (_change(3.0, 21.0), 1), (_change(-15.0, -2.0), -1), (_change(-4.6, 386.7), 0),
    (_change(0.0, 12.0), 0), (_change(None, None), 0), (_change(None, None, None), 0)])
def test_only_an_interval_that_excludes_zero_makes_a_rise_or_a_fall(change, direction):
    assert change.direction == direction


def _outcome(start: datetime, until: datetime | None, after: tuple[date, date] | None,
             window: int = 14) -> Outcome:
    return Outcome("id", Split.of(75, 15, 6, 4), Split.of(80, 15, 3, 2), start, until, "ai", None,
                   "gus", None, "why", Decimal("0.8"), window, None, after)


def test_a_window_still_filling_completes_the_day_after_its_last_day():
    start = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    # Activated on the 7th: the window is the 14 days from the 8th to the 21st, complete once
    # the 21st has ended.
    assert _outcome(start, None, None).complete_on == date(2026, 12, 22)
    assert _outcome(start, None, (date(2026, 12, 8), date(2026, 12, 12))).complete_on == date(
        2026, 12, 22)
    at_midnight = datetime(2026, 12, 8, tzinfo=UTC)  # the window starts that very day
    assert _outcome(at_midnight, None, None, window=7).complete_on == date(2026, 12, 15)


def test_a_complete_window_or_a_period_that_ended_has_no_date_to_wait_for():
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert _outcome(start, None, (date(2026, 11, 2), date(2026, 11, 15))).complete_on is None
    ended = datetime(2026, 11, 5, tzinfo=UTC)
    assert _outcome(start, ended, (date(2026, 11, 2), date(2026, 11, 4))).complete_on is None
