"""Distributions: split a profit with the live split into the ledger (once per key), and the ledger.
Nothing is written before the user has seen the four exact amounts and confirmed them."""

from datetime import date
from decimal import Decimal

import streamlit as st

from core.allocation.split import BUCKET_LABELS, BUCKETS
from core.base.errors import ValidationFailed
from core.proposals.distribution import (CONFIRM_FACTOR, amounts_for, check_key, distribute,
                                         largest_distribution, needs_confirmation)
from ui import confirm, figures, readers
from ui.feedback import core_call
from ui.format import money, pct, plain, when
from ui.page import setup_page
from ui.proposals import link

page = setup_page("Distributions", "💸")
live = readers.current(page.db)
policy = readers.policy(page.db)


def show(details) -> bool:
    total = Decimal(details["profit"])
    with core_call():
        amounts, current = amounts_for(page.db, total)
        st.markdown(f"Distribute **{money(total)}** under the live split **{current.split.label()}**"
                    f" with the key **{plain(details['key'])}**. The ledger is insert-only: this "
                    "cannot be undone.")
        st.dataframe([{"Bucket": BUCKET_LABELS[b], "Share": pct(getattr(current.split, b)),
                       "Amount": money(getattr(amounts, b))} for b in BUCKETS]
                     + [{"Bucket": "Total", "Share": "100%", "Amount": money(amounts.total)}],
                     hide_index=True, key="dist_confirm_amounts")
        if policy.max_distribution is not None and total > policy.max_distribution:
            st.error(f"🚫 profit: {money(total)} is above the policy's max_distribution "
                     f"({money(policy.max_distribution)}); an admin can raise it.")
            return False
        largest = largest_distribution(page.db)
        if needs_confirmation(total, largest):  # typed twice, as the API's confirm_total
            st.warning(f"⚠️ This is more than {CONFIRM_FACTOR} times the largest distribution so "
                       f"far ({money(largest)}). Type the amount again to confirm it.")
            again = st.text_input("The amount again", key="dist_retype")
            try:
                return amounts_for(page.db, again)[0].total == total
            except ValidationFailed:
                return False
        return True
    return False


def act(details) -> tuple[str, str]:
    result = distribute(page.db, details["profit"], details["key"], by=page.username)
    # An empty form for the next payout; set (not deleted) so the browser clears the box too. The
    # dialog runs before the form is drawn, so the widget does not exist yet in this run.
    st.session_state["dist_profit"] = ""
    st.session_state.pop("dist_retype", None)
    if result.created:
        return (f"💸 Distributed {money(result.total)} under key {plain(result.key)}: "
                f"{_parts(result)}.", "success")
    return _already(result), "info"


def _parts(result) -> str:
    return ", ".join(f"{BUCKET_LABELS[b]} {money(getattr(result.amounts, b))}" for b in BUCKETS)


def _already(result) -> str:
    return (f"🔁 The key {plain(result.key)} was already used on {when(result.created_at)}: "
            f"nothing new was written. That distribution was {money(result.total)}: "
            f"{_parts(result)}.")



confirm.confirmation("distribute", "Distribute this profit?", show, act,
                     confirm_label="💸 Distribute")

if not page.can("analyst"):
    st.caption("Analysts run distributions; you can read the ledger.")
elif policy.distributions_paused:
    st.warning("⏸️ Distributions are paused by the policy; an admin can resume them.")
else:
    st.markdown(f"A distribution splits the profit with the live split **{live.split.label()}** "
                "and records it in the ledger. The key makes it safe to retry: the same key "
                "again writes nothing. You see the exact amounts before anything is written.")
    with st.form("distribute"):
        profit = st.text_input("Profit to distribute", placeholder="1,000.00", key="dist_profit")
        slots = {"profit": st.empty()}
        key = st.text_input("Idempotency key", value=f"manual-{date.today().isoformat()}",
                            key="dist_key", help="One key per real-world payout, e.g. its date.")
        slots["key"] = st.empty()
        submitted = st.form_submit_button("💸 Distribute…", type="primary")
    if submitted:
        with core_call(slots):
            amounts, _ = amounts_for(page.db, profit)  # refuses a bad amount before any dialog
            # ... and a key already used for another amount (an irreversible-looking dialog
            # must not open for what will be refused).
            earlier = check_key(page.db, amounts.total, key)
            if earlier is not None:  # the same amount again: nothing to confirm, nothing written
                st.info(_already(earlier))
            else:
                confirm.ask("distribute", profit=str(amounts.total), key=key.strip())


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
               "split": d.split.label() if d.split else "",
               "proposal": link(d.allocation_id) if d.allocation_id else ""} for d in ledger],
             hide_index=True, key="dist_ledger", column_config={
                 "proposal": st.column_config.LinkColumn(
                     "approved as", display_text="open its proposal",
                     help="The proposal that made this split live (none: the built-in default)")})
st.caption(f"The {len(ledger)} most recent distributions, newest first.")
