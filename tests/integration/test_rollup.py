"""The token activity roll-up equals the raw table after every kind of write, on both engines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from core.base.errors import ValidationFailed
from core.platform_data import rollup
from core.platform_data.csv_import import import_csv
from core.platform_data.demo import generate_demo_data
from db import migrate
from db.models import ProtocolActivity, Token, TokenActivityRollup
from db.rollup import EXACT

HEADER = "symbol,name,price,volume_24h,created_at"
BASE = datetime(2024, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=3)
# Instants on and next to the buckets' edges, where an off-by-one would show.
EDGES = [BASE + timedelta(days=d, hours=h, minutes=m) + timedelta(microseconds=e)
         for d in (0, 1, 2) for h in (0, 23) for m in (0, 59) for e in (-1, 0, 1)]

instants = st.one_of(
    st.sampled_from(EDGES),
    st.integers(0, int(SPAN.total_seconds() * 1_000_000)).map(
        lambda us: BASE + timedelta(microseconds=us)))
figures = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
token_rows = st.tuples(figures, figures, instants)
PROPERTY = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def write_csv(path: Path, rows: list[tuple], with_id: bool = False) -> Path:
    lines = [("id," if with_id else "") + HEADER]
    for row in rows:
        *ident, price, volume, at = row
        prefix = f"{ident[0]}," if with_id else ""
        lines.append(f"{prefix}T,Token,{price!r},{volume!r},{at.isoformat()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reset(db) -> None:
    with db.sessions.begin() as session:
        session.execute(sa.delete(Token))
        session.execute(sa.delete(TokenActivityRollup))


def raw_tokens(db) -> list[tuple[datetime, float, float]]:
    with db.reads() as session:
        return [tuple(r) for r in session.execute(
            sa.select(Token.created_at, Token.price, Token.volume_24h))]


def expected_activity(tokens, lo: datetime | None, hi: datetime) -> rollup.Activity:
    """The raw answer, computed in Python from the rows."""
    inside = [t for t in tokens if (lo is None or t[0] >= lo) and t[0] < hi]
    with localcontext(EXACT):  # the default 28 digits would round a sum of tiny and large
        return rollup.Activity(len(inside), sum((Decimal(repr(t[1])) for t in inside), Decimal(0)),
                               sum((Decimal(repr(t[2])) for t in inside), Decimal(0)))


def rollup_rows(db) -> dict:
    with db.reads() as session:
        return {(r.width, r.bucket_start): (r.tokens, r.price_sum, r.volume_sum)
                for r in session.execute(sa.select(*TokenActivityRollup.__table__.c))}


# Instants on and next to half a minute, where an edge's raw part changes sides.
HALVES = [BASE + timedelta(days=d, hours=h, minutes=m, seconds=30, microseconds=e)
          for d in (0, 1) for h in (0, 23) for m in (0, 59) for e in (-1, 0, 1)]


@PROPERTY
@given(rows=st.lists(st.tuples(figures, figures, st.one_of(instants, st.sampled_from(HALVES))),
                     min_size=1, max_size=30),
       cuts=st.lists(st.one_of(instants, st.sampled_from(HALVES)), min_size=2, max_size=8,
                     unique=True))
def test_periods_meeting_at_their_edges_each_equal_the_raw_rows(db, tmp_path, rows, cuts):
    """compare's shape: each period ends where the next starts, so their edges' raw parts are
    read once and added to one period and subtracted from the other."""
    reset(db)
    import_csv(db, "tokens", write_csv(tmp_path / "t.csv", rows))
    tokens = raw_tokens(db)
    cuts = sorted(cuts)
    ranges = [(None, cuts[0]), *zip(cuts, cuts[1:])]
    with db.reads() as session:
        got = rollup.activity_in_ranges(session, ranges)
    assert got == [expected_activity(tokens, lo, hi) for lo, hi in ranges]


@PROPERTY
@given(data=st.data(), batches=st.lists(st.lists(token_rows, min_size=1, max_size=12),
                                        min_size=1, max_size=4))
def test_the_rollup_equals_the_raw_table_after_random_imports_and_updates(db, tmp_path, data,
                                                                           batches):
    reset(db)
    for number, batch in enumerate(batches):
        import_csv(db, "tokens", write_csv(tmp_path / f"new{number}.csv", batch))
        with db.reads() as session:
            ids = list(session.scalars(sa.select(Token.id)))
        # Updates by id: tokens move to other buckets, change price, or stay put.
        chosen = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=6))
        moves = [(i, *data.draw(token_rows)) for i in chosen]
        if moves:
            import_csv(db, "tokens", write_csv(tmp_path / f"upd{number}.csv", moves, True),
                       batch_size=data.draw(st.integers(1, 4)))
    assert rollup.check(db)["mismatches"] == 0
    tokens = raw_tokens(db)
    with db.reads() as session:
        for lo, hi in [(None, BASE + SPAN * 2), (EDGES[4], EDGES[20]), (EDGES[1], EDGES[2]),
                       (BASE + timedelta(hours=5, seconds=7), BASE + timedelta(days=2, hours=1))]:
            assert rollup.activity_in_ranges(session, [(lo, hi)]) == [expected_activity(tokens, lo, hi)]


@PROPERTY
@given(rows=st.lists(token_rows, min_size=1, max_size=30),
       ranges=st.lists(st.tuples(instants, instants), min_size=1, max_size=6))
def test_any_range_read_from_the_rollup_equals_the_raw_rows(db, tmp_path, rows, ranges):
    reset(db)
    import_csv(db, "tokens", write_csv(tmp_path / "t.csv", rows))
    tokens = raw_tokens(db)
    ranges = [(min(a, b), max(a, b)) for a, b in ranges]
    with db.reads() as session:
        got = rollup.activity_in_ranges(session, ranges)
    assert got == [expected_activity(tokens, lo, hi) for lo, hi in ranges]


def test_demo_data_keeps_the_rollup_and_a_rebuild_gives_the_same_buckets(db):
    generate_demo_data(db, days=20, tokens=3000)
    before = rollup_rows(db)
    assert sum(t for (w, _), (t, _, _) in before.items() if w == rollup.DAY) == 3000
    assert rollup.check(db) == {"buckets": len(before), "mismatches": 0}
    assert rollup.rebuild(db) == {"buckets": len(before)}
    assert rollup_rows(db) == before


def test_a_failed_import_leaves_the_tokens_and_the_rollup_untouched(db, tmp_path):
    import_csv(db, "tokens", write_csv(tmp_path / "a.csv", [(1.5, 10.0, BASE)]))
    before_tokens, before_rollup = raw_tokens(db), rollup_rows(db)
    # Enough good rows for several batches to reach the database before the bad one.
    good = [(2.0, 3.0, BASE + timedelta(minutes=i)) for i in range(30)]
    path = write_csv(tmp_path / "b.csv", good)
    path.write_text(path.read_text() + "T,Token,-1,3,2024-03-01T00:00:00Z\n")
    with pytest.raises(ValidationFailed):
        import_csv(db, "tokens", path, batch_size=5)
    updates = write_csv(tmp_path / "c.csv", [(1, 9.0, 9.0, BASE + timedelta(days=1)),
                                             (1, 9.0, 9.0, BASE)], with_id=True)
    with pytest.raises(ValidationFailed):  # the same id twice
        import_csv(db, "tokens", updates, batch_size=1)
    assert raw_tokens(db) == before_tokens
    assert rollup_rows(db) == before_rollup


def test_rollup_check_exits_3_on_a_mismatch_and_rebuild_repairs_it(db_url, tmp_path):
    runner = CliRunner()
    from db.engine import open_database

    db = open_database(db_url)
    import_csv(db, "tokens", write_csv(tmp_path / "a.csv", [(1.0, 2.0, BASE), (3.0, 4.0, EDGES[9])]))
    with db.sessions.begin() as session:  # damage one bucket behind core's back
        session.execute(sa.update(TokenActivityRollup).where(
            TokenActivityRollup.width == rollup.HOUR).values(tokens=TokenActivityRollup.tokens + 1))
    db.engine.dispose()

    checked = runner.invoke(app, ["--db", db_url, "rollup", "check", "--json"])
    assert checked.exit_code == 3
    assert json.loads(checked.stdout) == {"buckets": 5, "mismatches": 2}
    assert "rollup rebuild" in checked.stderr

    rebuilt = runner.invoke(app, ["--db", db_url, "rollup", "rebuild", "--json"])
    assert (rebuilt.exit_code, json.loads(rebuilt.stdout)) == (0, {"buckets": 5})
    again = runner.invoke(app, ["--db", db_url, "rollup", "check", "--json"])
    assert (again.exit_code, json.loads(again.stdout)) == (0, {"buckets": 5, "mismatches": 0})
    db = open_database(db_url)
    with db.reads() as session:
        kinds = list(session.scalars(sa.select(ProtocolActivity.activity_type)))
    db.engine.dispose()
    assert "token_rollup_rebuilt" in kinds


def test_daily_activity_splits_at_utc_midnight_and_counts_partial_days_exactly(db, tmp_path):
    rows = [(1.0, 10.0, BASE - timedelta(microseconds=1)),  # the day before
            (2.0, 20.0, BASE),  # exactly at midnight: day 1
            (4.0, 40.0, BASE + timedelta(hours=6, seconds=30)),
            (8.0, 80.0, BASE + timedelta(days=1, hours=12)),
            (0.1, 0.2, BASE + timedelta(days=2, minutes=1, seconds=5))]
    import_csv(db, "tokens", write_csv(tmp_path / "a.csv", rows))
    start = BASE + timedelta(hours=6, seconds=30)  # the 4.0 token is exactly on the start
    end = BASE + timedelta(days=2, minutes=1, seconds=5)  # the 0.1 token is exactly on the end
    with db.reads() as session:
        days = rollup.daily_token_activity(session, start, end)
    assert [(d.day, d.tokens, d.price_sum, d.volume_sum) for d in days] == [
        (date(2024, 3, 1), 1, Decimal("4.0"), Decimal("40.0")),
        (date(2024, 3, 2), 1, Decimal("8.0"), Decimal("80.0")),
        (date(2024, 3, 3), 0, Decimal(0), Decimal(0))]


def test_upgrading_a_database_with_tokens_fills_the_rollup(blank_db):
    migrate.upgrade(blank_db, "0005")
    with blank_db.engine.begin() as connection:
        connection.execute(sa.insert(Token.__table__), [
            {"symbol": "A", "name": "A", "price": 0.1, "volume_24h": 0.2, "created_at": BASE},
            {"symbol": "B", "name": "B", "price": 1e-7, "volume_24h": 3.0,
             "created_at": BASE + timedelta(minutes=1, microseconds=5)},
            {"symbol": "C", "name": "C", "price": 0.2, "volume_24h": 5.5,
             "created_at": BASE + timedelta(seconds=59)}])
    migrate.upgrade(blank_db)
    assert rollup.check(blank_db) == {"buckets": 4, "mismatches": 0}
    rows = rollup_rows(blank_db)
    assert rows[(rollup.DAY, BASE)] == (3, Decimal("0.3000001"), Decimal("8.7"))
    assert rows[(rollup.MINUTE, BASE)] == (2, Decimal("0.3"), Decimal("5.7"))


def test_compare_gives_the_raw_tables_numbers_with_tokens_on_edges_and_in_partial_minutes(db, tmp_path):
    from core.platform_data.queries import allocation_periods, compare_performance

    generate_demo_data(db, days=20, tokens=400)
    edges = [p["effective_from"] for p in allocation_periods(db)[1:]]
    assert any(e.second or e.microsecond for e in edges)  # edges inside minutes
    extra = []
    for edge in edges:
        minute = edge.replace(second=0, microsecond=0)
        for at in (edge, edge - timedelta(microseconds=1), edge + timedelta(seconds=30), minute,
                   minute + timedelta(minutes=1), edge.replace(minute=0, second=0, microsecond=0)):
            extra.append((0.25 + len(extra), 1.5 * len(extra), at))
    import_csv(db, "tokens", write_csv(tmp_path / "edges.csv", extra))
    tokens = raw_tokens(db)
    now = datetime.now(UTC)
    for window in ({}, {"date_from": edges[1].date(), "date_to": edges[-1].date()}):
        rows = compare_performance(db, now=now, **window)
        assert rows
        for row in rows:
            lo, hi = (datetime.fromisoformat(row[k]) for k in ("window_from", "window_until"))
            expected = expected_activity(tokens, lo, hi)
            assert row["tokens_launched"] == expected.tokens
            assert row["avg_price"] == (float(expected.avg_price) if expected.tokens else None)
            assert row["total_volume"] == float(expected.volume_sum)
    # Every token launched before `now` counted exactly once over the whole timeline.
    launched = len([t for t in tokens if t[0] < now])
    assert sum(r["tokens_launched"] for r in compare_performance(db, now=now)) == launched


def test_metrics_token_figures_come_from_the_rollup_and_match_the_raw_rows(db, tmp_path):
    from core.platform_data.metrics_store import compute_metrics

    now = BASE + timedelta(days=8, hours=3, seconds=17, microseconds=5)
    rows = [(1.0, 1.0, now - timedelta(days=7)),  # exactly on the window's start: inside
            (2.0, 1.0, now - timedelta(days=7, microseconds=1)),  # just before: outside
            (4.0, 1.0, now - timedelta(microseconds=1)), (8.0, 1.0, now),  # `now`: not yet
            (16.0, 1.0, BASE)]
    import_csv(db, "tokens", write_csv(tmp_path / "m.csv", rows))
    metrics = compute_metrics(db, now=now)
    assert metrics.tokens_launched_7d == 2
    assert metrics.avg_token_price_usd == (1.0 + 2.0 + 4.0 + 16.0) / 4
