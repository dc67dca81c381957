"""The seed's SQL, run verbatim on the PostgreSQL schema (and the portable ones on SQLite too).

Each query below is copied character for character from the seed document
(../shared/seed/dynamic-profit-allocation.md): Quick Start, Query Allocation History, the weekly
report's INSERT (the body of its cron job) and the four Monitoring Queries. The data they read is
filed through core services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.database import DEFAULT_REASONING
from core.proposals.lifecycle import propose_allocation, review_proposal
from tests.integration.state import file_as_rebalancer
from db.engine import Database

# --- the seed's SQL (do not edit: these must stay identical to the seed) -----------------------

QUICK_START_ACTIVE = """\
SELECT * FROM profit_allocation_log WHERE status = 'active';
"""

CURRENT_ALLOCATION = """\
-- Current allocation
SELECT reinvestment_pct, dao_pct, lucky_pct, creator_pct, reasoning
FROM profit_allocation_log
WHERE status = 'active'
ORDER BY effective_from DESC
LIMIT 1;
"""

PENDING_REVIEWS = """\
-- Pending reviews
SELECT id, reinvestment_pct, dao_pct, lucky_pct, creator_pct, reasoning, confidence
FROM profit_allocation_log
WHERE status = 'proposed'
ORDER BY timestamp DESC;
"""

RECENT_CHANGES = """\
-- Recent changes
SELECT 
  timestamp,
  reinvestment_pct || '/' || dao_pct || '/' || lucky_pct || '/' || creator_pct as split,
  reasoning,
  proposed_by
FROM profit_allocation_log
WHERE status IN ('active', 'rejected')
ORDER BY timestamp DESC
LIMIT 10;
"""

AI_SUGGESTION_QUALITY = """\
-- AI suggestion quality
SELECT 
  AVG(confidence) as avg_confidence,
  COUNT(*) FILTER (WHERE status = 'active') as approved,
  COUNT(*) FILTER (WHERE status = 'rejected') as rejected,
  COUNT(*) FILTER (WHERE status = 'proposed') as pending
FROM profit_allocation_log
WHERE proposed_by = 'ai'
  AND timestamp > now() - interval '30 days';
"""

ALLOCATION_HISTORY = """\
-- Last 30 days of allocations
SELECT 
  DATE(effective_from) as date,
  reinvestment_pct || '/' || dao_pct || '/' || lucky_pct || '/' || creator_pct as split,
  proposed_by,
  reasoning
FROM profit_allocation_log
WHERE status = 'active'
  AND effective_from > now() - interval '30 days'
ORDER BY effective_from DESC;
"""

WEEKLY_REPORT = """\
  -- Your report generation query
  INSERT INTO protocol_activity (activity_type, description, metadata)
  SELECT 
    'weekly_allocation_report',
    'Weekly allocation analysis',
    jsonb_build_object(
      'active_split', (SELECT row_to_json(t) FROM (
        SELECT reinvestment_pct, dao_pct, lucky_pct, creator_pct
        FROM profit_allocation_log WHERE status = 'active' LIMIT 1
      ) t),
      'proposals_count', (SELECT COUNT(*) FROM profit_allocation_log 
        WHERE timestamp > now() - interval '7 days'),
      'avg_confidence', (SELECT AVG(confidence) FROM profit_allocation_log 
        WHERE timestamp > now() - interval '7 days')
    );
