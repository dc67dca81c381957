"""Governance through `python -m core`, on SQLite and PostgreSQL.

Most cases run the Typer app in-process (typer.testing.CliRunner); a few run the real
`python -m core` in a subprocess, where stdin, stderr and exit codes are the operating system's.
Every refusal: exit 3 (4 for an unknown id), one `error: ...` line on stderr per problem, with
`--json` exactly `{"ok": false, "errors": [...]}` on stdout, no traceback, and nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.governance.accounts import add_user, authenticate, disable_user
from core.governance.policy_store import set_policy
from core.proposals.lifecycle import (expire_stale_proposals, get_proposal, propose_allocation,
                                      review_proposal)
from db.engine import Database, open_database
from tests.integration.state import snapshot

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long passphrase"
STORY_ORDER = ("allocation_proposed", "allocation_approval_recorded", "allocation_approved",
               "allocation_auto_approved", "allocation_rejected", "allocation_expired",
               "allocation_activated")
Run = Callable[..., Any]


@pytest.fixture
def database(db_url: str) -> Any:
    database = open_database(db_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def run(db_url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, ["--db", db_url, *args], input=input)

    return invoke


def assert_refused(result: Any, code: int, fragment: str, *, as_json: bool) -> list[str]:
    """The contract for a refusal; returns the problems."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), lines
    assert any(fragment in line for line in lines), (fragment, lines)
    if as_json:
        document = json.loads(result.stdout)  # exactly one document, nothing else
        assert document["ok"] is False
        assert document["errors"] == [line[len("error: "):] for line in lines]
    else:
        assert result.stdout == ""
    return lines


def sso(db: Database, name: str, role: str, by: str | None = "ada") -> None:
    add_user(db, name, role, None, by=by, email=f"{name}@example.org")


# --- one scenario, every refusal ----------------------------------------------------------------

@pytest.fixture
def scenario(database: Database) -> dict[str, str]:
    """Accounts of each role (dora, a disabled governor), two approvals required, the live split
    moved to 90/5/3/2 after `stale` was filed, `partial` approved once by gus, `own` filed by gus,
    `expired` past its lifetime and marked, distributions paused."""
    db = database
    sso(db, "ada", "admin", by=None)
    for name, role in (("gus", "governor"), ("gail", "governor"), ("dora", "governor"),
                       ("ann", "analyst"), ("vic", "viewer"), ("tess", "viewer")):
        sso(db, name, role)
    disable_user(db, "dora", by="ada")
    set_policy(db, "approvals_required", "2", by="ada")

    def file(split: tuple[int, ...], by: str = "ann") -> str:
        return propose_allocation(db, ProposalInput(*split, "scenario"), by=by).proposal_id

    ids = {"expired": file((78, 15, 4, 3))}
    expired_at = get_proposal(db, ids["expired"]).timestamp + timedelta(days=7)
    ids["stale"] = file((70, 20, 6, 4))  # filed against 80/15/3/2, 20 points from what follows
    moved = file((90, 5, 3, 2))
    review_proposal(db, moved, "approved", by="gus")
    review_proposal(db, moved, "approved", by="gail")
    ids["active"] = moved
    ids["partial"] = file((85, 10, 3, 2))
    review_proposal(db, ids["partial"], "approved", by="gus")
    ids["own"] = file((86, 9, 3, 2), by="gus")  # another split: the same one would be refused
    assert expire_stale_proposals(db, now=expired_at) == [ids["expired"]]
    set_policy(db, "distributions_paused", "true", by="ada")
    return ids


