"""The profit-rebalancer run on SQLite and PostgreSQL: what it files, what it logs, who may run it,
and the `rebalance` command."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.current import get_current_allocation
from core.allocation.split import Split
from core.allocation.validation import ProposalInput
from core.base.errors import PermissionDenied, ValidationFailed
from core.governance.accounts import add_user
from core.governance.policy_store import set_policy
from core.platform_data.metrics_model import PlatformMetrics
from core.proposals.lifecycle import get_allocation_history, propose_allocation, review_proposal
from core.rebalancer.service import CALLER_METRICS_NOTE, run_rebalance
from core.record.activity import list_activity
from db.engine import open_database
from db.types import utcnow
from settings import Settings
from tests.conftest import ROOT
from tests.fake_openai import FakeOpenAI
from tests.integration.launch_week import load_launch_week

D = Decimal
KEY = "sk-test-NEVER-PRINT-ME-93b2f0"
NO_KEY = Settings(_env_file=None, openai_api_key=None)
LAUNCH_WEEK = PlatformMetrics(60.0, 85.0, D(2500), 0.03, 15, 30)
QUIET = PlatformMetrics(5.0, 50.0, D(1000), 0.03, 3, 30)
AI_ANSWER = {"reinvestment": 65, "dao": 15, "lucky": 12, "creator": 8,
             "reasoning": "Explosive growth detected.", "confidence": 0.92, "should_rebalance": True}
PASSWORD = "correct horse battery"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def with_key(fake: FakeOpenAI) -> Settings:
    return Settings(_env_file=None, openai_api_key=KEY, openai_base_url=fake.base_url,
                    openai_timeout_seconds=0.5, openai_max_retries=0)


def runs(db) -> list:
    return list_activity(db, 1000, "rebalance_run")


def split(*values: int) -> Split:
    return Split(*(D(v) for v in values))


# --- filing ------------------------------------------------------------------------------------

def test_a_rules_run_files_a_system_proposal_with_its_input_metrics(db):
    result = run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY)
    data = result.as_json()
    assert data["success"] and data["should_rebalance"] and data["engine"] == "rules"
    assert data["current_allocation"] == {"reinvestment": 80, "dao": 15, "lucky": 3, "creator": 2}
    assert data["suggested_allocation"] == {"reinvestment": 74, "dao": 15, "lucky": 6, "creator": 5}
    assert data["fallback_reason"] is None and data["metrics"] == LAUNCH_WEEK.as_json()
    assert data["confidence"] == 0.9 and data["outcome"] == "filed" and data["filed"]
    assert data["auto_approved"] is False and data["auto_approval_note"] == CALLER_METRICS_NOTE
    assert data["metrics_source"] == "caller"
    row = next(r for r in get_allocation_history(db) if r.id == data["proposal_id"])
    assert row.status == "proposed" and row.proposed_by == "system"
    assert row.split == split(74, 15, 6, 5) and row.input_metrics == LAUNCH_WEEK.as_json()
    assert row.reasoning == data["reasoning"] and row.confidence == D("0.9")
    assert json.loads(json.dumps(data)) == data  # plain JSON all the way down


def test_an_ai_run_files_an_ai_proposal_with_the_models_split(db, fake):
    fake.answer(AI_ANSWER)
    result = run_rebalance(db, LAUNCH_WEEK, engine="auto", settings=with_key(fake))
    assert result.suggestion.engine == "ai" and result.outcome == "filed"
    row = next(r for r in get_allocation_history(db) if r.id == result.proposal_id)
    assert row.proposed_by == "ai" and row.split == split(65, 15, 12, 8)
    assert row.confidence == D("0.92") and row.input_metrics == LAUNCH_WEEK.as_json()
    (logged,) = runs(db)
    assert logged.metadata["engine"] == "ai" and logged.metadata["fallback_reason"] is None
    assert logged.metadata["proposal_id"] == result.proposal_id


def test_an_advisor_failure_files_the_rule_engines_proposal_and_logs_why(db, fake):
    fake.fail(500)
    result = run_rebalance(db, LAUNCH_WEEK, engine="ai", settings=with_key(fake))
    reason = "AI advisor answered with HTTP 500; rule engine used"
    assert result.suggestion.engine == "rules" and result.suggestion.fallback_reason == reason
    row = next(r for r in get_allocation_history(db) if r.id == result.proposal_id)
    assert row.proposed_by == "system" and row.split == split(74, 15, 6, 5)
    (logged,) = runs(db)
    assert logged.metadata["engine"] == "rules" and logged.metadata["fallback_reason"] == reason
    assert logged.metadata["requested_engine"] == "ai"


def test_a_dry_run_files_nothing_but_is_logged(db):
    before = get_allocation_history(db)
    result = run_rebalance(db, LAUNCH_WEEK, dry_run=True, settings=NO_KEY)
    assert result.should_rebalance and result.outcome == "dry_run" and result.proposal_id is None
    assert get_allocation_history(db) == before
    (logged,) = runs(db)
    assert logged.metadata["outcome"] == "dry_run" and logged.metadata["dry_run"] is True
    assert logged.metadata["suggested_allocation"] == {"reinvestment": 74, "dao": 15, "lucky": 6,
                                                       "creator": 5}


def test_after_approval_the_same_metrics_give_no_rebalance_and_file_nothing(db):
    first = run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY)
    review_proposal(db, first.proposal_id, "approved", by="reviewer")
    assert get_current_allocation(db).split == split(74, 15, 6, 5)
    count = len(get_allocation_history(db))
    again = run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY)
    assert not again.should_rebalance and again.outcome == "no_change"
    assert again.proposal_id is None and len(get_allocation_history(db)) == count
    assert runs(db)[0].metadata["outcome"] == "no_change"


def test_no_run_files_a_split_that_already_waits_for_review(db):
    first = run_rebalance(db, LAUNCH_WEEK, scheduled=True, settings=NO_KEY)
    count = len(get_allocation_history(db))
    second = run_rebalance(db, LAUNCH_WEEK, scheduled=True, settings=NO_KEY)
    assert second.should_rebalance and second.outcome == "already_pending" and not second.filed
    assert second.proposal_id == first.proposal_id and len(get_allocation_history(db)) == count
    assert [r.metadata["outcome"] for r in runs(db)] == ["already_pending", "filed"]
    # A person asking again is pointed at the same proposal: duplicates are never filed.
    by_hand = run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY)
    assert by_hand.outcome == "already_pending" and by_hand.proposal_id == first.proposal_id
    assert len(get_allocation_history(db)) == count


def test_paused_rebalancing_files_nothing_but_is_logged(db):
    set_policy(db, "rebalancing_paused", "true", by=None)
    count = len(get_allocation_history(db))
    result = run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY)
    assert result.should_rebalance and result.outcome == "paused" and not result.filed
    assert len(get_allocation_history(db)) == count
    (logged,) = runs(db)
    assert logged.metadata["outcome"] == "paused"
    assert "rebalancing is paused" in logged.description


def test_auto_approval_activates_a_confident_proposal_in_the_same_run(db, tmp_path):
    load_launch_week(db, tmp_path)  # the database's own figures: the caller's are never enough
    set_policy(db, "auto_approve_min_confidence", "0.8", by=None)
    result = run_rebalance(db, settings=NO_KEY)
    assert result.outcome == "activated" and result.auto_approved
    current = get_current_allocation(db)
    assert current.id == result.proposal_id and current.split == split(74, 15, 6, 5)
    assert runs(db)[0].metadata["auto_approved"] is True


def test_a_proposal_below_the_auto_approval_threshold_waits_and_says_why(db, tmp_path):
    load_launch_week(db, tmp_path)
    set_policy(db, "auto_approve_min_confidence", "0.95", by=None)
    result = run_rebalance(db, settings=NO_KEY)
    assert result.outcome == "filed" and not result.auto_approved
    assert "is under the auto-approval threshold 0.95" in result.auto_approval_note
    assert get_current_allocation(db).split == split(80, 15, 3, 2)


def test_every_run_writes_exactly_one_rebalance_run_row(db):
    outcomes = [run_rebalance(db, LAUNCH_WEEK, dry_run=True, settings=NO_KEY).outcome,
                run_rebalance(db, QUIET, settings=NO_KEY).outcome,
                run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY).outcome]
    set_policy(db, "rebalancing_paused", "true", by=None)
    outcomes.append(run_rebalance(db, LAUNCH_WEEK, settings=NO_KEY).outcome)
    assert outcomes == ["dry_run", "no_change", "filed", "paused"]
    logged = runs(db)
    assert sorted(r.metadata["outcome"] for r in logged) == sorted(outcomes)
    for row in logged:
        assert {"engine", "fallback_reason", "should_rebalance", "proposal_id", "confidence",
                "metrics", "outcome"} <= set(row.metadata)


def test_metrics_come_from_the_database_when_none_are_given(db):
    from core.platform_data.metrics_store import compute_metrics

    now = utcnow()
    result = run_rebalance(db, now=now, settings=NO_KEY)
    assert result.metrics == compute_metrics(db, now=now)
    assert runs(db)[0].metadata["metrics"] == result.metrics.as_json()
    # An empty platform has no days of data: nothing to act on yet.
    assert result.metrics.days_of_data == 0
    assert not result.should_rebalance and result.outcome == "no_change"


def test_an_unknown_engine_is_refused_and_nothing_is_written(db):
    with pytest.raises(ValidationFailed, match="engine: 'magic' is not one of auto, rules, ai"):
        run_rebalance(db, LAUNCH_WEEK, engine="magic", settings=NO_KEY)
    assert runs(db) == []


# --- who may run it ----------------------------------------------------------------------------

@pytest.fixture
def accounts(db):
    add_user(db, "admin1", "admin", PASSWORD)
    add_user(db, "ann", "analyst", PASSWORD, by="admin1")
    add_user(db, "vic", "viewer", PASSWORD, by="admin1")
    return db


def test_an_analyst_may_run_it_and_is_named_as_the_proposer(accounts):
    result = run_rebalance(accounts, LAUNCH_WEEK, by="ann", settings=NO_KEY)
    row = next(r for r in get_allocation_history(accounts) if r.id == result.proposal_id)
    assert row.proposer_username == "ann" and runs(accounts)[0].metadata["by"] == "ann"


def test_a_viewer_or_a_run_naming_no_account_is_refused_and_nothing_is_written(accounts):
    with pytest.raises(PermissionDenied, match="vic is a viewer; running the rebalancer needs"):
        run_rebalance(accounts, LAUNCH_WEEK, by="vic", settings=NO_KEY)
    with pytest.raises(PermissionDenied, match="running the rebalancer needs an acting account"):
        run_rebalance(accounts, LAUNCH_WEEK, settings=NO_KEY)
    assert runs(accounts) == [] and len(get_allocation_history(accounts)) == 1


def test_a_scheduled_run_acts_as_the_built_in_scheduler_without_an_account(accounts):
    result = run_rebalance(accounts, LAUNCH_WEEK, scheduled=True, settings=NO_KEY)
    row = next(r for r in get_allocation_history(accounts) if r.id == result.proposal_id)
    assert row.proposer_username == "system:scheduler"
    assert runs(accounts)[0].metadata["scheduled"] is True
    with pytest.raises(ValidationFailed, match="a scheduled run acts as system:scheduler"):
        run_rebalance(accounts, LAUNCH_WEEK, scheduled=True, by="ann", settings=NO_KEY)


# --- the live split moving underneath ----------------------------------------------------------

def test_a_split_activated_while_the_advisor_thinks_is_checked_again_before_filing(db, fake):
    manual = propose_allocation(db, ProposalInput(70, 15, 10, 5, "manual change"), by="ann")
    fake.answer(AI_ANSWER)
    # No write lock is held during the call: the approval commits while the client waits.
    fake.on_request = lambda: review_proposal(db, manual.proposal_id, "approved", by="gov")
    result = run_rebalance(db, LAUNCH_WEEK, settings=with_key(fake))
    assert fake.hook_errors == []
    assert result.current_allocation == split(70, 15, 10, 5)
    assert result.suggestion.split == split(65, 15, 12, 8) and result.outcome == "filed"
    assert "re-checked against the live 70/15/10/5" in result.suggestion.reasoning


# --- the key stays secret ----------------------------------------------------------------------

def test_the_api_key_never_reaches_the_database_the_result_or_the_logs(db, fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    outputs = []
    for script in (lambda: fake.fail(401, f"Incorrect API key provided: {KEY}"),
                   lambda: fake.answer_content("{not json"), lambda: fake.hang(5),
                   lambda: fake.refuse(f"no, {KEY}"),
                   lambda: fake.answer({**AI_ANSWER, "reasoning": f"key is {KEY}"})):
        script()
        result = run_rebalance(db, LAUNCH_WEEK, dry_run=True, settings=with_key(fake))
        outputs.append(json.dumps(result.as_json()))
    run_rebalance(db, LAUNCH_WEEK, settings=with_key(fake))  # one filed, with the AI's reasoning
    stored = [json.dumps(r.as_json()) for r in list_activity(db, 1000)]
    stored += [json.dumps(r.as_json()) for r in get_allocation_history(db)]
    captured = capsys.readouterr()
    everything = "\n".join(outputs + stored + [caplog.text, captured.out, captured.err])
    assert len(runs(db)) == 6
    assert KEY not in everything


# --- the command -------------------------------------------------------------------------------

runner = CliRunner()
LAUNCH_WEEK_FILE = {"growth_rate_pct": 60, "engagement_score": 85, "dao_balance_usd": 2500,
                    "avg_token_price_usd": 0.03, "tokens_launched_7d": 15, "days_of_data": 30}


def invoke(db_url: str, *args: str):
    return runner.invoke(app, ["--db", db_url, "rebalance", *args])


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "metrics.json"
    path.write_text(text)
    return str(path)


def test_the_command_prints_the_seeds_response_as_one_json_document(db_url, tmp_path):
    result = invoke(db_url, "--metrics", write(tmp_path, json.dumps(LAUNCH_WEEK_FILE)),
                    "--engine", "rules", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("success", "should_rebalance", "current_allocation", "suggested_allocation",
                "reasoning", "confidence", "proposal_id", "engine", "fallback_reason", "metrics"):
        assert key in data
    assert data["suggested_allocation"] == {"reinvestment": 74, "dao": 15, "lucky": 6, "creator": 5}
    assert data["proposal_id"] and data["engine"] == "rules"


def test_the_command_for_people_shows_the_outcome(db_url, tmp_path):
    result = invoke(db_url, "--metrics", write(tmp_path, json.dumps(LAUNCH_WEEK_FILE)),
                    "--engine", "rules", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "suggested:  74/15/6/5" in result.stdout and "dry run" in result.stdout


@pytest.mark.parametrize(("content", "errors"), [
    pytest.param({k: v for k, v in LAUNCH_WEEK_FILE.items() if k != "days_of_data"},
                 ["days_of_data: missing"], id="missing-key"),
    pytest.param({**LAUNCH_WEEK_FILE, "growth_rate_pct": "60"},
                 ["growth_rate_pct: '60' is not a finite number"], id="not-a-number"),
    pytest.param('{"growth_rate_pct": NaN, "engagement_score": 85, "dao_balance_usd": 2500, '
                 '"avg_token_price_usd": 0.03, "tokens_launched_7d": 15, "days_of_data": 30}',
                 ["growth_rate_pct: nan is not a finite number"], id="nan"),
    pytest.param({**LAUNCH_WEEK_FILE, "engagement_score": 120, "dao_balance_usd": -1},
                 ["engagement_score: 120 is outside 0..100", "dao_balance_usd: -1 is negative"],
                 id="impossible-values"),
    pytest.param("[1, 2]", ["metrics: must be a JSON object"], id="not-an-object"),
])
def test_a_bad_metrics_file_is_refused_line_by_line_and_nothing_is_written(db_url, tmp_path,
                                                                           content, errors):
    text = content if isinstance(content, str) else json.dumps(content)
    result = invoke(db_url, "--metrics", write(tmp_path, text), "--engine", "rules", "--json")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"error: {e}" for e in errors]
    assert json.loads(result.stdout) == {"ok": False, "errors": errors}
    check = open_database(db_url)
    try:
        assert runs(check) == [] and len(get_allocation_history(check)) == 1
    finally:
        check.engine.dispose()


def test_an_unreadable_or_non_json_metrics_file_is_refused_with_a_clear_line(db_url, tmp_path):
    missing = invoke(db_url, "--metrics", str(tmp_path / "nope.json"))
    assert missing.exit_code == 3
    assert missing.stderr.strip() == (f"error: metrics: cannot read {tmp_path / 'nope.json'} "
                                      "(No such file or directory)")
    garbled = invoke(db_url, "--metrics", write(tmp_path, "{growth: 60"))
    assert garbled.exit_code == 3
    assert garbled.stderr.startswith(f"error: metrics: {tmp_path / 'metrics.json'} is not valid JSON")
    assert "Traceback" not in missing.output + garbled.output


def test_the_command_with_the_ai_engine_reads_the_key_from_the_environment_and_never_prints_it(
        sqlite_db, tmp_path, fake):
    fake.fail(503)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url, OPENAI_MAX_RETRIES="0",
               OPENAI_TIMEOUT_SECONDS="2", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(sqlite_db.engine.url), "rebalance",
         "--metrics", write(tmp_path, json.dumps(LAUNCH_WEEK_FILE)), "--engine", "ai", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["engine"] == "rules"
    assert data["fallback_reason"] == "AI advisor answered with HTTP 503; rule engine used"
    assert done.stderr.strip() == f"warning: {data['fallback_reason']}"
    assert len(fake.requests) == 1 and KEY not in done.stdout + done.stderr

