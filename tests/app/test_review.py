"""Review: pending proposals against the live split; governors decide, others only read."""

from __future__ import annotations

from decimal import Decimal

from core.allocations import (get_current_allocation, get_pending_proposals, get_proposal,
                              propose_allocation)
from core.policy_store import set_policy
from core.validation import ProposalInput
from tests.app.helpers import all_text, no_exception, open_page

REVIEW = "pages/1_Review.py"


def _file(db, split=(75, 15, 6, 4), by="ann", confidence="0.9", reasoning="Q1 strategy") -> str:
    return propose_allocation(db, ProposalInput(*split, reasoning=reasoning,
                                                confidence=Decimal(confidence)), by=by).proposal_id


def _keys(at) -> list[str]:
    return [b.key for b in at.button]


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
    at = open_page(REVIEW, user="gus")
    at.text_input(key=f"notes_{proposal.id}").input("Metrics support this change")
    at = at.button(key=f"approve_{proposal.id}").click().run()
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
    at = open_page(REVIEW, user="gil")
    at.text_input(key=f"notes_{proposal.id}").input("Too aggressive for now")
    at = at.button(key=f"reject_{proposal.id}").click().run()
    no_exception(at)
    assert "Rejected the proposal" in all_text(at)
    record = get_proposal(db, proposal.id)
    assert (record.status, record.review_notes) == ("rejected", "Too aggressive for now")
    assert get_current_allocation(db).split == before
    assert "Nothing is waiting for review" in all_text(at)


def test_m_of_n_approvals_are_counted_until_the_last_one_activates(plain_db):
    set_policy(plain_db, "approvals_required", "2", by="ada")
    proposal_id = _file(plain_db)
    at = open_page(REVIEW, user="gus").button(key=f"approve_{proposal_id}").click().run()
    no_exception(at)
    assert "Approval recorded: 1 of 2" in all_text(at)
    assert "You approved this proposal" in all_text(at)
    assert {m.label: m.value for m in at.metric}["Approvals"] == "1 of 2"
    at = open_page(REVIEW, user="gil").button(key=f"approve_{proposal_id}").click().run()
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
    open_page(REVIEW, user="gus").button(key=f"approve_{newer}").click().run()
    at = open_page(REVIEW, user="gus").button(key=f"approve_{stale}").click().run()
    no_exception(at)
    assert any("step limit" in e.value for e in at.error)
    assert get_proposal(plain_db, stale).status == "proposed"