"""



def rows(db: Database, sql: str) -> list[sa.Row]:
    # exec_driver_sql: the text goes to the driver exactly as written (no bind-parameter parsing).
    with db.engine.begin() as conn:
        result = conn.exec_driver_sql(sql)
        return list(result) if result.returns_rows else []


def file(db: Database, split, reasoning: str, confidence: str, proposed_by: str = "ai") -> str:
    proposal = ProposalInput(*split, reasoning, Decimal(confidence), proposed_by)
    if proposed_by == "manual":
        return propose_allocation(db, proposal, by="rebalancer").proposal_id
    return file_as_rebalancer(db, proposal, by="rebalancer")  # the labels only its runs give


def make_history(db: Database) -> dict[str, str]:
    """The default, then: an AI proposal approved, one rejected, one pending, a manual one pending."""
    ids = {"default": get_current_allocation(db).id}
    ids["approved"] = file(db, (70, 18, 8, 4), "Strong community growth", "0.85")
    ids["rejected"] = file(db, (65, 15, 12, 8), "Explosive growth detected", "0.6")
    review_proposal(db, ids["approved"], "approved", by="governor", notes="Metrics support this")
    review_proposal(db, ids["rejected"], "rejected", by="governor", notes="Too fast")
    ids["pending_ai"] = file(db, ("72.5", "17.5", 6, 4), "Activity declining", "0.92")
    ids["pending_manual"] = file(db, (75, 15, 6, 4), "Manual adjustment for Q1 strategy", "1",
                                 proposed_by="manual")
    return ids


@pytest.fixture
def history(db: Database) -> dict[str, str]:
    return make_history(db)


@pytest.fixture
def pg_history(pg_db: Database) -> dict[str, str]:
    return make_history(pg_db)


def hex_id(value: object) -> str:
    """Ids compare as 32 hex digits: SQLite stores them without dashes."""
    return str(value).replace("-", "")


# --- portable: both engines --------------------------------------------------------------------

def test_the_quick_start_query_shows_the_one_current_default(db):
    [row] = rows(db, QUICK_START_ACTIVE)
    assert (row.reinvestment_pct, row.dao_pct, row.lucky_pct, row.creator_pct) == (80, 15, 3, 2)
    assert row.proposed_by == "system" and row.effective_until is None


def test_the_current_allocation_query_returns_the_approved_split(db, history):
    [row] = rows(db, CURRENT_ALLOCATION)
    assert tuple(row) == (70, 18, 8, 4, "Strong community growth")


def test_the_pending_reviews_query_lists_open_proposals_newest_first(db, history):
    found = rows(db, PENDING_REVIEWS)
    assert [hex_id(r.id) for r in found] == [hex_id(history["pending_manual"]),
                                             hex_id(history["pending_ai"])]
    assert [(r.reinvestment_pct, r.dao_pct, r.lucky_pct, r.creator_pct) for r in found] == [
        (75, 15, 6, 4), (Decimal("72.5"), Decimal("17.5"), 6, 4)]
    assert [r.reasoning for r in found] == ["Manual adjustment for Q1 strategy", "Activity declining"]
    assert [Decimal(str(r.confidence)) for r in found] == [1, Decimal("0.92")]


# --- PostgreSQL (interval, FILTER, ||, jsonb: the seed's dialect) ------------------------------

def test_the_recent_changes_query_shows_decided_rows_newest_first_on_postgresql(pg_db, pg_history):
    found = rows(pg_db, RECENT_CHANGES)
    assert [(r.split, r.reasoning, r.proposed_by) for r in found] == [
        ("65.00/15.00/12.00/8.00", "Explosive growth detected", "ai"),
        ("70.00/18.00/8.00/4.00", "Strong community growth", "ai"),
        ("80.00/15.00/3.00/2.00", DEFAULT_REASONING, "system"),
    ]
    assert found[0].timestamp > found[1].timestamp > found[2].timestamp


def test_the_ai_suggestion_quality_query_counts_ai_proposals_by_outcome_on_postgresql(pg_db, pg_history):
    [row] = rows(pg_db, AI_SUGGESTION_QUALITY)
    assert (row.approved, row.rejected, row.pending) == (1, 1, 1)
    assert row.avg_confidence == (Decimal("0.85") + Decimal("0.6") + Decimal("0.92")) / 3


def test_the_ai_suggestion_quality_query_on_a_log_without_ai_proposals_counts_zero_on_postgresql(pg_db):
    [row] = rows(pg_db, AI_SUGGESTION_QUALITY)
    assert (row.avg_confidence, row.approved, row.rejected, row.pending) == (None, 0, 0, 0)


def test_the_allocation_history_query_lists_the_active_periods_of_the_last_30_days_on_postgresql(pg_db, pg_history):
    found = rows(pg_db, ALLOCATION_HISTORY)
    today = datetime.now(UTC).date()
    assert [(r.split, r.proposed_by) for r in found] == [("70.00/18.00/8.00/4.00", "ai"),
                                                         ("80.00/15.00/3.00/2.00", "system")]
    assert found[0].reasoning == "Strong community growth"
    # DATE() of a timestamptz is taken in the session's time zone; the server runs in UTC.
    assert all(abs((r.date - today).days) <= 1 for r in found)


def test_the_weekly_report_insert_writes_one_activity_row_with_the_summary_on_postgresql(pg_db, pg_history):
    with pg_db.engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT count(*) FROM protocol_activity"))
    rows(pg_db, WEEKLY_REPORT)
    with pg_db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM protocol_activity")) == before + 1
        report = conn.execute(sa.text(
            "SELECT id, timestamp, description, metadata FROM protocol_activity "
            "WHERE activity_type = 'weekly_allocation_report'")).one()
    assert report.id is not None and report.timestamp is not None  # server defaults filled in
    assert report.description == "Weekly allocation analysis"
    meta = report.metadata
    assert meta["proposals_count"] == 5  # the seeded default and the four filed this week
    assert Decimal(str(meta["avg_confidence"])).quantize(Decimal("0.0001")) == Decimal("0.8740")
    # The seed picks any active row (LIMIT 1 with no order): one of the two active splits.
    assert meta["active_split"] in ({"reinvestment_pct": 70, "dao_pct": 18, "lucky_pct": 8,
                                     "creator_pct": 4},
                                    {"reinvestment_pct": 80, "dao_pct": 15, "lucky_pct": 3,
                                     "creator_pct": 2})

