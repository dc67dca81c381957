"""Distributions: split a profit with the live split into the ledger (once per key), and the ledger."""

from datetime import date

import streamlit as st

from core.distribution import distribute
from core.split import BUCKET_LABELS, BUCKETS
from ui import figures, readers
from ui.feedback import after_write, core_call
from ui.format import money, when
from ui.page import setup_page

page = setup_page("Distributions", "💸")
live = readers.current(page.db)
policy = readers.policy(page.db)

if not page.can("analyst"):
    st.caption("Analysts run distributions; you can read the ledger.")
elif policy.distributions_paused:
    st.warning("⏸️ Distributions are paused by the policy; an admin can resume them.")
else:
    st.markdown(f"A distribution splits the profit with the live split **{live.split.label()}** "
                "and records it in the ledger. The key makes it safe to retry: the same key "
                "again writes nothing.")
    with st.form("distribute"):
        profit = st.text_input("Profit to distribute", placeholder="1000.00", key="dist_profit")
        slots = {"profit": st.empty()}
        key = st.text_input("Idempotency key", value=f"manual-{date.today().isoformat()}",
                            key="dist_key", help="One key per real-world payout, e.g. its date.")
        slots["key"] = st.empty()
        submitted = st.form_submit_button("💸 Distribute", type="primary")
    if submitted:
        with core_call(slots), st.spinner("Recording the distribution…"):
            result = distribute(page.db, profit, key, by=page.username)
            parts = ", ".join(f"{BUCKET_LABELS[b]} {money(getattr(result.amounts, b))}"
                              for b in BUCKETS)
            if result.created:
                after_write(f"💸 Distributed {money(result.total)} under key `{result.key}`: {parts}.")
            after_write(f"🔁 The key `{result.key}` was already used on {when(result.created_at)}: "
                        f"nothing new was written. That distribution was {money(result.total)}: "
                        f"{parts}.", "info")

st.subheader("Cumulative amounts per bucket")
totals = readers.distribution_totals(page.db)
if totals:
    st.plotly_chart(figures.cumulative_amounts(totals), key="dist_cumulative")
    last = totals[-1]
    cells = st.columns(5)
    for cell, bucket in zip(cells, BUCKETS):
        cell.metric(BUCKET_LABELS[bucket], money(last[f"cumulative_{bucket}"]))
    cells[4].metric("All distributed", money(last["cumulative_total"]))
else:
    st.info("No distribution has been recorded yet.")

st.subheader("The ledger")
ledger = readers.distributions(page.db)
st.dataframe([{"when": when(d.created_at), "key": d.key, "total": money(d.total),
               **{BUCKET_LABELS[b]: money(getattr(d.amounts, b)) for b in BUCKETS},
               "allocation": d.allocation_id or "default"} for d in ledger],
             hide_index=True, key="dist_ledger")
st.caption(f"The {len(ledger)} most recent distributions, newest first.")
