"""Approval tiers by impact, on SQLite and PostgreSQL: a proposal moving any bucket more than
`max_step` from the live split is major, needs `approvals_required_major` approvals and is never
auto-approved; a minor one goes through as before.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import ValidationFailed
from core.governance.actors import Actor
from core.governance.policy_store import get_policy, load_policy, set_policy
from core.proposals.lifecycle import (auto_approve_if_allowed, file_proposal, get_pending_proposals,
                                      get_proposal, review_proposal)
from tests.integration.state import file, snapshot

MAJOR_SPLIT = (64, 16, 10, 10)  # reinvestment moves 16 points from 80/15/3/2
MINOR_SPLIT = (75, 15, 6, 4)


def test_a_minor_change_needs_the_minor_count_and_says_so(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    pid = file(team, MINOR_SPLIT)
    (pending,) = get_pending_proposals(team)
    assert (pending.tier, pending.approvals_required) == ("minor", 1)
    outcome = review_proposal(team, pid, "approved", by="gus")
    assert outcome.as_json() == {"proposal_id": pid, "status": "active", "approvals": 1,
                                 "approvals_required": 1, "tier": "minor",
                                 "executes_at": None}


def test_a_major_change_needs_the_major_count_before_it_activates(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    pid = file(team, MAJOR_SPLIT)
    (pending,) = get_pending_proposals(team)
    assert (pending.tier, pending.approvals_required) == ("major", 2)
    assert pending.as_json()["tier"] == "major"
    first = review_proposal(team, pid, "approved", by="gus")
    assert (first.status, first.approvals, first.approvals_required, first.tier) == (
        "proposed", 1, 2, "major")
    assert get_current_allocation(team).split.label() == "80/15/3/2"
    second = review_proposal(team, pid, "approved", by="gail")
    assert (second.status, second.approvals) == ("active", 2)
    assert get_current_allocation(team).id == pid


def test_the_major_count_comes_from_the_policy(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    set_policy(team, "approvals_required_major", "3", by="ada")
    pid = file(team, MAJOR_SPLIT)
    review_proposal(team, pid, "approved", by="gus")
    assert review_proposal(team, pid, "approved", by="gail").status == "proposed"
    assert review_proposal(team, pid, "approved", by="gwen").status == "active"


def test_a_major_change_is_never_auto_approved_and_nothing_of_the_attempt_is_kept(team):
    set_policy(team, "auto_approve_min_confidence", "0.5", by="ada")
    with team.sessions.begin() as session:
        row, _ = file_proposal(session, ProposalInput(
            *MAJOR_SPLIT, reasoning="confident", confidence="0.99", proposed_by="ai"),
            Actor("system:scheduler", "analyst"), load_policy(session))
        why_not = auto_approve_if_allowed(session, row, load_policy(session))
        pid = str(row.id)
    assert why_not is not None and why_not.startswith("a major change is never auto-approved")
    assert "reinvestment: moves 16 points" in why_not
    assert get_proposal(team, pid).status == "proposed"


def test_a_major_count_below_the_minor_count_is_refused_and_writes_nothing(team):
    set_policy(team, "approvals_required", "2", by="ada")
    before = snapshot(team)
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(team, "approvals_required_major", "1", by="ada")
    assert refusal.value.problems == [
        "approvals_required_major: 1 is below approvals_required 2; a major change never needs "
        "fewer approvals than a minor one"]
    with pytest.raises(ValidationFailed, match="approvals_required_major: 2 is below"):
        set_policy(team, "approvals_required", "3", by="ada")
    assert snapshot(team) == before
    assert get_policy(team).approvals_required_major == 2


def test_review_json_carries_the_tier_and_the_count_of_its_tier(team, db_url):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    pid = file(team, MAJOR_SPLIT)
    result = CliRunner().invoke(app, ["--db", db_url, "review", pid, "--decision", "approved",
                                      "--by", "gus", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"proposal_id": pid, "status": "proposed",
                                         "approvals": 1, "approvals_required": 2,
                                         "tier": "major", "executes_at": None}
    pending = json.loads(CliRunner().invoke(app, ["--db", db_url, "pending", "--json"]).stdout)
    assert [(p["id"], p["tier"], p["approvals_required"]) for p in pending] == [(pid, "major", 2)]
