"""Demo data: deterministic, realistic, one transaction, a contiguous allocation timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.allocation.policy import Policy
from core.allocation.validation import ProposalInput, validate_proposal
from core.base.errors import Refused, ValidationFailed
from core.database import upgrade_database
from core.platform_data.demo import generate_demo_data, has_platform_data
from core.platform_data.queries import (allocation_periods, compare_performance,
                                        distribution_totals_over_time)
from core.proposals.lifecycle import propose_allocation
from core.record.activity import list_activity
from db.engine import open_database
from db.models import (AllocationLog, EngagementDaily, ProfitDistribution, ProposalReview,
                       ProtocolActivity, Token, TreasurySnapshot)

NOW = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC)
SMALL = {"days": 60, "tokens": 1500}
TABLES = {"tokens": Token, "engagement_daily": EngagementDaily,
          "dao_treasury_snapshots": TreasurySnapshot, "profit_allocation_log": AllocationLog,
          "proposal_reviews": ProposalReview, "profit_distributions": ProfitDistribution,
          "protocol_activity": ProtocolActivity}


def rows_in(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def fingerprint(db) -> tuple:
    """Everything the seed decides about tokens, engagement and treasury, summarised in SQL."""
    with db.sessions() as session:
        tokens = session.execute(sa.select(
            sa.func.count(), sa.func.sum(Token.price), sa.func.sum(Token.volume_24h),
            sa.func.min(Token.symbol), sa.func.max(Token.name), sa.func.min(Token.created_at),
            sa.func.max(Token.created_at))).one()
        engagement = session.execute(sa.select(EngagementDaily.day, EngagementDaily.page_views)
                                     .order_by(EngagementDaily.day)).all()
        treasury = session.execute(sa.select(TreasurySnapshot.balance_usd)
                                   .order_by(TreasurySnapshot.at)).scalars().all()
    return (tuple(tokens[:1]) + tuple(round(v, 6) for v in tokens[1:3]) + tuple(tokens[3:]),
            tuple(engagement), tuple(treasury))


def test_demo_data_fills_every_table_and_reports_the_counts(db):
    assert not has_platform_data(db)
    before = {name: rows_in(db, model) for name, model in TABLES.items()}
    counts = generate_demo_data(db, now=NOW, **SMALL)
    assert has_platform_data(db)
    assert counts["tokens"] == 1500 and counts["engagement_daily"] == 60
    for name, model in TABLES.items():
        assert rows_in(db, model) - before[name] == counts[name], name
    assert counts["profit_allocation_log"] == 9 and counts["profit_distributions"] > 5
    loaded = list_activity(db, limit=1, activity_type="demo_data_loaded")[0]
    assert loaded.metadata["counts"] == counts and loaded.metadata["seed"] == 7


def test_the_same_seed_gives_the_same_data(tmp_path):
    prints = []
    for name in ("a", "b"):
        db = open_database(f"sqlite:///{tmp_path / name}.db")
        upgrade_database(db)
        generate_demo_data(db, seed=11, now=NOW, **SMALL)
        prints.append(fingerprint(db))
        db.engine.dispose()
    assert prints[0] == prints[1]


def test_another_seed_gives_other_data(tmp_path):
    prints = []
    for seed in (1, 2):
        db = open_database(f"sqlite:///{tmp_path / str(seed)}.db")
        upgrade_database(db)
        generate_demo_data(db, seed=seed, now=NOW, **SMALL)
        prints.append(fingerprint(db))
        db.engine.dispose()
    assert prints[0] != prints[1]


def test_the_allocation_timeline_is_contiguous_and_ends_with_the_seeded_split(db):
    seeded = allocation_periods(db)[0]
    generate_demo_data(db, now=NOW, **SMALL)
    periods = allocation_periods(db)
    assert periods[0]["effective_from"] == NOW - timedelta(days=60)
    for earlier, later in zip(periods, periods[1:]):
        assert earlier["effective_until"] == later["effective_from"]
    assert periods[-1]["allocation_id"] == seeded["allocation_id"] and periods[-1]["is_current"]
    assert [p["split"] for p in periods] == ["80/15/3/2", "75/15/6/4", "65/15/12/8", "80/12/5/3",
                                             "77/14/6/3", "80/15/3/2"]


def test_the_history_has_rejections_an_expiry_and_one_proposal_pending(db):
    generate_demo_data(db, now=NOW, **SMALL)
    with db.sessions() as session:
        statuses = dict(session.execute(sa.select(AllocationLog.status, sa.func.count())
                                        .group_by(AllocationLog.status)).all())
        pending = session.scalars(sa.select(AllocationLog).where(AllocationLog.status == "proposed")).one()
    assert statuses == {"active": 6, "rejected": 2, "expired": 1, "proposed": 1}
    assert pending.proposed_by == "ai" and 0 < pending.confidence < 1


def test_every_demo_proposal_is_a_valid_one(db):
    generate_demo_data(db, now=NOW, **SMALL)
    with db.sessions() as session:
        rows = session.scalars(sa.select(AllocationLog)).all()
    for row in rows:
        result = validate_proposal(ProposalInput(row.reinvestment_pct, row.dao_pct, row.lucky_pct,
                                                 row.creator_pct, row.reasoning, row.confidence,
                                                 row.proposed_by), policy=Policy())
        assert result.valid, result.errors


def test_every_token_falls_in_exactly_one_allocation_period(db):
    generate_demo_data(db, now=NOW, **SMALL)
    assert sum(r["tokens_launched"] for r in compare_performance(db)) == 1500


def test_distributions_follow_the_split_in_force(db):
    generate_demo_data(db, now=NOW, **SMALL)
    periods = allocation_periods(db)
    with db.sessions() as session:
        runs = session.scalars(sa.select(ProfitDistribution)).all()
    for run in runs:
        period = next(p for p in periods if p["effective_from"] <= run.created_at < p["end"])
        assert str(run.allocation_id) == period["allocation_id"]
        assert run.reinvestment_amount + run.dao_amount + run.lucky_amount + run.creator_amount \
            == run.total
    assert distribution_totals_over_time(db)[-1]["cumulative_total"] == sum(r.total for r in runs)


def test_engagement_grows_peaks_and_falls(db):
    generate_demo_data(db, now=NOW, days=120, tokens=0)
    with db.sessions() as session:
        wallets = session.scalars(sa.select(EngagementDaily.wallet_connections)
                                  .order_by(EngagementDaily.day)).all()
    first, peak, downturn = (sum(wallets[a:b]) / (b - a) for a, b in ((0, 14), (60, 72), (90, 100)))
    assert first < downturn < peak
    assert wallets.index(max(wallets)) in range(48, 80)


def test_token_prices_spread_over_orders_of_magnitude(db):
    generate_demo_data(db, now=NOW, **SMALL)
    with db.sessions() as session:
        low, high = session.execute(sa.select(sa.func.min(Token.price), sa.func.max(Token.price))).one()
    assert 1e-5 <= low < 1e-3 and 1 < high <= 10


def test_demo_data_is_refused_once_the_platform_holds_data(db):
    generate_demo_data(db, now=NOW, **SMALL)
    with pytest.raises(Refused, match="already holds platform data"):
        generate_demo_data(db, now=NOW, **SMALL)
    assert rows_in(db, Token) == 1500


def test_a_log_with_real_proposals_keeps_its_history_untouched(db):
    propose_allocation(db, ProposalInput(75, 15, 6, 4, reasoning="a real one"), by="ann")
    counts = generate_demo_data(db, now=NOW, **SMALL)
    assert counts["profit_allocation_log"] == 0 and counts["profit_distributions"] == 0
    assert counts["tokens"] == 1500 and rows_in(db, AllocationLog) == 2


@pytest.mark.parametrize(("args", "problem"), [
    ({"days": 3}, "days: 3 is outside 14..3650"), ({"tokens": -1}, "tokens: -1 is outside")])
def test_impossible_sizes_are_refused(sqlite_db, args, problem):
    with pytest.raises(ValidationFailed, match=problem):
        generate_demo_data(sqlite_db, **args)


def test_the_demo_data_command_prints_counts_per_table(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "demo-data", "--days", "30", "--tokens",
                                      "100", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["tokens"] == 100 and counts["engagement_daily"] == 30


def token_indexes(db) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((i["name"], tuple(i["column_names"]))
                  for i in sa.inspect(db.engine).get_indexes("tokens"))


def test_the_demo_leaves_the_tokens_indexes_the_models_define_and_reads_use_them(db):
    generate_demo_data(db, now=NOW, **SMALL)
    assert token_indexes(db) == sorted((str(i.name), tuple(c.name for c in i.columns))
                                       for i in Token.__table__.indexes)
    if db.dialect == "sqlite":  # SQLite builds it after the rows: it must still be the one read
        with db.engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT count(*), sum(price) FROM tokens WHERE created_at >= ?",
                (str(NOW),)).all()
        assert "ix_tokens_created_at_price_volume" in str(plan)


def test_a_load_that_fails_midway_keeps_the_tokens_indexes(sqlite_db):
    from db import bulk

    before = token_indexes(sqlite_db)
    with pytest.raises(sa.exc.IntegrityError):
        with sqlite_db.engine.begin() as connection, bulk.token_indexes_built_after(connection):
            bulk.insert_sqlite_tokens(connection, [("A", "A", 1.0, 2.0, "2024-03-01 00:00:00.000000"),
                                                   ("B", "B", -1.0, 2.0, "2024-03-01 00:00:00.000000")])
    assert before and token_indexes(sqlite_db) == before
    assert rows_in(sqlite_db, Token) == 0
