"""`python -m core` against the contract in ../shared/spec/cli.md, run as real subprocesses.

Every call checks the rules common to all commands: with --json stdout is exactly one JSON
document; a refusal exits 3 (not found: 4) with one stderr line per problem and
`{"ok": false, "errors": [...]}`; never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from db import migrate
from db.engine import open_database

ROOT = Path(__file__).resolve().parents[2]
BUCKETS = ("reinvestment", "dao", "lucky", "creator")
TABLES = ("profit_allocation_log", "protocol_activity", "proposal_reviews", "profit_distributions")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)  # the whole of stdout: exactly one document

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli(url: str | None, *args: str, process: bool = False, env: dict[str, str] | None = None,
        cwd: Path = ROOT, stdin: str | None = None) -> Run:
    """Run the CLI: in a real `python -m core` subprocess, or in-process (typer's CliRunner, much
    faster) for the many refusal cases. The environment and working directory need a process."""
    argv = [*(["--db", url] if url else []), *args]
    if process or env is not None or cwd != ROOT:
        environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        environment["PYTHONPATH"] = str(ROOT)
        environment.update(env or {})
        done = subprocess.run([sys.executable, "-m", "core", *argv], cwd=cwd, env=environment,
                              capture_output=True, text=True, timeout=120, input=stdin)
        run = Run(done.returncode, done.stdout, done.stderr)
    else:
        result = CliRunner().invoke(app, argv, input=stdin)
        # Anything but a deliberate exit would have been a traceback on a terminal.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            "".join(traceback.format_exception(result.exception)))
        run = Run(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    return run


def ok(url: str, *args: str, process: bool = False) -> Any:
    run = cli(url, *args, "--json", process=process)
    assert run.code == 0, (run.code, run.stdout, run.stderr)
    return run.json


def refused(url: str, *args: str, code: int = 3, process: bool = False) -> list[str]:
    """Run a command that must be refused; check the refusal's shape; return its problems."""
    run = cli(url, *args, "--json", process=process)
    assert run.code == code, (run.code, run.stdout, run.stderr)
    document = run.json
    assert document["ok"] is False
    assert isinstance(document["errors"], list) and document["errors"]
    assert all(isinstance(e, str) and e for e in document["errors"])
    assert len(run.error_lines) == len(document["errors"])  # one stderr line per problem
    for line, error in zip(run.error_lines, document["errors"]):
        assert error in line
    return document["errors"]


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}
    finally:
        engine.dispose()


def split_args(reinvestment="70", dao="18", lucky="8", creator="4") -> list[str]:
    return ["--reinvestment", str(reinvestment), "--dao", str(dao), "--lucky", str(lucky),
            "--creator", str(creator)]


def propose(url: str, split=("70", "18", "8", "4"), *extra: str, process: bool = False) -> str:
    document = ok(url, "propose", *split_args(*split), "--reasoning", "Q1 strategy", "--by",
                  "alice", *extra, process=process)
    assert set(document) >= {"proposal_id", "warnings"}
    uuid.UUID(document["proposal_id"])
    assert isinstance(document["warnings"], list)
    return document["proposal_id"]


def is_iso(value: Any) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value) is not None


