"""Outcomes: where every split changed, what followed, how sure the numbers are, and who proposed
the changes that worked. The window and the chosen change live in the URL."""

import pandas as pd
import streamlit as st

from core.platform_data.outcomes import (DEFAULT_WINDOW_DAYS, FIGURES, WINDOW_DAYS_CHOICES,
                                         outcome_rows)
from ui import experiments, outcome_figures, outcome_readers
from ui.downloads import csv_download
from ui.format import percent, share, when
from ui.outcome_panels import ASSOCIATION, changes_table, figure_grid, too_early
from ui.page import setup_page

page = setup_page("Outcomes", "🎯")
st.caption(ASSOCIATION)

# The URL carries the window and the change, so a link shows the same view.
params = st.query_params
if "outcomes_window" not in st.session_state:
    asked = params.get("window", "")
    st.session_state["outcomes_window"] = (int(asked) if asked.isdigit()
                                           and int(asked) in WINDOW_DAYS_CHOICES else DEFAULT_WINDOW_DAYS)
window = st.segmented_control("Days before and after each change", WINDOW_DAYS_CHOICES,
                              key="outcomes_window", format_func=lambda d: f"{d} days")
window = window or DEFAULT_WINDOW_DAYS
params["window"] = str(window)

outcomes, daily = outcome_readers.outcomes_and_figures(page.db, window)
if not outcomes:
    st.info("No split has been in force yet.")
    st.stop()
if daily["tokens_per_day"].isna().all():
    st.info("No token launches recorded yet: the token figures have no data to compare.")

figure = st.selectbox("Figure", list(FIGURES), key="outcomes_figure", format_func=FIGURES.get)
blocks = experiments.block_spans(page.db)
st.plotly_chart(outcome_figures.timeline(daily, figure, outcomes, blocks=blocks),
                key="outcomes_timeline")
st.caption("Each band is a period, coloured and labelled by its split; hover a ▲ to see who "
           "proposed and approved the change, and why."
           + (" The strips along the top are experiment blocks, in their arm's colour; hover a "
              "■ to see the experiment and the arm." if blocks else ""))

st.subheader("What followed each change")
changes = outcomes[1:]
if not changes:
    st.info("Only one split so far: outcomes appear after the first change.")
else:
    st.dataframe(changes_table(outcomes), hide_index=True, key="outcomes_table")
    csv_download(lambda: pd.DataFrame(outcome_rows(changes)), f"outcomes-{window}d.csv",
                 "outcomes_csv")

    ids = [o.allocation_id for o in changes]
    if "outcomes_change" not in st.session_state:
        asked = params.get("change", "")
        measured = [o.allocation_id for o in changes if o.days_after] or ids
        st.session_state["outcomes_change"] = asked if asked in ids else measured[-1]
    by_id = {o.allocation_id: o for o in changes}
    chosen = by_id[st.selectbox(
        "Change", ids, key="outcomes_change",
        format_func=lambda i: f"{by_id[i].split.label()} from {when(by_id[i].effective_from)}")]
    params["change"] = chosen.allocation_id
    st.markdown(f"**{chosen.previous_split.label()} → {chosen.split.label()}**: "
                f"{chosen.days_before} days before, {chosen.days_after} after"
                + (f" (still running: {too_early(chosen.complete_on)})." if chosen.complete_on
                   else "."))
    st.plotly_chart(outcome_figures.before_after(daily, figure, chosen), key="outcomes_before_after")
    figure_grid(chosen)

st.subheader("Scorecard per proposer")
cards = outcome_readers.scorecard(page.db, window)
counts = ("proposals", "approved", "rejected", "expired", "pending")
# The table reads (—, not None, for a figure no approved change could measure); the CSV keeps
# the numbers as numbers.
numbers = pd.DataFrame([{"proposer": c["label"], **{k: c[k] for k in counts},
                         "avg confidence": c["avg_confidence"],
                         "changes measured": c["changes_measured"],
                         **{f"avg change: {FIGURES[f]} (%)": v
                            for f, v in c["avg_change_pct"].items()}} for c in cards])
shown = numbers.assign(**{"avg confidence": numbers["avg confidence"].map(share),
                          **{c: numbers[c].map(lambda v: percent(v, signed=True))
                             for c in numbers.columns if c.startswith("avg change")}})
st.dataframe(shown, hide_index=True, key="outcomes_scorecard")
csv_download(numbers, "scorecard.csv", "scorecard_csv")
st.caption("The average change is over the approved changes of each proposer with enough data; "
           "the outcome of a change is an association, not proof it caused what followed.")
