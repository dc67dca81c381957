"""Honest labels (the trust issue, part 8), on SQLite and PostgreSQL: `ai` and `system` come only
from the rebalancer's own runs, and a suggestion from the caller's metrics is never auto-approved."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.validation import ProposalInput
from core.base.errors import PermissionDenied
from core.governance.policy_store import set_policy
from core.proposals.lifecycle import get_allocation_history, propose_allocation
from core.rebalancer.service import CALLER_METRICS_NOTE, file_suggestion, run_rebalance
from core.record.activity import list_activity
from tests.integration.launch_week import load_launch_week
from tests.integration.state import every_row

SPLIT = ["--reinvestment", "75", "--dao", "15", "--lucky", "6", "--creator", "4"]
LAUNCH_WEEK = {"growth_rate_pct": 60, "engagement_score": 85, "dao_balance_usd": 2500,
               "avg_token_price_usd": 0.03, "tokens_launched_7d": 15, "days_of_data": 30}


def invoke(url: str, *args: str):
    return CliRunner().invoke(app, ["--db", url, *args])


@pytest.mark.parametrize("label", ["ai", "system"])
def test_a_person_filing_with_the_rebalancers_label_is_refused_naming_proposed_by(db_url, db, label):
    before = every_row(db)
    result = invoke(db_url, "propose", *SPLIT, "--reasoning", "looks like AI", "--proposed-by",
                    label, "--json")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"error: proposed_by: {label} is the rebalancer's own label, given only by its runs "
        "(`rebalance`, the API's profit-rebalancer, the schedule); a person files manual proposals"]
    assert json.loads(result.stdout)["ok"] is False
    assert every_row(db) == before


def test_core_refuses_the_label_whichever_entry_point_asks(db):
    with pytest.raises(PermissionDenied, match="^proposed_by: ai is the rebalancer's own label"):
        propose_allocation(db, ProposalInput(75, 15, 6, 4, "from a script", "0.9", "ai"))


def test_validate_says_the_same_as_propose_would(db_url):
    result = invoke(db_url, "validate", *SPLIT, "--reasoning", "x", "--proposed-by", "ai", "--json")
    assert result.exit_code == 3
    assert any(e.startswith("proposed_by: ai is the rebalancer's own label")
               for e in json.loads(result.stdout)["errors"])


def test_a_manual_proposal_is_still_filed(db_url, db):
    result = invoke(db_url, "propose", *SPLIT, "--reasoning", "Q1", "--proposed-by", "manual",
                    "--json")
    assert result.exit_code == 0, result.output
    assert get_allocation_history(db, 1)[0].proposed_by == "manual"


def test_the_rebalancer_command_labels_its_own_proposal(db_url, db, tmp_path):
    load_launch_week(db, tmp_path)
    result = invoke(db_url, "rebalance", "--engine", "rules", "--json")
    assert result.exit_code == 0, result.output
    filed = json.loads(result.stdout)
    assert get_allocation_history(db, 1)[0].id == filed["proposal_id"]
    assert get_allocation_history(db, 1)[0].proposed_by == "system"
    assert filed["metrics_source"] == "database"


def test_rebalance_with_a_metrics_file_files_for_a_governor_even_when_auto_approval_would_pass(
        db_url, db, tmp_path):
    set_policy(db, "auto_approve_min_confidence", "0.5", by=None)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(LAUNCH_WEEK))
    result = invoke(db_url, "rebalance", "--metrics", str(path), "--engine", "rules", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["outcome"], data["auto_approved"]) == ("filed", False)
    assert (data["metrics_source"], data["auto_approval_note"]) == ("caller", CALLER_METRICS_NOTE)
    (run,) = list_activity(db, 10, "rebalance_run")
    assert run.metadata["metrics_source"] == "caller"
    assert run.metadata["auto_approval_note"] == CALLER_METRICS_NOTE


def test_the_same_figures_read_from_the_database_are_auto_approved(db, tmp_path):
    load_launch_week(db, tmp_path)
    set_policy(db, "auto_approve_min_confidence", "0.5", by=None)
    result = run_rebalance(db, engine="rules")
    assert result.metrics_source == "database" and result.outcome == "activated"


def test_filing_a_dry_run_made_from_the_callers_metrics_is_never_auto_approved(db):
    from core.platform_data.metrics_model import PlatformMetrics

    set_policy(db, "auto_approve_min_confidence", "0.5", by=None)
    analysis = run_rebalance(db, PlatformMetrics.from_json(LAUNCH_WEEK), engine="rules",
                             dry_run=True)
    filed = file_suggestion(db, analysis, by="ann")
    assert filed.outcome == "filed" and filed.auto_approval_note == CALLER_METRICS_NOTE
