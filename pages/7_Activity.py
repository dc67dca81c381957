"""Activity: the transparency log (protocol_activity) and the weekly allocation reports."""

import re

import streamlit as st

from core.allocation.split import BUCKETS, format_pct
from ui import readers
from ui.feedback import after_write, core_call
from ui.format import MISSING, count, share, when
from ui.page import setup_page
from ui.proposals import link

page = setup_page("Activity", "📰")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def by_split(description: str, splits: dict[str, str]) -> str:
    """Proposals named by their split, not their id: `proposal 75/15/6/4 (3f2a…)`."""
    return UUID.sub(lambda m: f"{splits[m[0]]} ({m[0][:8]})" if m[0] in splits else m[0],
                    description)


def proposal_of(entry) -> str | None:
    data = entry.metadata or {}
    key = data.get("proposal_id") or data.get("allocation_id")
    return link(str(key)) if key else ""  # empty, not "None", where no proposal is concerned

types = readers.activity_types(page.db)
kind_col, limit_col = st.columns([3, 1])
kind = kind_col.selectbox("Type", ["All types", *types], key="activity_type")
limit = limit_col.selectbox("Rows", [50, 100, 500], key="activity_limit")
entries = readers.activity(page.db, None if kind == "All types" else kind, limit)
if not entries:
    st.info("Nothing logged yet.")
else:
    splits = readers.proposal_splits(page.db)
    picked = st.dataframe(
        [{"when": when(e.timestamp), "type": e.activity_type,
          "description": by_split(e.description, splits), "proposal": proposal_of(e)}
         for e in entries],
        hide_index=True, key="activity_table", on_select="rerun", selection_mode="single-row",
        column_config={"proposal": st.column_config.LinkColumn("proposal", display_text="open")})
    rows = picked.selection.rows if picked else []
    if rows:
        entry = entries[rows[0]]
        st.markdown(f"**{entry.activity_type}** · {when(entry.timestamp)}")
        st.text(by_split(entry.description, splits))  # logged text may quote user text
        st.json(entry.metadata)
    else:
        st.caption("Select a row to see its details.")

st.subheader("🗓️ Weekly allocation reports")
if page.can("analyst") and st.button("📝 Write this week's report now", key="activity_report"):
    with core_call(), st.spinner("Writing the report…"):
        from core.jobs.reports import weekly_report

        weekly_report(page.db)
        after_write("📝 Weekly report written to the activity log.")
reports = readers.weekly_reports(page.db)
if not reports:
    st.caption("No weekly report yet: one is written every Monday 09:00 UTC "
               "(`python -m core report weekly`).")
for report in reports:
    data = report.metadata
    with st.expander(f"{when(report.timestamp)} · {report.description}", expanded=report is reports[0]):
        split = data.get("active_split") or {}
        cells = st.columns(3)
        cells[0].metric("Active split", "/".join(format_pct(split.get(b, split.get(f"{b}_pct")))
                                                 for b in BUCKETS) if split else MISSING)
        cells[1].metric("Proposals in the week", count(data.get("proposals_count")))
        cells[2].metric("Average confidence", share(data.get("avg_confidence")))
        st.json(data, expanded=False)
