"""M-of-N counts only the governors of now: an approval by an account since disabled or demoted
no longer counts, and the policy can never ask for more approvals than there are governors."""

from __future__ import annotations

import pytest

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import Refused
from core.governance.accounts import add_user, disable_user, set_role
from core.governance.policy_store import get_policy, set_policy
from core.proposals.lifecycle import get_pending_proposals, propose_allocation, review_proposal
from core.record.activity import list_activity
from db.engine import Database
from tests.integration.state import snapshot

PASSWORD = "a long enough password"


@pytest.fixture
def board(db: Database) -> Database:
    """An admin, three governors and an analyst; two approvals required."""
    add_user(db, "ada", "admin", PASSWORD)
    for name in ("gus", "gil", "gwen"):
        add_user(db, name, "governor", PASSWORD, by="ada")
    add_user(db, "ann", "analyst", PASSWORD, by="ada")
    set_policy(db, "approvals_required", "2", by="ada")
    return db


# The two ways an account stops being a governor.
REMOVALS = pytest.mark.parametrize("remove", [
    lambda db: disable_user(db, "gus", by="ada"),
    lambda db: set_role(db, "gus", "analyst", by="ada"),
], ids=["disabled", "demoted"])


def proposal(db: Database) -> str:
    return propose_allocation(db, ProposalInput(70, 18, 8, 4, "more reinvestment"), by="ann").proposal_id


@REMOVALS
def test_an_approval_by_a_governor_since_removed_does_not_count(board, remove):
    db = board
    before = get_current_allocation(db)
    proposal_id = proposal(db)
    review_proposal(db, proposal_id, "approved", by="gus")
    remove(db)
    outcome = review_proposal(db, proposal_id, "approved", by="gil")
    assert (outcome.status, outcome.approvals, outcome.approvals_required) == ("proposed", 1, 2)
    assert get_current_allocation(db) == before
    assert [p.approvals for p in get_pending_proposals(db)] == [["gil"]]
    # A governor of now completes it.
    assert review_proposal(db, proposal_id, "approved", by="gwen").status == "active"
    approved = [e for e in list_activity(db, limit=50) if e.activity_type == "allocation_approved"]
    assert approved[0].metadata["approvals"] == ["gil", "gwen"]


def test_an_admins_approval_counts_as_a_governors(board):
    db = board
    proposal_id = proposal(db)
    review_proposal(db, proposal_id, "approved", by="ada")
    assert review_proposal(db, proposal_id, "approved", by="gus").status == "active"


def test_approvals_required_above_the_active_governors_is_refused_with_the_count(board):
    db = board
    before = snapshot(db)
    # ada (admin) and three governors: four can approve.
    # The major count is raised first: it may never be below approvals_required.
    with pytest.raises(Refused, match=r"approvals_required_major: 5 is more than the 4 active governor"):
        set_policy(db, "approvals_required_major", "5", by="ada")
    assert snapshot(db) == before
    set_policy(db, "approvals_required_major", "4", by="ada")
    assert set_policy(db, "approvals_required", "4", by="ada").approvals_required == 4


def test_a_disabled_governor_is_not_counted_as_one_who_could_approve(board):
    db = board
    disable_user(db, "gwen", by="ada")
    with pytest.raises(Refused, match="more than the 3 active governor"):
        set_policy(db, "approvals_required_major", "4", by="ada")


@REMOVALS
def test_removing_the_governor_the_policy_needs_is_refused_and_says_why(board, remove):
    db = board
    set_policy(db, "approvals_required_major", "4", by="ada")
    set_policy(db, "approvals_required", "4", by="ada")
    before = snapshot(db)
    with pytest.raises(Refused, match=r"gus would leave 3 active governor\(s\), fewer than the 4 "
                                      r"approvals the policy requires \(approvals_required\)"):
        remove(db)
    assert snapshot(db) == before


def test_a_governor_the_policy_can_spare_may_still_be_disabled_or_promoted(board):
    db = board
    set_policy(db, "approvals_required_major", "3", by="ada")
    set_policy(db, "approvals_required", "3", by="ada")
    assert set_role(db, "gus", "admin", by="ada").role == "admin"  # still one who approves
    assert disable_user(db, "gus", by="ada").active is False
    assert get_policy(db).approvals_required == 3


def test_in_open_mode_any_approvals_required_may_be_set(db):
    # Before the first account every named operator may approve: there is nobody to count.
    set_policy(db, "approvals_required_major", "3", by="operator")
    assert set_policy(db, "approvals_required", "3", by="operator").approvals_required == 3
