"""AppTest fixtures: each test gets its own SQLite file (a copy of a prepared template) through
DATABASE_URL; `tests.app.helpers.open_page` starts the dashboard on a page, signed in."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st

from core.database import connect
from core.governance.accounts import add_user
from core.platform_data.csv_import import import_csv
from core.platform_data.demo import generate_demo_data
from db.engine import Database
from db.types import utcnow
from settings import get_settings
from tests.app.helpers import PASSWORD

# username -> role; two governors so that M-of-N and the four-eyes rule can be exercised.
ACCOUNTS = {"ada": "admin", "ann": "analyst", "gus": "governor", "gil": "governor", "vic": "viewer"}


def _prepare(path: Path, *, demo: bool, accounts: bool, imported: bool = False) -> None:
    db = connect(f"sqlite:///{path}")
    if demo:
        generate_demo_data(db)
    if imported:
        # A little real (imported) platform data, so the app does not load demo data.
        csv = path.with_suffix(".csv")
        # Three quiet weeks up to yesterday: low engagement and an empty treasury, so the rule
        # engine has something to say with enough data behind it.
        today = utcnow().date()
        days = [today - timedelta(days=n) for n in range(21, 0, -1)]
        csv.write_text("day,wallet_connections,trades_count,page_views\n"
                       + "".join(f"{d.isoformat()},10,20,300\n" for d in days))
        import_csv(db, "engagement", csv)
    if accounts:
        add_user(db, "ada", "admin", PASSWORD)
        for name, role in ACCOUNTS.items():
            if name != "ada":
                add_user(db, name, role, PASSWORD, by="ada")
    db.engine.dispose()  # checkpoints the WAL, so the single file is the whole database


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("templates")
    made = {}
    for name, demo, accounts, imported in (("demo", True, True, False),
                                           ("plain", False, True, True),
                                           ("empty", False, False, False)):
        made[name] = folder / f"{name}.db"
        _prepare(made[name], demo=demo, accounts=accounts, imported=imported)
    return made


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _use(path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    return connect(f"sqlite:///{path}")


def _copy(templates: dict[str, Path], name: str, tmp_path: Path) -> Path:
    target = tmp_path / "app.db"
    shutil.copyfile(templates[name], target)
    return target


def _database(templates: dict[str, Path], name: str, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    database = _use(_copy(templates, name, tmp_path), monkeypatch)
    yield database
    database.engine.dispose()
    get_settings.cache_clear()


@pytest.fixture
def db(templates: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Demo platform data, the demo history with one AI proposal pending, and the accounts."""
    yield from _database(templates, "demo", tmp_path, monkeypatch)


@pytest.fixture
def plain_db(templates: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Accounts, the default split and three imported weeks of engagement: no demo data."""
    yield from _database(templates, "plain", tmp_path, monkeypatch)


@pytest.fixture
def empty_db(templates: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated database with no accounts and no platform data: a first start."""
    yield from _database(templates, "empty", tmp_path, monkeypatch)
