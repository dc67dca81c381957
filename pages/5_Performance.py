"""Performance: each allocation period against token launches, prices and volume. The window and
the two periods compared live in the address (`?from=...&to=...&a=ID&b=ID`)."""

from datetime import date

import pandas as pd
import streamlit as st

from ui import figures, outcome_figures, outcome_readers, readers
from ui.downloads import csv_download
from ui.outcome_panels import change_text
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
# Figures that can be missing (no token launched, a period of no length) are written out, so a
# gap reads "—" rather than "None".
table = frame[["label", "days", "tokens_launched", "total_volume", "from", "until"]].assign(
    **{name: frame[column].map(lambda v, f=fmt: "—" if pd.isna(v) else f.format(v))
       for name, column, fmt in (("tokens / day", "tokens_per_day", "{:,.2f}"),
                                 ("avg price", "avg_price", "${:,.4f}"),
                                 ("volume / day", "volume_per_day", "${:,.0f}"))})
st.dataframe(
    table[["label", "days", "tokens_launched", "tokens / day", "avg price", "total_volume",
           "volume / day", "from", "until"]],
    hide_index=True, key="performance_table", column_config={
        "label": "period", "days": st.column_config.NumberColumn(format="%.1f"),
        "tokens_launched": st.column_config.NumberColumn("tokens launched", format="%d"),
        "total_volume": st.column_config.NumberColumn("volume", format="dollar"),
        "from": "from (UTC)", "until": "until (UTC)"})

csv_download(frame.drop(columns=["label"]), "performance.csv", "performance_csv")

periods = readers.periods(page.db)
left, right = st.columns(2)
left.plotly_chart(outcome_figures.mark_period_bars(figures.period_bars(
    frame, "tokens_per_day", "Tokens launched per day"), frame, periods), key="performance_tokens")
right.plotly_chart(outcome_figures.mark_period_bars(figures.period_bars(
    frame, "volume_per_day", "Trading volume per day ($)"), frame, periods), key="performance_volume")
st.caption("Bars are coloured by split as on the Outcomes page; hover one to see who approved it.")

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
rows = [("Days", "days", "{:,.1f}"), ("Tokens launched", "tokens_launched", "{:,.0f}"),
        ("Tokens per day", "tokens_per_day", "{:,.2f}"), ("Average price", "avg_price", "${:,.4f}"),
        ("Volume per day", "volume_per_day", "${:,.0f}")]
# The change of the daily mean from A to B with its 95 % interval (core.platform_data.outcomes).
changes = outcome_readers.period_changes(page.db, frame.at[a, "allocation_id"],
                                         frame.at[b, "allocation_id"])
for label, column, fmt in rows:
    first, second = frame.at[a, column], frame.at[b, column]
    cell_a, cell_b = st.columns(2)
    cell_a.metric(f"{label} (A)", "—" if pd.isna(first) else fmt.format(first))
    delta = None
    if not (pd.isna(first) or pd.isna(second)):
        change = fmt.format(abs(second - first))
        delta = ("-" if second < first else "+") + change
    cell_b.metric(f"{label} (B)", "—" if pd.isna(second) else fmt.format(second), delta)
    if column in changes:
        cell_b.caption(f"B against A, mean per day over the whole periods: "
                       f"{change_text(changes[column])}")
