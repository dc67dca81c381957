"""Review rules through core, on SQLite and PostgreSQL: four-eyes, M-of-N, expiry, re-validation
against the live split, the pause switches, and the story each proposal leaves in the activity log.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.governance.accounts import add_user
from core.governance.policy_store import set_policy
from core.proposals.distribution import distribute, list_distributions
from core.proposals.lifecycle import (expire_stale_proposals, get_allocation_history,
                                      get_pending_proposals, get_proposal, propose_allocation,
                                      review_proposal)
from core.record.activity import list_activity
from db.engine import Database

TABLES = ("profit_allocation_log", "proposal_reviews", "protocol_activity", "allocation_policy",
          "users", "profit_distributions")
WEEK = timedelta(hours=7 * 24)

# The order the steps of one proposal's story happen in; rows written in the same transaction
# may share a timestamp, so ties are broken by this order.
STORY_ORDER = ("allocation_proposed", "allocation_approval_recorded", "allocation_approved",
               "allocation_auto_approved", "allocation_rejected", "allocation_expired",
               "allocation_activated")


def snapshot(db: Database) -> dict[str, Any]:
    with db.engine.connect() as conn:
        state: dict[str, Any] = {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}
        state["log_rows"] = sorted(
            (str(i), s, str(f), str(u), str(r)) for i, s, f, u, r in conn.execute(sa.text(
                "SELECT id, status, effective_from, effective_until, reviewed_by "
                "FROM profit_allocation_log")).all())
    return state


def story(db: Database, proposal_id: str) -> list[str]:
    """The activity types that mention this proposal, oldest first."""
    entries = [e for e in list_activity(db, limit=10_000)
               if e.activity_type in STORY_ORDER
               and proposal_id in (str(e.metadata.get("proposal_id")),
                                   str(e.metadata.get("allocation_id")))]
    entries.sort(key=lambda e: (e.timestamp, STORY_ORDER.index(e.activity_type)))
    return [e.activity_type for e in entries]


def sso(db: Database, name: str, role: str, by: str | None = "ada") -> None:
    add_user(db, name, role, None, by=by, email=f"{name}@example.org")


def file(db: Database, split: tuple[Any, ...] = (75, 15, 6, 4), by: str = "ann") -> str:
    return propose_allocation(db, ProposalInput(*split, "Q1 strategy"), by=by).proposal_id


def reviews(db: Database, proposal_id: str) -> list[tuple[str, str]]:
    query = sa.text("SELECT reviewer, decision FROM proposal_reviews WHERE proposal_id = :p"
                    ).bindparams(sa.bindparam("p", type_=sa.Uuid))
    with db.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(query, {"p": uuid.UUID(proposal_id)}))


def current_rows(db: Database) -> int:
    return sum(1 for r in get_allocation_history(db) if r.is_current)


@pytest.fixture
def team(db: Database) -> Database:
    sso(db, "ada", "admin", by=None)
    for name, role in (("gus", "governor"), ("gail", "governor"), ("gwen", "governor"),
                       ("ann", "analyst"), ("vic", "viewer")):
        sso(db, name, role)
    return db


# --- one approval (the default policy) -----------------------------------------------------------

def test_one_approval_activates_and_closes_the_previous_period_at_the_same_instant(team):
    seeded = get_current_allocation(team)
    pid = file(team)
    outcome = review_proposal(team, pid, "approved", by="gus", notes="metrics support it")
    assert (outcome.status, outcome.approvals, outcome.approvals_required) == ("active", 1, 1)
    current = get_current_allocation(team)
    assert current.id == pid and current.split.label() == "75/15/6/4"
    assert current.reviewed_by == "gus"
    old = get_proposal(team, seeded.id)
    assert old.effective_until == current.effective_from
    assert current_rows(team) == 1
    assert reviews(team, pid) == [("gus", "approved")]
    assert story(team, pid) == ["allocation_proposed", "allocation_approval_recorded",
                                "allocation_approved", "allocation_activated"]


def test_a_rejection_ends_the_proposal_and_leaves_the_live_split_alone(team):
    pid = file(team)
    assert review_proposal(team, pid, "rejected", by="gus", notes="too early").status == "rejected"
    record = get_proposal(team, pid)
    assert (record.status, record.reviewed_by, record.review_notes) == ("rejected", "gus", "too early")
    assert get_current_allocation(team).split.label() == "80/15/3/2"
    assert story(team, pid) == ["allocation_proposed", "allocation_rejected"]


# --- four-eyes ------------------------------------------------------------------------------------

def test_nobody_approves_a_proposal_they_filed(team):
    pid = file(team, by="gus")
    before = snapshot(team)
    with pytest.raises(Refused, match="gus filed this proposal.*four-eyes"):
        review_proposal(team, pid, "approved", by="gus")
    assert snapshot(team) == before
    assert review_proposal(team, pid, "approved", by="gail").status == "active"


def test_an_admin_who_filed_a_proposal_cannot_approve_it_either(team):
    pid = file(team, by="ada")
    with pytest.raises(Refused, match="four-eyes"):
        review_proposal(team, pid, "approved", by="ADA")
    assert get_proposal(team, pid).status == "proposed"


def test_a_viewer_or_analyst_cannot_review(team):
    pid = file(team)
    before = snapshot(team)
    for name in ("vic", "ann"):
        with pytest.raises(PermissionDenied, match="needs the governor role"):
            review_proposal(team, pid, "approved", by=name)
    assert snapshot(team) == before


# --- M-of-N ---------------------------------------------------------------------------------------

def test_two_of_three_governors_activate_with_the_second_approval(team):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = file(team)
    first = review_proposal(team, pid, "approved", by="gus")
    assert (first.status, first.approvals, first.approvals_required) == ("proposed", 1, 2)
    assert get_current_allocation(team).split.label() == "80/15/3/2"
    assert [p.approvals for p in get_pending_proposals(team)] == [["gus"]]

    before = snapshot(team)
    with pytest.raises(Refused, match="gus has already reviewed"):
        review_proposal(team, pid, "approved", by="Gus")
    assert snapshot(team) == before

    second = review_proposal(team, pid, "approved", by="gail")
    assert (second.status, second.approvals) == ("active", 2)
    assert get_current_allocation(team).id == pid
    assert current_rows(team) == 1
    assert reviews(team, pid) == [("gail", "approved"), ("gus", "approved")]

    before = snapshot(team)
    with pytest.raises(Refused, match="is active; only proposed ones can be reviewed"):
        review_proposal(team, pid, "approved", by="gwen")
    assert snapshot(team) == before
    assert story(team, pid) == ["allocation_proposed", "allocation_approval_recorded",
                                "allocation_approval_recorded", "allocation_approved",
                                "allocation_activated"]
    activated = list_activity(team, activity_type="allocation_approved")[0]
    assert activated.metadata["approvals"] == ["gus", "gail"]


def test_any_governors_rejection_rejects_after_an_approval(team):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = file(team)
    review_proposal(team, pid, "approved", by="gus")
    outcome = review_proposal(team, pid, "rejected", by="gail", notes="no")
    assert (outcome.status, outcome.approvals) == ("rejected", 1)
    assert get_proposal(team, pid).status == "rejected"
    before = snapshot(team)
    with pytest.raises(Refused, match="is rejected"):
        review_proposal(team, pid, "approved", by="gwen")
    assert snapshot(team) == before
    assert get_current_allocation(team).split.label() == "80/15/3/2"
    assert reviews(team, pid) == [("gail", "rejected"), ("gus", "approved")]
    assert story(team, pid) == ["allocation_proposed", "allocation_approval_recorded",
                                "allocation_rejected"]


def test_a_governor_who_rejected_cannot_come_back_and_approve(team):
    set_policy(team, "approvals_required_major", "3", by="ada")  # never below the minor count
    set_policy(team, "approvals_required", "3", by="ada")
    pid = file(team)
    review_proposal(team, pid, "rejected", by="gus")
    with pytest.raises(Refused):
        review_proposal(team, pid, "approved", by="gus")


def test_an_admin_counts_as_one_of_the_governors(team):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = file(team)
    review_proposal(team, pid, "approved", by="ada")
    assert review_proposal(team, pid, "approved", by="gus").status == "active"


def test_lowering_the_required_approvals_lets_the_next_approval_activate(team):
    set_policy(team, "approvals_required_major", "3", by="ada")  # never below the minor count
    set_policy(team, "approvals_required", "3", by="ada")
    pid = file(team)
    review_proposal(team, pid, "approved", by="gus")
    set_policy(team, "approvals_required", "2", by="ada")
    assert review_proposal(team, pid, "approved", by="gail").status == "active"


def test_raising_the_required_approvals_mid_review_makes_the_proposal_wait(team):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = file(team)
    review_proposal(team, pid, "approved", by="gus")
    set_policy(team, "approvals_required_major", "3", by="ada")  # never below the minor count
    set_policy(team, "approvals_required", "3", by="ada")
    assert review_proposal(team, pid, "approved", by="gail").status == "proposed"
    assert review_proposal(team, pid, "approved", by="gwen").status == "active"


# --- expiry ---------------------------------------------------------------------------------------

def test_reviewing_a_proposal_past_its_lifetime_is_refused_as_expired_and_writes_nothing(team):
    pid = file(team)
    filed_at = get_proposal(team, pid).timestamp
    before = snapshot(team)
    with pytest.raises(Refused, match="expired"):
        review_proposal(team, pid, "approved", by="gus", now=filed_at + WEEK)
    assert snapshot(team) == before
    assert get_proposal(team, pid).status == "proposed"  # not written by the refusal


def test_a_proposal_inside_its_lifetime_can_still_be_approved(team):
    pid = file(team)
    filed_at = get_proposal(team, pid).timestamp
    outcome = review_proposal(team, pid, "approved", by="gus",
                              now=filed_at + WEEK - timedelta(seconds=1))
    assert outcome.status == "active"


def test_expire_stale_proposals_marks_them_expired_for_good(team):
    set_policy(team, "approvals_required", "2", by="ada")
    old = file(team)
    review_proposal(team, old, "approved", by="gus")  # a partial approval does not save it
    filed_at = get_proposal(team, old).timestamp
    assert expire_stale_proposals(team, now=filed_at + WEEK - timedelta(seconds=1)) == []
    assert get_proposal(team, old).status == "proposed"

    fresh = file(team, (78, 15, 4, 3))
    assert get_proposal(team, fresh).timestamp > filed_at
    later = filed_at + WEEK  # the old one's lifetime ends exactly now; the fresh one's not yet
    assert expire_stale_proposals(team, now=later) == [old]
    record = get_proposal(team, old)
    assert record.status == "expired" and record.effective_from is None
    assert "expired after 168 h" in record.review_notes
    assert [p.record.id for p in get_pending_proposals(team, now=later)] == [fresh]

    before = snapshot(team)
    for reviewer in ("gail", "gwen"):
        with pytest.raises(Refused, match="is expired"):
            review_proposal(team, old, "approved", by=reviewer, now=later)
    assert snapshot(team) == before
    assert expire_stale_proposals(team, now=later) == []  # nothing left to expire, nothing written
    assert snapshot(team) == before
    assert story(team, old) == ["allocation_proposed", "allocation_approval_recorded",
                                "allocation_expired"]
    assert get_current_allocation(team).split.label() == "80/15/3/2"


def test_the_lifetime_comes_from_the_policy(team):
    set_policy(team, "proposal_lifetime_hours", "1", by="ada")
    pid = file(team)
    filed_at = get_proposal(team, pid).timestamp
    with pytest.raises(Refused, match=r"expired at .*\(1 h lifetime\)"):
        review_proposal(team, pid, "approved", by="gus", now=filed_at + timedelta(hours=1))
    assert expire_stale_proposals(team, now=filed_at + timedelta(hours=1)) == [pid]


def test_pending_leaves_out_proposals_past_their_lifetime_even_before_they_are_marked(team):
    pid = file(team)
    filed_at = get_proposal(team, pid).timestamp
    assert [p.record.id for p in get_pending_proposals(team, now=filed_at + WEEK / 2)] == [pid]
    assert get_pending_proposals(team, now=filed_at + WEEK) == []


# --- against the live split -----------------------------------------------------------------------

def test_a_proposal_filed_before_another_was_activated_is_checked_against_the_live_split(team):
    early = file(team, (70, 20, 6, 4))     # within the step of 80/15/3/2 when filed
    close = file(team, (85, 10, 3, 2))     # also filed against 80/15/3/2
    review_proposal(team, file(team, (90, 5, 3, 2)), "approved", by="gus")
    assert get_current_allocation(team).split.label() == "90/5/3/2"

    before = snapshot(team)
    with pytest.raises(Refused) as refusal:
        review_proposal(team, early, "approved", by="gail")
    problems = refusal.value.problems
    assert all(p.startswith("against the live split 90/5/3/2: ") for p in problems)
    assert any("reinvestment: moves 20 points" in p and "step limit 15" in p for p in problems)
    assert snapshot(team) == before, "the refused approval wrote something"
    assert get_proposal(team, early).status == "proposed"

    # Within the step of the new live split: it activates, replacing 90/5/3/2.
    assert review_proposal(team, close, "approved", by="gail").status == "active"
    assert get_current_allocation(team).split.label() == "85/10/3/2"
    assert current_rows(team) == 1


def test_every_approval_of_a_stale_proposal_is_checked_not_only_the_last(team):
    set_policy(team, "approvals_required", "2", by="ada")
    early = file(team, (70, 20, 6, 4))
    moved = file(team, (90, 5, 3, 2))
    review_proposal(team, moved, "approved", by="gus")
    review_proposal(team, moved, "approved", by="gail")
    before = snapshot(team)
    with pytest.raises(Refused, match="against the live split 90/5/3/2"):
        review_proposal(team, early, "approved", by="gwen")
    assert snapshot(team) == before
    # A rejection needs no re-validation.
    assert review_proposal(team, early, "rejected", by="gwen").status == "rejected"


def test_a_proposal_outside_bounds_narrowed_after_it_was_filed_is_refused(team):
    pid = file(team, (75, 15, 6, 4))
    set_policy(team, "lucky_max", "5", by="ada")
    before = snapshot(team)
    with pytest.raises(Refused, match="lucky: 6 is above the maximum 5"):
        review_proposal(team, pid, "approved", by="gus")
    assert snapshot(team) == before


def test_a_big_step_filed_against_the_live_split_is_a_major_change_governors_may_accept(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    # The step limit binds re-validation and auto-approval; a proposal beyond it, filed against
    # the live split, is a major change: a warning, and the major count of approvals (2).
    result = propose_allocation(team, ProposalInput(60, 25, 10, 5, "big move"), by="ann")
    assert any("step limit" in w for w in result.warnings)
    assert any(w.startswith("tier: a major change") for w in result.warnings)
    first = review_proposal(team, result.proposal_id, "approved", by="gus")
    assert (first.status, first.tier, first.approvals_required) == ("proposed", "major", 2)
    assert review_proposal(team, result.proposal_id, "approved", by="gail").status == "active"


# --- ids and decisions ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad_id", [str(uuid.uuid4()), "not-a-uuid", ""])
def test_reviewing_an_unknown_proposal_is_not_found_and_writes_nothing(team, bad_id):
    before = snapshot(team)
    with pytest.raises(NotFound, match="proposal: "):
        review_proposal(team, bad_id, "approved", by="gus")
    assert snapshot(team) == before


def test_an_unknown_decision_is_refused(team):
    pid = file(team)
    before = snapshot(team)
    with pytest.raises(ValidationFailed, match="decision: 'maybe' is not one of approved, rejected"):
        review_proposal(team, pid, "maybe", by="gus")
    assert snapshot(team) == before


def test_the_active_split_cannot_be_reviewed_again(team):
    seeded = get_current_allocation(team).id
    with pytest.raises(Refused, match="is active"):
        review_proposal(team, seeded, "rejected", by="gus")


# --- pauses ---------------------------------------------------------------------------------------

def test_paused_distributions_are_refused_and_write_nothing(team):
    set_policy(team, "distributions_paused", "true", by="ada")
    before = snapshot(team)
    with pytest.raises(Refused, match="distributions are paused"):
        distribute(team, "1000.00", "2026-01-01", by="ann")
    assert snapshot(team) == before
    set_policy(team, "distributions_paused", "false", by="ada")
    assert distribute(team, "1000.00", "2026-01-01", by="ann").created
    assert len(list_distributions(team)) == 1


def test_paused_distributions_do_not_stop_proposals_or_reviews(team):
    set_policy(team, "distributions_paused", "true", by="ada")
    set_policy(team, "rebalancing_paused", "true", by="ada")
    pid = file(team)
    assert review_proposal(team, pid, "approved", by="gus").status == "active"


def _rebalancer() -> Any:
    from core.rebalancer import service

    return service


def _launch_week() -> Any:
    """The seed's Launch Week Success metrics: growth +60 %, engagement 85, DAO $2500."""
    from decimal import Decimal

    from core.platform_data.metrics_model import PlatformMetrics
    return PlatformMetrics(60.0, 85.0, Decimal("2500"), 0.03, 15, 30)


