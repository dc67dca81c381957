"""Propose: a new split, checked as you type exactly as core will check it, then filed."""

from decimal import Decimal

import streamlit as st

from core.allocations import propose_allocation, validate_against_live
from core.money import calculate_amounts
from settings import get_settings
from core.split import BUCKET_LABELS, BUCKETS, format_pct
from core.validation import ProposalInput
from ui import readers
from ui.feedback import after_write, core_call, show_problems
from ui.format import money, pct
from ui.page import setup_page

page = setup_page("Propose", "✍️", role="analyst")
live = readers.current(page.db)
policy = readers.policy(page.db)

st.caption(f"Live split **{live.split.label()}**. Each bucket may move at most "
           f"{format_pct(policy.max_step)} points from it; a governor reviews what you file.")

# Not an st.form: each input reruns the page, so the checks below follow every change.
slots = {}
values = {}
for column, bucket in zip(st.columns(4), BUCKETS):
    with column:
        low, high = policy.bounds[bucket]
        values[bucket] = st.number_input(
            # No min/max and no rounding format: what is typed reaches core as typed, so its
            # refusal (bounds, decimals) is shown instead of a silently clamped value.
            f"{BUCKET_LABELS[bucket]} %", step=0.5,
            value=float(getattr(live.split, bucket)), format="%g", key=f"propose_{bucket}",
            help=f"Allowed {format_pct(low)}–{format_pct(high)}%")
        slots[bucket] = st.empty()

total = sum((Decimal(repr(v)) for v in values.values()), Decimal(0))
sum_cell, _ = st.columns([1, 3])
sum_cell.metric("Sum", pct(total), None if total == 100 else f"{format_pct(total - 100)} pts from 100",
                delta_color="inverse")
slots["total"] = st.empty()

reasoning = st.text_area("Reasoning", key="propose_reasoning",
                         placeholder="Why this split, and what should it change?")
slots["reasoning"] = st.empty()
confidence = st.slider("Confidence", 0.0, 1.0, 1.0, 0.05, key="propose_confidence")
slots["confidence"] = st.empty()

proposal = ProposalInput(*(values[b] for b in BUCKETS), reasoning=reasoning,
                         confidence=Decimal(repr(confidence)), proposed_by="manual",
                         input_metrics={"manual": True, "live_split": live.split.as_json()})
submitted = st.button("📨 File proposal", type="primary", key="propose_submit")

with core_call():
    check = validate_against_live(page.db, proposal)
    # An empty reasoning is not an error worth shouting about before anything was typed.
    shown = [e for e in check.errors if submitted or reasoning or not e.startswith("reasoning:")]
    show_problems(shown, slots, warnings=check.warnings)
    if check.valid:
        st.success("✔️ Valid: this proposal can be filed.")

if submitted:
    with core_call(slots):
        filed = propose_allocation(page.db, proposal, by=page.username)
        label = "/".join(format_pct(Decimal(repr(values[b]))) for b in BUCKETS)
        after_write(f"📨 Proposal {label} filed (id `{filed.proposal_id}`); it now waits for a "
                    "governor on the Review page.")

st.subheader("🧮 Preview of the amounts")
sample = st.text_input("Sample profit", value="1000.00", key="propose_sample")
profit_slot = {"profit": st.empty()}
if check.split is not None and check.split.total == 100:
    with core_call(profit_slot):
        amounts = calculate_amounts(sample, check.split, get_settings().minor_unit)
        current = calculate_amounts(sample, live.split, get_settings().minor_unit)
        st.dataframe([{"Bucket": BUCKET_LABELS[b], "Proposed": money(getattr(amounts, b)),
                       "Under the live split": money(getattr(current, b)),
                       "Change": money(getattr(amounts, b) - getattr(current, b))}
                      for b in BUCKETS], hide_index=True, key="propose_preview")
else:
    st.caption("The preview appears once the four percentages are numbers that sum to 100.")
