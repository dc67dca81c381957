"""The reviewer's findings, each pinned down on the database (SQLite and PostgreSQL via `db`).

Covers the last two commits: decided rows keep who decided them and why, active periods never
overlap (db/triggers.py, migration 0005); policy upper limits; metrics-file limits; clear CLI
messages for unknown schema revisions, missing drivers and failed upgrades; expiry moved out of
`pending`/`review` into `expire`; SQLite reads that do not wait for a writer; money imported from
exponent notation stored with its two places.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.policy import MAX_HOURS
from core.allocation.split import Split
from core.allocation.validation import ProposalInput
from core.base.errors import Refused, ValidationFailed
from core.database import upgrade_database
from core.governance.policy_store import get_policy, policy_versions, set_policy
from core.platform_data.csv_import import import_csv
from core.platform_data.metrics_model import PlatformMetrics
from core.proposals.lifecycle import (expire_stale_proposals, get_allocation_history,
                                      get_pending_proposals, get_proposal, propose_allocation,
                                      review_proposal)
from core.rebalancer.service import run_rebalance
from core.record.activity import list_activity
from db import migrate
from db.engine import Database, open_database
from db.models import AllocationLog, TreasurySnapshot
from db.triggers import LOG, PG_NO_OVERLAP
from db.types import UTCDateTime, utcnow
from settings import Settings
from tests.conftest import ROOT

D = Decimal
NO_KEY = Settings(_env_file=None, openai_api_key=None)
# Activity falling: the rule engine wants more reinvestment than a narrowed maximum allows.
DECLINING = PlatformMetrics(-30.0, 20.0, D(1000), 0.03, 0, 30)
GOOD_METRICS = {"growth_rate_pct": 5.0, "engagement_score": 50.0, "dao_balance_usd": 1000.0,
                "avg_token_price_usd": 0.03, "tokens_launched_7d": 3, "days_of_data": 30}


# --- helpers -----------------------------------------------------------------------------------

def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the database, the migration bookkeeping included."""
    tables = sa.inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in tables}


def log_snapshot(db: Database) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {LOG} ORDER BY id"))]