# (name, argv with {ids} placeholders, stdin, exit code, fragment)
REFUSALS: list[tuple[str, list[str], str | None, int, str]] = [
    ("a viewer proposes", ["propose", "--reinvestment", "75", "--dao", "15", "--lucky", "6",
                           "--creator", "4", "--reasoning", "r", "--by", "vic"], None, 3,
     "by: vic is a viewer; filing a proposal needs the analyst role or higher"),
    ("an unknown account proposes", ["propose", "--reinvestment", "75", "--dao", "15", "--lucky",
                                     "6", "--creator", "4", "--reasoning", "r", "--by", "eve"],
     None, 3, "by: no account named 'eve'"),
    ("a viewer runs the rebalancer", ["rebalance", "--engine", "rules", "--by", "vic"], None, 3,
     "by: vic is a viewer; running the rebalancer needs the analyst role or higher"),
    ("a disabled governor reviews", ["review", "{partial}", "--decision", "approved", "--by",
                                     "dora"], None, 3, "the account 'dora' is disabled"),
    ("an analyst reviews", ["review", "{partial}", "--decision", "approved", "--by", "ann"], None,
     3, "reviewing a proposal needs the governor role"),
    ("the proposer approves", ["review", "{own}", "--decision", "approved", "--by", "gus"], None,
     3, "four-eyes"),
    ("a governor approves twice", ["review", "{partial}", "--decision", "approved", "--by", "gus"],
     None, 3, "gus has already reviewed"),
    ("an expired proposal is reviewed", ["review", "{expired}", "--decision", "approved", "--by",
                                         "gail"], None, 3, "expired"),
    ("the active split is reviewed", ["review", "{active}", "--decision", "rejected", "--by",
                                      "gail"], None, 3, "is active"),
    ("a proposal too far from the live split is approved",
     ["review", "{stale}", "--decision", "approved", "--by", "gail"], None, 3,
     "against the live split 90/5/3/2: reinvestment: moves 20 points"),
    ("an unknown decision", ["review", "{partial}", "--decision", "maybe", "--by", "gail"], None,
     3, "decision: 'maybe' is not one of approved, rejected"),
    ("an unknown proposal id", ["review", str(uuid.UUID(int=7)), "--decision", "approved", "--by",
                                "gail"], None, 4, "no proposal with id"),
    ("a malformed proposal id", ["review", "not-an-id", "--decision", "approved", "--by", "gail"],
     None, 4, "'not-an-id' is not a proposal id"),
    ("a governor sets the policy", ["policy", "set", "max_step", "10", "--by", "gus"], None, 3,
     "changing the policy needs the admin role"),
    ("approvals required under 1", ["policy", "set", "approvals_required", "0", "--by", "ada"],
     None, 3, "approvals_required: 0 is below the minimum 1"),
    ("a lower bound above its upper", ["policy", "set", "lucky_min", "20", "--by", "ada"], None,
     3, "lucky_min: 20 is above lucky_max 15"),
    ("maximums under 100", ["policy", "set", "reinvestment_max", "40", "--by", "ada"], None, 3,
     "the maximums sum to less than 100"),
    ("an unknown policy key", ["policy", "set", "speed", "10", "--by", "ada"], None, 3,
     "speed: unknown policy key"),
    ("an analyst adds an account", ["users", "add", "newbie", "--role", "viewer", "--by", "ann",
                                    "--password-stdin"], PASSWORD + "\n", 3,
     "adding an account needs the admin role"),
    ("a short password", ["users", "add", "newbie", "--role", "viewer", "--by", "ada",
                          "--password-stdin"], "short\n", 3, "password: must be at least 10"),
    ("an existing name", ["users", "add", "Gus", "--role", "viewer", "--by", "ada",
                          "--password-stdin"], PASSWORD + "\n", 3, "'gus' already exists"),
    ("an unknown role", ["users", "add", "newbie", "--role", "root", "--by", "ada",
                         "--password-stdin"], PASSWORD + "\n", 3, "role: 'root' is not one of"),
    ("a governor changes a role", ["users", "set-role", "tess", "analyst", "--by", "gail"], None,
     3, "changing a role needs the admin role"),
    ("the last admin demoted", ["users", "set-role", "ada", "viewer", "--by", "ada"], None, 3,
     "ada is the last active admin"),
    ("a role for nobody", ["users", "set-role", "ghost", "analyst", "--by", "ada"], None, 4,
     "no account named 'ghost'"),
    ("an analyst disables", ["users", "disable", "tess", "--by", "ann"], None, 3,
     "disabling an account needs the admin role"),
    ("nobody disabled", ["users", "disable", "ghost", "--by", "ada"], None, 4,
     "no account named 'ghost'"),
    ("the last admin disabled", ["users", "disable", "ada", "--by", "ada"], None, 3,
     "ada is the last active admin"),
    ("a distribution while paused", ["distribute", "--profit", "1000.00", "--key", "k1", "--by",
                                     "ann"], None, 3, "distributions are paused"),
    ("a viewer distributes", ["distribute", "--profit", "1000.00", "--key", "k1", "--by", "vic"],
     None, 3, "running a distribution needs the analyst role"),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name, argv, stdin, code, fragment", REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_each_governance_refusal_is_clear_and_writes_nothing(
        run, database, scenario, name, argv, stdin, code, fragment, as_json):
    args = [a.format(**scenario) for a in argv] + (["--json"] if as_json else [])
    before = snapshot(database)
    result = run(*args, input=stdin)
    assert_refused(result, code, fragment, as_json=as_json)
    assert snapshot(database) == before, f"{name}: the refusal wrote something"


