"""Review: every pending proposal against the live split; governors approve or reject it after
seeing what it does. Approved changes wait in the timelock queue, where a governor can veto them;
governance proposals (policy, roles) show what they change, before → after. The queue refreshes
itself while the page is open."""

import streamlit as st

from ui import outcome_panels, readers
from ui.governance import governance_dialogs, governance_panel, queue_panel
from ui.page import setup_page
from ui.proposals import card, decided_line, decision_dialogs, proposal_page, withdraw_dialog

SEEN_KEY = "review_seen"
page = setup_page("Review", "🗳️")
if not page.can("governor"):
    st.caption("Only governors approve or reject proposals; you can read them here.")
outcome_panels.last_change(page.db)  # what the previous move did, before the next
if st.query_params.get("proposal"):  # one proposal's shareable page
    proposal_page(page.db, st.query_params["proposal"], can_review=page.can("governor"),
                  username=page.username, is_admin=page.can("admin"))
    decision_dialogs(page.db, page.username)
    withdraw_dialog(page.db, page.username)
    st.stop()


def what_changed(pending) -> str | None:
    """Since this tab last looked: which proposals arrived and which left the queue."""
    now = {item.record.id: item.record.split.label() for item in pending}
    before = st.session_state.get(SEEN_KEY)
    st.session_state[SEEN_KEY] = now
    if before is None:
        return None
    arrived = [label for key, label in now.items() if key not in before]
    left = [(decided_line(page.db, key) or f"{label} left the queue").replace(
        "Someone decided first: ", "") for key, label in before.items() if key not in now]
    parts = [f"new: {', '.join(arrived)}"] if arrived else []
    return "🔄 Since you last looked — " + " ".join([*(p + "." for p in parts), *left]) \
        if parts or left else None


@st.fragment(run_every=30)
def queue() -> None:
    live = readers.current(page.db)
    pending = readers.pending(page.db)
    st.markdown(f"**Live split:** {live.split.label()} · **{len(pending)}** proposal(s) waiting")
    change = what_changed(pending)
    if change:
        st.info(change)
    queue_panel(page.db, can_veto=page.can("governor"), username=page.username)
    governance = governance_panel(page.db, can_review=page.can("governor"),
                                  username=page.username)
    if not pending and not governance:
        st.success("✅ Nothing is waiting for review.")
    for item in pending:
        card(page.db, item, live, can_review=page.can("governor"), username=page.username)
    st.caption("This queue refreshes itself every 30 s while the page is open.")


queue()
decision_dialogs(page.db, page.username)
governance_dialogs(page.db, page.username)