def execute(db: Database, statement: sa.TextClause, **params: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(statement, params)


def refused_by_database(db: Database, statement: sa.TextClause, reason: str | tuple[str, ...],
                        **params: Any) -> None:
    """Expect the database to refuse `statement` for `reason` (or for one of several reasons)."""
    reasons = (reason,) if isinstance(reason, str) else reason
    with pytest.raises(sa.exc.IntegrityError) as error:
        execute(db, statement, **params)
    assert any(r in str(error.value.orig) for r in reasons), str(error.value.orig)


def by_id(sql: str) -> sa.TextClause:
    """Raw SQL whose `:id` (and `:new_id`) are UUIDs, stored as each engine stores them."""
    statement = sa.text(sql).bindparams(sa.bindparam("id", type_=sa.Uuid))
    if ":new_id" in sql:
        statement = statement.bindparams(sa.bindparam("new_id", type_=sa.Uuid))
    return statement


def proposal(*split: int, reasoning: str = "review-fix test") -> ProposalInput:
    return ProposalInput(*split, reasoning)


def backdated_proposal(db: Database, hours_ago: float, split=(76, 15, 5, 4)) -> str:
    """A proposal filed `hours_ago` hours ago.

    No core service can backdate a proposal (its timestamp is the moment of filing and the log
    is append-only), so this one row is written with the model directly; everything else in
    these tests goes through core.
    """
    current = get_current_allocation(db)
    row = AllocationLog(reinvestment_pct=D(split[0]), dao_pct=D(split[1]), lucky_pct=D(split[2]),
                        creator_pct=D(split[3]), status="proposed", reasoning="filed long ago",
                        confidence=D("0.8"), input_metrics={"manual": True}, proposed_by="manual",
                        proposer_username="alice", based_on_id=uuid.UUID(current.id),
                        timestamp=utcnow() - timedelta(hours=hours_ago))
    with db.sessions.begin() as session:
        session.add(row)
        session.flush()
        return str(row.id)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def cli(url: str, *args: str, cwd: Path) -> Run:
    """`python -m core --db URL ...` as a real process, away from the repository's files."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "core", "--db", url, *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=120)
    return Run(done.returncode, done.stdout, done.stderr)


def new_sqlite(tmp_path: Path, name: str = "cli.db") -> tuple[str, Database]:
    url = f"sqlite:///{tmp_path / name}"
    database = open_database(url)
    upgrade_database(database)
    return url, database


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


# --- 1. decided rows and active periods (raw SQL against the database's own guards) -----------

def decide(db: Database, status: str) -> str:
    """The id of a row that is `status` (active, rejected or expired), made through core."""
    if status == "active":
        return get_current_allocation(db).id  # the seeded default
    proposal_id = propose_allocation(db, proposal(70, 18, 8, 4), by="alice").proposal_id
    if status == "rejected":
        review_proposal(db, proposal_id, "rejected", by="bob", notes="too early")
    else:
        assert expire_stale_proposals(db, now=utcnow() + timedelta(days=8)) == [proposal_id]
    assert get_proposal(db, proposal_id).status == status
    return proposal_id


DECIDED_FIELD_CHANGES = [
    ("reviewed_by = 'mallory'", "a decided row cannot be decided again"),
    ("review_notes = 'rewritten reasons'", "a decided row cannot be decided again"),
    ("reviewed_at = CURRENT_TIMESTAMP", "a decided row cannot be decided again"),
    ("id = :new_id", "append-only: percentages, reasoning, proposer and timestamp cannot change"),
]


@pytest.mark.parametrize("status", ["active", "rejected", "expired"])
@pytest.mark.parametrize("assignment, reason", DECIDED_FIELD_CHANGES)
def test_who_decided_a_row_and_why_and_its_id_cannot_be_changed_once_decided(
        db, status, assignment, reason):
    row_id = decide(db, status)
    if status == "active" and assignment.startswith("id ") and db.dialect == "sqlite":
        # Two guards refuse it there and whichever trigger runs first speaks: a renumbered active
        # row also overlaps its own old self in the overlap trigger's eyes.
        reason = (reason, "active periods cannot overlap")
    before = log_snapshot(db)
    refused_by_database(db, by_id(f"UPDATE {LOG} SET {assignment} WHERE id = :id"), reason,
                        id=uuid.UUID(row_id), new_id=uuid.uuid4())
    assert log_snapshot(db) == before


@pytest.mark.parametrize("column", ["reviewed_by", "review_notes", "reviewed_at"])
def test_who_rejected_a_proposal_and_why_cannot_be_erased(db, column):
    row_id = decide(db, "rejected")
    before = log_snapshot(db)
    refused_by_database(db, by_id(f"UPDATE {LOG} SET {column} = NULL WHERE id = :id"),
                        "a decided row cannot be decided again", id=uuid.UUID(row_id))
    assert log_snapshot(db) == before
    record = get_proposal(db, row_id)
    assert (record.reviewed_by, record.review_notes) == ("bob", "too early")


def test_the_review_fields_of_a_proposed_row_may_still_be_set(db):
    row_id = propose_allocation(db, proposal(70, 18, 8, 4), by="alice").proposal_id
    execute(db, by_id(f"UPDATE {LOG} SET reviewed_by = 'bob', review_notes = 'looking at it', "
                      "reviewed_at = CURRENT_TIMESTAMP WHERE id = :id"), id=uuid.UUID(row_id))
    record = get_proposal(db, row_id)
    assert record.status == "proposed"
    assert (record.reviewed_by, record.review_notes) == ("bob", "looking at it")
    assert record.reviewed_at is not None


def insert_active_period(start: datetime, end: datetime | None) -> tuple[sa.TextClause, dict]:
    statement = sa.text(
        f"INSERT INTO {LOG} (reinvestment_pct, dao_pct, lucky_pct, creator_pct, status, reasoning, "
        "confidence, proposed_by, effective_from, effective_until) VALUES "
        "(70, 18, 8, 4, 'active', 'an imported period', 1, 'manual', :start, :end)"
    ).bindparams(sa.bindparam("start", type_=UTCDateTime()), sa.bindparam("end", type_=UTCDateTime()))
    return statement, {"start": start, "end": end}


def active_periods(db: Database) -> list[tuple[datetime, datetime | None, str]]:
    with db.sessions() as session:
        rows = session.execute(sa.select(AllocationLog.effective_from, AllocationLog.effective_until,
                                         AllocationLog.id)
                               .where(AllocationLog.status == "active")
                               .order_by(AllocationLog.effective_from)).all()
    return [(r.effective_from, r.effective_until, str(r.id)) for r in rows]


def overlap_reason(db: Database) -> str:
    return PG_NO_OVERLAP if db.dialect == "postgresql" else "active periods cannot overlap"


def test_an_active_period_overlapping_the_current_one_is_refused(db):
    begins = get_current_allocation(db).effective_from
    before = log_snapshot(db)
    statement, params = insert_active_period(begins - timedelta(days=1), begins + timedelta(days=1))
    refused_by_database(db, statement, overlap_reason(db), **params)
    assert log_snapshot(db) == before


def test_an_active_period_overlapping_a_closed_one_is_refused(db):
    begins = get_current_allocation(db).effective_from
    statement, params = insert_active_period(begins - timedelta(days=10), begins - timedelta(days=5))
    execute(db, statement, **params)
    before = log_snapshot(db)
    statement, params = insert_active_period(begins - timedelta(days=6), begins - timedelta(days=4))
    refused_by_database(db, statement, overlap_reason(db), **params)
    assert log_snapshot(db) == before


def test_a_closed_period_ending_where_the_current_one_begins_is_accepted(db):
    current = get_current_allocation(db)
    statement, params = insert_active_period(current.effective_from - timedelta(days=2),
                                             current.effective_from)
    execute(db, statement, **params)
    periods = active_periods(db)
    assert [(start, end) for start, end, _ in periods] == [
        (current.effective_from - timedelta(days=2), current.effective_from),
        (current.effective_from, None)]
    assert get_current_allocation(db).id == current.id


def test_a_closed_period_ending_one_microsecond_into_the_current_one_is_refused(db):
    begins = get_current_allocation(db).effective_from
    before = log_snapshot(db)
    statement, params = insert_active_period(begins - timedelta(days=2),
                                             begins + timedelta(microseconds=1))
    refused_by_database(db, statement, overlap_reason(db), **params)
    assert log_snapshot(db) == before


def test_approving_proposals_through_core_leaves_a_contiguous_timeline(db):
    seeded = get_current_allocation(db).id
    approved = []
    for split in ((76, 15, 5, 4), (72, 16, 7, 5), (75, 15, 6, 4)):
        proposal_id = propose_allocation(db, proposal(*split), by="alice").proposal_id
        outcome = review_proposal(db, proposal_id, "approved", by="bob")
        assert outcome.status == "active"
        approved.append(proposal_id)
    periods = active_periods(db)
    assert [row_id for _, _, row_id in periods] == [seeded, *approved]
    for (_, until, _), (start, _, _) in zip(periods, periods[1:]):
        assert until == start  # closed exactly where the next begins: no gap, no overlap
    assert periods[-1][1] is None
    assert get_current_allocation(db).split == Split.of(75, 15, 6, 4)


# --- 2. policy limits --------------------------------------------------------------------------

def policy_rows(db: Database) -> tuple[int, int]:
    counts = row_counts(db)
    return counts["allocation_policy"], counts["protocol_activity"]


@pytest.mark.parametrize("key, value, problem", [
    ("proposal_lifetime_hours", "1e9", f"proposal_lifetime_hours: 1e9 is above the maximum {MAX_HOURS}"),
    ("auto_approve_cooldown_hours", "1e11",
     f"auto_approve_cooldown_hours: 1e11 is above the maximum {MAX_HOURS}"),
    ("approvals_required", "101", "approvals_required: 101 is above the maximum 100"),
    ("min_delta", "0", "min_delta: must be above 0"),
])
def test_an_out_of_range_policy_value_is_refused_and_nothing_is_written(db, key, value, problem):
    before, policy = row_counts(db), get_policy(db)
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(db, key, value, by=None)
    assert refusal.value.problems == [problem]
    assert row_counts(db) == before
    assert get_policy(db) == policy
    assert policy_versions(db) == []


def test_a_new_baseline_is_accepted_and_stored_as_a_version(db):
    set_policy(db, "baseline", "70/15/10/5", by=None)
    assert get_policy(db).baseline == Split.of(70, 15, 10, 5)
    assert [(v["version"], v["key"]) for v in policy_versions(db)] == [(1, "baseline")]


def test_narrowing_reinvestment_below_the_baseline_is_accepted_and_the_rules_stay_inside(db):
    set_policy(db, "reinvestment_max", "75", by=None)
    policy = get_policy(db)
    assert policy.bounds["reinvestment"] == (D(40), D(75))
    assert policy.baseline == Split.of(80, 15, 3, 2)  # outside the new bounds, and allowed
    log_before = log_snapshot(db)

    result = run_rebalance(db, DECLINING, engine="rules", dry_run=True, settings=NO_KEY)

    suggested = result.suggestion.split
    assert result.suggestion.engine == "rules" and result.outcome == "dry_run"
    assert suggested == Split.of(75, 16, 5, 4)
    for bucket, value in suggested.items():
        low, high = policy.bounds[bucket]
        assert low <= value <= high, (bucket, value)
    assert log_snapshot(db) == log_before  # a dry run files nothing


# --- 3. metrics-file limits --------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("growth_rate_pct", 1e30), ("dao_balance_usd", 1e16), ("avg_token_price_usd", 1e10)])
def test_a_metrics_file_with_an_implausible_figure_is_refused_by_the_cli_and_nothing_is_written(
        db, tmp_path, workdir, key, value):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**GOOD_METRICS, key: value}), encoding="utf-8")
    before = row_counts(db)

    run = cli(url_of(db), "rebalance", "--metrics", str(path), "--engine", "rules", "--json",
              cwd=workdir)

    assert run.code == 3, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    document = run.json
    assert document["ok"] is False
    assert len(document["errors"]) == 1 and document["errors"][0].startswith(f"{key}: ")
    assert "beyond the plausible maximum" in document["errors"][0]
    assert row_counts(db) == before
    assert row_counts(db)["protocol_activity"] == before["protocol_activity"]


# --- 4. CLI messages and the expiry command (SQLite) -------------------------------------------

def test_a_database_at_an_unknown_schema_revision_is_named_as_such_without_a_traceback(
        tmp_path, workdir):
    url, database = new_sqlite(tmp_path)
    # A newer version of the program wrote this schema: only raw SQL can set that up.
    execute(database, sa.text("UPDATE alembic_version SET version_num = '9999'"))
    before = row_counts(database)

    run = cli(url, "current", cwd=workdir)

    assert run.code == 1, (run.stdout, run.stderr)
    assert "schema revision unknown" in run.stderr
    assert "Traceback" not in run.stderr
    assert migrate.current_revision(database) == "9999"
    assert row_counts(database) == before
    database.engine.dispose()


def test_a_url_whose_driver_is_not_installed_is_named_as_such_without_a_traceback(workdir):
    run = cli("mysql://x@y/z", "current", cwd=workdir)
    assert run.code == 1, (run.stdout, run.stderr)
    assert "no driver installed" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_upgrade_that_meets_a_foreign_table_fails_cleanly_and_leaves_the_file_as_it_was(
        tmp_path, workdir):
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tokens (x INTEGER)")
        conn.execute("INSERT INTO tokens VALUES (1)")

    run = cli(f"sqlite:///{path}", "db", "upgrade", cwd=workdir)

    assert run.code == 1, (run.stdout, run.stderr)
    assert "schema upgrade failed" in run.stderr
    assert "Traceback" not in run.stderr
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert names == ["tokens"]  # the migration ran in one transaction and was rolled back
        assert conn.execute("SELECT x FROM tokens").fetchall() == [(1,)]


def test_expire_marks_a_stale_proposal_expired_and_leaves_a_fresh_one(tmp_path, workdir):
    url, database = new_sqlite(tmp_path)
    set_policy(database, "proposal_lifetime_hours", "1", by=None)
    stale = backdated_proposal(database, hours_ago=2)
    fresh = propose_allocation(database, proposal(72, 16, 7, 5), by="alice").proposal_id

    run = cli(url, "expire", "--json", cwd=workdir)

    assert run.code == 0, (run.stdout, run.stderr)
    assert run.json == {"expired": [stale]}
    assert get_proposal(database, stale).status == "expired"
    assert get_proposal(database, stale).review_notes == "expired after 1 h without a decision"
    assert get_proposal(database, fresh).status == "proposed"
    logged = list_activity(database, 10, "allocation_expired")
    assert [str(entry.metadata["proposal_id"]) for entry in logged] == [stale]
    assert cli(url, "expire", "--json", cwd=workdir).json == {"expired": []}
    database.engine.dispose()


def test_expire_with_nothing_stale_reports_an_empty_list_and_writes_nothing(tmp_path, workdir):
    url, database = new_sqlite(tmp_path)
    propose_allocation(database, proposal(72, 16, 7, 5), by="alice")
    before = row_counts(database)

    run = cli(url, "expire", "--json", cwd=workdir)

    assert run.code == 0, (run.stdout, run.stderr)
    assert run.json == {"expired": []}
    assert row_counts(database) == before
    database.engine.dispose()


def test_pending_and_a_refused_review_write_nothing_even_with_a_stale_proposal(tmp_path, workdir):
    url, database = new_sqlite(tmp_path)
    set_policy(database, "proposal_lifetime_hours", "1", by=None)
    stale = backdated_proposal(database, hours_ago=2)
    fresh = propose_allocation(database, proposal(72, 16, 7, 5), by="alice").proposal_id
    before = row_counts(database)

    listed = cli(url, "pending", "--json", cwd=workdir)
    assert listed.code == 0, (listed.stdout, listed.stderr)
    assert [p["id"] for p in listed.json] == [fresh]  # the stale one is left out, not expired
    assert row_counts(database) == before

    review = cli(url, "review", stale, "--decision", "approved", "--by", "bob", "--json",
                 cwd=workdir)
    assert review.code == 3, (review.stdout, review.stderr)
    assert "Traceback" not in review.stderr
    assert review.json["ok"] is False
    assert any(f"{stale} expired at" in e for e in review.json["errors"]), review.json
    assert row_counts(database) == before
    assert get_proposal(database, stale).status == "proposed"  # expiring is `expire`'s job
    database.engine.dispose()


def test_a_review_after_the_lifetime_is_refused_as_expired_and_writes_nothing(db):
    proposal_id = propose_allocation(db, proposal(72, 16, 7, 5), by="alice").proposal_id
    later = utcnow() + timedelta(hours=get_policy(db).proposal_lifetime_hours, seconds=1)
    before = row_counts(db)
    with pytest.raises(Refused) as refusal:
        review_proposal(db, proposal_id, "approved", by="bob", now=later)
    assert len(refusal.value.problems) == 1 and "expired at" in refusal.value.problems[0]
    assert row_counts(db) == before
    assert get_proposal(db, proposal_id).status == "proposed"
    assert get_pending_proposals(db, now=later) == []
    assert row_counts(db) == before


def test_expiring_stale_proposals_through_core_records_when_and_why(db):
    proposal_id = propose_allocation(db, proposal(72, 16, 7, 5), by="alice").proposal_id
    later = utcnow() + timedelta(hours=get_policy(db).proposal_lifetime_hours, seconds=1)
    assert expire_stale_proposals(db, now=later - timedelta(seconds=2)) == []

    assert expire_stale_proposals(db, now=later) == [proposal_id]

    record = get_proposal(db, proposal_id)
    assert record.status == "expired" and record.reviewed_at == later
    assert record.review_notes == "expired after 168 h without a decision"
    assert expire_stale_proposals(db, now=later) == []  # already decided: nothing more to do


# --- 5. SQLite: reads do not wait for a writer; writes still queue -----------------------------

class HeldWriteLock:
    """A core write transaction held open for `seconds` in another thread."""

    def __init__(self, db: Database, seconds: float) -> None:
        self.db, self.seconds = db, seconds
        self.holding, self.errors = threading.Event(), []
        self.releasing_at: float | None = None  # just before the commit gives the lock back
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with self.db.sessions.begin() as session:
                session.execute(sa.select(sa.func.count()).select_from(AllocationLog))
                self.holding.set()
                time.sleep(self.seconds)
                self.releasing_at = time.monotonic()
        except Exception as error:  # surfaced by __exit__
            self.errors.append(error)
            self.holding.set()

    def __enter__(self) -> "HeldWriteLock":
        self.thread.start()
        assert self.holding.wait(10)
        assert not self.errors, self.errors
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(30)
        assert not self.errors, self.errors


def write_lock_is_taken(db: Database) -> bool:
    conn = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return "locked" in str(error)
    conn.execute("ROLLBACK")
    return False


READS = {
    "current allocation": lambda db: get_current_allocation(db).split,
    "pending proposals": lambda db: [p.record.id for p in get_pending_proposals(db)],
    "allocation history": lambda db: len(get_allocation_history(db)),
    "policy": lambda db: get_policy(db).approvals_required,
    # Every CLI call asks for it before anything else.
    "schema revision": lambda db: migrate.current_revision(db),
}


@pytest.mark.parametrize("read", READS, ids=list(READS))
def test_a_read_on_sqlite_does_not_wait_for_a_writer(sqlite_db, read):
    expected = READS[read](sqlite_db)
    with HeldWriteLock(sqlite_db, seconds=2.0):
        assert write_lock_is_taken(sqlite_db)  # the writer really holds SQLite's write lock
        started = time.monotonic()
        value = READS[read](sqlite_db)
        elapsed = time.monotonic() - started
    # A behavioural bound, not a benchmark: a read that took the write lock waits the full 2 s.
    assert elapsed < 1.0, elapsed
    assert value == expected


def test_a_core_write_on_sqlite_still_waits_for_the_writer_and_then_succeeds(sqlite_db):
    with HeldWriteLock(sqlite_db, seconds=2.0) as held:
        started = time.monotonic()
        proposal_id = propose_allocation(sqlite_db, proposal(72, 16, 7, 5), by="alice").proposal_id
        finished = time.monotonic()
    # It could only begin once the writer was done with the lock.
    assert held.releasing_at is not None and finished > held.releasing_at
    assert finished - started >= 1.0, finished - started
    assert get_proposal(sqlite_db, proposal_id).status == "proposed"


def test_two_core_writes_at_once_on_sqlite_both_succeed(sqlite_db):
    start = threading.Barrier(2)
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def file(name: str, split: tuple[int, int, int, int]) -> None:
        try:
            start.wait(5)
            results[name] = propose_allocation(sqlite_db, proposal(*split), by=name).proposal_id
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=file, args=("alice", (72, 16, 7, 5))),
               threading.Thread(target=file, args=("carol", (76, 15, 5, 4)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    pending = {p.record.id: p.record.proposer_username for p in get_pending_proposals(sqlite_db)}
    assert pending == {results["alice"]: "alice", results["carol"]: "carol"}


# --- 6. money in exponent notation -------------------------------------------------------------

def test_a_treasury_balance_written_as_1e3_is_stored_as_1000_00_and_reads_back_exactly(db, tmp_path):
    path = tmp_path / "treasury.csv"
    path.write_text("at,balance_usd\n2024-03-01T12:00:00Z,1e3\n", encoding="utf-8")

    assert import_csv(db, "treasury", path).rows == 1

    with db.sessions() as session:
        balance = session.scalar(sa.select(TreasurySnapshot.balance_usd))
    assert balance == D("1000.00") and str(balance) == "1000.00"
    with db.engine.connect() as conn:
        stored = conn.scalar(sa.text("SELECT balance_usd FROM dao_treasury_snapshots"))
    assert str(stored) == "1000.00"  # SQLite keeps the text, PostgreSQL numeric(24, 2)