def test_a_policy_broken_in_several_ways_gets_one_line_per_problem(run, database, scenario):
    result = run("policy", "set", "reinvestment_min", "95", "--by", "ada", "--json")
    lines = assert_refused(result, 3, "reinvestment_min: 95 is above reinvestment_max 90",
                           as_json=True)
    assert any("the minimums sum to more than 100" in line for line in lines)
    assert len(lines) == len(set(lines)) >= 2


# --- open mode and the first account ------------------------------------------------------------

def test_open_mode_then_the_first_admin_closes_it(run, database):
    result = run("propose", "--reinvestment", "75", "--dao", "15", "--lucky", "6", "--creator",
                 "4", "--reasoning", "Q1", "--by", "anyone", "--json")
    assert result.exit_code == 0, result.stderr
    pid = json.loads(result.stdout)["proposal_id"]
    result = run("review", pid, "--decision", "approved", "--by", "someone-else", "--json")
    assert (result.exit_code, json.loads(result.stdout)["status"]) == (0, "active")
    assert run("policy", "set", "max_step", "12", "--by", "whoever").exit_code == 0

    before = snapshot(database)
    refused = run("users", "add", "alice", "--role", "governor", "--password-stdin", "--json",
                  input=PASSWORD + "\n")
    assert_refused(refused, 3, "role: the first account must be an admin", as_json=True)
    assert snapshot(database) == before

    created = run("users", "add", "alice", "--role", "admin", "--password-stdin", "--json",
                  input=PASSWORD + "\n")
    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout) == {"username": "alice", "role": "admin"}

    before = snapshot(database)
    assert_refused(run("policy", "set", "max_step", "10", "--by", "whoever"), 3,
                   "by: no account named 'whoever'", as_json=False)
    assert_refused(run("users", "add", "bob", "--role", "admin", "--password-stdin",
                       input=PASSWORD + "\n"), 3, "adding an account needs an acting account",
                   as_json=False)
    assert snapshot(database) == before
    assert run("policy", "set", "max_step", "10", "--by", "Alice").exit_code == 0


# --- accounts and passwords ---------------------------------------------------------------------

