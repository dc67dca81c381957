"""Home and the Rebalancer at the limits of platform data (db/limits.py), on both engines: two
tokens at the highest price once made PostgreSQL's avg() fail and every page that shows the
metrics said "database cannot be reached"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.base.formatting import price
from core.database import connect
from core.governance.accounts import add_user
from core.platform_data.csv_import import import_csv
from db.engine import Database
from db.limits import (MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD, MAX_TOKEN_VOLUME_USD,
                       MAX_TREASURY_BALANCE_USD)
from db.types import utcnow
from settings import get_settings
from tests.app.helpers import PASSWORD, all_text, no_exception, open_page
from tests.conftest import fresh_pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def limits_db(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    if request.param == "postgresql":
        url = fresh_pg_url(request.getfixturevalue("pg_server"))
    else:
        url = f"sqlite:///{tmp_path / 'limits.db'}"
    db = connect(url)
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "ann", "analyst", PASSWORD, by="ada")
    now = utcnow()
    recent = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    files = {
        "tokens": ["symbol,name,price,volume_24h,created_at"] + [
            f"MAX{n},Max {n},{MAX_TOKEN_PRICE_USD},{MAX_TOKEN_VOLUME_USD},{recent}" for n in (1, 2)],
        "treasury": ["at,balance_usd", f"{recent},{MAX_TREASURY_BALANCE_USD}"],
        "engagement": ["day,wallet_connections,trades_count,page_views"] + [
            f"{(now - timedelta(days=n)).date()},{MAX_DAILY_COUNT},{MAX_DAILY_COUNT},"
            f"{MAX_DAILY_COUNT}" for n in range(1, 15)],
    }
    for kind, lines in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        import_csv(db, kind, path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    yield db
    db.engine.dispose()
    get_settings.cache_clear()


def test_home_shows_the_metrics_at_the_limits(limits_db):
    at = open_page(user="ann")
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert price(MAX_TOKEN_PRICE_USD) in [m.value for m in at.metric]


def test_the_rebalancer_analyses_the_metrics_at_the_limits(limits_db):
    at = open_page("pages/3_Rebalancer.py", user="ann")
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    at.button(key="rebalance_run").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert "cannot be reached" not in all_text(at)
    result = at.session_state["rebalance_result"].as_json()
    assert result["metrics"]["avg_token_price_usd"] == MAX_TOKEN_PRICE_USD
