"""Outcome and backtest panels shared by the Outcomes, Review and proposal pages.

Each is one call from a page, so a page stays a flat script and other pages can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from core.allocation.backtest import DEFAULT_DAYS, projection
from core.allocation.split import BUCKET_LABELS, Split
from core.base.errors import DomainError
from core.platform_data.outcomes import (CONFIDENCE, DEFAULT_WINDOW_DAYS, FIGURES, MIN_DAYS,
                                         NOT_ENOUGH_DATA, USD_FIGURES, FigureChange, Outcome)
from db.engine import Database
from ui import outcome_readers
from ui.downloads import csv_download
from ui.format import count, measured, money, percent, price, share, usd, when

LEVEL = share(CONFIDENCE)  # "95%": every interval's label is built from core's level
ASSOCIATION = ("Before and after are compared, not cause and effect: anything else that changed "
               f"at the same time shows up here too. Intervals: a {LEVEL} bootstrap of the daily "
               f"values; a change is coloured only when its whole {LEVEL} interval lies above or "
               f"below zero, grey otherwise; fewer than {MIN_DAYS} days with data on a side says "
               f"“{NOT_ENOUGH_DATA}”.")
BACKTEST_DAYS = (30, DEFAULT_DAYS, 365)
TOO_EARLY = "too early: check back on {day}"
NO_BASE = "no base (0 before)"
MONEY_COLUMNS = ("actual", "proposed", "difference", "live")


def figure_value(figure: str) -> Callable[[Any], str]:
    """How one figure's value reads: dollars for the figures recorded in USD (a price with its
    small digits), a measured number otherwise."""
    if figure == "avg_price":
        return price
    return usd if figure in USD_FIGURES else measured


def _interval(change: FigureChange) -> str:
    low, high = change.ci95  # type: ignore[misc]
    return f"{LEVEL}: {percent(low, signed=True)} … {percent(high, signed=True)}"


def too_early(day: date) -> str:
    return TOO_EARLY.format(day=day.isoformat())


def change_text(change: FigureChange) -> str:
    """`+12.3% (95%: +5.1% … +19.8%)`, or why there is no number."""
    if change.change_pct is None:
        return NO_BASE if change.enough_data and change.before == 0 else NOT_ENOUGH_DATA
    text = percent(change.change_pct, signed=True)
    return f"{text} ({_interval(change)})" if change.ci95 else text


def change_sentence(label: str, change: FigureChange, complete_on: date | None = None) -> str:
    """One plain sentence: did the figure move, as far as its interval can tell?
    `Tokens launched per day rose 12.0% (95%: +3.0% … +21.0%).`, `…: no clear change (…)`,
    `…: too early: check back on 2026-12-21.`"""
    name = label.removesuffix(" ($)")
    if complete_on is not None:
        so_far = f" (so far {change_text(change)})" if change.change_pct is not None else ""
        return f"{name}: {too_early(complete_on)}{so_far}."
    if change.change_pct is None:
        return f"{name}: {change_text(change)}."
    if change.direction:
        verb = "rose" if change.direction > 0 else "fell"
        return f"{name} {verb} {percent(abs(change.change_pct))} ({_interval(change)})."
    if change.ci95 is None:
        return f"{name}: no clear change ({change_text(change)}, no interval)."
    return (f"{name}: no clear change ({percent(change.change_pct, signed=True)}, but the "
            f"{LEVEL} interval runs from {percent(change.ci95[0], signed=True)} to "
            f"{percent(change.ci95[1], signed=True)}).")


def change_colour(change: FigureChange | None, delta_sign: int = 0,
                  complete_on: date | None = None) -> str:
    """A metric's `delta_color`: green or red only when the interval excludes zero (and agrees
    with the delta's own sign, when the delta is another number); grey otherwise and while the
    window is still filling."""
    if change is None or complete_on is not None or not change.direction:
        return "off"
    if delta_sign and delta_sign != change.direction:
        return "off"
    return "green" if change.direction > 0 else "red"


def changes_table(outcomes: list[Outcome]) -> pd.DataFrame:
    """Every change (the first period has none) with each figure's change and interval."""
    rows = []
    for outcome in outcomes[1:]:
        days = f"{outcome.days_before} / {outcome.days_after}" + (" (still running)" if outcome.open else "")
        ready = outcome.complete_on
        rows.append({"from": when(outcome.effective_from), "split": outcome.split.label(),
                     "previous": outcome.previous_split.label() if outcome.previous_split else "",
                     "days before / after": days,
                     **{label: too_early(ready) if ready else change_text(outcome.figures[name])
                        for name, label in FIGURES.items()}})
    return pd.DataFrame(rows)


def figure_grid(outcome: Outcome) -> None:
    """The six figures of one change: after, with the change and its interval below, coloured
    only when the interval supports it, and one sentence each."""
    cells = st.columns(3)
    ready = outcome.complete_on
    for index, (name, label) in enumerate(FIGURES.items()):
        change, shown = outcome.figures[name], figure_value(name)
        cells[index % 3].metric(label, shown(change.after),
                                None if change.change_pct is None
                                else percent(change.change_pct, signed=True),
                                delta_color=change_colour(change, complete_on=ready),
                                help=f"before {shown(change.before)} over {change.n_before} days; "
                                     f"after over {change.n_after} days")
        cells[index % 3].caption(change_sentence(label, change, ready))


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
    """Amounts as exact text (`1,000,000,000,031,991.20`): a table of floats would drop the cents
    of a large total, and the caption promises they agree to the cent."""
    frame = pd.DataFrame(rows)
    frame["bucket"] = frame["bucket"].map(lambda b: BUCKET_LABELS.get(b, "Total"))
    for column in MONEY_COLUMNS:
        if column in frame:
            frame[column] = frame[column].map(money)
    return frame


def _money_config(frame: pd.DataFrame) -> dict[str, Any]:
    return {c: st.column_config.TextColumn(c, alignment="right") for c in MONEY_COLUMNS
            if c in frame}


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
            frame = _money_frame(projection(profit, live, proposed))
        except DomainError as error:
            st.error("; ".join(error.problems))
        else:
            st.dataframe(frame, hide_index=True, column_config=_money_config(frame))
        return
    st.caption(f"{count(result.distributions)} distributions, {money(result.total)} in all, "
               f"replayed under {proposed.label()} with the ledger's own rounding: the totals "
               "agree to the cent.")
    frame = _money_frame(result.rows())
    st.dataframe(frame, hide_index=True, key=f"backtest_table_{key}",
                 column_config=_money_config(frame))
    # The CSV keeps the amounts as numbers (exact Decimals), not as the table's grouped text.
    exact = pd.DataFrame(result.rows()).assign(
        bucket=lambda f: f["bucket"].map(lambda b: BUCKET_LABELS.get(b, "Total")))
    csv_download(exact, f"backtest-{proposed.label().replace('/', '-')}.csv", f"backtest_csv_{key}")
