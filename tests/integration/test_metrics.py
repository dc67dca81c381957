"""Platform metrics from crafted data with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from core.platform_data.csv_import import import_csv
from core.platform_data.metrics_model import METRIC_KEYS
from core.platform_data.metrics_store import compute_metrics, engagement_inputs, growth_rate

NOW = datetime(2024, 6, 15, 10, 0, tzinfo=UTC)  # today is 2024-06-15; last 7 = 06-08..06-14


def load_engagement(db, tmp_path: Path, days: dict[date, tuple[int, int, int]]) -> None:
    lines = ["day,wallet_connections,trades_count,page_views"]
    lines += [f"{d.isoformat()},{w},{t},{p}" for d, (w, t, p) in days.items()]
    path = tmp_path / "engagement.csv"
    path.write_text("\n".join(lines) + "\n")
    import_csv(db, "engagement", path)


def load(db, tmp_path: Path, kind: str, *lines: str) -> None:
    path = tmp_path / f"{kind}.csv"
    path.write_text("\n".join(lines) + "\n")
    import_csv(db, kind, path)


def days_from(first: date, count: int, values: tuple[int, int, int]) -> dict[date, tuple[int, int, int]]:
    return {first + timedelta(days=i): values for i in range(count)}


def test_growth_compares_wallet_connections_of_the_last_7_days_with_the_7_before(db, tmp_path):
    load_engagement(db, tmp_path, {
        **days_from(date(2024, 6, 1), 7, (100, 0, 0)),  # previous: 700
        **days_from(date(2024, 6, 8), 7, (150, 0, 0)),  # last: 1050
        date(2024, 6, 15): (9999, 0, 0),  # today is still in progress: not counted
    })
    assert compute_metrics(db, now=NOW).growth_rate_pct == 50.0


def test_a_decline_gives_a_negative_growth_rate(db, tmp_path):
    load_engagement(db, tmp_path, {**days_from(date(2024, 6, 1), 7, (200, 0, 0)),
                                   **days_from(date(2024, 6, 8), 7, (150, 0, 0))})
    assert compute_metrics(db, now=NOW).growth_rate_pct == -25.0


def test_no_activity_in_either_week_is_zero_growth(db):
    metrics = compute_metrics(db, now=NOW)
    assert metrics.growth_rate_pct == 0.0
    assert metrics.engagement_score == 0.0
    assert metrics.days_of_data == 0


def test_activity_after_an_empty_week_counts_as_100_percent_growth(db, tmp_path):
    load_engagement(db, tmp_path, {date(2024, 6, 14): (5, 0, 0)})
    assert compute_metrics(db, now=NOW).growth_rate_pct == 100.0


def test_the_engagement_score_weights_each_average_against_its_reference(db, tmp_path):
    # 500/1000 -> 50, 500/2000 -> 25, 5000/20000 -> 25: 0.5*50 + 0.3*25 + 0.2*25 = 37.5
    load_engagement(db, tmp_path, days_from(date(2024, 6, 8), 7, (500, 500, 5000)))
    assert compute_metrics(db, now=NOW).engagement_score == 37.5


def test_missing_days_count_as_zero_activity(db, tmp_path):
    # 3 of 7 days at 700 wallets: the daily average is 300, so the wallet component is 30
    load_engagement(db, tmp_path, {date(2024, 6, 8): (700, 0, 0), date(2024, 6, 10): (700, 0, 0),
                                   date(2024, 6, 14): (700, 0, 0)})
    inputs = engagement_inputs(db, now=NOW)
    assert inputs.days_with_data == 3
    assert inputs.averages["wallet_connections"] == 300
    assert inputs.engagement_score == 15.0
    assert compute_metrics(db, now=NOW).engagement_score == 15.0


def test_the_engagement_score_is_capped_at_100(db, tmp_path):
    load_engagement(db, tmp_path, days_from(date(2024, 6, 8), 7, (50_000, 90_000, 10**6)))
    assert compute_metrics(db, now=NOW).engagement_score == 100.0


def test_engagement_inputs_show_the_window_and_the_figures(db, tmp_path):
    load_engagement(db, tmp_path, days_from(date(2024, 6, 8), 7, (10, 20, 30)))
    data = engagement_inputs(db, now=NOW).as_json()
    assert (data["window_start"], data["window_end"]) == ("2024-06-08", "2024-06-14")
    assert data["totals_7d"] == {"wallet_connections": 70, "trades_count": 140, "page_views": 210}
    assert data["growth"] == {"measure": "wallet_connections", "last_7d": 70, "previous_7d": 0,
                              "growth_rate_pct": 100.0}


def test_the_dao_balance_is_the_latest_snapshot_up_to_now(db, tmp_path):
    load(db, tmp_path, "treasury", "at,balance_usd", "2024-06-10T00:00:00Z,1000.50",
         "2024-06-14T23:00:00Z,2000.25", "2024-06-16T00:00:00Z,9999")
    assert compute_metrics(db, now=NOW).dao_balance_usd == Decimal("2000.25")


def test_no_treasury_snapshot_means_a_zero_balance(db):
    assert compute_metrics(db, now=NOW).dao_balance_usd == Decimal(0)


def test_token_figures_average_every_price_and_count_the_last_7_days(db, tmp_path):
    week_ago = NOW - timedelta(days=7)
    load(db, tmp_path, "tokens", "symbol,name,price,volume_24h,created_at",
         f"A,a,1,0,{(week_ago - timedelta(seconds=1)).isoformat()}",  # just too old
         f"B,b,2,0,{week_ago.isoformat()}",  # the window's first instant
         f"C,c,6,0,{(NOW - timedelta(seconds=1)).isoformat()}")
    metrics = compute_metrics(db, now=NOW)
    assert metrics.avg_token_price_usd == pytest.approx(3.0)
    assert metrics.tokens_launched_7d == 2


def test_no_tokens_means_a_zero_average_price(db):
    assert compute_metrics(db, now=NOW).avg_token_price_usd == 0.0


def test_days_of_data_counts_engagement_days_up_to_today(db, tmp_path):
    load_engagement(db, tmp_path, {**days_from(date(2024, 5, 1), 20, (1, 1, 1)),
                                   date(2024, 6, 20): (1, 1, 1)})  # after `now`
    assert compute_metrics(db, now=NOW).days_of_data == 20


@pytest.mark.parametrize(("last", "previous", "expected"), [
    (0, 0, 0.0), (10, 0, 100.0), (0, 10, -100.0), (15, 10, 50.0), (1, 3, -66.67)])
def test_growth_rate_handles_the_zero_base_explicitly(last, previous, expected):
    assert growth_rate(last, previous) == expected


def test_the_metrics_command_prints_the_contract_keys_as_json(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "metrics", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(METRIC_KEYS) <= set(data)
    assert data["dao_balance_usd"] == 0 and data["days_of_data"] == 0
    assert data["inputs"]["weights"] == {"wallet_connections": 0.5, "trades_count": 0.3,
                                         "page_views": 0.2}