def is_pct(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.fixture(params=["sqlite"])
def url(tmp_path: Path) -> str:
    """An SQLite database brought to head by the CLI itself (the id names the engine)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert ok(url, "db", "upgrade")["seeded_default"] is True
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no tables) on each engine."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = "pa_cli_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        return f"{server.base_url}/{name}"
    return f"sqlite:///{tmp_path / 'any.db'}"


# --- db upgrade and current ----------------------------------------------------------------------

def test_db_upgrade_migrates_seeds_the_default_once_and_is_idempotent(any_url):
    first = ok(any_url, "db", "upgrade", process=True)
    second = ok(any_url, "db", "upgrade", process=True)
    assert first == {"revision": migrate.head_revision(), "seeded_default": True}
    assert second == {"revision": migrate.head_revision(), "seeded_default": False}
    assert counts(any_url)["profit_allocation_log"] == 1


def test_a_full_proposal_review_and_distribution_round_trip_in_real_processes(any_url):
    ok(any_url, "db", "upgrade", process=True)
    proposal_id = propose(any_url, ("70", "18.5", "7.5", "4"), process=True)
    assert ok(any_url, "review", proposal_id, "--decision", "approved", "--by", "bob",
              process=True)["status"] == "active"
    current = ok(any_url, "current", process=True)
    assert (current["id"], current["source"]) == (proposal_id, "database")
    assert [current[b] for b in BUCKETS] == [70, 18.5, 7.5, 4]
    record = ok(any_url, "distribute", "--profit", "1000.03", "--key", "run-1", process=True)
    assert record["allocation_id"] == proposal_id
    assert record["amounts"] == {"reinvestment": "700.02", "dao": "185.01", "lucky": "75.00",
                                 "creator": "40.00"}
    before = counts(any_url)
    assert refused(any_url, "review", proposal_id, "--decision", "rejected", "--by", "carol",
                   process=True)
    assert refused(any_url, "propose", *split_args(80, 15, 3, 3), "--reasoning", "x",
                   process=True) == ["total: the four sum to 101, not exactly 100"]
    assert refused(any_url, "review", str(uuid.uuid4()), "--decision", "approved", "--by", "bob",
                   code=4, process=True)
    assert counts(any_url) == before


def test_current_prints_the_active_split_with_percentages_as_numbers(url):
    document = ok(url, "current")
    assert set(document) >= {"id", *BUCKETS, "effective_from", "source"}
    uuid.UUID(document["id"])
    assert [document[b] for b in BUCKETS] == [80, 15, 3, 2]
    assert all(is_pct(document[b]) for b in BUCKETS)
    assert is_iso(document["effective_from"])
    assert document["source"] == "database"


def test_current_without_an_active_row_prints_the_built_in_default(tmp_path):
    url = f"sqlite:///{tmp_path / 'unseeded.db'}"
    database = open_database(url)
    migrate.upgrade(database)  # the schema only: no allocation row at all
    database.engine.dispose()
    document = ok(url, "current")
    assert (document["id"], document["effective_from"], document["source"]) == (None, None, "default")
    assert [document[b] for b in BUCKETS] == [80, 15, 3, 2]


def test_the_database_comes_from_the_environment_when_no_db_option_is_given(url):
    from_option = ok(url, "current")["id"]
    run = cli(None, "current", "--json", env={"DATABASE_URL": url})
    assert run.code == 0 and run.json["id"] == from_option


def test_the_embedded_default_database_is_created_under_data_in_the_working_directory(tmp_path):
    run = cli(None, "current", "--json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.json["source"] == "database"
    assert (tmp_path / "data" / "profit_allocation.db").is_file()


# --- validate -----------------------------------------------------------------------------------

def test_validate_accepts_a_good_split_and_writes_nothing(url):
    before = counts(url)
    document = ok(url, "validate", *split_args(), "--reasoning", "Q1")
    assert document == {"valid": True, "ok": True, "errors": [], "warnings": [], "tier": "minor"}
    assert counts(url) == before


def test_validate_reports_errors_and_warnings_and_exits_3(url):
    before = counts(url)
    run = cli(url, "validate", *split_args(91, 5, 2, 2), "--reasoning", "Q1", "--confidence",
              "0.3", "--json")
    assert run.code == 3
    document = run.json
    assert document["valid"] is False
    assert document["errors"] == ["reinvestment: 91 is above the maximum 90"]
    assert any(w.startswith("confidence: 0.3") for w in document["warnings"])
    assert any(w.startswith("reinvestment: 91 is over 90") for w in document["warnings"])
    assert run.error_lines == ["error: reinvestment: 91 is above the maximum 90"]
    assert counts(url) == before


# --- propose and its refusals ---------------------------------------------------------------------

def test_propose_files_a_proposal_that_pending_lists(url):
    first = propose(url, ("75", "15", "6", "4"))
    second = propose(url, ("70", "18", "8", "4"), "--confidence", "0.85", "--proposed-by",
                     "manual")
    listed = ok(url, "pending")
    assert [p["id"] for p in listed] == [second, first]  # newest first
    item = listed[0]
    assert set(item) >= {"id", *BUCKETS, "reasoning", "confidence", "proposed_by", "timestamp"}
    assert [item[b] for b in BUCKETS] == [70, 18, 8, 4]
    assert all(is_pct(item[b]) for b in BUCKETS)
    assert (item["reasoning"], item["confidence"], item["proposed_by"]) == ("Q1 strategy", 0.85,
                                                                            "manual")
    assert is_iso(item["timestamp"])
    assert listed[1]["proposed_by"] == "manual" and listed[1]["confidence"] == 1


def test_propose_returns_warnings_for_a_low_confidence(url):
    run = cli(url, "propose", *split_args(), "--reasoning", "thin data", "--confidence", "0.2",
              "--by", "alice", "--json")
    assert run.code == 0
    assert any(w.startswith("confidence: 0.2 is below 0.5") for w in run.json["warnings"])


BAD_PROPOSALS = {
    "sum_not_100": (split_args(80, 15, 3, 3), "total: "),
    "reinvestment_above_90": (split_args(91, 5, 2, 2), "reinvestment: 91 is above the maximum 90"),
    "reinvestment_below_40": (split_args(39, 30, 15, 16), "reinvestment: 39 is below the minimum 40"),
    "dao_above_30": (split_args(55, 31, 10, 4), "dao: 31 is above the maximum 30"),
    "dao_below_5": (split_args(85, 4, 8, 3), "dao: 4 is below the minimum 5"),
    "lucky_above_15": (split_args(70, 10, 16, 4), "lucky: 16 is above the maximum 15"),
    "lucky_below_1": (split_args(80, 15, "0.5", "4.5"), "lucky: 0.5 is below the minimum 1"),
    "creator_above_10": (split_args(70, 15, 4, 11), "creator: 11 is above the maximum 10"),
    "creator_below_1": (split_args(80, 16, "3.5", "0.5"), "creator: 0.5 is below the minimum 1"),
    "nan": (split_args("nan", 15, 3, 2), "reinvestment: nan is not a finite number"),
    "infinity": (split_args(80, "inf", 3, 2), "dao: inf is not a finite number"),
    "text": (split_args(80, 15, "three", 2), "lucky: 'three' is not a number"),
    "three_places": (split_args(80, 15, 3, "2.001"), "creator: 2.001 has more than 2 decimal places"),
    "huge_exponent": (split_args("1e999999999", 15, 3, 2), "reinvestment: 1e999999999 is too large"),
    "confidence_above_1": ([*split_args(), "--confidence", "1.5"], "confidence: 1.5 is outside 0..1"),
    "confidence_text": ([*split_args(), "--confidence", "sure"], "confidence: 'sure' is not a number"),
    "unknown_proposer": ([*split_args(), "--proposed-by", "oracle"], "proposed_by: 'oracle'"),
}


@pytest.mark.parametrize("kind", BAD_PROPOSALS)
def test_a_bad_proposal_is_refused_with_exit_3_naming_the_field_and_writes_nothing(url, kind):
    args, expected = BAD_PROPOSALS[kind]
    before = counts(url)
    errors = refused(url, "propose", *args, "--reasoning", "Q1", "--by", "alice")
    assert any(e.startswith(expected) for e in errors), errors
    assert counts(url) == before


def test_empty_reasoning_is_refused_with_exit_3_and_writes_nothing(url):
    before = counts(url)
    assert refused(url, "propose", *split_args(), "--reasoning", "  ") == [
        "reasoning: must not be empty"]
    assert counts(url) == before


def test_several_problems_give_one_stderr_line_each(url):
    errors = refused(url, "propose", *split_args(95, 3, 1, 1), "--reasoning", " ",
                     "--confidence", "2")
    assert [e.split(":")[0] for e in errors] == ["reinvestment", "dao", "confidence", "reasoning"]


# --- review -------------------------------------------------------------------------------------

def test_review_approved_activates_and_closes_the_previous_period(url):
    previous = ok(url, "current")["id"]
    proposal_id = propose(url)
    document = ok(url, "review", proposal_id, "--decision", "approved", "--by", "bob",
                  "--notes", "Metrics support this")
    assert (document["proposal_id"], document["status"]) == (proposal_id, "active")
    rows = {r["id"]: r for r in ok(url, "history")}
    assert rows[previous]["effective_until"] == rows[proposal_id]["effective_from"]
    assert rows[proposal_id]["reviewed_by"] == "bob"
    assert rows[proposal_id]["review_notes"] == "Metrics support this"
    assert ok(url, "current")["id"] == proposal_id


def test_review_rejected_keeps_the_current_split(url):
    previous = ok(url, "current")["id"]
    proposal_id = propose(url)
    document = ok(url, "review", proposal_id, "--decision", "rejected", "--by", "bob")
    assert document["status"] == "rejected"
    assert ok(url, "current")["id"] == previous
    assert ok(url, "pending") == []


def test_reviewing_a_decided_proposal_is_refused_and_writes_nothing(url):
    proposal_id = propose(url)
    ok(url, "review", proposal_id, "--decision", "rejected", "--by", "bob")
    before = counts(url)
    errors = refused(url, "review", proposal_id, "--decision", "approved", "--by", "carol")
    assert errors == [f"proposal: {proposal_id} is rejected; only proposed ones can be reviewed"]
    assert counts(url) == before


@pytest.mark.parametrize("proposal_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_reviewing_an_unknown_proposal_exits_4(url, proposal_id):
    before = counts(url)
    errors = refused(url, "review", proposal_id, "--decision", "approved", "--by", "bob", code=4)
    assert errors[0].startswith("proposal: ")
    assert counts(url) == before


def test_a_decision_other_than_approved_or_rejected_is_refused(url):
    proposal_id = propose(url)
    before = counts(url)
    assert refused(url, "review", proposal_id, "--decision", "maybe", "--by", "bob") == [
        "decision: 'maybe' is not one of approved, rejected"]
    assert counts(url) == before


# --- history ------------------------------------------------------------------------------------

def test_history_lists_every_row_newest_first_with_all_columns(url):
    default = ok(url, "current")["id"]
    proposal_id = propose(url)
    rows = ok(url, "history")
    assert [r["id"] for r in rows] == [proposal_id, default]
    columns = {"id", "timestamp", "reinvestment_pct", "dao_pct", "lucky_pct", "creator_pct",
               "status", "reasoning", "confidence", "input_metrics", "proposed_by",
               "effective_from", "effective_until", "reviewed_by", "reviewed_at", "review_notes"}
    for row in rows:
        assert set(row) >= columns
        assert all(is_pct(row[f"{b}_pct"]) for b in BUCKETS)
    assert ok(url, "history", "--limit", "1") == rows[:1]


# --- amounts and distribute -----------------------------------------------------------------------

def test_amounts_prints_money_as_exact_strings_that_sum_to_the_profit(url):
    document = ok(url, "amounts", "--profit", "1000.03")
    assert document == {"reinvestment": "800.02", "dao": "150.01", "lucky": "30.00",
                        "creator": "20.00", "total": "1000.03",
                        "allocation_id": ok(url, "current")["id"]}


@pytest.mark.parametrize("profit, expected", [("-1", "profit: -1 is negative"),
                                              ("nan", "profit: nan is not a finite number"),
                                              ("10.001", "profit: 10.001 has more than 2 decimal places"),
                                              ("lots", "profit: 'lots' is not a number"),
                                              ("1e999999999", "profit: 1e999999999 is too large")])
def test_a_bad_profit_is_refused_by_amounts_and_distribute_and_writes_nothing(url, profit, expected):
    before = counts(url)
    assert refused(url, "amounts", "--profit", profit) == [expected]
    assert refused(url, "distribute", "--profit", profit, "--key", "k") == [expected]
    assert counts(url) == before


def test_distribute_is_idempotent_by_key_and_refuses_another_total(url):
    first = ok(url, "distribute", "--profit", "1000.03", "--key", "2026-W01")
    assert set(first) >= {"distribution_id", "allocation_id", "amounts", "total", "created"}
    assert first["created"] is True and first["total"] == "1000.03"
    assert first["amounts"] == {"reinvestment": "800.02", "dao": "150.01", "lucky": "30.00",
                                "creator": "20.00"}
    before = counts(url)
    again = ok(url, "distribute", "--profit", "1000.03", "--key", "2026-W01")
    assert again["created"] is False
    assert {k: v for k, v in again.items() if k != "created"} == {
        k: v for k, v in first.items() if k != "created"}
    assert refused(url, "distribute", "--profit", "999", "--key", "2026-W01") == [
        "key: '2026-W01' was already used for a distribution of 1,000.03, not 999.00"]
    assert counts(url) == before


# --- activity -----------------------------------------------------------------------------------

def test_activity_lists_the_transparency_log_newest_first(url):
    proposal_id = propose(url)
    ok(url, "review", proposal_id, "--decision", "approved", "--by", "bob")
    ok(url, "distribute", "--profit", "10", "--key", "k")
    rows = ok(url, "activity")
    for row in rows:
        assert set(row) >= {"id", "timestamp", "activity_type", "description", "metadata"}
        assert is_iso(row["timestamp"]) and isinstance(row["metadata"], dict)
    types = [r["activity_type"] for r in rows]
    assert types[0] == "profit_distributed" and types[-1] == "allocation_activated"
    assert {"allocation_proposed", "allocation_approved", "allocation_activated"} <= set(types)
    timestamps = [r["timestamp"] for r in rows]
    assert timestamps == sorted(timestamps, reverse=True)
    assert [r["activity_type"] for r in ok(url, "activity", "--type", "allocation_proposed")] == [
        "allocation_proposed"]
    assert len(ok(url, "activity", "--limit", "2")) == 2


# --- usage and human output -----------------------------------------------------------------------

@pytest.mark.parametrize("args", [["propose", "--reinvestment", "70"], ["history", "--no-such-option"],
                                  ["no-such-command"], ["review", "--decision", "approved"]])
def test_bad_usage_exits_2_without_a_traceback(url, args):
    before = counts(url)
    run = cli(url, *args, "--json")
    assert run.code == 2
    assert counts(url) == before


def test_without_json_the_output_is_for_people_and_refusals_keep_their_exit_code(url):
    run = cli(url, "current", process=True)
    assert run.code == 0 and "80/15/3/2" in run.stdout
    run = cli(url, "propose", *split_args(80, 15, 3, 3), "--reasoning", "x", process=True)
    assert run.code == 3
    assert run.stdout == ""
    assert run.error_lines == ["error: total: the four sum to 101, not exactly 100"]


def test_an_unreachable_database_is_reported_in_one_line_without_a_traceback():
    run = cli("postgresql+psycopg://nobody@127.0.0.1:1/none", "current", "--json", process=True)
    assert run.code not in (0, 3, 4)
    assert run.json["ok"] is False
    assert len(run.error_lines) == 1 and run.error_lines[0].startswith("error: database: ")


@pytest.mark.parametrize("bad_url", ["not a url", "nosuchdialect://x/y"])
def test_a_malformed_database_url_is_bad_usage_without_a_traceback(bad_url):
    run = cli(bad_url, "current", "--json", process=True)
    assert run.code == 2
    assert run.json["ok"] is False
    assert len(run.error_lines) == 1 and run.error_lines[0].startswith("error: database: ")


def test_an_acting_name_too_long_for_the_log_is_refused_on_postgresql_and_writes_nothing(pg_server):
    from tests.conftest import fresh_pg_url

    url = fresh_pg_url(pg_server)
    before = counts(url)
    refused(url, "propose", *split_args(), "--reasoning", "x", "--by", "x" * 100)
    refused(url, "distribute", "--profit", "1", "--key", "k", "--by", "y" * 100)
    assert counts(url) == before
