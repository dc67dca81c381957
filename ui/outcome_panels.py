"""Outcome and backtest panels shared by the Outcomes, Review and proposal pages.

Each is one call from a page, so a page stays a flat script and other pages can reuse them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.allocation.backtest import DEFAULT_DAYS, projection
from core.allocation.split import BUCKET_LABELS, Split
from core.base.errors import DomainError
from core.platform_data.outcomes import (DEFAULT_WINDOW_DAYS, FIGURES, MIN_DAYS, NOT_ENOUGH_DATA,
                                         FigureChange, Outcome)
from db.engine import Database
from ui import outcome_readers
from ui.downloads import csv_download
from ui.format import when

ASSOCIATION = ("Before and after are compared, not cause and effect: anything else that changed "
               "at the same time shows up here too. Intervals: a 95 % bootstrap of the daily "
               f"values; fewer than {MIN_DAYS} days with data on a side says “{NOT_ENOUGH_DATA}”.")
BACKTEST_DAYS = (30, DEFAULT_DAYS, 365)


def change_text(change: FigureChange) -> str:
    """`+12.3 % (95 %: +5.1 … +19.8)`, or why there is no number."""
    if change.change_pct is None:
        if change.enough_data and change.before == 0:
            return "no base (0 before)"
        return NOT_ENOUGH_DATA
    text = f"{change.change_pct:+.1f} %"
    if change.ci95:
        text += f" (95 %: {change.ci95[0]:+.1f} … {change.ci95[1]:+.1f})"
    return text


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4g}"


def changes_table(outcomes: list[Outcome]) -> pd.DataFrame:
    """Every change (the first period has none) with each figure's change and interval."""
    rows = []
    for outcome in outcomes[1:]:
        days = f"{outcome.days_before} / {outcome.days_after}" + (" (still running)" if outcome.open else "")
        rows.append({"from": when(outcome.effective_from), "split": outcome.split.label(),
                     "previous": outcome.previous_split.label() if outcome.previous_split else "",
                     "days before / after": days,
                     **{label: change_text(outcome.figures[name]) for name, label in FIGURES.items()}})
    return pd.DataFrame(rows)


def figure_grid(outcome: Outcome) -> None:
    """The six figures of one change: after, with the change and its interval below."""
    cells = st.columns(3)
    for index, (name, label) in enumerate(FIGURES.items()):
        change = outcome.figures[name]
        cells[index % 3].metric(label, _value(change.after),
                                None if change.change_pct is None else f"{change.change_pct:+.1f} %",
                                help=f"before {_value(change.before)} over {change.n_before} days; "
                                     f"after over {change.n_after} days")
        cells[index % 3].caption(change_text(change))


def last_change(db: Database) -> None:
    """What the previous move did, for a governor about to approve the next one."""
    newest, last = outcome_readers.last_changes(db, DEFAULT_WINDOW_DAYS)
    with st.expander("📊 What the last change did", expanded=False):
        if newest is None:
            st.caption("No change of the split yet: nothing to measure.")
            return
        if last is None or last is not newest:
            st.caption(f"The newest change, {newest.previous_split.label()} → "
                       f"{newest.split.label()} on {when(newest.effective_from)}, has "
                       f"{newest.days_after} complete day(s) after it: too few to measure."
                       + (" The change before it:" if last else ""))
        if last is None:
            return
        running = " (still running: the days it has so far)" if last.open else ""
        st.markdown(f"**{last.previous_split.label()} → {last.split.label()}** on "
                    f"{when(last.effective_from)}: {last.days_before} days before against "
                    f"{last.days_after} after{running}.")
        figure_grid(last)
        st.caption(ASSOCIATION)


def _money_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["bucket"] = frame["bucket"].map(lambda b: BUCKET_LABELS.get(b, "Total"))
    return frame


def backtest(db: Database, proposed: Split, live: Split, key: str) -> None:
    """The ledger's recent distributions replayed under `proposed`, beside what they paid."""
    days = st.selectbox("Backtest over the last", BACKTEST_DAYS, index=1, key=f"backtest_days_{key}",
                        format_func=lambda d: f"{d} days")
    result = outcome_readers.backtest(db, proposed, days)
    if not result.distributions:
        st.info(f"No distributions in the last {days} days: nothing to replay. Project one profit "
                "instead.")
        profit = st.text_input("Profit to project", "1000.00", key=f"projection_{key}")
        try:
            st.dataframe(_money_frame(projection(profit, live, proposed)), hide_index=True)
        except DomainError as error:
            st.error("; ".join(error.problems))
        return
    st.caption(f"{result.distributions} distributions, {result.total:,f} in all, replayed under "
               f"{proposed.label()} with the ledger's own rounding: the totals agree to the cent.")
    frame = _money_frame(result.rows())
    st.dataframe(frame, hide_index=True, key=f"backtest_table_{key}")
    csv_download(frame, f"backtest-{proposed.label().replace('/', '-')}.csv", f"backtest_csv_{key}")
