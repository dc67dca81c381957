"""Propose: a new split, checked as you type exactly as core will check it, then filed."""

from decimal import Decimal

import streamlit as st

from core.allocation.money import calculate_amounts
from core.allocation.split import BUCKET_LABELS, BUCKETS, PERCENT_PLACES, format_pct
from core.allocation.validation import ProposalInput
from core.proposals.lifecycle import propose_allocation, validate_against_live
from settings import get_settings
from ui import readers
from ui.feedback import after_write, core_call, show_problems
from ui.format import money, pct
from ui.page import setup_page
from ui.proposals import page_link as proposal_link

FILED_KEY, RESET_KEY, LAST_KEY = "propose_filed", "propose_reset", "propose_last_filed"
page = setup_page("Propose", "✍️", role="analyst")
if st.session_state.get(FILED_KEY):
    proposal_link(st.session_state.pop(FILED_KEY), "Open the proposal you filed")
live = readers.current(page.db)
policy = readers.policy(page.db)

# The inputs start at the live split, and start there again after a proposal is filed (set before
# the widgets exist: the browser then shows the new values, so a second click cannot re-file).
fresh = {f"propose_{b}": float(getattr(live.split, b)) for b in BUCKETS}
fresh.update(propose_reasoning="", propose_confidence=1.0)
reset = st.session_state.pop(RESET_KEY, False)
for widget, start in fresh.items():
    if reset or widget not in st.session_state:
        st.session_state[widget] = start

st.caption(f"Live split **{live.split.label()}**. A change that moves each bucket at most "
           f"{format_pct(policy.max_step)} points from it is a **minor** change: "
           f"{policy.approvals_required} governor approval(s) make it live. A larger move is a "
           f"**major** change: it needs {policy.approvals_required_major} approvals and is never "
           "auto-approved. The same split as the live one or as a pending proposal is refused.")

# Not an st.form: each input reruns the page, so the checks below follow every change.
slots = {}
values = {}
for column, bucket in zip(st.columns(4), BUCKETS):
    with column:
        low, high = policy.bounds[bucket]
        values[bucket] = st.number_input(
            # No min/max and no rounding format: what is typed reaches core as typed, so its
            # refusal (bounds, decimals) is shown instead of a silently clamped value.
            f"{BUCKET_LABELS[bucket]} %", step=0.5, format="%g", key=f"propose_{bucket}",
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
confidence = st.slider("Confidence", 0.0, 1.0, step=0.05, key="propose_confidence")
slots["confidence"] = st.empty()

proposal = ProposalInput(*(values[b] for b in BUCKETS), reasoning=reasoning,
                         confidence=Decimal(repr(confidence)), proposed_by="manual",
                         input_metrics={"manual": True, "live_split": live.split.as_json()})
submitted = st.button("📨 File proposal", type="primary", key="propose_submit")

with core_call():
    check = validate_against_live(page.db, proposal)
    # A double click: the second click can reach the server before the browser applied the
    # reset, with the values just filed. It is the same filing, not a duplicate to refuse.
    last = st.session_state.get(LAST_KEY)
    repeat = (submitted and last is not None and check.split is not None
              and (check.split.label(), reasoning) == tuple(last[:2]))
    untouched = check.split == live.split
    # Nothing typed yet is not an error worth shouting about: an empty reasoning, or the form
    # still holding the live split it starts from (said once, plainly, until Submit).
    shown = [e for e in check.errors
             if submitted or not ((not reasoning and e.startswith("reasoning:"))
                                  or (untouched and "already the live split" in e))]
    show_problems([] if repeat else shown, slots, warnings=check.warnings)
    if untouched and not submitted:
        st.info("The form starts from the live split: change at least one bucket.")
    if check.valid:
        st.success("✔️ Valid: this proposal can be filed."
                   + (f" It is a {check.tier} change." if check.tier else ""))

if repeat:
    st.session_state[RESET_KEY] = True
    st.session_state[FILED_KEY] = last[2]
    after_write(f"📨 Proposal {last[0]} filed; it now waits for a governor.")
elif submitted and check.valid:  # an invalid one is refused above already, once
    with core_call(slots):
        filed = propose_allocation(page.db, proposal, by=page.username)
        label = "/".join(format_pct(Decimal(repr(values[b]))) for b in BUCKETS)
        st.session_state[RESET_KEY] = True  # the form starts again from the live split
        st.session_state[FILED_KEY] = filed.proposal_id  # and links to what was filed
        st.session_state[LAST_KEY] = (check.split.label(), reasoning, filed.proposal_id)
        after_write(f"📨 Proposal {label} filed; it now waits for a governor.")

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
    # 95/3/1.555/0.445 sums to 100 yet has no preview: say the decimals count too.
    st.caption(f"The preview appears once the four percentages are numbers with at most "
               f"{PERCENT_PLACES} decimal places that sum to 100.")
