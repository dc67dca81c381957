"""Performance: each allocation period against token launches, prices and volume. The window and
the two periods compared live in the address (`?from=...&to=...&a=ID&b=ID`)."""

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from ui import experiments, figures, outcome_figures, outcome_readers, readers
from ui.downloads import csv_download
from ui.format import count, number, price, usd
from ui.outcome_panels import change_colour, change_sentence
from ui.page import setup_page

MIN_COMPARABLE_DAYS = 1.0  # a period younger than a day says nothing yet: not a default pick
page = setup_page("Performance", "📈")
st.caption("Periods are half-open, [from, until): a token launched exactly when a split changed "
           "counts once, in the later period. Per-day figures make short and long periods "
           "comparable.")


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


if "performance_window" not in st.session_state:  # a shared link sets it once
    start, end = _day(st.query_params.get("from")), _day(st.query_params.get("to"))
    st.session_state["performance_window"] = [start, end] if start and end else []
window = st.date_input("Only this window (optional)", key="performance_window")
date_from, date_to = (window[0], window[1]) if len(window) == 2 else (None, None)
frame = readers.performance(page.db, date_from, date_to)
params = {"from": date_from.isoformat(), "to": date_to.isoformat()} if date_from else {}
if frame.empty:
    st.query_params.from_dict(params)
    st.info("No allocation period overlaps this window.")
    st.stop()


def _shown(iso: str | None, open_end: str = "") -> str:
    return open_end if iso is None or pd.isna(iso) else pd.Timestamp(iso).strftime("%Y-%m-%d %H:%M")


frame["label"] = frame["split"] + " from " + frame["effective_from"].map(_shown)
frame["from"] = frame["effective_from"].map(_shown)
frame["until"] = frame["effective_until"].map(lambda iso: _shown(iso, "now (live)"))
# Every figure through the one formatting module: a gap reads "—", never "None" or "nan".
table = frame[["label", "days", "tokens_launched", "from", "until"]].assign(
    **{"tokens / day": frame["tokens_per_day"].map(partial(number, places=2)),
       "avg price": frame["avg_price"].map(price),
       "volume": frame["total_volume"].map(partial(usd, places=0)),
       "volume / day": frame["volume_per_day"].map(partial(usd, places=0))})
st.dataframe(
    table[["label", "days", "tokens_launched", "tokens / day", "avg price", "volume",
           "volume / day", "from", "until"]],
    hide_index=True, key="performance_table", column_config={
        "label": "period", "days": st.column_config.NumberColumn(format="%.1f"),
        "tokens_launched": st.column_config.NumberColumn("tokens launched", format="localized"),
        **{c: st.column_config.TextColumn(c, alignment="right")
           for c in ("tokens / day", "avg price", "volume", "volume / day")},
        "from": "from (UTC)", "until": "until (UTC)"})

csv_download(frame.drop(columns=["label"]), "performance.csv", "performance_csv")

periods = readers.periods(page.db)
blocks = experiments.block_spans(page.db)
left, right = st.columns(2)
left.plotly_chart(outcome_figures.mark_period_bars(figures.period_bars(
    frame, "tokens_per_day", "Tokens launched per day", partial(number, places=2)), frame, periods,
    blocks), key="performance_tokens")
right.plotly_chart(outcome_figures.mark_period_bars(figures.period_bars(
    frame, "volume_per_day", "Trading volume per day ($)", partial(usd, places=0)), frame, periods,
    blocks), key="performance_volume")
st.caption("Bars are coloured by split as on the Outcomes page; hover one to see who approved it."
           + (" Hatched bars are periods an experiment's block opened; the hover names its arm."
              if blocks else ""))

st.subheader("Side by side")
if len(frame) < 2:
    st.query_params.from_dict(params)
    st.caption("Two periods are needed for a comparison.")
    st.stop()
ids = list(frame["allocation_id"])
labels = dict(zip(ids, frame["label"]))
# By default the two latest periods that have run at least a day: a split approved a minute ago
# has no launches yet, and comparing against it would paint everything red.
mature = [i for i, d in zip(ids, frame["days"]) if d >= MIN_COMPARABLE_DAYS]
default_a, default_b = (mature if len(mature) >= 2 else ids)[-2:]
for key, param, default in (("performance_a", "a", default_a), ("performance_b", "b", default_b)):
    if key not in st.session_state or st.session_state[key] not in ids:
        st.session_state[key] = st.query_params.get(param) if st.query_params.get(param) in ids \
            else default
pick_a, pick_b = st.columns(2)
a_id = pick_a.selectbox("Period A", ids, key="performance_a", format_func=labels.get)
b_id = pick_b.selectbox("Period B", ids, key="performance_b", format_func=labels.get)
st.query_params.from_dict({**params, "a": a_id, "b": b_id})
if min(frame.set_index("allocation_id").loc[[a_id, b_id], "days"]) < MIN_COMPARABLE_DAYS:
    st.caption("⚠️ One of these periods has run less than a day: its per-day figures are not "
               "meaningful yet.")
a, b = ids.index(a_id), ids.index(b_id)
rows = [("Days", "days", partial(number, places=1)), ("Tokens launched", "tokens_launched", count),
        ("Tokens per day", "tokens_per_day", partial(number, places=2)),
        ("Average price", "avg_price", price),
        ("Volume per day", "volume_per_day", partial(usd, places=0))]
# The change of the daily mean from A to B with its 95 % interval (core.platform_data.outcomes):
# a delta is coloured only when that interval lies wholly above or below zero.
changes = outcome_readers.period_changes(page.db, frame.at[a, "allocation_id"],
                                         frame.at[b, "allocation_id"])
for label, column, shown in rows:
    first, second = frame.at[a, column], frame.at[b, column]
    cell_a, cell_b = st.columns(2)
    cell_a.metric(f"{label} (A)", shown(first))
    delta, sign = None, 0
    if not (pd.isna(first) or pd.isna(second)):
        sign = int(second > first) - int(second < first)
        delta = shown(second - first, signed=True)
    cell_b.metric(f"{label} (B)", shown(second), delta,
                  delta_color=change_colour(changes.get(column), sign))
    if column in changes:
        cell_b.caption("B against A, per day over the whole periods: "
                       + change_sentence(label, changes[column]))
