"""The engines' own ways around row triggers, tried with raw SQL on every append-only table:
SQLite's INSERT OR REPLACE / REPLACE INTO / UPSERT (a REPLACE deletes the colliding row without
firing delete triggers) and PostgreSQL's TRUNCATE (which fires no row trigger at all)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.governance.accounts import add_user
from core.governance.policy_store import set_policy
from core.proposals.distribution import distribute
from core.proposals.lifecycle import propose_allocation, review_proposal
from db import triggers
from db.engine import Database
from db.models import Base

# Per table: the row a statement aims at, and the column the attacker rewrites (with what).
TARGETS = {
    "profit_allocation_log": ("status = 'active' AND effective_until IS NULL", "reasoning",
                              "'rewritten history'"),
    "profit_distributions": ("idempotency_key = 'guard-run'", "total", "'1.00'"),
    "protocol_activity": ("activity_type = 'policy_changed'", "description", "'nothing happened'"),
    "proposal_reviews": ("decision = 'approved'", "decision", "'rejected'"),
    "allocation_policy": ("version = 1", "changed_by", "'mallory'"),
}
REPLACES = ["INSERT OR REPLACE INTO", "REPLACE INTO"]


def make_history(db: Database) -> Database:
    """A row in every append-only table, made by the services."""
    add_user(db, "ada", "admin", "a long admin password")
    add_user(db, "gus", "governor", "a long governor password", by="ada")
    set_policy(db, "max_step", "25", by="ada")
    proposal = propose_allocation(db, ProposalInput(70, 18, 8, 4, "more reinvestment"), by="ada")
    review_proposal(db, proposal.proposal_id, "approved", by="gus")
    distribute(db, "1000.00", "guard-run", by="ada")
    return db


@pytest.fixture
def history(db: Database) -> Database:
    return make_history(db)


@pytest.fixture
def sqlite_history(sqlite_db: Database) -> Database:
    return make_history(sqlite_db)


@pytest.fixture
def pg_history(pg_db: Database) -> Database:
    return make_history(pg_db)


def rows(db: Database, table: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return sorted(tuple(map(str, r)) for r in conn.execute(sa.text(f"SELECT * FROM {table}")))


def columns(table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def copy_statement(verb: str, table: str, changes: dict[str, str], tail: str = "") -> str:
    """`verb` INTO `table` a copy of the target row with `changes` (column -> SQL expression)."""
    where, _, _ = TARGETS[table]
    names = columns(table)
    selected = ", ".join(changes.get(c, c) for c in names)
    # "WHERE" before an UPSERT's ON CONFLICT is required by SQLite's parser for INSERT ... SELECT.
    return f"{verb} {table} ({', '.join(names)}) SELECT {selected} FROM {table} WHERE {where} {tail}"


def refused(db: Database, sql: str, reason: str) -> None:
    with pytest.raises(sa.exc.IntegrityError) as error, db.engine.begin() as conn:
        conn.execute(sa.text(sql))
    assert reason in str(error.value.orig), str(error.value.orig)


@pytest.mark.parametrize("table", list(TARGETS))
@pytest.mark.parametrize("verb", REPLACES)
def test_a_replace_of_a_row_of_an_append_only_table_is_refused_on_sqlite(sqlite_history, table,
                                                                          verb):
    db = sqlite_history
    before = rows(db, table)
    _, column, value = TARGETS[table]
    refused(db, copy_statement(verb, table, {column: value}), "cannot replace a row already there")
    assert rows(db, table) == before


@pytest.mark.parametrize("table", list(TARGETS))
def test_an_upsert_onto_a_row_of_an_append_only_table_is_refused(history, table):
    db = history
    before = rows(db, table)
    _, column, value = TARGETS[table]
    key = ", ".join(triggers.UNIQUE_KEYS[table][0])
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text(copy_statement(
            "INSERT INTO", table, {}, f"ON CONFLICT ({key}) DO UPDATE SET {column} = {value}")))
    assert rows(db, table) == before


def test_replacing_the_live_row_cannot_change_the_current_split(sqlite_history):
    db = sqlite_history
    live = get_current_allocation(db)
    refused(db, copy_statement("INSERT OR REPLACE INTO", "profit_allocation_log", {
        "reinvestment_pct": "10", "dao_pct": "30", "lucky_pct": "50", "creator_pct": "10"}),
        "cannot replace a row already there")
    assert get_current_allocation(db) == live


@pytest.mark.parametrize("table, key", [
    ("profit_distributions", "idempotency_key"),
    ("proposal_reviews", "proposal_id, reviewer"),
])
def test_a_replace_colliding_on_a_unique_key_other_than_the_id_is_refused(sqlite_history, table,
                                                                         key):
    db = sqlite_history
    before = rows(db, table)
    _, column, value = TARGETS[table]
    # A fresh id: only the unique key collides, and REPLACE would delete the row holding it.
    fresh_id = "lower(hex(randomblob(16)))"
    refused(db, copy_statement("INSERT OR REPLACE INTO", table, {"id": fresh_id, column: value}),
            "cannot replace a row already there")
    assert rows(db, table) == before


def copy_with_rowid(table: str, rowid: str, verb: str) -> str:
    """A copy of the target row under fresh keys but the given rowid (for allocation_policy, whose
    version is its rowid, the version itself)."""
    changes = {"id": "lower(hex(randomblob(16)))", "idempotency_key": "'another-run'",
               "reviewer": "'someone else'", "version": rowid,
               # the log's copy is a fresh proposal, or the overlap guard would speak first
               "status": "'proposed'", "effective_from": "NULL", "effective_until": "NULL",
               # and no place in the audit chain (a copied one collides: see the test below)
               "chain_seq": "NULL"}
    names = columns(table)
    where, _, _ = TARGETS[table]
    if table == "allocation_policy":
        return copy_statement(verb, table, changes)
    return (f"{verb} {table} (rowid, {', '.join(names)}) SELECT {rowid}, "
            + ", ".join(changes.get(c, c) for c in names) + f" FROM {table} WHERE {where}")


@pytest.mark.parametrize("table", list(TARGETS))
def test_a_replace_colliding_only_on_sqlites_hidden_rowid_is_refused(sqlite_history, table):
    db = sqlite_history
    before = rows(db, table)
    refused(db, copy_with_rowid(table, "1", "INSERT OR REPLACE INTO"),
            "cannot replace a row already there")
    assert rows(db, table) == before


@pytest.mark.parametrize("table", list(TARGETS))
def test_no_row_of_an_append_only_table_can_hold_a_rowid_below_one(sqlite_history, table):
    db = sqlite_history
    before = rows(db, table)
    # Were one there, every later insert (whose NEW.rowid reads -1) would look like a collision.
    refused(db, copy_with_rowid(table, "-1", "INSERT INTO"), "rowid must be positive")
    assert rows(db, table) == before


@pytest.mark.parametrize("table", list(TARGETS))
def test_a_replace_colliding_only_on_a_place_in_the_audit_chain_is_refused(sqlite_history, table):
    db = sqlite_history
    before = rows(db, table)
    statement = copy_with_rowid(table, "NULL", "INSERT OR REPLACE INTO").replace(
        "NULL, chain_mac", "chain_seq, chain_mac")  # the copy keeps its place in the chain
    if table == "allocation_policy":
        statement = statement.replace("SELECT NULL,", "SELECT version + 100,")
    refused(db, statement, "same place in the audit chain")
    assert rows(db, table) == before


def test_the_rowid_of_a_logged_row_cannot_change(sqlite_history):
    db = sqlite_history
    before = rows(db, "profit_allocation_log")
    refused(db, "UPDATE profit_allocation_log SET rowid = -1 WHERE status = 'proposed' OR 1 = 1",
            "rowid cannot change")
    assert rows(db, "profit_allocation_log") == before


def test_plain_inserts_and_the_services_still_work_after_the_guards(history):
    db = history
    before = len(rows(db, "protocol_activity"))
    with db.engine.begin() as conn:
        conn.execute(sa.text(copy_statement(
            "INSERT INTO", "protocol_activity",
            {"id": "lower(hex(randomblob(16)))" if db.dialect == "sqlite" else "gen_random_uuid()",
             "description": "'a fresh line'", "chain_seq": "NULL"})))
    assert len(rows(db, "protocol_activity")) == before + 1
    assert distribute(db, "1000.00", "guard-run", by="ada").created is False
    assert distribute(db, "5.00", "another-run", by="ada").created is True


@pytest.mark.parametrize("table", triggers.APPEND_ONLY_TABLES)
def test_an_append_only_table_cannot_be_truncated_on_postgresql(pg_history, table):
    db = pg_history
    before = rows(db, table)
    refused(db, f"TRUNCATE {table} CASCADE", f"{table} is append-only: it cannot be truncated")
    assert rows(db, table) == before


def test_a_distribution_cannot_be_paid_twice_by_truncating_the_ledger(pg_history):
    db = pg_history
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE profit_distributions"))
    again = distribute(db, "1000.00", "guard-run", by="ada")
    assert again.created is False
    assert len(rows(db, "profit_distributions")) == 1


def test_every_key_the_replace_guard_checks_is_a_key_of_the_models():
    for table in triggers.APPEND_ONLY_TABLES:
        model = Base.metadata.tables[table]
        keys = {tuple(c.name for c in model.primary_key.columns)}
        keys |= {tuple(c.name for c in u.columns) for u in model.constraints
                 if isinstance(u, sa.UniqueConstraint)}
        keys |= {(c.name,) for c in model.columns if c.unique}
        assert set(triggers.UNIQUE_KEYS[table]) == keys, table
