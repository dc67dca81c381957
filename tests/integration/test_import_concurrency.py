"""A long token import does not hold other writers back (issue 8, Operations)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from core.governance.accounts import add_user, authenticate
from core.platform_data import rollup
from core.platform_data.csv_import import import_csv
from db.models import Token


def tokens_file(tmp_path: Path, rows: int) -> Path:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    lines = ["symbol,name,price,volume_24h,created_at"]
    lines += [f"T{i},Token {i},{i / 7!r},{i * 3.5!r},{(start + timedelta(seconds=97 * i)).isoformat()}"
              for i in range(rows)]
    path = tmp_path / "tokens.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sign_ins_and_other_writes_go_through_while_an_import_reads_its_file(db, tmp_path):
    add_user(db, "ana", "admin", "a long enough password")
    waits: list[float] = []
    free: list[bool] = []

    def during_import(done: int, size: int) -> None:
        if done >= size:
            return  # the file is read; what follows is the short publishing transaction
        started = time.perf_counter()
        assert authenticate(db, "ana", "a long enough password").username == "ana"
        waits.append(time.perf_counter() - started)
        if db.dialect == "sqlite":
            # Decisive: another connection takes the write lock at once (no waiting at all).
            raw = sqlite3.connect(db.engine.url.database, timeout=0)
            try:
                raw.execute("BEGIN IMMEDIATE")
                raw.execute("ROLLBACK")
                free.append(True)
            except sqlite3.OperationalError:
                free.append(False)
            finally:
                raw.close()

    result = import_csv(db, "tokens", tokens_file(tmp_path, 200), during_import, batch_size=20)

    assert result.rows == 200
    assert len(waits) >= 5 and max(waits) < 5
    assert free == ([True] * len(waits) if db.dialect == "sqlite" else [])
    with db.reads() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Token)) == 200
    assert rollup.check(db)["mismatches"] == 0


def test_nothing_of_a_staged_import_is_visible_before_it_is_published(db, tmp_path):
    seen: list[int] = []

    def during_import(done: int, size: int) -> None:
        with db.reads() as session:
            seen.append(session.scalar(sa.select(sa.func.count()).select_from(Token)))

    import_csv(db, "tokens", tokens_file(tmp_path, 100), during_import, batch_size=10)
    assert len(seen) >= 10 and set(seen) == {0}
    with db.reads() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Token)) == 100
