"""Rebalancer: the platform metrics, a suggested split (rules, or the AI advisor), filed on request."""

import pandas as pd
import streamlit as st

from core.allocation.split import Split
from core.rebalancer.service import file_suggestion, run_rebalance
from settings import get_settings
from ui import figures, readers
from ui.feedback import after_write, core_call
from ui.format import count, number, percent, plain, price, share, usd
from ui.page import setup_page
from ui.proposals import page_link as proposal_link

RESULT_KEY = "rebalance_result"
FILED_KEY = "rebalance_filed"
page = setup_page("Rebalancer", "🤖")
if st.session_state.get(FILED_KEY):
    proposal_link(st.session_state.pop(FILED_KEY), "Open the proposal just filed")
settings = get_settings()

st.subheader("Platform metrics now")
metrics = readers.metrics(page.db)
cells = st.columns(6)
cells[0].metric("Community growth", percent(metrics.growth_rate_pct, signed=True),
                help="wallet connections, last 7 days against the 7 before")
cells[1].metric("Engagement", f"{number(metrics.engagement_score)} / 100")
cells[2].metric("DAO treasury", usd(metrics.dao_balance_usd))
cells[3].metric("Avg token price", price(metrics.avg_token_price_usd))
cells[4].metric("Tokens, last 7 days", count(metrics.tokens_launched_7d))
cells[5].metric("Days of data", count(metrics.days_of_data))
series = pd.DataFrame(readers.weekly_series(page.db, 28))
if not series.empty:
    with st.expander("Daily engagement, last 28 days"):
        st.plotly_chart(figures.metric_lines(series, "day", ["wallet_connections", "trades_count"]),
                        key="rebalancer_series")

engine = (f"the AI advisor ({settings.openai_model}), with the rule engine as fallback"
          if settings.has_openai_key else "the rule engine (set OPENAI_API_KEY for the AI advisor)")
st.subheader("Analysis")
st.caption(f"Runs {engine}. The analysis files nothing by itself; you decide below.")
if not page.can("analyst"):
    st.info("Analysts run the rebalancer and file its suggestions.")
    st.stop()

if st.button("🔍 Run analysis", type="primary", key="rebalance_run"):
    with core_call(), st.spinner("Analysing the platform metrics…"):
        st.session_state[RESULT_KEY] = run_rebalance(page.db, engine="auto", dry_run=True,
                                                     by=page.username)
    st.cache_data.clear()  # the run is in the activity log now
analysis = st.session_state.get(RESULT_KEY)
if analysis is None:
    st.stop()
result = analysis.as_json()

current = Split.from_mapping(result["current_allocation"])
suggested = Split.from_mapping(result["suggested_allocation"])
if result["fallback_reason"]:
    st.warning(f"⚠️ The AI advisor did not answer: {plain(result['fallback_reason'])}.")
chart, facts = st.columns([3, 2])
chart.plotly_chart(figures.split_comparison(current, suggested, "Current", "Suggested"),
                   key="rebalance_compare")
with facts:
    st.metric("Suggested split", suggested.label(), f"from {current.label()}", delta_color="off",
              delta_arrow="off")
    st.metric("Confidence", share(result["confidence"]))
    st.metric("Engine", result["engine"])
    if result["target_allocation"] and result["target_allocation"] != result["suggested_allocation"]:
        target = Split.from_mapping(result["target_allocation"])
        st.caption(f"Heading for {target.label()}; the step limit lets this run go part of the way.")
st.markdown("**Reasoning:**")
st.text(result["reasoning"])  # the AI's words: shown as text, never Markdown
if result["rules_fired"]:
    st.caption("Rules that fired: " + plain("; ".join(result["rules_fired"])))

if not result["should_rebalance"]:
    st.success("✅ No rebalance needed: the current split stays.")
    st.stop()
if result["rebalancing_paused"]:
    st.warning("⏸️ Rebalancing is paused by the policy: suggestions cannot be filed until an "
               "admin resumes it.")
    st.stop()
if st.button("📨 File it as a proposal", key="rebalance_file"):
    with core_call():
        filed = file_suggestion(page.db, analysis, by=page.username)
        st.session_state.pop(RESULT_KEY, None)
        outcome = ("and auto-approved: it is the live split now" if filed.auto_approved
                   else "it waits for a governor on the Review page")
        st.session_state[FILED_KEY] = filed.proposal_id
        after_write(f"📨 Suggestion {filed.suggestion.split.label()} filed as a proposal; "
                    f"{outcome}.")
