"""Home: the split in force at a glance, the week's metrics, reviews waiting, exact amounts."""

import streamlit as st

from core.allocation.money import calculate_amounts
from core.allocation.split import BUCKET_LABELS, BUCKETS
from settings import get_settings
from ui import figures, readers
from ui.feedback import core_call
from ui.format import ago, count, money, number, pct, percent, plain, price, usd, when
from ui.page import setup_page
from ui.proposals import page_link as proposal_link


def week_change(cell, label: str, value: str, change: str) -> None:
    """A metric with its change since seven days ago; no arrow when nothing moved (a change
    that rounds to zero reads `0.0`: no sign, no digit but zeros)."""
    moved = any(digit in change for digit in "123456789")
    cell.metric(label, value, change if moved else "no change", delta_color="normal" if moved
                else "off", delta_arrow="auto" if moved else "off")


page = setup_page("Profit allocation", "💰")
current = readers.current(page.db)

left, right = st.columns([2, 3])
with left:
    st.plotly_chart(figures.split_donut(current.split), key="home_donut")
with right:
    st.subheader(f"Current split: {current.split.label()}")
    cells = st.columns(4)
    for cell, bucket in zip(cells, BUCKETS):
        cell.metric(BUCKET_LABELS[bucket], pct(getattr(current.split, bucket)))
    if current.source == "default":
        st.info("No active allocation in the database: the built-in default 80/15/3/2 applies.")
    else:
        record = readers.allocation(page.db, current.id)
        approver = current.reviewed_by or f"nobody (set by {record.proposer_username or 'the system'})"
        st.markdown(f"**In force since** {when(current.effective_from)} "
                    f"({ago(current.effective_from)})  \n**Approved by** {plain(approver)} · "
                    f"proposed by {plain(current.proposed_by)}")
        proposal_link(current.id, "Open its proposal page")
        # Reasoning and notes are user text: shown as text, never as Markdown.
        st.markdown("**Why:**")
        st.text(current.reasoning)
        if record.review_notes:
            st.markdown("**Reviewer's notes:**")
            st.text(record.review_notes)

st.subheader("📊 Key metrics, and their change over the last 7 days")
with core_call():
    now, week_ago = readers.metrics_now_and_week_ago(page.db)
    growth, engagement, dao, price_cell = st.columns(4)
    week_change(growth, "Community growth", percent(now.growth_rate_pct, signed=True),
                number(now.growth_rate_pct - week_ago.growth_rate_pct, 1, signed=True) + " pts")
    week_change(engagement, "Engagement score", f"{number(now.engagement_score)} / 100",
                number(now.engagement_score - week_ago.engagement_score, 1, signed=True))
    week_change(dao, "DAO treasury", usd(now.dao_balance_usd),
                usd(now.dao_balance_usd - week_ago.dao_balance_usd, signed=True))
    week_change(price_cell, "Avg token price", price(now.avg_token_price_usd),
                price(now.avg_token_price_usd - week_ago.avg_token_price_usd, signed=True))
    st.caption(f"{count(now.tokens_launched_7d)} tokens launched in the last 7 days · "
               f"{count(now.days_of_data)} days of data")

pending = readers.pending(page.db)
waiting, link = st.columns([1, 3])
waiting.metric("Proposals waiting for review", count(len(pending)))
with link:
    st.write("")
    st.page_link("pages/1_Review.py", label="Go to Review", icon="🗳️")

st.subheader("🧮 Amounts calculator")
st.caption("What a profit splits into under the current split, exact to the cent: the parts "
           "always add up to the total.")
profit = st.text_input("Profit to split", value="1000.00", key="calc_profit")
slot = {"profit": st.empty()}
with core_call(slot):
    amounts = calculate_amounts(profit, current.split, get_settings().minor_unit)
    st.dataframe(
        [{"Bucket": BUCKET_LABELS[b], "Share": pct(getattr(current.split, b)),
          "Amount": money(getattr(amounts, b))} for b in BUCKETS]
        + [{"Bucket": "Total", "Share": "100%", "Amount": money(amounts.total)}],
        hide_index=True, key="calc_table")
