"""Read-side queries on known data, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.platform_data.csv_import import import_csv
from core.platform_data.queries import (allocation_periods, compare_performance,
                                        distribution_totals_over_time, suggestion_quality,
                                        weekly_metric_series)
from core.governance.policy_store import set_policy
from core.proposals.distribution import distribute
from core.proposals.lifecycle import propose_allocation, review_proposal
from tests.integration.state import file_as_rebalancer

DAY = timedelta(days=1)
COMPARE_FIELDS = {"allocation_id", "split", "effective_from", "effective_until", "days",
                  "tokens_launched", "avg_price", "total_volume", "tokens_per_day", "volume_per_day"}


def activate(db, split: tuple[int, int, int, int], at: datetime) -> str:
    filed = propose_allocation(db, ProposalInput(*split, reasoning="test period"), by="ann")
    review_proposal(db, filed.proposal_id, "approved", by="bob", now=at)
    return filed.proposal_id


def load_tokens(db, tmp_path: Path, *tokens: tuple[datetime, float, float]) -> None:
    lines = ["symbol,name,price,volume_24h,created_at"]
    lines += [f"T{i},Token {i},{p},{v},{at.isoformat()}" for i, (at, p, v) in enumerate(tokens)]
    path = tmp_path / "tokens.csv"
    path.write_text("\n".join(lines) + "\n")
    # The periods lie ahead of the clock: the import's moment is after the last token.
    import_csv(db, "tokens", path, now=max(at for at, _, _ in tokens))


@pytest.fixture
def three_periods(db, tmp_path):
    """[t0, t1) 80/15/3/2, [t1, t2) 75/15/6/4, [t2, open) 70/18/8/4, tokens at known times."""
    t0 = get_current_allocation(db).effective_from
    t1, t2 = t0 + DAY, t0 + 3 * DAY
    activate(db, (75, 15, 6, 4), t1)
    activate(db, (70, 18, 8, 4), t2)
    load_tokens(db, tmp_path,
                (t0 - DAY, 99, 999),  # before any period
                (t0 + DAY / 2, 1, 10),
                (t1, 3, 30),  # exactly on the edge: the later period only
                (t1 + DAY, 5, 50),
                (t2 + timedelta(hours=1), 10, 100))
    return t0, t1, t2


def test_compare_counts_tokens_per_half_open_period(db, three_periods):
    t0, t1, t2 = three_periods
    rows = compare_performance(db, now=t2 + 2 * DAY)
    assert [(r["split"], r["days"], r["tokens_launched"], r["avg_price"], r["total_volume"],
             r["tokens_per_day"], r["volume_per_day"]) for r in rows] == [
        ("80/15/3/2", 1.0, 1, 1.0, 10.0, 1.0, 10.0),
        ("75/15/6/4", 2.0, 2, 4.0, 80.0, 1.0, 40.0),
        ("70/18/8/4", 2.0, 1, 10.0, 100.0, 0.5, 50.0),
    ]
    assert set(rows[0]) >= COMPARE_FIELDS
    assert rows[0]["effective_until"] == rows[1]["effective_from"] == t1.isoformat()
    assert rows[2]["effective_until"] is None


def test_a_token_on_a_period_edge_counts_once_in_the_later_period(db, three_periods):
    _, t1, t2 = three_periods
    rows = compare_performance(db, now=t2 + 2 * DAY)
    assert sum(r["tokens_launched"] for r in rows) == 4  # the one before every period is out
    assert rows[0]["tokens_launched"] == 1 and rows[1]["tokens_launched"] == 2


def test_compare_filters_and_clips_periods_to_the_window(db, three_periods):
    _, t1, t2 = three_periods
    rows = compare_performance(db, date_from=t1 + DAY / 2, date_to=t2 + DAY, now=t2 + 2 * DAY)
    assert [(r["split"], r["days"], r["tokens_launched"]) for r in rows] == [
        ("75/15/6/4", 1.5, 1), ("70/18/8/4", 1.0, 1)]
    assert rows[0]["window_from"] == (t1 + DAY / 2).isoformat()
    assert rows[0]["effective_from"] == t1.isoformat()


def test_a_period_without_tokens_has_no_average_and_zero_volume(db, tmp_path):
    t0 = get_current_allocation(db).effective_from
    rows = compare_performance(db, now=t0 + 2 * DAY)
    assert [(r["tokens_launched"], r["avg_price"], r["total_volume"], r["tokens_per_day"])
            for r in rows] == [(0, None, 0.0, 0.0)]


def test_allocation_periods_give_each_split_and_where_it_ends(db, three_periods):
    t0, t1, t2 = three_periods
    periods = allocation_periods(db, now=t2 + 2 * DAY)
    assert [(p["split"], p["effective_from"], p["end"], p["is_current"]) for p in periods] == [
        ("80/15/3/2", t0, t1, False), ("75/15/6/4", t1, t2, False),
        ("70/18/8/4", t2, t2 + 2 * DAY, True)]
    assert periods[1]["lucky"] == 6


def test_suggestion_quality_counts_ai_proposals_by_outcome(db):
    filed = [file_as_rebalancer(db, ProposalInput(*split, reasoning="ai", confidence=c,
                                                  proposed_by="ai"), by="ann")
             for split, c in (((75, 15, 6, 4), "0.8"), ((70, 15, 10, 5), "0.6"),
                              ((78, 12, 6, 4), "0.7"))]
    propose_allocation(db, ProposalInput(76, 14, 6, 4, reasoning="manual", confidence="0.1"), by="ann")
    review_proposal(db, filed[0], "approved", by="bob")
    review_proposal(db, filed[1], "rejected", by="bob")
    assert suggestion_quality(db, days=30) == {
        "days": 30, "proposals": 3, "avg_confidence": 0.7, "approved": 1, "rejected": 1,
        "pending": 1, "expired": 0}


def test_suggestion_quality_of_an_empty_window_has_no_average(db):
    assert suggestion_quality(db)["avg_confidence"] is None


def test_distribution_totals_are_exact_running_sums(db):
    set_policy(db, "max_distribution", "off", by=None)  # 18 digits: above the default cap
    distribute(db, "1000000000000000.01", "run-1")
    distribute(db, "1000000000000000.01", "run-2")
    days = distribution_totals_over_time(db)
    assert len(days) == 1
    day = days[0]
    assert day["distributions"] == 2
    assert day["cumulative_total"] == Decimal("2000000000000000.02")
    assert sum(day[f"cumulative_{b}"] for b in ("reinvestment", "dao", "lucky", "creator")) \
        == Decimal("2000000000000000.02")
    assert all(isinstance(day[k], Decimal) for k in ("reinvestment", "total"))


def test_the_metric_series_fills_missing_days_with_zeros(db, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("day,wallet_connections,trades_count,page_views\n"
                    "2024-06-10,5,6,7\n2024-06-12,1,2,3\n2024-06-15,9,9,9\n")
    import_csv(db, "engagement", path)
    series = weekly_metric_series(db, 5, now=datetime(2024, 6, 15, 8, tzinfo=UTC))
    assert [(s["day"], s["has_data"], s["wallet_connections"]) for s in series] == [
        (date(2024, 6, 10), True, 5), (date(2024, 6, 11), False, 0), (date(2024, 6, 12), True, 1),
        (date(2024, 6, 13), False, 0), (date(2024, 6, 14), False, 0)]


def test_the_compare_command_prints_the_contract_fields(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "compare", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and set(rows[0]) >= COMPARE_FIELDS
    assert rows[0]["split"] == "80/15/3/2"


def test_the_compare_command_refuses_a_bad_date(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "compare", "--from", "last week", "--json"])
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: from: 'last week' is not an ISO 8601 date (YYYY-MM-DD)"
