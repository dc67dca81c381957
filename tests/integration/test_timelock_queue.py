"""The timelock queue: an approved change waits, can be vetoed, and takes effect when due, checked
again then; only the governors of the moment a proposal was filed may decide it. On both engines,
with a simulated clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.split import Split
from core.base.errors import PermissionDenied, Refused, ValidationFailed
from core.governance.accounts import set_role
from core.governance.policy_store import set_policy
from core.governance.sealing import seal
from core.proposals.lifecycle import get_proposal, review_proposal
from core.proposals.queue import execute_due, queued_changes, veto
from core.record.activity import list_activity
from db.types import utcnow
from tests.integration.state import file, snapshot

MAJOR = (64, 30, 3, 3)  # reinvestment -16: more than max_step 15 from 80/15/3/2
MINOR = (75, 15, 6, 4)


def _approve_major(db, now=None) -> str:
    proposal = file(db, MAJOR)
    review_proposal(db, proposal, "approved", by="gus", now=now)
    outcome = review_proposal(db, proposal, "approved", by="gail", now=now)
    assert outcome.tier == "major"
    return proposal


def test_a_major_change_waits_in_the_queue_and_takes_effect_when_its_timelock_ends(team):
    now = utcnow()
    proposal = _approve_major(team, now)
    record = get_proposal(team, proposal)
    assert record.status == "queued"
    assert get_current_allocation(team).split == Split(80, 15, 3, 2)
    [queued] = queued_changes(team)
    assert queued.id == proposal and queued.executes_at == now + timedelta(hours=24)
    assert sorted(queued.approvers) == ["gail", "gus"]

    assert execute_due(team, now + timedelta(hours=23, minutes=59)).executed == []
    assert get_proposal(team, proposal).status == "queued"
    outcome = execute_due(team, now + timedelta(hours=24))
    assert outcome.executed == [proposal] and outcome.expired == []
    assert get_current_allocation(team).split == Split(*MAJOR)
    assert execute_due(team, now + timedelta(hours=25)).executed == []  # once only
    types = [a.activity_type for a in list_activity(team, limit=10)]
    assert "allocation_queued" in types and "allocation_activated" in types


def test_the_review_answer_says_when_a_queued_change_takes_effect(team):
    now = utcnow()
    proposal = file(team, MAJOR)
    review_proposal(team, proposal, "approved", by="gus", now=now)
    outcome = review_proposal(team, proposal, "approved", by="gail", now=now)
    assert outcome.as_json()["status"] == "queued"
    assert outcome.as_json()["executes_at"] == (now + timedelta(hours=24)).isoformat()


def test_with_both_timelocks_at_zero_an_approval_activates_at_once_as_before(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")
    proposal = _approve_major(team)
    assert get_proposal(team, proposal).status == "active"
    assert queued_changes(team) == []


def test_a_minor_change_activates_at_once_unless_its_own_timelock_is_set(team):
    proposal = file(team, MINOR)
    assert review_proposal(team, proposal, "approved", by="gus").status == "active"
    set_policy(team, "timelock_hours", "2", by="ada")
    other = file(team, (70, 18, 8, 4))
    outcome = review_proposal(team, other, "approved", by="gail")
    assert outcome.status == "queued" and outcome.tier == "minor"


def test_a_vetoed_change_never_takes_effect(team):
    now = utcnow()
    proposal = _approve_major(team, now)
    outcome = veto(team, proposal, by="gwen", reason="the DAO cannot absorb this yet", now=now)
    assert (outcome.status, outcome.vetoes, outcome.vetoes_required) == ("vetoed", 1, 1)
    assert execute_due(team, now + timedelta(hours=48)).executed == []
    assert get_proposal(team, proposal).status == "vetoed"
    assert get_current_allocation(team).split == Split(80, 15, 3, 2)
    [event] = list_activity(team, limit=5, activity_type="allocation_vetoed")
    assert event.metadata["reason"] == "the DAO cannot absorb this yet"


def test_with_two_vetoes_required_one_veto_leaves_the_change_queued(team):
    set_policy(team, "veto_approvals", "2", by="ada")
    proposal = _approve_major(team)
    assert veto(team, proposal, by="gwen", reason="too fast").status == "queued"
    with pytest.raises(Refused, match="already vetoed"):
        veto(team, proposal, by="gwen", reason="again")
    assert veto(team, proposal, by="ada", reason="agreed").status == "vetoed"


@pytest.mark.parametrize(("who", "reason", "error", "message"), [
    ("gwen", "  ", ValidationFailed, "reason: a veto needs a reason"),
    ("ann", "no", PermissionDenied, "needs the governor role"),
])
def test_a_veto_needs_a_governor_and_a_reason_and_writes_nothing_otherwise(team, who, reason,
                                                                          error, message):
    proposal = _approve_major(team)
    before = snapshot(team)
    with pytest.raises(error, match=message):
        veto(team, proposal, by=who, reason=reason)
    assert snapshot(team) == before


def test_only_a_queued_change_can_be_vetoed(team):
    proposal = file(team, MINOR)
    with pytest.raises(Refused, match="only queued changes can be vetoed"):
        veto(team, proposal, by="gus", reason="no")


def test_a_due_change_that_no_longer_fits_the_policy_expires_with_the_reason(team):
    now = utcnow()
    proposal = _approve_major(team, now)
    set_policy(team, "dao_max", "25", by="ada")  # unsealed: the admin may still, at once
    outcome = execute_due(team, now + timedelta(hours=24))
    assert outcome.executed == []
    [expired] = outcome.expired
    assert expired["id"] == proposal and "dao" in expired["reason"]
    record = get_proposal(team, proposal)
    assert record.status == "expired" and "could not take effect" in record.review_notes
    assert get_current_allocation(team).split == Split(80, 15, 3, 2)


def test_a_due_change_whose_approver_stopped_governing_expires(team):
    now = utcnow()
    proposal = _approve_major(team, now)
    set_role(team, "gail", "analyst", by="ada")
    [expired] = execute_due(team, now + timedelta(hours=24)).expired
    assert expired["id"] == proposal and "only 1 of the 2 approvals" in expired["reason"]


def test_once_sealed_a_governor_added_after_the_filing_cannot_review_it(team):
    proposal = file(team, MAJOR)
    set_role(team, "vic", "governor", by="ada")  # unsealed: the admin alone may still
    seal(team, by="ada")
    before = snapshot(team)
    with pytest.raises(Refused, match="only the governors of that moment may review it"):
        review_proposal(team, proposal, "approved", by="vic")
    assert snapshot(team) == before
    # The governors of the moment still can.
    review_proposal(team, proposal, "approved", by="gus")
    assert review_proposal(team, proposal, "approved", by="gail").status == "queued"


def test_unsealed_the_admin_is_trusted_alone_and_a_new_governor_may_review(team):
    proposal = file(team, MINOR)
    set_role(team, "vic", "governor", by="ada")
    assert review_proposal(team, proposal, "approved", by="vic").status == "active"


def test_once_sealed_an_approval_by_a_governor_of_later_does_not_count(team):
    """Recorded before sealing, by an account promoted after the filing: it stops counting."""
    now = utcnow()
    proposal = file(team, MAJOR)
    set_role(team, "vic", "governor", by="ada")
    review_proposal(team, proposal, "approved", by="vic", now=now)
    review_proposal(team, proposal, "approved", by="gus", now=now)
    seal(team, by="ada")
    [expired] = execute_due(team, now + timedelta(hours=24)).expired
    assert expired["id"] == proposal and "only 1 of the 2 approvals" in expired["reason"]


def test_a_split_already_queued_cannot_be_filed_again(team):
    proposal = _approve_major(team)
    with pytest.raises(Refused, match=f"already approved and queued as proposal {proposal}"):
        file(team, MAJOR, by="gwen")


@pytest.mark.parametrize("statement", [
    "UPDATE timelock_queue SET executes_at = queued_at",
    "DELETE FROM timelock_queue",
    "UPDATE profit_allocation_log SET status = 'proposed' WHERE status = 'queued'",
    "UPDATE proposal_vetoes SET reason = 'x'",
])
def test_the_database_refuses_to_move_a_queued_change_by_raw_sql(team, statement):
    proposal = _approve_major(team)
    if "vetoes" in statement:
        veto(team, proposal, by="gwen", reason="no")
    with pytest.raises(sa.exc.DatabaseError):
        with team.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_a_vetoed_change_cannot_be_queued_again_by_raw_sql(team):
    proposal = _approve_major(team)
    veto(team, proposal, by="gwen", reason="no")
    with pytest.raises(sa.exc.DatabaseError):
        with team.engine.begin() as conn:
            conn.execute(sa.text("UPDATE profit_allocation_log SET status = 'queued' "
                                 "WHERE status = 'vetoed'"))
