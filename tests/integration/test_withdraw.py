"""Withdrawing a pending proposal, on SQLite and PostgreSQL: its proposer or an admin may;
anyone else is refused and nothing is written; the withdrawal is logged and final.
"""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from cli import app
from core.base.errors import NotFound, PermissionDenied, Refused
from core.governance.accounts import disable_user
from core.proposals.lifecycle import (get_pending_proposals, get_proposal, review_proposal,
                                      withdraw_proposal)
from core.record.activity import list_activity
from tests.integration.state import file, snapshot


def test_the_proposer_withdraws_a_pending_proposal_and_it_is_logged(team):
    pid = file(team)
    outcome = withdraw_proposal(team, pid, by="ann", notes="  numbers were wrong ")
    assert outcome.as_json() == {"proposal_id": pid, "status": "withdrawn"}
    row = get_proposal(team, pid)
    assert (row.status, row.reviewed_by, row.review_notes) == ("withdrawn", "ann",
                                                              "numbers were wrong")
    assert row.reviewed_at is not None and row.effective_from is None
    assert get_pending_proposals(team) == []
    (logged,) = list_activity(team, activity_type="allocation_withdrawn")
    assert logged.metadata == {"proposal_id": pid, "by": "ann", "notes": "numbers were wrong",
                               "split": {"reinvestment": 75, "dao": 15, "lucky": 6,
                                         "creator": 4}}


def test_an_admin_withdraws_someone_elses_proposal(team):
    pid = file(team)
    withdraw_proposal(team, pid, by="ada")
    assert get_proposal(team, pid).status == "withdrawn"
    assert get_proposal(team, pid).reviewed_by == "ada"


@pytest.mark.parametrize("someone", ["gus", "vic", "gail"])
def test_anyone_else_is_refused_and_nothing_is_written(team, someone):
    pid = file(team)
    before = snapshot(team)
    with pytest.raises(PermissionDenied) as refusal:
        withdraw_proposal(team, pid, by=someone)
    assert refusal.value.problems == [
        f"by: {someone} did not file proposal {pid}; only its proposer (ann) or an admin may "
        "withdraw it"]
    assert snapshot(team) == before


def test_a_disabled_proposer_can_no_longer_withdraw(team):
    pid = file(team)
    disable_user(team, "ann", by="ada")
    before = snapshot(team)
    with pytest.raises(PermissionDenied, match="disabled"):
        withdraw_proposal(team, pid, by="ann")
    assert snapshot(team) == before


def test_a_withdrawn_proposal_can_be_neither_reviewed_nor_withdrawn_again(team):
    pid = file(team)
    withdraw_proposal(team, pid, by="ann")
    before = snapshot(team)
    with pytest.raises(Refused, match="is withdrawn; only proposed ones can be reviewed"):
        review_proposal(team, pid, "approved", by="gus")
    with pytest.raises(Refused, match="is withdrawn; only proposed ones can be withdrawn"):
        withdraw_proposal(team, pid, by="ada")
    assert snapshot(team) == before


def test_the_active_split_cannot_be_withdrawn(team):
    pid = file(team)
    review_proposal(team, pid, "approved", by="gus")
    with pytest.raises(Refused, match="is active"):
        withdraw_proposal(team, pid, by="ann")


def test_an_unknown_proposal_is_not_found(team):
    with pytest.raises(NotFound):
        withdraw_proposal(team, str(uuid.uuid4()), by="ada")


def test_withdraw_on_the_command_line_keeps_the_contract(team, db_url):
    pid = file(team)
    runner = CliRunner()
    refused = runner.invoke(app, ["--db", db_url, "withdraw", pid, "--by", "gus", "--json"])
    assert refused.exit_code == 3 and json.loads(refused.stdout)["ok"] is False
    assert "error: by: gus did not file proposal" in refused.stderr
    done = runner.invoke(app, ["--db", db_url, "withdraw", pid, "--by", "ann", "--json"])
    assert done.exit_code == 0
    assert json.loads(done.stdout) == {"proposal_id": pid, "status": "withdrawn"}
    missing = runner.invoke(app, ["--db", db_url, "withdraw", str(uuid.uuid4()), "--by", "ada"])
    assert missing.exit_code == 4
