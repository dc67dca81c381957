"""The seed's AllocationManager on both engines: the current split, proposals, reviews, history."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.policy import Policy
from core.allocation.split import Split
from core.allocation.validation import ProposalInput, validate_proposal
from core.base.errors import NotFound, Refused, ValidationFailed
from core.database import DEFAULT_REASONING, upgrade_database
from core.proposals.distribution import distribute
from core.proposals.lifecycle import (get_allocation_history, get_pending_proposals, get_proposal,
                                      propose_allocation, review_proposal)
from core.record.activity import list_activity
from db import migrate
from tests.integration.state import file_as_rebalancer
from db.engine import Database
from db.models import AllocationLog

TABLES = ("profit_allocation_log", "protocol_activity", "proposal_reviews", "profit_distributions")


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def activity_types(db: Database) -> list[str]:
    return [a.activity_type for a in list_activity(db, limit=1000)]


def file(db: Database, split=(70, 18, 8, 4), by: str = "alice", **fields) -> str:
    fields.setdefault("reasoning", "Strong community growth (+45%)")
    fields.setdefault("confidence", Decimal("0.85"))
    fields.setdefault("proposed_by", "ai")
    fields.setdefault("input_metrics", {"growth_rate_pct": 45})
    if fields["proposed_by"] == "manual":
        return propose_allocation(db, ProposalInput(*split, **fields), by=by).proposal_id
    return file_as_rebalancer(db, ProposalInput(*split, **fields), by=by)


def current_rows(db: Database) -> list[AllocationLog]:
    with db.sessions() as session:
        return list(session.scalars(sa.select(AllocationLog).where(
            AllocationLog.status == "active", AllocationLog.effective_until.is_(None))))


@pytest.fixture
def empty_db(blank_db: Database) -> Database:
    """A database at head whose allocation log has no row at all (migrations only, no seed)."""
    migrate.upgrade(blank_db)
    return blank_db


# --- the current allocation --------------------------------------------------------------------

def test_a_new_database_has_the_default_split_active_and_valid(db):
    current = get_current_allocation(db)
    assert current.source == "database"
    assert current.split == Split.of(80, 15, 3, 2)
    assert current.id is not None and current.effective_from is not None
    [row] = get_allocation_history(db)
    assert row.id == current.id
    assert (row.status, row.proposed_by, row.effective_until) == ("active", "system", None)
    assert row.reasoning == DEFAULT_REASONING
    assert validate_proposal(ProposalInput(*[v for _, v in row.split.items()], row.reasoning,
                                           row.confidence, row.proposed_by),
                             policy=Policy()).errors == []
    [seeded] = list_activity(db)
    assert seeded.activity_type == "allocation_activated"
    assert seeded.metadata["allocation_id"] == current.id


def test_the_current_allocation_falls_back_to_the_built_in_default_without_an_active_row(empty_db):
    assert counts(empty_db)["profit_allocation_log"] == 0
    current = get_current_allocation(empty_db)
    assert current.source == "default"
    assert current.split == Split.of(80, 15, 3, 2)
    assert current.id is None and current.effective_from is None


def test_the_default_split_is_seeded_once_into_an_empty_log(empty_db):
    assert upgrade_database(empty_db).seeded_default is True
    assert get_current_allocation(empty_db).source == "database"
    assert upgrade_database(empty_db).seeded_default is False
    assert counts(empty_db)["profit_allocation_log"] == 1


def test_a_log_with_only_a_rejected_proposal_still_falls_back_to_the_default(empty_db):
    proposal_id = file(empty_db)
    review_proposal(empty_db, proposal_id, "rejected", by="bob")
    assert get_current_allocation(empty_db).source == "default"


def test_approving_the_first_proposal_on_an_empty_log_makes_it_current(empty_db):
    proposal_id = file(empty_db)
    review_proposal(empty_db, proposal_id, "approved", by="bob")
    current = get_current_allocation(empty_db)
    assert (current.source, current.id, current.split) == ("database", proposal_id,
                                                           Split.of(70, 18, 8, 4))


# --- proposals ---------------------------------------------------------------------------------

def test_a_valid_proposal_is_filed_as_proposed_with_everything_it_was_given(db):
    live = get_current_allocation(db)
    proposal_id = file(db, (75, 15, 6, 4), reasoning="Manual adjustment for Q1 strategy",
                       confidence=1, proposed_by="manual", input_metrics={"manual": True})
    row = get_proposal(db, proposal_id)
    assert row.split == Split.of(75, 15, 6, 4)
    assert row.status == "proposed"
    assert row.reasoning == "Manual adjustment for Q1 strategy"
    assert row.confidence == 1
    assert row.proposed_by == "manual" and row.proposer_username == "alice"
    assert row.input_metrics == {"manual": True}
    assert row.based_on_id == live.id
    assert row.effective_from is None and row.effective_until is None and row.reviewed_by is None
    assert get_current_allocation(db).id == live.id  # nothing changes until it is reviewed


def test_a_proposal_with_fractional_percentages_keeps_them_exactly(db):
    proposal_id = file(db, ("70.25", "18.5", "7.24", "4.01"))
    assert get_proposal(db, proposal_id).split == Split.of("70.25", "18.5", "7.24", "4.01")


def test_filing_a_proposal_returns_its_warnings(db):
    result = propose_allocation(db, ProposalInput(64, 20, 10, 6, "Big move", "0.3"), by="alice")
    assert any(w.startswith("confidence: 0.3 is below 0.5") for w in result.warnings)
    assert any(w.startswith("reinvestment: moves 16 points") for w in result.warnings)
    assert get_proposal(db, result.proposal_id).status == "proposed"


BAD_PROPOSALS = {
    "sum_not_100": ((80, 15, 3, 3), {}, "total"),
    "reinvestment_over_90": ((91, 5, 2, 2), {}, "reinvestment"),
    "reinvestment_under_40": ((39, 30, 15, 16), {}, "reinvestment"),
    "dao_over_30": ((55, 31, 10, 4), {}, "dao"),
    "dao_under_5": ((85, 4, 8, 3), {}, "dao"),
    "lucky_over_15": ((70, 10, 16, 4), {}, "lucky"),
    "lucky_under_1": ((80, 15, "0.5", "4.5"), {}, "lucky"),
    "creator_over_10": ((70, 15, 4, 11), {}, "creator"),
    "creator_under_1": ((80, 16, 3.5, "0.5"), {}, "creator"),
    "nan": ((float("nan"), 15, 3, 2), {}, "reinvestment"),
    "infinity": (("Infinity", 15, 3, 2), {}, "reinvestment"),
    "text": (("eighty", 15, 3, 2), {}, "reinvestment"),
    "three_places": ((80, "14.995", "3.005", 2), {}, "dao"),
    "confidence_over_1": ((70, 18, 8, 4), {"confidence": "1.5"}, "confidence"),
    "confidence_negative": ((70, 18, 8, 4), {"confidence": -0.1}, "confidence"),
    "confidence_nan": ((70, 18, 8, 4), {"confidence": "nan"}, "confidence"),
    "empty_reasoning": ((70, 18, 8, 4), {"reasoning": "   "}, "reasoning"),
    "unknown_proposer": ((70, 18, 8, 4), {"proposed_by": "oracle"}, "proposed_by"),
}


@pytest.mark.parametrize("kind", BAD_PROPOSALS)
def test_a_refused_proposal_writes_nothing(db, kind):
    split, fields, field = BAD_PROPOSALS[kind]
    before = counts(db)
    with pytest.raises(ValidationFailed) as refused:
        file(db, split, **fields)
    assert any(p.startswith(f"{field}: ") for p in refused.value.problems), refused.value.problems
    assert counts(db) == before


# --- reviews -----------------------------------------------------------------------------------

def test_rejecting_a_proposal_records_the_reviewer_the_time_and_the_notes(db):
    live = get_current_allocation(db)
    proposal_id = file(db)
    outcome = review_proposal(db, proposal_id, "rejected", by="bob", notes="  Not yet  ")
    assert outcome.status == "rejected"
    row = get_proposal(db, proposal_id)
    assert row.status == "rejected"
    assert row.reviewed_by == "bob"
    assert row.reviewed_at is not None and row.reviewed_at >= row.timestamp
    assert row.review_notes == "Not yet"
    assert row.effective_from is None and row.effective_until is None
    assert get_current_allocation(db).id == live.id
    assert activity_types(db)[0] == "allocation_rejected"


def test_approving_a_proposal_closes_the_previous_period(db):
    previous = get_current_allocation(db)
    proposal_id = file(db)
    outcome = review_proposal(db, proposal_id, "approved", by="bob", notes="Metrics support this")
    assert outcome.status == "active"
    new = get_proposal(db, proposal_id)
    old = get_proposal(db, previous.id)
    assert new.status == "active" and new.effective_from is not None
    assert new.effective_until is None
    assert (new.reviewed_by, new.review_notes) == ("bob", "Metrics support this")
    assert new.reviewed_at == new.effective_from
    assert old.status == "active"
    assert old.effective_until == new.effective_from
    assert [str(r.id) for r in current_rows(db)] == [proposal_id]
    current = get_current_allocation(db)
    assert (current.id, current.split, current.source) == (proposal_id, Split.of(70, 18, 8, 4),
                                                           "database")


@pytest.mark.parametrize("decision", ["approved", "rejected"])
@pytest.mark.parametrize("first", ["approved", "rejected"])
def test_a_proposal_that_is_no_longer_pending_cannot_be_reviewed(db, first, decision):
    proposal_id = file(db)
    review_proposal(db, proposal_id, first, by="bob")
    status = "active" if first == "approved" else "rejected"
    before = counts(db)
    with pytest.raises(Refused, match=f"is {status}; only proposed ones can be reviewed"):
        review_proposal(db, proposal_id, decision, by="carol")
    assert counts(db) == before
    assert get_proposal(db, proposal_id).status == status


def test_the_seeded_default_row_cannot_be_reviewed(db):
    with pytest.raises(Refused):
        review_proposal(db, get_current_allocation(db).id, "rejected", by="bob")


@pytest.mark.parametrize("proposal_id", [str(uuid.uuid4()), "not-a-uuid", ""])
def test_reviewing_an_unknown_proposal_is_not_found(db, proposal_id):
    before = counts(db)
    with pytest.raises(NotFound):
        review_proposal(db, proposal_id, "approved", by="bob")
    assert counts(db) == before


def test_a_decision_other_than_approved_or_rejected_is_refused(db):
    proposal_id = file(db)
    before = counts(db)
    with pytest.raises(ValidationFailed, match="decision: 'maybe'"):
        review_proposal(db, proposal_id, "maybe", by="bob")
    assert counts(db) == before and get_proposal(db, proposal_id).status == "proposed"


def test_the_proposer_cannot_review_their_own_proposal(db):
    proposal_id = file(db, by="alice")
    before = counts(db)
    with pytest.raises(Refused, match="four-eyes"):
        review_proposal(db, proposal_id, "approved", by="alice")
    assert counts(db) == before


def test_an_old_proposal_that_moves_too_far_from_the_new_live_split_is_refused_on_approval(db):
    # All four are filed against 80/15/3/2 and are within 15 points of it.
    near = file(db, (70, 18, 8, 4))
    far = file(db, (85, 5, 6, 4))  # 15 points from 70/18/8/4: exactly the limit
    later = file(db, (80, 5, 11, 4))
    too_far = file(db, (88, 5, 3, 4))  # reinvestment 70 -> 88 is 18 points
    review_proposal(db, near, "approved", by="bob")
    before = counts(db)
    with pytest.raises(Refused, match="reinvestment: moves 18 points"):
        review_proposal(db, too_far, "approved", by="bob")
    assert counts(db) == before
    assert get_current_allocation(db).id == near
    review_proposal(db, far, "approved", by="bob")
    review_proposal(db, later, "approved", by="bob")
    assert get_current_allocation(db).id == later


def test_pending_proposals_are_listed_newest_first_and_reviewed_ones_leave_the_list(db):
    first = file(db, (70, 18, 8, 4))
    second = file(db, (75, 15, 6, 4))
    third = file(db, (72, 16, 8, 4))
    assert [p.record.id for p in get_pending_proposals(db)] == [third, second, first]
    review_proposal(db, second, "rejected", by="bob")
    review_proposal(db, third, "approved", by="bob")
    assert [p.record.id for p in get_pending_proposals(db)] == [first]


# --- history and transparency --------------------------------------------------------------------

def test_history_keeps_every_proposal_and_every_replaced_split(db):
    seeded = get_current_allocation(db).id
    a = file(db, (70, 18, 8, 4), reasoning="A")
    review_proposal(db, a, "approved", by="bob")
    b = file(db, (60, 20, 12, 8), reasoning="B")
    review_proposal(db, b, "rejected", by="bob", notes="too generous")
    c = file(db, (65, 15, 12, 8), reasoning="C")
    review_proposal(db, c, "approved", by="bob")
    d = file(db, (66, 15, 11, 8), reasoning="D")

    history = get_allocation_history(db)
    assert [r.id for r in history] == [d, c, b, a, seeded]
    by_id = {r.id: r for r in history}
    assert [by_id[x].split.label() for x in (seeded, a, b, c, d)] == [
        "80/15/3/2", "70/18/8/4", "60/20/12/8", "65/15/12/8", "66/15/11/8"]
    assert [by_id[x].status for x in (seeded, a, b, c, d)] == [
        "active", "active", "rejected", "active", "proposed"]
    assert [by_id[x].reasoning for x in (a, b, c, d)] == ["A", "B", "C", "D"]
    # The active periods chain without gap or overlap; only the last is open.
    assert by_id[seeded].effective_until == by_id[a].effective_from
    assert by_id[a].effective_until == by_id[c].effective_from
    assert by_id[c].effective_until is None
    assert [r.id for r in history if r.is_current] == [c]
    assert [r.id for r in get_allocation_history(db, limit=2)] == [d, c]


def test_every_proposal_review_activation_and_distribution_is_logged_to_protocol_activity(db):
    before = activity_types(db)
    a = file(db, (70, 18, 8, 4))
    b = file(db, (75, 15, 6, 4))
    review_proposal(db, b, "rejected", by="bob", notes="no")
    review_proposal(db, a, "approved", by="carol", notes="yes")
    distribute(db, "1000.03", "run-1", by="dave")

    everything = list_activity(db, limit=100)
    entries = everything[: len(everything) - len(before)]
    assert [e.activity_type for e in everything[len(entries):]] == before
    logged = Counter(e.activity_type for e in entries)
    # At least these; a finer story (e.g. each approval recorded) is welcome.
    assert logged["allocation_proposed"] == 2
    assert logged["allocation_rejected"] == 1
    assert logged["allocation_approved"] == 1
    assert logged["allocation_activated"] == 1
    assert logged["profit_distributed"] == 1
    meta = {e.activity_type: e.metadata for e in entries}
    assert {e.metadata["proposal_id"] for e in entries
            if e.activity_type == "allocation_proposed"} == {a, b}
    assert {k: meta["allocation_rejected"][k] for k in ("proposal_id", "by", "notes")} == {
        "proposal_id": b, "by": "bob", "notes": "no"}
    assert meta["allocation_approved"]["proposal_id"] == a
    assert meta["allocation_activated"]["allocation_id"] == a
    assert meta["allocation_activated"]["split"] == {"reinvestment": 70, "dao": 18, "lucky": 8,
                                                     "creator": 4}
    assert meta["allocation_activated"]["previous_split"] == {"reinvestment": 80, "dao": 15,
                                                              "lucky": 3, "creator": 2}
    assert meta["profit_distributed"]["allocation_id"] == a
    assert meta["profit_distributed"]["amounts"] == {"reinvestment": "700.02", "dao": "180.01",
                                                     "lucky": "80.00", "creator": "40.00"}
