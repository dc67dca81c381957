"""A launch week in the database itself: platform data whose computed metrics are the rebalancer
tests' LAUNCH_WEEK (growth +60%, engagement 85, DAO $2,500, tokens at $0.03, 15 launched in the
last 7 days, 30 days of data), for runs that read the database's own figures, the only ones
the bounded auto-approval may activate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.platform_data.csv_import import import_csv
from db.engine import Database
from db.types import utcnow


def load_launch_week(db: Database, folder: Path) -> None:
    now = utcnow()
    today = now.date()
    engagement = ["day,wallet_connections,trades_count,page_views"]
    for back in range(30, 0, -1):  # the last 7 complete days: 1,600 wallets a day, 1,000 before
        wallets, trades, views = (1600, 1400, 14000) if back <= 7 else (1000, 1000, 10000)
        engagement.append(f"{(today - timedelta(days=back)).isoformat()},{wallets},{trades},{views}")
    tokens = ["symbol,name,price,volume_24h,created_at"] + [
        f"LW{i},Launch {i},0.03,1000,{(now - timedelta(days=1, hours=i)).isoformat()}"
        for i in range(15)]
    treasury = ["at,balance_usd", f"{(now - timedelta(days=1)).isoformat()},2500"]
    for kind, lines in (("engagement", engagement), ("tokens", tokens), ("treasury", treasury)):
        path = folder / f"launch_week_{kind}.csv"
        path.write_text("\n".join(lines) + "\n")
        import_csv(db, kind, path)
