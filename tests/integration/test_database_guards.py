"""The database's own rules, checked with raw SQL on both engines (no core code in the way).

Data is seeded through core services; only the statements under test are raw SQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.proposals.distribution import distribute
from core.proposals.lifecycle import propose_allocation, review_proposal
from db.engine import Database

LOG = "profit_allocation_log"


def run(db: Database, sql: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql))


def refused(db: Database, sql: str, reason: str) -> str:
    """Run `sql`, expect the database to refuse it for `reason` (a constraint or trigger text)."""
    with pytest.raises(sa.exc.IntegrityError) as error:
        run(db, sql)
    message = str(error.value.orig)
    assert reason in message, message
    return message


def snapshot(db: Database, table: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]


def insert_log(status: str = "proposed", split=(70, 18, 8, 4), reasoning: str = "raw insert",
               confidence: str = "0.8", proposed_by: str = "manual",
               effective_from: str | None = None) -> str:
    r, d, l, c = split
    columns = "reinvestment_pct, dao_pct, lucky_pct, creator_pct, status, reasoning, confidence, proposed_by"
    values = f"{r}, {d}, {l}, {c}, '{status}', '{reasoning}', {confidence}, '{proposed_by}'"
    if effective_from is not None:
        columns += ", effective_from"
        values += f", {effective_from}"
    return f"INSERT INTO {LOG} ({columns}) VALUES ({values})"


def test_a_raw_insert_of_a_valid_proposal_is_accepted(db):
    before = len(snapshot(db, LOG))
    run(db, insert_log())
    assert len(snapshot(db, LOG)) == before + 1


@pytest.mark.parametrize("split", [(80, 15, 3, 3), (79.99, 15, 3, 2), (0, 0, 0, 0), (70, 18, 8, 4.01)])
def test_an_insert_whose_percentages_do_not_sum_to_100_is_refused(db, split):
    before = snapshot(db, LOG)
    refused(db, insert_log(split=split), "valid_total_percentage")
    assert snapshot(db, LOG) == before


@pytest.mark.parametrize("split, reason", [
    ((101, -1, 0, 0), "_pct_range"),  # one above 100 forces another below 0 (the sum holds)
    ((0, 0, "100.5", "-0.5"), "_pct_range"),
    ((85, -5, 10, 10), "dao_pct_range"),
    ((70, 18, 13, -1), "creator_pct_range"),
    ((101, 0, 0, 0), "ck_profit_allocation_log_"),  # both the range and the total are broken
])
def test_a_percentage_above_100_or_below_0_is_refused(db, split, reason):
    before = snapshot(db, LOG)
    refused(db, insert_log(split=split), reason)
    assert snapshot(db, LOG) == before


@pytest.mark.parametrize("status", ["approved", "pending", "ACTIVE", ""])
def test_an_unknown_status_is_refused(db, status):
    refused(db, insert_log(status=status), "valid_status")


@pytest.mark.parametrize("proposed_by", ["oracle", "Manual", ""])
def test_an_unknown_proposer_is_refused(db, proposed_by):
    refused(db, insert_log(proposed_by=proposed_by), "valid_proposed_by")


@pytest.mark.parametrize("confidence", ["1.5", "-0.1", "2"])
def test_a_confidence_outside_0_to_1_is_refused(db, confidence):
    refused(db, insert_log(confidence=confidence), "confidence_range")


@pytest.mark.parametrize("reasoning", ["", "   "])
def test_empty_reasoning_is_refused(db, reasoning):
    refused(db, insert_log(reasoning=reasoning), "reasoning_present")


def test_an_active_row_without_an_effective_from_is_refused(db):
    # Close the seeded period first, so only the missing effective_from can be the reason.
    run(db, f"UPDATE {LOG} SET effective_until = '2999-01-01 00:00:00' WHERE status = 'active'")
    refused(db, insert_log(status="active"), "active_has_effective_from")


def test_a_second_current_active_row_is_refused(db):
    before = snapshot(db, LOG)
    refused(db, insert_log(status="active", effective_from="CURRENT_TIMESTAMP"),
            # On SQLite the overlap trigger runs before the unique index can.
            "uq_profit_allocation_log_one_current" if db.dialect == "postgresql"
            else "active periods cannot overlap")
    assert snapshot(db, LOG) == before


def test_a_closed_active_period_does_not_count_as_current(db):
    run(db, f"INSERT INTO {LOG} (reinvestment_pct, dao_pct, lucky_pct, creator_pct, status, "
            "reasoning, confidence, proposed_by, effective_from, effective_until) VALUES "
            "(70, 18, 8, 4, 'active', 'an old period', 1, 'manual', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)")
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {LOG} WHERE status = 'active'")) == 2
        assert conn.scalar(sa.text(
            f"SELECT count(*) FROM {LOG} WHERE status = 'active' AND effective_until IS NULL")) == 1


@pytest.mark.parametrize("where", ["", " WHERE status = 'active'"])
def test_rows_of_the_allocation_log_cannot_be_deleted(db, where):
    propose_allocation(db, ProposalInput(70, 18, 8, 4, "x"), by="alice")
    before = snapshot(db, LOG)
    refused(db, f"DELETE FROM {LOG}{where}", "append-only: rows cannot be deleted")
    assert snapshot(db, LOG) == before


def test_the_allocation_log_cannot_be_truncated_on_postgresql(pg_db):
    before = snapshot(pg_db, LOG)
    refused(pg_db, f"TRUNCATE {LOG} CASCADE", "append-only")
    assert snapshot(pg_db, LOG) == before


@pytest.mark.parametrize("assignment", [
    "reinvestment_pct = 79, dao_pct = 16",  # still sums to 100: only the trigger can refuse it
    "reasoning = 'rewritten history'",
    "proposed_by = 'manual'",
    "timestamp = '2000-01-01 00:00:00'",
    "confidence = 0.5",
    "proposer_username = 'mallory'",
])
def test_the_substance_of_a_logged_row_cannot_be_updated(db, assignment):
    before = snapshot(db, LOG)
    refused(db, f"UPDATE {LOG} SET {assignment}", "append-only: percentages, reasoning, proposer")
    assert snapshot(db, LOG) == before


def test_the_substance_of_a_pending_proposal_cannot_be_updated_either(db):
    propose_allocation(db, ProposalInput(70, 18, 8, 4, "x"), by="alice")
    before = snapshot(db, LOG)
    refused(db, f"UPDATE {LOG} SET lucky_pct = 9, creator_pct = 3 WHERE status = 'proposed'",
            "append-only")
    assert snapshot(db, LOG) == before


@pytest.mark.parametrize("assignment", [
    "status = 'rejected'",
    "effective_from = '2000-01-01 00:00:00'",
])
def test_a_decided_row_cannot_be_decided_again(db, assignment):
    before = snapshot(db, LOG)
    refused(db, f"UPDATE {LOG} SET {assignment} WHERE status = 'active'",
            "a decided row cannot be decided again")
    assert snapshot(db, LOG) == before


def test_a_closed_period_cannot_be_reopened(db):
    proposal_id = propose_allocation(db, ProposalInput(70, 18, 8, 4, "x"), by="alice").proposal_id
    review_proposal(db, proposal_id, "approved", by="bob")
    before = snapshot(db, LOG)
    with pytest.raises(sa.exc.IntegrityError) as error:
        run(db, f"UPDATE {LOG} SET effective_until = NULL WHERE effective_until IS NOT NULL")
    # Two guards refuse it; on SQLite whichever trigger runs first speaks.
    assert any(reason in str(error.value.orig) for reason in (
        "a decided row cannot be decided again", "active periods cannot overlap"))
    assert snapshot(db, LOG) == before
    assert get_current_allocation(db).id == proposal_id


def test_the_review_lifecycle_of_a_proposed_row_may_still_move(db):
    propose_allocation(db, ProposalInput(70, 18, 8, 4, "x"), by="alice")
    run(db, f"UPDATE {LOG} SET status = 'rejected', reviewed_by = 'bob', "
            f"reviewed_at = CURRENT_TIMESTAMP, review_notes = 'no' WHERE status = 'proposed'")
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {LOG} WHERE status = 'rejected'")) == 1


@pytest.fixture
def with_distribution(db: Database) -> Database:
    distribute(db, "1000.03", "guard-run", by="dave")
    return db


@pytest.mark.parametrize("table, assignment", [
    ("protocol_activity", "description = 'edited'"),
    ("protocol_activity", "activity_type = 'nothing_happened'"),
    ("profit_distributions", "total = 1"),
    ("profit_distributions", "created_by = 'mallory'"),
])
def test_activity_and_distributions_cannot_be_updated(with_distribution, table, assignment):
    db = with_distribution
    before = snapshot(db, table)
    assert before
    refused(db, f"UPDATE {table} SET {assignment}", f"{table} is insert-only: rows cannot be updated")
    assert snapshot(db, table) == before


@pytest.mark.parametrize("table", ["protocol_activity", "profit_distributions"])
def test_activity_and_distributions_cannot_be_deleted(with_distribution, table):
    db = with_distribution
    before = snapshot(db, table)
    refused(db, f"DELETE FROM {table}", f"{table} is insert-only: rows cannot be deleted")
    assert snapshot(db, table) == before


def test_a_distribution_row_whose_split_does_not_sum_to_100_is_refused(db):
    refused(db, "INSERT INTO profit_distributions (id, idempotency_key, total, reinvestment_pct, "
                "dao_pct, lucky_pct, creator_pct, reinvestment_amount, dao_amount, lucky_amount, "
                "creator_amount, created_at) VALUES ('0f0e0d0c0b0a09080706050403020100', 'k', "
                "'100', 80, 15, 3, 3, '80', '15', '3', '2', CURRENT_TIMESTAMP)",
            "valid_total_percentage")
