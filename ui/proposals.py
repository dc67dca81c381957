"""Proposals on the pages: a card in the Review queue, the decision dialogs, and what to say
when someone else decided first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import streamlit as st

from core.allocation.money import calculate_amounts
from core.allocation.policy import MAJOR
from core.allocation.split import BUCKET_LABELS, BUCKETS, Split
from core.allocation.validation import ProposalInput
from core.base.errors import DomainError
from core.proposals.lifecycle import (get_proposal, get_proposal_story, review_proposal,
                                      validate_against_live, withdraw_proposal)
from db.engine import Database
from settings import get_settings
from core.base.formatting import count, exact_percent
from core.voting.tally import QUORUM_SCALE
from core.voting.terms import OPEN
from ui import confirm, figures, outcome_panels, readers, vote_readers
from ui.second_factor import review_code_field
from ui.feedback import core_call
from ui.format import money, pct, plain, share, signed_points, time_left, when

DECIDED_VERBS = {"active": "approved it; it became the live split",
                 "queued": "approved it; it waits in the queue for its timelock",
                 "vetoed": "approved it, but it was vetoed in the queue",
                 "rejected": "rejected it", "expired": "(nobody: it expired unreviewed)",
                 "withdrawn": "withdrew it", "superseded": "(it was superseded by the same split "
                                                        "activated from another proposal)"}


REVIEW_PAGE = "pages/1_Review.py"


def link(proposal_id: str) -> str:
    """The shareable address of one proposal's page, for link columns and Markdown (relative, so
    it works under any host and base path)."""
    return f"Review?proposal={proposal_id}"


def page_link(proposal_id: str, label: str = "Open this proposal's page") -> None:
    st.page_link(REVIEW_PAGE, label=label, query_params={"proposal": proposal_id})


def decided_line(db: Database, proposal_id: str) -> str | None:
    """Who decided a proposal that is no longer pending, what and when (read fresh)."""
    try:
        record = get_proposal(db, proposal_id)
    except DomainError:
        return None
    if record.status == "proposed":
        return None
    who = record.reviewed_by or "nobody"
    verb = DECIDED_VERBS.get(record.status, f"made it {record.status}")
    line = (f"Someone decided first: {plain(who)} {verb} on {when(record.reviewed_at)} "
            f"(proposal {record.split.label()}).")
    if record.review_notes:
        line += f" Their notes: {plain(record.review_notes)}"
    return line


def tier_badge(tier: str, required: int) -> str:
    """How the tier reads everywhere on the dashboard."""
    if tier == MAJOR:
        return (f"🟠 Major change: a bucket moves more than the step limit, so it needs {required} "
                "approvals and is never auto-approved")
    return f"🟢 Minor change: within the step limit; {required} approval(s) make it live"


def split_changes(live: Split, proposed: Split, base_label: str = "Live") -> list[dict[str, str]]:
    delta = proposed.delta(live)
    return [{"Bucket": BUCKET_LABELS[b], base_label: pct(getattr(live, b)),
             "Proposed": pct(getattr(proposed, b)), "Change": signed_points(delta[b])}
            for b in BUCKETS]


def card(db: Database, item, live, *, can_review: bool, username: str) -> None:
    """One pending proposal against the live split, and its decision buttons when allowed."""
    proposal = item.record
    label = proposal.split.label()
    with st.container(border=True, key=f"proposal_{proposal.id}"):
        who = proposal.proposer_username or proposal.proposed_by
        st.subheader(f"{label} · proposed by {who} ({proposal.proposed_by})")
        st.caption(f"Filed {when(proposal.timestamp)} · {time_left(item.expires_at)} before it "
                   f"expires · id {proposal.id}")
        st.markdown(tier_badge(item.tier, item.approvals_required))
        page_link(proposal.id)
        chart, facts = st.columns([3, 2])
        with chart:
            st.plotly_chart(figures.split_comparison(live.split, proposal.split, "Live", "Proposed"),
                            key=f"compare_{proposal.id}")
            outcome_panels.backtest(db, proposal.split, live.split, key=proposal.id)
        with facts:
            delta = proposal.split.delta(live.split)
            cells = st.columns(2)
            for index, bucket in enumerate(BUCKETS):
                cells[index % 2].metric(BUCKET_LABELS[bucket], pct(getattr(proposal.split, bucket)),
                                        signed_points(delta[bucket]), delta_color="off",
                                        delta_arrow="auto" if delta[bucket] else "off")
            left, right = st.columns(2)
            left.metric("Confidence", share(proposal.confidence))
            right.metric("Approvals", f"{len(item.approvals)} of {item.approvals_required}",
                         help=", ".join(item.approvals) or "none yet")
        vote_panel(db, proposal.id, key=proposal.id)
        st.markdown("**Reasoning:**")
        st.text(proposal.reasoning)
        if live.id and proposal.based_on_id and proposal.based_on_id != live.id:
            st.info("ℹ️ Filed against an earlier split: approving checks it again against the "
                    "live one, step limit included.")
        with core_call():
            check = validate_against_live(db, ProposalInput(
                *(getattr(proposal.split, b) for b in BUCKETS), reasoning=proposal.reasoning,
                confidence=proposal.confidence, proposed_by=proposal.proposed_by),
                filed_as=proposal.id)
            for error in check.errors:
                st.error(error, icon="🚫")
            for warning in check.warnings:
                st.warning(warning, icon="⚠️")
            if not check.errors and not check.warnings:
                st.caption("✔️ Valid against the live split and the policy, no warnings.")
        if proposal.input_metrics:
            with st.expander("Input metrics"):
                st.json(proposal.input_metrics)
        decision_buttons(item, can_review=can_review, username=username)


def vote_panel(db: Database, proposal_id: str, key: str) -> None:
    """The community vote on a proposal, when it was put to one: the tally, the quorum bar and
    the time left, and the votes as cast (holders vote on the API's public page, /vote/ID)."""
    export = vote_readers.vote_export(db, proposal_id)
    if export is None:
        return
    view = export.tally
    counted = view.tally
    with st.container(border=True, key=f"vote_{key}"):
        st.markdown(f"**Community vote** ({view.mode}, {view.status})")
        cells = st.columns(4)
        for cell, label, value in zip(cells, ("For", "Against", "Abstain", "Voters"),
                                      (counted.for_, counted.against, counted.abstain,
                                       count(counted.voters))):
            cell.metric(label, str(value))
        # Share of the quorum reached, from the exact units (the bar stops at full).
        reached = (Decimal(counted.turnout_units * QUORUM_SCALE) / counted.quorum_numerator
                   if counted.quorum_numerator else Decimal(1))
        st.progress(float(min(reached, Decimal(1))),
                    text=f"Quorum {counted.quorum} ({exact_percent(view.quorum_pct)} of the "
                         f"snapshot): {'met' if counted.quorum_met else 'not met'}")
        closes = f"closes {when(view.closes_at)}, {time_left(view.closes_at)}" \
            if view.status == OPEN else f"closed {when(view.closes_at)}"
        verdict = "passes" if counted.passed else "does not pass"
        st.caption(f"Voting {closes} · {verdict} so far" if view.status == OPEN
                   else f"Voting {closes} · {verdict}" + (f" · {view.outcome}" if view.outcome
                                                          else ""))
        vote_list(export.votes, key)


REPLACED_CAPTION = ("Each was replaced by a later vote of the same address while voting was "
                    "open: listed as cast, with its signature, and not counted in the tally.")


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _vote_row(vote: dict[str, Any]) -> dict[str, str]:
    return {"address": vote["address"], "support": vote["support"], "weight": vote["weight"],
            "signed": when(_moment(vote["timestamp"]))}


def vote_list(votes: list[dict[str, Any]], key: str) -> None:
    """Every vote as cast: those the tally counts, then the replaced ones in a section of their
    own under a caption, never summed with them (core says which counts: `counts`)."""
    if not votes:
        return
    counting = [v for v in votes if v["counts"]]
    replaced = [v for v in votes if not v["counts"]]
    title = f"Votes: {count(len(counting))} counted" + (
        f", {count(len(replaced))} replaced" if replaced else "")
    with st.expander(title, key=f"vote_list_{key}"):
        st.dataframe([_vote_row(v) for v in counting], hide_index=True, key=f"votes_{key}")
        if replaced:
            st.markdown("**Replaced votes**")
            st.caption(REPLACED_CAPTION)
            st.dataframe([{**_vote_row(v), "replaced": when(_moment(v["replaced_at"]))}
                          for v in replaced], hide_index=True, key=f"replaced_votes_{key}")


def decision_buttons(item, *, can_review: bool, username: str) -> None:
    proposal = item.record
    if not can_review:
        return
    if proposal.proposer_username == username:
        st.info("✋ You filed this proposal: another governor must review it (four-eyes rule).")
        return
    if username in item.approvals:
        st.info("👍 You approved this proposal; it waits for other governors.")
        return
    approve, reject, _ = st.columns([1, 1, 4])
    details = {"id": proposal.id, "split": proposal.split.as_json(), "tier": item.tier,
               "approvals": len(item.approvals), "required": item.approvals_required}
    if approve.button("✅ Approve…", key=f"approve_{proposal.id}", type="primary"):
        confirm.ask("approve", **details)
    if reject.button("❌ Reject…", key=f"reject_{proposal.id}"):
        confirm.ask("reject", **details)


def _outcome_message(outcome, label: str) -> tuple[str, str]:
    if outcome.status == "active":
        return (f"✅ Approved: **{label}** is now the live split "
                f"({outcome.approvals} of {outcome.approvals_required} approvals)."), "success"
    if outcome.status == "rejected":
        return f"❌ Rejected the proposal {label}; the live split is unchanged.", "info"
    if outcome.status == "queued":
        return (f"⏳ Approved: **{label}** is queued and becomes the live split "
                f"{when(outcome.executes_at)} unless a governor vetoes it.", "success")
    return (f"👍 Approval recorded: {outcome.approvals} of {outcome.approvals_required}; the "
            f"proposal {label} waits for more approvals.", "info")


def decision_dialogs(db: Database, username: str) -> None:
    """The approve and reject confirmations; call once per page, outside any fragment."""
    live = readers.current(db)

    def still_pending(details: dict[str, Any]) -> bool:
        line = decided_line(db, details["id"])
        if line:
            st.warning(line, icon="⏱️")
        return line is None

    def show_approve(details: dict[str, Any]) -> bool:
        if not still_pending(details):
            return False
        proposed = Split.from_mapping(details["split"])
        completes = details["approvals"] + 1 >= details["required"]
        st.markdown(f"**{proposed.label()}** against the live split **{live.split.label()}**:")
        st.dataframe(split_changes(live.split, proposed), hide_index=True, key="approve_changes")
        st.markdown(tier_badge(details["tier"], details["required"]))
        hours = readers.policy(db).timelock_for(details["tier"])
        st.write(((f"Your approval completes the count: the proposal goes into the queue and "
                   f"becomes the live split in {hours} h unless a governor vetoes it."
                   if hours else "Your approval completes the count: the split becomes live at once.")
                  if completes else
                  f"Your approval is {details['approvals'] + 1} of {details['required']}: the "
                  "proposal keeps waiting for more."))
        last = readers.distributions(db, 1)
        if last:
            profit = last[0].total
            unit = get_settings().minor_unit
            under_new = calculate_amounts(profit, proposed, unit)
            under_live = calculate_amounts(profit, live.split, unit)
            st.caption(f"The last distribution's profit, {money(profit)}, would have split into:")
            st.dataframe([{"Bucket": BUCKET_LABELS[b], "Under this proposal": money(getattr(under_new, b)),
                           "Under the live split": money(getattr(under_live, b))} for b in BUCKETS],
                         hide_index=True, key="approve_amounts")
        st.text_input("Notes for the log (optional)", key="approve_notes")
        return review_code_field(db, username, "approve_totp")

    def show_reject(details: dict[str, Any]) -> bool:
        if not still_pending(details):
            return False
        proposed = Split.from_mapping(details["split"])
        st.markdown(f"Reject **{proposed.label()}**? The live split **{live.split.label()}** stays.")
        notes = st.text_area("Why? (written to the log, shown to the proposer)", key="reject_notes")
        if not notes.strip():
            st.caption("Write the reason to enable Reject.")
        code_ready = review_code_field(db, username, "reject_totp")
        return bool(notes.strip()) and code_ready

    def act(decision: str, notes_key: str):
        def run(details: dict[str, Any]) -> tuple[str, str]:
            notes = st.session_state.pop(notes_key, "")
            code = st.session_state.pop(notes_key.replace("_notes", "_totp"), "").strip()
            outcome = review_proposal(db, details["id"], decision, by=username, notes=notes,
                                      totp=code or None)
            return _outcome_message(outcome, Split.from_mapping(details["split"]).label())
        return run

    def refused(details: dict[str, Any], _error: DomainError) -> list[str]:
        line = decided_line(db, details["id"])
        return [line] if line else []

    confirm.confirmation("approve", "Approve this proposal?", show_approve,
                         act("approved", "approve_notes"), confirm_label="✅ Approve",
                         refused=refused)
    confirm.confirmation("reject", "Reject this proposal?", show_reject,
                         act("rejected", "reject_notes"), confirm_label="❌ Reject",
                         refused=refused)


def proposal_page(db: Database, proposal_id: str, *, can_review: bool, username: str,
                  is_admin: bool) -> None:
    """One proposal on its own page (`?proposal=ID`): against the live split, its tier, its whole
    story with every reviewer's notes, and the buttons this viewer may use."""
    page_link_to_queue()
    try:
        story = get_proposal_story(db, proposal_id)
    except DomainError as missing:
        st.error(missing.problems[0], icon="🔎")
        return
    record = story.record
    # What it is measured against: the live split while it waits, the split it replaced once
    # active (not itself), the split it was filed against otherwise.
    base = story.compared_with
    base_label = {"proposed": "Live", "queued": "Live", "active": "Replaced"}.get(
        record.status, "Filed against")
    pending = next((item for item in readers.pending(db) if item.record.id == record.id), None)
    st.subheader(f"Proposal {record.split.label()} · {record.status}")
    who = record.proposer_username or record.proposed_by
    st.caption(f"Filed {when(record.timestamp)} by {who} ({record.proposed_by}) · id {record.id}")
    st.markdown(tier_badge(story.tier, story.approvals_required))
    chart, facts = st.columns([3, 2])
    with chart:
        st.plotly_chart(figures.split_comparison(base, record.split, base_label, "This proposal"),
                        key="proposal_compare")
        outcome_panels.backtest(db, record.split, base, key="proposal_page")
    with facts:
        st.dataframe(split_changes(base, record.split, base_label), hide_index=True,
                     key="proposal_changes")
        left, right = st.columns(2)
        left.metric("Confidence", share(record.confidence))
        right.metric("Approvals", f"{len(story.approvals)} of {story.approvals_required}",
                     help=", ".join(story.approvals) or "none yet")
        if pending is not None:
            st.caption(f"{time_left(pending.expires_at)} before it expires")
    vote_panel(db, record.id, key="proposal_page")
    st.markdown("**Reasoning:**")
    st.text(record.reasoning)
    if record.status != "proposed":
        st.info(decided_line(db, record.id).replace("Someone decided first: ", "Decided: "))
    st.markdown("**Its story**")
    # Notes are user text: a table cell shows them as text.
    st.dataframe([{"when": when(e.at), "what": e.event, "by": e.by or "", "notes": e.notes or ""}
                  for e in story.timeline], hide_index=True, key="proposal_timeline")
    for later, label in ((story.replaced_by, "Replaced later by"),
                         (story.superseded_by, "Superseded by")):
        if later:
            page_link(later, f"{label} proposal {later[:8]}")
    if pending is not None:
        decision_buttons(pending, can_review=can_review, username=username)
        if username == record.proposer_username or is_admin:
            if st.button("↩️ Withdraw…", key=f"withdraw_{record.id}"):
                confirm.ask("withdraw", id=record.id, split=record.split.as_json())


def withdraw_dialog(db: Database, username: str) -> None:
    def show(details: dict[str, Any]) -> bool:
        line = decided_line(db, details["id"])
        if line:
            st.warning(line, icon="⏱️")
            return False
        st.markdown(f"Withdraw **{Split.from_mapping(details['split']).label()}**? It stops waiting "
                    "for review and can no longer be approved.")
        st.text_input("Why? (optional, written to the log)", key="withdraw_notes")
        return True

    def act(details: dict[str, Any]) -> tuple[str, str]:
        withdraw_proposal(db, details["id"], by=username,
                          notes=st.session_state.pop("withdraw_notes", ""))
        return f"↩️ Withdrew {Split.from_mapping(details['split']).label()}.", "info"

    confirm.confirmation("withdraw", "Withdraw this proposal?", show, act,
                         confirm_label="↩️ Withdraw")


def page_link_to_queue() -> None:
    st.page_link(REVIEW_PAGE, label="← Every proposal waiting for review")