def test_users_add_reads_the_password_from_stdin_and_shows_it_nowhere(run, database):
    result = run("users", "add", "alice", "--role", "admin", "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output + result.stderr
    assert authenticate(database, "alice", PASSWORD).role == "admin"
    listing = run("users", "list").stdout + run("users", "list", "--json").stdout
    activity = run("activity", "--json", "--limit", "1000").stdout
    for text in (listing, activity):
        assert PASSWORD not in text and "$argon2" not in text and "password" not in text


def test_users_add_without_the_flag_prompts_twice_for_the_password(run, database):
    result = run("users", "add", "alice", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output
    assert authenticate(database, "alice", PASSWORD).username == "alice"


def test_users_add_takes_no_password_on_the_command_line(run, database):
    result = run("users", "add", "alice", "--role", "admin", "--password", PASSWORD)
    assert result.exit_code == 2
    assert snapshot(database)["users"] == 0


def test_users_list_shows_names_roles_and_state_never_a_hash(run, database):
    add_user(database, "alice", "admin", PASSWORD)
    add_user(database, "bob", "governor", PASSWORD, by="alice")
    run("users", "disable", "bob", "--by", "alice")
    result = run("users", "list", "--json")
    rows = json.loads(result.stdout)
    assert [(r["username"], r["role"], r["active"]) for r in rows] == [
        ("alice", "admin", True), ("bob", "governor", False)]
    assert all("password_hash" not in r for r in rows)
    assert "$argon2" not in result.stdout


def test_set_role_and_disable_through_the_cli(run, database):
    sso(database, "ada", "admin", by=None)
    sso(database, "tess", "viewer")
    result = run("users", "set-role", "tess", "governor", "--by", "ada", "--json")
    assert json.loads(result.stdout) == {"username": "tess", "role": "governor"}
    result = run("users", "disable", "TESS", "--by", "ada", "--json")
    assert json.loads(result.stdout) == {"username": "tess", "active": False}
    assert_refused(run("review", str(uuid.UUID(int=1)), "--decision", "approved", "--by", "tess"),
                   3, "'tess' is disabled", as_json=False)


# --- the policy ---------------------------------------------------------------------------------

def test_policy_show_reflects_the_latest_set(run, database):
    sso(database, "ada", "admin", by=None)
    sso(database, "gus", "governor")  # two who can approve, so two approvals may be required
    shown = json.loads(run("policy", "show", "--json").stdout)
    assert shown["approvals_required"] == 1 and shown["auto_approve_min_confidence"] is None
    result = run("policy", "set", "approvals_required", "2", "--by", "ada", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["approvals_required"] == 2
    run("policy", "set", "auto_approve_min_confidence", "0.9", "--by", "ada")
    run("policy", "set", "rebalancing_paused", "true", "--by", "ada")
    shown = json.loads(run("policy", "show", "--json").stdout)
    assert (shown["approvals_required"], shown["auto_approve_min_confidence"],
            shown["rebalancing_paused"]) == (2, 0.9, True)
    text = run("policy", "show").stdout
    assert "approvals_required" in text and "rebalancing_paused" in text
    changes = json.loads(run("activity", "--type", "policy_changed", "--json").stdout)
    assert [c["metadata"]["key"] for c in changes] == [
        "rebalancing_paused", "auto_approve_min_confidence", "approvals_required"]


# --- reviews and the story in the activity log --------------------------------------------------

def _story(run: Run, proposal_id: str) -> list[str]:
    rows = json.loads(run("activity", "--json", "--limit", "1000").stdout)
    mine = [r for r in rows if r["activity_type"] in STORY_ORDER and proposal_id in (
        str(r["metadata"].get("proposal_id")), str(r["metadata"].get("allocation_id")))]
    mine.sort(key=lambda r: (r["timestamp"], STORY_ORDER.index(r["activity_type"])))
    return [r["activity_type"] for r in mine]


def _propose(run: Run, split: tuple[int, ...], by: str) -> str:
    r, d, lu, c = (str(v) for v in split)
    result = run("propose", "--reinvestment", r, "--dao", d, "--lucky", lu, "--creator", c,
                 "--reasoning", "Q1 strategy", "--by", by, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["proposal_id"]


@pytest.fixture
def governed(database: Database) -> Database:
    sso(database, "ada", "admin", by=None)
    for name, role in (("gus", "governor"), ("gail", "governor"), ("gwen", "governor"),
                       ("ann", "analyst")):
        sso(database, name, role)
    return database


def test_two_of_three_through_the_cli_and_its_story(run, governed):
    run("policy", "set", "approvals_required", "2", "--by", "ada")
    run("policy", "set", "timelock_hours_major", "0", "--by", "ada")  # the queue is tested apart
    pid = _propose(run, (75, 15, 6, 4), "ann")
    pending = json.loads(run("pending", "--json").stdout)
    assert [(p["id"], p["approvals"], p["approvals_required"]) for p in pending] == [(pid, [], 2)]
    first = run("review", pid, "--decision", "approved", "--by", "gus", "--json")
    assert json.loads(first.stdout) == {"proposal_id": pid, "status": "proposed", "approvals": 1,
                                        "approvals_required": 2, "tier": "minor", "executes_at": None}
    second = run("review", pid, "--decision", "approved", "--by", "gail", "--notes", "ok")
    assert second.exit_code == 0 and "is active (2 of 2 approvals)" in second.stdout
    current = json.loads(run("current", "--json").stdout)
    assert (current["id"], current["reinvestment"], current["lucky"]) == (pid, 75, 6)
    assert _story(run, pid) == ["allocation_proposed", "allocation_approval_recorded",
                                "allocation_approval_recorded", "allocation_approved",
                                "allocation_activated"]


def test_a_rejection_through_the_cli_and_its_story(run, governed):
    pid = _propose(run, (75, 15, 6, 4), "ann")
    result = run("review", pid, "--decision", "rejected", "--by", "gus", "--notes", "no",
                 "--json")
    assert json.loads(result.stdout)["status"] == "rejected"
    assert _story(run, pid) == ["allocation_proposed", "allocation_rejected"]
    assert get_current_allocation(governed).split.label() == "80/15/3/2"


def test_an_expired_proposal_through_the_cli_and_its_story(run, governed):
    pid = _propose(run, (75, 15, 6, 4), "ann")
    filed_at = get_proposal(governed, pid).timestamp
    expire_stale_proposals(governed, now=filed_at + timedelta(days=8))
    assert json.loads(run("pending", "--json").stdout) == []
    history = json.loads(run("history", "--json").stdout)
    assert [r["status"] for r in history if r["id"] == pid] == ["expired"]
    assert_refused(run("review", pid, "--decision", "approved", "--by", "gus", "--json"), 3,
                   "expired", as_json=True)
    assert _story(run, pid) == ["allocation_proposed", "allocation_expired"]


def test_an_approval_after_the_live_split_moved_is_rechecked_through_the_cli(run, governed):
    early = _propose(run, (70, 20, 6, 4), "ann")
    moved = _propose(run, (90, 5, 3, 2), "ann")
    assert run("review", moved, "--decision", "approved", "--by", "gus").exit_code == 0
    before = snapshot(governed)
    lines = assert_refused(run("review", early, "--decision", "approved", "--by", "gail"), 3,
                           "against the live split 90/5/3/2", as_json=False)
    assert len(lines) == 1
    assert snapshot(governed) == before


# --- the real command line ----------------------------------------------------------------------

def _python_m_core(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "core", "--db", db_url, *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_real_command_line_keeps_the_contract(db_url, database):
    created = _python_m_core(db_url, "users", "add", "alice", "--role", "admin",
                             "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"username": "alice", "role": "admin"}
    assert PASSWORD not in created.stdout + created.stderr
    assert authenticate(database, "alice", PASSWORD).username == "alice"

    refused = _python_m_core(db_url, "policy", "set", "approvals_required", "0", "--by", "alice",
                             "--json")
    assert refused.returncode == 3
    assert refused.stderr.splitlines() == ["error: approvals_required: 0 is below the minimum 1"]
    assert json.loads(refused.stdout) == {"ok": False, "errors": [
        "approvals_required: 0 is below the minimum 1"]}

    unknown = _python_m_core(db_url, "review", str(uuid.UUID(int=9)), "--decision", "approved",
                             "--by", "alice")
    assert unknown.returncode == 4 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("error: proposal: no proposal with id")

    stranger = _python_m_core(db_url, "users", "list", "--json")
    assert "$argon2" not in stranger.stdout and PASSWORD not in stranger.stdout
