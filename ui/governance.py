"""The governance on the pages: the unsealed banner, the timelock queue with its Veto dialog, and
governance proposals (before → after) with their review dialogs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from core.base.errors import DomainError
from core.governance.changes import GOVERNANCE, governance_story, review_governance
from core.proposals.lifecycle import get_proposal
from core.proposals.queue import veto
from db.engine import Database
from ui import confirm, readers
from ui.format import plain, time_left, when
from ui.second_factor import review_code_field

KIND_LABELS = {"policy": "Policy change", "role": "Role change", "disable": "Disable an account",
               "enable": "Enable an account", "unseal": "Unseal the governance",
               "invite": "Invitation"}


def unsealed_banner(db: Database) -> None:
    """Every page says so while one admin can still change the policy and who governs, alone."""
    status = readers.governance_status(db)
    if status.sealed:
        return
    needed = status.approvals_required_major
    # Sealing needs that many active governors or admins besides the admin who seals.
    others = status.governors + max(status.admins - 1, 0)
    when_to_seal = (
        f"{others} governors or admins besides an admin are active: enough to seal it"
        if others >= needed else
        f"Once at least {needed} governors or admins besides the sealing admin are active "
        f"(there {'is' if others == 1 else 'are'} {others}), seal it")
    st.warning(
        "🔓 **Governance is not sealed**: one admin can change the policy and who governs, "
        f"alone. {when_to_seal} (`python -m core governance seal --by ADMIN`); from then on "
        "those changes need the governors' approval and a timelock.", icon="⚠️")


def _before_after(change: dict[str, Any], kind: str) -> list[dict[str, str]]:
    if kind == "policy":
        return [{"What": change["key"], "Before": str(change["from"]), "After": str(change["to"])}]
    if kind == "role":
        return [{"What": f"{change['username']}'s role", "Before": change["from"],
                 "After": change["to"]}]
    if kind == "disable":
        return [{"What": f"{change['username']} ({change['role']})", "Before": "active",
                 "After": "disabled"}]
    if kind == "enable":
        return [{"What": f"{change['username']} ({change['role']})", "Before": "disabled",
                 "After": "active"}]
    if kind == "unseal":
        return [{"What": "governance", "Before": "sealed", "After": "unsealed"}]
    return [{"What": kind, "Before": "", "After": str(change)}]


def queue_panel(db: Database, *, can_veto: bool, username: str) -> int:
    """Approved changes waiting for their timelock: when each takes effect, and Veto. Returns
    how many are shown."""
    queued = readers.queued(db)
    if not queued:
        return 0
    st.markdown(f"### ⏳ In the queue ({len(queued)})")
    st.caption("Approved changes wait here for their timelock; any governor can veto one "
               "before it takes effect.")
    for item in queued:
        with st.container(border=True, key=f"queued_{item.id}"):
            kind = "Split" if item.kind == "allocation" else "Governance"
            st.markdown(f"**{kind}:** {plain(item.summary)}")
            st.caption(f"Takes effect {when(item.executes_at)} ({time_left(item.executes_at)}) · "
                       f"approved by {', '.join(item.approvers) or 'nobody still governing'} · "
                       f"vetoes {len(item.vetoes)} of {item.vetoes_required} · id {item.id}")
            for by, reason in item.vetoes:
                st.text(f"Vetoed by {by}: {reason}")
            if not can_veto:
                continue
            if username in (by for by, _ in item.vetoes):
                # A second veto by the same governor is refused: say where it stands instead.
                st.info(f"✋ You vetoed this change; it is stopped once "
                        f"{item.vetoes_required - len(item.vetoes)} more governor(s) veto it.")
            elif st.button("🛑 Veto…", key=f"veto_{item.id}"):
                confirm.ask("veto", id=item.id, kind=item.kind, summary=item.summary,
                            executes_at=item.executes_at.isoformat())
    return len(queued)


def governance_panel(db: Database, *, can_review: bool, username: str) -> int:
    """Governance proposals waiting for review: what changes, before → after. Returns how many
    are shown."""
    waiting = [g for g in readers.governance_pending(db) if g.status == "proposed"]
    if not waiting:
        return 0
    st.markdown(f"### 🏛️ Governance proposals ({len(waiting)})")
    for item in waiting:
        with st.container(border=True, key=f"governance_{item.id}"):
            st.markdown(f"**{KIND_LABELS.get(item.kind, item.kind)}:** {plain(item.summary)}")
            st.caption(f"Asked by {item.requested_by} on {when(item.created_at)} · "
                       f"{len(item.approvers)} of {item.approvals_required} approvals · id {item.id}")
            st.dataframe(_before_after(item.change, item.kind), hide_index=True,
                         key=f"governance_change_{item.id}")
            if not can_review:
                continue
            if username in (item.requested_by, item.subject):
                st.info("✋ This change is yours or about you: other governors review it.")
                continue
            if username in item.approvers:
                st.info("👍 You approved this change; it waits for other governors.")
                continue
            approve, reject, _ = st.columns([1, 1, 4])
            details = {"id": item.id, "summary": item.summary, "kind": item.kind,
                       "change": item.change, "approvals": len(item.approvers),
                       "required": item.approvals_required}
            if approve.button("✅ Approve…", key=f"gov_approve_{item.id}", type="primary"):
                confirm.ask("gov_approve", **details)
            if reject.button("❌ Reject…", key=f"gov_reject_{item.id}"):
                confirm.ask("gov_reject", **details)
    return len(waiting)


def governance_dialogs(db: Database, username: str) -> None:
    """The veto and governance review confirmations; call once per page, outside any fragment."""
    policy = readers.policy(db)

    def show_veto(details: dict[str, Any]) -> bool:
        st.markdown(f"Veto **{plain(details['summary'])}**? It would take effect "
                    f"{when_text(details['executes_at'])}. Once vetoed by "
                    f"{policy.veto_approvals} governor(s) it never takes effect.")
        reason = st.text_area("Why must it not take effect? (written to the log)",
                              key="veto_reason")
        if not reason.strip():
            st.caption("Write the reason to enable Veto.")
        code_ready = review_code_field(db, username, "veto_totp")
        return bool(reason.strip()) and code_ready

    def act_veto(details: dict[str, Any]) -> tuple[str, str]:
        outcome = veto(db, details["id"], by=username,
                       reason=st.session_state.pop("veto_reason", ""), totp=_code("veto_totp"))
        if outcome.status == "vetoed":
            return f"🛑 Vetoed **{plain(details['summary'])}**: it will not take effect.", "success"
        return (f"🛑 Veto recorded: {outcome.vetoes} of {outcome.vetoes_required}; the change "
                "stays queued until enough governors veto it.", "info")

    def show_approve(details: dict[str, Any]) -> bool:
        st.markdown(f"Approve **{plain(details['summary'])}**?")
        st.dataframe(_before_after(details["change"], details["kind"]), hide_index=True,
                     key="gov_approve_change")
        completes = details["approvals"] + 1 >= details["required"]
        hours = policy.timelock_hours_major
        st.write((f"Your approval completes the count: the change goes into the queue and takes "
                  f"effect in {hours} h unless a governor vetoes it." if hours else
                  "Your approval completes the count: the change takes effect at once.")
                 if completes else
                 f"Your approval is {details['approvals'] + 1} of {details['required']}: the "
                 "change keeps waiting for more.")
        st.text_input("Notes for the log (optional)", key="gov_approve_notes")
        return review_code_field(db, username, "gov_approve_totp")

    def show_reject(details: dict[str, Any]) -> bool:
        st.markdown(f"Reject **{plain(details['summary'])}**? Nothing changes.")
        notes = st.text_area("Why? (written to the log)", key="gov_reject_notes")
        if not notes.strip():
            st.caption("Write the reason to enable Reject.")
        code_ready = review_code_field(db, username, "gov_reject_totp")
        return bool(notes.strip()) and code_ready

    def act(decision: str, notes_key: str):
        def run(details: dict[str, Any]) -> tuple[str, str]:
            outcome = review_governance(db, details["id"], decision, by=username,
                                        notes=st.session_state.pop(notes_key, ""),
                                        totp=_code(notes_key.replace("_notes", "_totp")))
            if outcome.status == "queued":
                return (f"✅ Approved: the change takes effect {when(outcome.executes_at)} unless "
                        "vetoed.", "success")
            if outcome.status == "active":
                return "✅ Approved: the change took effect.", "success"
            if outcome.status == "rejected":
                return "❌ Rejected: nothing changes.", "info"
            return (f"👍 Approval recorded: {outcome.approvals} of {outcome.approvals_required}.",
                    "info")
        return run

    def veto_refused(details: dict[str, Any], _refusal: DomainError) -> list[str]:
        """Someone acted on the change while this dialog was open: say what became of it (read
        fresh), before core's own line."""
        try:
            if details.get("kind") == GOVERNANCE:
                story = governance_story(db, details["id"])
                status, notes = story.status, story.timeline[-1]["notes"] if story.timeline else None
            else:
                record = get_proposal(db, details["id"])
                status, notes = record.status, record.review_notes
        except DomainError:
            return []
        if status == "queued":
            return []
        return [f"Someone acted first: **{plain(details['summary'])}** is now {status}"
                + (f" ({plain(notes)})." if notes else ".")]

    confirm.confirmation("veto", "Veto this change?", show_veto, act_veto,
                         confirm_label="🛑 Veto", refused=veto_refused)
    confirm.confirmation("gov_approve", "Approve this governance change?", show_approve,
                         act("approved", "gov_approve_notes"), confirm_label="✅ Approve")
    confirm.confirmation("gov_reject", "Reject this governance change?", show_reject,
                         act("rejected", "gov_reject_notes"), confirm_label="❌ Reject")


def _code(key: str) -> str | None:
    """The authenticator code typed in a dialog, taken once (None when none was asked)."""
    return "".join(str(st.session_state.pop(key, "") or "").split()) or None


def when_text(iso: str) -> str:
    return when(datetime.fromisoformat(iso))
