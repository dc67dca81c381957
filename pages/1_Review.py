"""Review: every pending proposal against the live split; governors approve or reject it."""

import streamlit as st

from core.allocations import review_proposal, validate_against_live
from core.split import BUCKET_LABELS, BUCKETS
from core.validation import ProposalInput
from ui import figures, outcome_panels, readers
from ui.feedback import after_write, core_call
from ui.format import pct, signed_points, time_left, when
from ui.page import setup_page

page = setup_page("Review", "🗳️")
live = readers.current(page.db)
pending = readers.pending(page.db)

st.markdown(f"**Live split:** {live.split.label()} · **{len(pending)}** proposal(s) waiting")
if not page.can("governor"):
    st.caption("Only governors approve or reject proposals; you can read them here.")
outcome_panels.last_change(page.db)
if not pending:
    st.success("✅ Nothing is waiting for review.")


def outcome_message(outcome, label: str) -> tuple[str, str]:
    if outcome.status == "active":
        return (f"✅ Approved: **{label}** is now the live split "
                f"({outcome.approvals} of {outcome.approvals_required} approvals)."), "success"
    if outcome.status == "rejected":
        return f"❌ Rejected the proposal {label}; the live split is unchanged.", "info"
    return (f"👍 Approval recorded: {outcome.approvals} of {outcome.approvals_required}; the "
            f"proposal {label} waits for more approvals.", "info")


for item in pending:
    proposal = item.record
    label = proposal.split.label()
    with st.container(border=True, key=f"proposal_{proposal.id}"):
        who = proposal.proposer_username or proposal.proposed_by
        st.subheader(f"{label} · proposed by {who} ({proposal.proposed_by})")
        st.caption(f"Filed {when(proposal.timestamp)} · {time_left(item.expires_at)} before it "
                   f"expires · id `{proposal.id}`")
        chart, facts = st.columns([3, 2])
        with chart:
            st.plotly_chart(figures.split_comparison(live.split, proposal.split, "Live", "Proposed"),
                            key=f"compare_{proposal.id}")
            outcome_panels.backtest(page.db, proposal.split, live.split, key=proposal.id)
        with facts:
            delta = proposal.split.delta(live.split)
            cells = st.columns(2)
            for index, bucket in enumerate(BUCKETS):
                cells[index % 2].metric(BUCKET_LABELS[bucket], pct(getattr(proposal.split, bucket)),
                                        signed_points(delta[bucket]), delta_color="off",
                                        delta_arrow="auto" if delta[bucket] else "off")
            left, right = st.columns(2)
            left.metric("Confidence", f"{float(proposal.confidence):.0%}")
            right.metric("Approvals", f"{len(item.approvals)} of {item.approvals_required}",
                         help=", ".join(item.approvals) or "none yet")
        st.markdown(f"**Reasoning:** {proposal.reasoning}")
        if live.id and proposal.based_on_id and proposal.based_on_id != live.id:
            st.info("ℹ️ Filed against an earlier split: approving checks it again against the "
                    "live one, step limit included.")
        with core_call():
            check = validate_against_live(page.db, ProposalInput(
                *(getattr(proposal.split, b) for b in BUCKETS), reasoning=proposal.reasoning,
                confidence=proposal.confidence, proposed_by=proposal.proposed_by))
            for error in check.errors:
                st.error(error, icon="🚫")
            for warning in check.warnings:
                st.warning(warning, icon="⚠️")
            if not check.errors and not check.warnings:
                st.caption("✔️ Valid against the live split and the policy, no warnings.")
        if proposal.input_metrics:
            with st.expander("Input metrics"):
                st.json(proposal.input_metrics)

        if not page.can("governor"):
            continue
        if proposal.proposer_username == page.username:
            st.info("✋ You filed this proposal: another governor must review it (four-eyes rule).")
            continue
        if page.username in item.approvals:
            st.info("👍 You approved this proposal; it waits for other governors.")
            continue
        notes = st.text_input("Notes for the log (optional)", key=f"notes_{proposal.id}")
        approve, reject, _ = st.columns([1, 1, 4])
        decision = None
        if approve.button("✅ Approve", key=f"approve_{proposal.id}", type="primary"):
            decision = "approved"
        if reject.button("❌ Reject", key=f"reject_{proposal.id}"):
            decision = "rejected"
        if decision:
            with core_call():
                outcome = review_proposal(page.db, proposal.id, decision, by=page.username,
                                          notes=notes)
                after_write(*outcome_message(outcome, label))
