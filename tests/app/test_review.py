"""Review: pending proposals against the live split; governors decide, others only read."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.governance.policy_store import set_policy
from core.proposals.lifecycle import get_pending_proposals, get_proposal, propose_allocation
from streamlit.testing.v1 import AppTest

from tests.app.helpers import ROOT, TIMEOUT, all_text, no_exception, open_page, sign_in_as

REVIEW = "pages/1_Review.py"


def _file(db, split=(75, 15, 6, 4), by="ann", confidence="0.9", reasoning="Q1 strategy") -> str:
    return propose_allocation(db, ProposalInput(*split, reasoning=reasoning,
                                                confidence=Decimal(confidence)), by=by).proposal_id


def _keys(at) -> list[str]:
    return [b.key for b in at.button]


def _decide(at, action: str, proposal_id: str, notes: str | None = None):
    """Click Approve or Reject on a card, then confirm in the dialog (with notes, if any)."""
    at = at.button(key=f"{action}_{proposal_id}").click().run()
    no_exception(at)
    if notes is not None:
        (at.text_area if action == "reject" else at.text_input)(key=f"{action}_notes").input(notes)
        at = at.run()
    return at.button(key=f"confirm_{action}").click().run()


def test_each_pending_proposal_is_shown_against_the_live_split(db):
    pending = get_pending_proposals(db)
    at = open_page(REVIEW, user="vic")
    no_exception(at)
    text = all_text(at)
    live = get_current_allocation(db).split.label()
    assert f"**Live split:** {live} · **{len(pending)}** proposal(s) waiting" in text
    proposal = pending[0].record
    assert f"{proposal.split.label()} · proposed by" in text
    assert proposal.reasoning in text
    assert "left before it expires" in text
    labels = {m.label: m for m in at.metric}
    assert labels["Approvals"].value == f"0 of {pending[0].approvals_required}"
    assert labels["Confidence"].value == f"{float(proposal.confidence):.0%}"
    delta = proposal.split.delta(get_current_allocation(db).split)["lucky"]
    assert labels["Lucky lottery"].delta == f"+{delta.normalize():f} pts"
    assert len(at.get("plotly_chart")) == len(pending)


def test_a_viewer_and_an_analyst_see_proposals_but_no_approve_button(db):
    for user in ("vic", "ann"):
        at = open_page(REVIEW, user=user)
        no_exception(at)
        assert get_pending_proposals(db)[0].record.reasoning in all_text(at)
        assert not [k for k in _keys(at) if k.startswith(("approve_", "reject_"))]
        assert "Only governors approve or reject proposals" in all_text(at)


def test_an_approval_shows_the_outcome_and_changes_the_home_page(db):
    proposal = get_pending_proposals(db)[0].record
    at = _decide(open_page(REVIEW, user="gus"), "approve", proposal.id,
                 "Metrics support this change")
    no_exception(at)
    assert f"Approved: **{proposal.split.label()}** is now the live split" in all_text(at)
    assert get_current_allocation(db).split == proposal.split
    assert get_proposal(db, proposal.id).review_notes == "Metrics support this change"
    home = open_page(user="vic")
    assert f"Current split: {proposal.split.label()}" in all_text(home)
    assert "**Approved by** gus" in all_text(home)


def test_a_rejection_leaves_the_split_and_records_the_notes(db):
    before = get_current_allocation(db).split
    proposal = get_pending_proposals(db)[0].record
    at = _decide(open_page(REVIEW, user="gil"), "reject", proposal.id, "Too aggressive for now")
    no_exception(at)
    assert "Rejected the proposal" in all_text(at)
    record = get_proposal(db, proposal.id)
    assert (record.status, record.review_notes) == ("rejected", "Too aggressive for now")
    assert get_current_allocation(db).split == before
    assert "Nothing is waiting for review" in all_text(at)


def test_m_of_n_approvals_are_counted_until_the_last_one_activates(plain_db):
    set_policy(plain_db, "approvals_required", "2", by="ada")
    proposal_id = _file(plain_db)
    at = _decide(open_page(REVIEW, user="gus"), "approve", proposal_id)
    no_exception(at)
    assert "Approval recorded: 1 of 2" in all_text(at)
    assert "You approved this proposal" in all_text(at)
    assert {m.label: m.value for m in at.metric}["Approvals"] == "1 of 2"
    at = _decide(open_page(REVIEW, user="gil"), "approve", proposal_id)
    assert "is now the live split (2 of 2 approvals)" in all_text(at)
    assert get_current_allocation(plain_db).id == proposal_id


def test_a_governor_cannot_review_their_own_proposal(plain_db):
    proposal_id = _file(plain_db, by="gus")
    at = open_page(REVIEW, user="gus")
    assert "You filed this proposal" in all_text(at)
    assert f"approve_{proposal_id}" not in _keys(at)
    assert f"approve_{proposal_id}" in _keys(open_page(REVIEW, user="gil"))


def test_validation_warnings_against_the_live_split_are_shown(plain_db):
    _file(plain_db, confidence="0.4")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert "confidence: 0.4 is below 0.5, consider gathering more data" in \
        [w.value for w in at.warning]


def test_a_refused_approval_is_explained_and_changes_nothing(plain_db):
    # Filed against 80/15/3/2; then the live split moves far enough that the step limit bites.
    stale = _file(plain_db, split=(65, 15, 12, 8))
    newer = _file(plain_db, split=(90, 5, 3, 2))
    _decide(open_page(REVIEW, user="gus"), "approve", newer)
    at = _decide(open_page(REVIEW, user="gus"), "approve", stale)
    no_exception(at)
    assert any("step limit" in e.value for e in at.error)
    assert get_proposal(plain_db, stale).status == "proposed"


def test_approve_opens_a_confirmation_with_the_resulting_split_and_writes_nothing_until_confirmed(db):
    proposal = get_pending_proposals(db)[0].record
    live = get_current_allocation(db)
    at = open_page(REVIEW, user="gus").button(key=f"approve_{proposal.id}").click().run()
    no_exception(at)
    assert f"**{proposal.split.label()}** against the live split **{live.split.label()}**" \
        in all_text(at)
    changes = next(d.value for d in at.dataframe if "Proposed" in d.value.columns)
    assert "/".join(p.rstrip("%") for p in changes["Proposed"]) == proposal.split.label()
    assert "/".join(p.rstrip("%") for p in changes["Live"]) == live.split.label()
    assert "The last distribution's profit" in all_text(at)
    assert get_proposal(db, proposal.id).status == "proposed"  # nothing written yet
    at = at.run()  # any other rerun keeps the question open, still nothing written
    assert at.button(key="confirm_approve") and get_proposal(db, proposal.id).status == "proposed"
    at = at.button(key="cancel_approve").click().run()
    assert not [b for b in at.button if b.key == "confirm_approve"]
    assert get_proposal(db, proposal.id).status == "proposed"


def test_reject_asks_for_the_reason_before_it_can_be_confirmed(db):
    proposal = get_pending_proposals(db)[0].record
    at = open_page(REVIEW, user="gus").button(key=f"reject_{proposal.id}").click().run()
    assert at.button(key="confirm_reject").disabled
    at.text_area(key="reject_notes").input("Not now")
    at = at.run()
    assert not at.button(key="confirm_reject").disabled
    assert get_proposal(db, proposal.id).status == "proposed"


def test_a_decision_on_a_proposal_someone_else_decided_says_who_decided_what_and_when(plain_db):
    proposal_id = _file(plain_db)
    at = open_page(REVIEW, user="gus").button(key=f"approve_{proposal_id}").click().run()
    # While gus reads the dialog, gil rejects the same proposal in another browser.
    from core.proposals.lifecycle import review_proposal
    review_proposal(plain_db, proposal_id, "rejected", by="gil", notes="Too early")
    at = at.button(key="confirm_approve").click().run()
    no_exception(at)
    told = "\n".join(e.value for e in [*at.error, *at.warning])
    assert "Someone decided first: gil rejected it on" in told
    assert "Too early" in told
    assert get_proposal(plain_db, proposal_id).status == "rejected"
    # And a stale card clicked after the decision says so in the dialog, with nothing to confirm.
    other = _file(plain_db, split=(78, 15, 4, 3))
    st.cache_data.clear()  # as after the readers' TTL
    at = open_page(REVIEW, user="gus")
    review_proposal(plain_db, other, "approved", by="gil")
    at = at.button(key=f"reject_{other}").click().run()
    assert "Someone decided first: gil approved it; it became the live split" in \
        "\n".join(w.value for w in at.warning)
    assert at.button(key="confirm_reject").disabled


def test_the_queue_says_what_changed_since_the_tab_last_looked(plain_db):
    at = open_page(REVIEW, user="vic")
    assert "Nothing is waiting for review" in all_text(at)
    _file(plain_db)
    st.cache_data.clear()
    at = at.run()
    assert "Since you last looked — new: 75/15/6/4." in all_text(at)
    from core.proposals.lifecycle import review_proposal
    review_proposal(plain_db, get_pending_proposals(plain_db)[0].record.id, "rejected", by="gil",
                    notes="no")
    st.cache_data.clear()
    at = at.run()
    assert "Since you last looked — gil rejected it on" in all_text(at)


def _proposal_page(user: str, proposal_id: str):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(at, user)
    at.query_params["proposal"] = proposal_id
    return at.switch_page(REVIEW).run()


def test_a_proposal_has_its_own_page_with_the_chart_and_the_decision_buttons(plain_db):
    proposal_id = _file(plain_db, reasoning="# Verified by the board ![x](http://evil.example/x.png)")
    at = _proposal_page("gus", proposal_id)
    no_exception(at)
    assert "Proposal 75/15/6/4 · proposed" in all_text(at)
    assert "# Verified by the board ![x](http://evil.example/x.png)" in [t.value for t in at.text]
    assert len(at.get("plotly_chart")) == 1
    at = _decide(at, "approve", proposal_id)
    assert get_current_allocation(plain_db).id == proposal_id
    assert "Decided: gus approved it; it became the live split" in all_text(at)
    story = next(d.value for d in at.dataframe if "what" in d.value.columns)
    assert list(story["what"]) == ["filed", "approved", "activated"]
    assert list(story["by"]) == ["ann", "gus", "gus"]


def test_a_major_change_is_marked_and_needs_the_major_count(plain_db):
    proposal_id = _file(plain_db, split=(60, 25, 10, 5))  # 20 points off 80: beyond the step limit
    at = _proposal_page("gus", proposal_id)
    assert "🟠 Major change" in all_text(at) and "needs 2 approvals" in all_text(at)
    at = _decide(at, "approve", proposal_id)
    assert "Approval recorded: 1 of 2" in all_text(at)
    assert get_proposal(plain_db, proposal_id).status == "proposed"
    queue = open_page(REVIEW, user="gil")
    assert "🟠 Major change" in all_text(queue)


def test_the_proposer_withdraws_from_the_proposal_page_after_confirming(plain_db):
    proposal_id = _file(plain_db)
    at = _proposal_page("ann", proposal_id)
    at = at.button(key=f"withdraw_{proposal_id}").click().run()
    assert get_proposal(plain_db, proposal_id).status == "proposed"  # not before the confirmation
    at.text_input(key="withdraw_notes").input("Filed too early")
    at = at.run().button(key="confirm_withdraw").click().run()
    no_exception(at)
    assert get_proposal(plain_db, proposal_id).status == "withdrawn"
    assert "Decided: ann withdrew it" in all_text(at)
    assert f"withdraw_{proposal_id}" not in _keys(_proposal_page("vic", _file(plain_db, split=(78, 15, 4, 3))))


def test_a_proposal_page_for_an_unknown_id_says_so(plain_db):
    at = _proposal_page("vic", "not-an-id")
    no_exception(at)
    assert "proposal: 'not-an-id' is not a proposal id" in [e.value for e in at.error]


def test_a_valid_pending_proposal_shows_no_error_not_even_that_it_duplicates_itself(plain_db):
    """The card's check is the filing rule without the proposal itself: neither "already pending
    as proposal <its own id>" nor, for the rebalancer's own proposal, its label."""
    from tests.integration.state import file_as_rebalancer

    manual = _file(plain_db)
    machine = file_as_rebalancer(plain_db, ProposalInput(70, 18, 8, 4, reasoning="rules",
                                                         proposed_by="ai"))
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    errors = [e.value for e in at.error]
    assert not any(manual in e or machine in e or "proposed_by" in e for e in errors), errors
    assert all_text(at).count("Valid against the live split and the policy") == 2


def test_an_active_proposals_page_compares_it_with_the_split_it_replaced(plain_db):
    from core.proposals.lifecycle import review_proposal

    proposal_id = _file(plain_db)  # 75/15/6/4 against 80/15/3/2
    review_proposal(plain_db, proposal_id, "approved", by="gus")
    at = _proposal_page("vic", proposal_id)
    no_exception(at)
    [changes] = [frame.value for frame in at.dataframe if "Replaced" in frame.value.columns]
    assert list(changes["Replaced"]) == ["80%", "15%", "3%", "2%"]
    assert list(changes["Change"]) != ["±0 pts"] * 4
