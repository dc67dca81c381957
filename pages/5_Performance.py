"""Performance: each allocation period against token launches, prices and volume."""

import pandas as pd
import streamlit as st

from ui import figures, outcome_figures, outcome_readers, readers
from ui.downloads import csv_download
from ui.outcome_panels import change_text
from ui.page import setup_page

page = setup_page("Performance", "📈")
st.caption("Periods are half-open, [from, until): a token launched exactly when a split changed "
           "counts once, in the later period. Per-day figures make short and long periods "
           "comparable.")

window = st.date_input("Only this window (optional)", value=[], key="performance_window")
date_from, date_to = (window[0], window[1]) if len(window) == 2 else (None, None)
frame = readers.performance(page.db, date_from, date_to)
if frame.empty:
    st.info("No allocation period overlaps this window.")
    st.stop()

frame["label"] = frame["split"] + " from " + frame["effective_from"].str.slice(0, 10)
st.dataframe(
    frame[["label", "days", "tokens_launched", "tokens_per_day", "avg_price", "total_volume",
           "volume_per_day", "effective_from", "effective_until"]],
    hide_index=True, key="performance_table", column_config={
        "label": "period", "days": st.column_config.NumberColumn(format="%.1f"),
        "tokens_per_day": st.column_config.NumberColumn("tokens / day", format="%.2f"),
        "avg_price": st.column_config.NumberColumn("avg price", format="$%.4f"),
        "total_volume": st.column_config.NumberColumn("volume", format="dollar"),
        "volume_per_day": st.column_config.NumberColumn("volume / day", format="dollar")})

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
    st.caption("Two periods are needed for a comparison.")
    st.stop()
labels = list(frame.index)
pick_a, pick_b = st.columns(2)
a = pick_a.selectbox("Period A", labels, index=len(labels) - 2, key="performance_a",
                     format_func=lambda i: frame.at[i, "label"])
b = pick_b.selectbox("Period B", labels, index=len(labels) - 1, key="performance_b",
                     format_func=lambda i: frame.at[i, "label"])
rows = [("Days", "days", "{:,.1f}"), ("Tokens launched", "tokens_launched", "{:,.0f}"),
        ("Tokens per day", "tokens_per_day", "{:,.2f}"), ("Average price", "avg_price", "${:,.4f}"),
        ("Volume per day", "volume_per_day", "${:,.0f}")]
# The change of the daily mean from A to B with its 95 % interval (core.outcomes).
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