def test_paused_rebalancing_suggests_but_files_nothing(team):
    service = _rebalancer()
    set_policy(team, "rebalancing_paused", "true", by="ada")
    before = snapshot(team)
    result = service.run_rebalance(team, _launch_week(), engine="rules", by="ann")
    assert result.should_rebalance and result.outcome == "paused"
    data = result.as_json()
    assert data["proposal_id"] is None and data["suggested_allocation"] != data["current_allocation"]
    after = snapshot(team)
    for table in ("profit_allocation_log", "proposal_reviews", "allocation_policy", "users"):
        assert after[table] == before[table]
    assert after["log_rows"] == before["log_rows"]
    run = list_activity(team, limit=1)[0]
    assert run.activity_type == "rebalance_run" and run.metadata["outcome"] == "paused"

    set_policy(team, "rebalancing_paused", "false", by="ada")
    filed = service.run_rebalance(team, _launch_week(), engine="rules", by="ann")
    assert filed.outcome == "filed" and filed.proposal_id is not None


def test_a_viewer_cannot_run_the_rebalancer(team):
    service = _rebalancer()
    before = snapshot(team)
    with pytest.raises(PermissionDenied, match="vic is a viewer"):
        service.run_rebalance(team, _launch_week(), engine="rules", by="vic")
    assert snapshot(team) == before
