"""History: how the split moved, every row of the allocation log, and the AI's track record.
The filters live in the address (`?status=...&proposer=...&from=...&to=...`): a link shows the
same view."""

from datetime import date

import streamlit as st

from core.base.csv_export import csv_bytes
from core.proposals.history_export import HISTORY_CSV_COLUMNS
from ui import figures, readers
from ui.format import count, share
from ui.page import setup_page
from ui.proposals import link

page = setup_page("History", "📜")

st.subheader("The split over time")
st.caption("Each step is an active period: the split holds until the next one takes over.")
st.plotly_chart(figures.split_steps(readers.periods(page.db)), key="history_steps")

st.subheader("The allocation log")
log = readers.history(page.db)
if log.empty:
    st.info("The log is empty.")
    st.stop()
log["proposer"] = log["proposer_username"].fillna(log["proposed_by"])
status_options, proposer_options = sorted(log["status"].unique()), sorted(log["proposer"].unique())
first, last = log["timestamp"].min().date(), log["timestamp"].max().date()


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


# A shared link sets the filters once; from then on the widgets own them and write them back.
if "history_status" not in st.session_state:
    st.session_state["history_status"] = [s for s in st.query_params.get_all("status")
                                          if s in status_options]
    st.session_state["history_proposer"] = [p for p in st.query_params.get_all("proposer")
                                            if p in proposer_options]
    st.session_state["history_dates"] = (_day(st.query_params.get("from"), first),
                                         _day(st.query_params.get("to"), last))
status_col, proposer_col, dates_col = st.columns(3)
statuses = status_col.multiselect("Status", status_options, key="history_status",
                                  placeholder="All statuses")
proposers = proposer_col.multiselect("Proposer", proposer_options, key="history_proposer",
                                     placeholder="Everyone")
dates = dates_col.date_input("Filed between", key="history_dates")

shown = log
if statuses:
    shown = shown[shown["status"].isin(statuses)]
if proposers:
    shown = shown[shown["proposer"].isin(proposers)]
params = {"status": statuses, "proposer": proposers}
if isinstance(dates, (tuple, list)) and len(dates) == 2:
    day = shown["timestamp"].dt.date
    shown = shown[(day >= dates[0]) & (day <= dates[1])]
    if (dates[0], dates[1]) != (first, last):
        params.update({"from": dates[0].isoformat(), "to": dates[1].isoformat()})
elif isinstance(dates, (tuple, list)) and len(dates) == 1:
    st.caption("Pick the end date too to filter by date.")
st.query_params.from_dict({k: v for k, v in params.items() if v})

# The CSV's own columns (`core.proposals.history_export`): an approved split's status stays
# `active` in the log; `period` says whether it is still in force or closed, and when it ended.
columns = ["timestamp", "split", "status", "period", "period_start", "period_end", "proposer",
           "proposed_by", "confidence", "reasoning", "approved_by", "reviewed_by", "review_notes",
           "id"]
table = shown[columns].assign(page=shown["id"].map(link))
st.caption(f"{count(len(shown))} of {count(len(log))} rows")
st.dataframe(table, hide_index=True, key="history_table", column_config={
    "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0,
                                                  format="%.2f"),
    "timestamp": st.column_config.DatetimeColumn("filed", format="YYYY-MM-DD HH:mm"),
    "period_start": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "period_end": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "page": st.column_config.LinkColumn("proposal", display_text="open"),
})
records = readers.history_records(page.db)
export = [records[i] for i in shown["id"]]
st.download_button("⬇️ Download these rows as CSV", csv_bytes(export, HISTORY_CSV_COLUMNS),
                   file_name="profit_allocation_log.csv", mime="text/csv", key="history_csv")

st.subheader("🤖 AI suggestion quality, last 30 days")
quality = readers.suggestion_quality(page.db, 30)
cells = st.columns(5)
cells[0].metric("AI proposals", count(quality["proposals"]))
cells[1].metric("Average confidence", share(quality["avg_confidence"]))
cells[2].metric("Approved", count(quality["approved"]))
cells[3].metric("Rejected", count(quality["rejected"]))
cells[4].metric("Pending", count(quality["pending"]),
                help=f"{count(quality['expired'])} expired unreviewed")
decided = quality["approved"] + quality["rejected"]
if decided:
    st.caption(f"{share(quality['approved'] / decided)} of the decided AI proposals were approved.")
