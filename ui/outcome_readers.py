"""Cached reads of the outcomes and the backtest (see `ui.readers` for how caching works)."""

from __future__ import annotations

import pandas as pd

from core.allocation import backtest as backtests
from core.allocation.split import Split
from core.platform_data import outcomes as core_outcomes
from db.engine import Database
from ui.readers import reader


@reader(ttl=300, spinner="Measuring what followed each change of the split…")
def outcomes_and_figures(db: Database, window_days: int) -> tuple[list[core_outcomes.Outcome], pd.DataFrame]:
    """The outcomes and the daily figures they were measured on, in one pass over the data."""
    return core_outcomes.outcomes_and_figures(db, window_days)


def outcomes(db: Database, window_days: int) -> list[core_outcomes.Outcome]:
    return outcomes_and_figures(db, window_days)[0]


@reader(ttl=300)
def last_changes(db: Database, window_days: int):
    return core_outcomes.last_changes(db, window_days)


@reader(ttl=300)
def scorecard(db: Database, window_days: int) -> list[dict]:
    return core_outcomes.scorecard(db, window_days, outcomes=outcomes(db, window_days))


@reader(ttl=300)
def period_changes(db: Database, first_id: str, second_id: str):
    return core_outcomes.compare_periods(db, first_id, second_id)


@reader(ttl=60)
def backtest(db: Database, split: Split, days: int) -> backtests.Backtest:
    return backtests.backtest(db, split, days)

