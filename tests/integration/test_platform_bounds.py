"""Platform data is bounded (db/limits.py): imports refuse what no real platform holds, the
database refuses it from raw SQL too, and at the very limits every aggregate stays a finite
number: `metrics --json` is JSON, `rebalance` and `compare` work, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.engine import open_database
from db.limits import (MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD, MAX_TOKEN_VOLUME_USD,
                       MAX_TREASURY_BALANCE_USD)
from db.types import utcnow
from tests.integration.test_cli_contract import cli

TOKENS = "symbol,name,price,volume_24h,created_at"


def strict_json(text: str):
    """json.loads that refuses what Python's json.dumps prints for NaN and infinities."""
    def refuse(name: str):
        raise AssertionError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def csv_file(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind, lines, expected", [
    ("tokens", [TOKENS, "A,Absurd,1e308,1,2026-01-01"],
     f"row 2, price: 1e308 is above the maximum {MAX_TOKEN_PRICE_USD:,}"),
    ("tokens", [TOKENS, "A,Absurd,1,1e16,2026-01-01"],
     f"row 2, volume_24h: 1e16 is above the maximum {MAX_TOKEN_VOLUME_USD:,}"),
    ("treasury", ["at,balance_usd", "2026-01-01T00:00:00Z,1e308"],
     f"row 2, balance_usd: 1e308 is above the maximum {MAX_TREASURY_BALANCE_USD:,}"),
    ("engagement", ["day,wallet_connections,trades_count,page_views", "2026-01-01,1,2147483648,1"],
     f"row 2, trades_count: 2147483648 is outside 0..{MAX_DAILY_COUNT}"),
])
def test_an_import_beyond_what_a_platform_can_hold_is_refused_naming_the_limit(
        db_url, tmp_path, kind, lines, expected):
    run = cli(db_url, "import", kind, str(csv_file(tmp_path, "x.csv", *lines)))
    assert run.code == 3
    assert run.error_lines == [f"error: {expected}"]


@pytest.mark.parametrize("statement", [
    "INSERT INTO tokens (symbol, name, price, volume_24h, created_at) "
    "VALUES ('A', 'a', 1e308, 1, '2026-01-01 00:00:00')",
    "INSERT INTO tokens (symbol, name, price, volume_24h, created_at) "
    "VALUES ('A', 'a', 1, 1e308, '2026-01-01 00:00:00')",
    "INSERT INTO dao_treasury_snapshots (at, balance_usd) VALUES ('2026-01-01 00:00:00', '1e308')",
    "INSERT INTO dao_treasury_snapshots (at, balance_usd) "
    f"VALUES ('2026-01-01 00:00:00', '{MAX_TREASURY_BALANCE_USD + 1}')",
])
def test_the_database_refuses_absurd_platform_data_from_raw_sql(db, statement):
    with pytest.raises((sa.exc.IntegrityError, sa.exc.DataError)), db.engine.begin() as conn:
        conn.exec_driver_sql(statement)


def test_sqlite_refuses_an_absurd_count_that_its_integer_column_would_keep_as_a_real(sqlite_db):
    with pytest.raises(sa.exc.IntegrityError, match="bounded"), sqlite_db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO engagement_daily VALUES ('2026-01-01', 1e308, 1, 1)")


def test_postgresql_refuses_a_nan_price_which_sorts_above_every_number(pg_db):
    with pytest.raises(sa.exc.IntegrityError, match="price_bounded"), pg_db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tokens (symbol, name, price, volume_24h, created_at) "
                             "VALUES ('N', 'n', 'NaN', 1, now())")


def load_the_limits(url: str, tmp_path: Path) -> None:
    """Two fresh tokens at the highest price and volume, the treasury at its highest balance and
    two weeks of the highest daily counts: what used to overflow the aggregates."""
    now = utcnow()
    yesterday = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    tokens = csv_file(tmp_path, "t.csv", TOKENS, *(
        f"MAX{n},Max {n},{MAX_TOKEN_PRICE_USD},{MAX_TOKEN_VOLUME_USD},{yesterday}" for n in (1, 2)))
    treasury = csv_file(tmp_path, "b.csv", "at,balance_usd",
                        f"{yesterday},{MAX_TREASURY_BALANCE_USD}")
    days = [(now - timedelta(days=n)).date().isoformat() for n in range(1, 15)]
    engagement = csv_file(tmp_path, "e.csv", "day,wallet_connections,trades_count,page_views",
                          *(f"{d},{MAX_DAILY_COUNT},{MAX_DAILY_COUNT},{MAX_DAILY_COUNT}"
                            for d in days))
    for kind, path in (("tokens", tokens), ("treasury", treasury), ("engagement", engagement)):
        run = cli(url, "import", kind, str(path), "--json")
        assert run.code == 0, run.stderr


def test_at_the_limits_metrics_rebalance_and_compare_give_finite_json(db_url, tmp_path):
    load_the_limits(db_url, tmp_path)

    metrics = cli(db_url, "metrics", "--json")
    assert metrics.code == 0, metrics.stderr
    figures = strict_json(metrics.stdout)
    assert figures["avg_token_price_usd"] == MAX_TOKEN_PRICE_USD
    assert figures["dao_balance_usd"] == MAX_TREASURY_BALANCE_USD
    assert figures["engagement_score"] == 100.0

    rebalance = cli(db_url, "rebalance", "--dry-run", "--engine", "rules", "--json")
    assert rebalance.code == 0, rebalance.stderr
    assert strict_json(rebalance.stdout)["metrics"]["avg_token_price_usd"] == MAX_TOKEN_PRICE_USD

    compare = cli(db_url, "compare", "--json")
    assert compare.code == 0, compare.stderr
    assert strict_json(compare.stdout)
    # The same aggregates over every token (the tokens predate the seeded split's period, which
    # `compare` reads): PostgreSQL's avg() overflowed on two prices of 1e308.
    database = open_database(db_url)
    try:
        with database.engine.connect() as conn:
            average, total = conn.execute(sa.text(
                "SELECT avg(price), sum(volume_24h) FROM tokens")).one()
    finally:
        database.engine.dispose()
    assert (average, total) == (MAX_TOKEN_PRICE_USD, 2 * MAX_TOKEN_VOLUME_USD)


def test_the_metrics_read_from_the_database_at_the_limits_are_finite(db_url, tmp_path):
    from core.platform_data.metrics_store import compute_metrics

    load_the_limits(db_url, tmp_path)
    database = open_database(db_url)
    try:
        metrics = compute_metrics(database)
    finally:
        database.engine.dispose()
    assert metrics.avg_token_price_usd == MAX_TOKEN_PRICE_USD
    assert metrics.tokens_launched_7d == 2
