"""The manage-profits ledger: one row per distribution, with the split in force, idempotent by key."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.split import Split
from core.allocation.validation import ProposalInput
from core.base.errors import Refused, ValidationFailed
from core.proposals.distribution import amounts_for, distribute, list_distributions
from core.proposals.lifecycle import propose_allocation, review_proposal
from db.engine import Database
from db.models import ProfitDistribution

TABLES = ("profit_distributions", "protocol_activity", "profit_allocation_log")

def _no_cap(db) -> None:
    """Turn the default `max_distribution` off (open mode: any operator may), once."""
    from core.governance.policy_store import get_policy, set_policy

    if get_policy(db).max_distribution is not None:
        set_policy(db, "max_distribution", "off", by="operator")



def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def stored(db: Database) -> list[ProfitDistribution]:
    with db.sessions() as session:
        return list(session.scalars(sa.select(ProfitDistribution)))


def activate(db: Database, split: tuple) -> str:
    proposal_id = propose_allocation(db, ProposalInput(*split, "new split"), by="alice").proposal_id
    review_proposal(db, proposal_id, "approved", by="bob")
    return proposal_id


def test_a_distribution_records_one_row_with_the_split_in_force(db):
    current = get_current_allocation(db)
    before = counts(db)
    record = distribute(db, "1000.03", "2026-W01", by="dave")
    assert record.created is True
    assert counts(db)["profit_distributions"] == before["profit_distributions"] + 1
    assert counts(db)["protocol_activity"] == before["protocol_activity"] + 1
    [row] = stored(db)
    assert str(row.id) == record.id
    assert row.idempotency_key == "2026-W01"
    assert str(row.allocation_id) == current.id
    assert Split(row.reinvestment_pct, row.dao_pct, row.lucky_pct, row.creator_pct) == current.split
    assert row.total == Decimal("1000.03")
    assert (row.reinvestment_amount, row.dao_amount, row.lucky_amount, row.creator_amount) == (
        Decimal("800.02"), Decimal("150.01"), Decimal("30.00"), Decimal("20.00"))
    assert row.created_by == "dave"


def test_a_distribution_after_an_approval_uses_the_new_split(db):
    first = distribute(db, "100", "before")
    new_id = activate(db, (70, 18, 8, 4))
    second = distribute(db, "100", "after")
    assert first.allocation_id != new_id
    assert second.allocation_id == new_id
    assert second.amounts.as_json() == {"reinvestment": "70.00", "dao": "18.00", "lucky": "8.00",
                                        "creator": "4.00"}
    rows = {r.idempotency_key: r for r in stored(db)}
    assert (rows["before"].reinvestment_pct, rows["after"].reinvestment_pct) == (80, 70)


def test_the_same_key_and_total_again_returns_the_first_record_and_writes_nothing(db):
    first = distribute(db, "1000.03", "run-7")
    before = counts(db)
    again = distribute(db, "1000.03", "run-7")
    assert again.created is False
    assert (again.id, again.total, again.amounts, again.allocation_id, again.created_at) == (
        first.id, first.total, first.amounts, first.allocation_id, first.created_at)
    assert counts(db) == before


def test_the_same_key_returns_the_first_record_even_after_the_split_changed(db):
    first = distribute(db, "500", "run-8")
    activate(db, (70, 18, 8, 4))
    before = counts(db)
    again = distribute(db, "500.00", "run-8")  # the same total, written differently
    assert (again.created, again.id, again.allocation_id) == (False, first.id, first.allocation_id)
    assert again.amounts.reinvestment == Decimal("400.00")
    assert counts(db) == before


def test_the_same_key_with_another_total_is_refused_and_writes_nothing(db):
    distribute(db, "1000.03", "run-9")
    before = counts(db)
    with pytest.raises(Refused) as refused:
        distribute(db, "1000.04", "run-9")
    assert refused.value.problems == [
        "key: 'run-9' was already used for a distribution of 1,000.03, not 1,000.04"]
    assert counts(db) == before


@pytest.mark.parametrize("profit, key, field", [
    ("-1", "k", "profit"), ("nan", "k", "profit"), ("1.001", "k", "profit"),
    ("ten", "k", "profit"), ("0", "k", "profit"), ("-0", "k", "profit"), ("10", "", "key"), ("10", "   ", "key"), ("10", "k" * 201, "key"),
])
def test_a_bad_total_or_key_is_refused_and_writes_nothing(db, profit, key, field):
    before = counts(db)
    with pytest.raises(ValidationFailed) as refused:
        distribute(db, profit, key)
    assert refused.value.problems[0].startswith(f"{field}: ")
    assert counts(db) == before


@pytest.mark.parametrize("total, expected", [
    ("0.01", ("0.01", "0.00", "0.00", "0.00")),
    ("333.33", ("266.66", "50.00", "10.00", "6.67")),
    ("999999999999999999.99", None),  # 18 digits before the point, the most the ledger holds
])
def test_amounts_are_stored_and_read_back_exactly(db, total, expected):
    _no_cap(db)  # totals past the default max_distribution, on purpose
    record = distribute(db, total, f"exact-{total}")
    [row] = stored(db)
    parts = (row.reinvestment_amount, row.dao_amount, row.lucky_amount, row.creator_amount)
    assert row.total == Decimal(total)
    assert sum(parts) == row.total
    assert all(p >= 0 for p in parts)
    if expected is not None:
        assert tuple(str(p) for p in parts) == expected
    assert record.amounts.as_json() == {b: str(p) for b, p in
                                        zip(("reinvestment", "dao", "lucky", "creator"), parts)}


def test_a_total_above_ten_to_the_fifteen_with_an_uneven_split_is_exact(db):
    _no_cap(db)  # totals past the default max_distribution, on purpose
    activate(db, ("66.67", "16.66", "11.33", "5.34"))
    record = distribute(db, 10**15 + Decimal("0.07"), "big")
    [row] = stored(db)
    assert row.total == Decimal("1000000000000000.07")
    # Floors leave 2 cents; they go to the largest remainders (lucky, then reinvestment).
    assert (row.reinvestment_amount, row.dao_amount, row.lucky_amount, row.creator_amount) == (
        Decimal("666700000000000.05"), Decimal("166600000000000.01"),
        Decimal("113300000000000.01"), Decimal("53400000000000.00"))
    assert record.amounts.total == row.total


def test_amounts_for_a_profit_match_what_a_distribution_records(db):
    parts, current = amounts_for(db, "1234.56")
    record = distribute(db, "1234.56", "compare")
    assert record.amounts == parts
    assert record.allocation_id == current.id


def test_distributions_are_listed_newest_first(db):
    for key in ("a", "b", "c"):
        distribute(db, "10", key)
    assert [d.key for d in list_distributions(db)] == ["c", "b", "a"]
