"""Shared fixtures. `db` runs each test on SQLite and on a real PostgreSQL started by the suite.

There is no skip: when PostgreSQL cannot start, the PostgreSQL cases fail, so a run that did not
exercise PostgreSQL can never pass.
"""

from __future__ import annotations

import os
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# One master key for the whole run (core.base.keys), so no test writes a key file into the working
# directory; the servers the tests start inherit it. Tests of the key file itself clear it.
os.environ.setdefault("PA_AUDIT_KEY", "test-only-master-key-" + "k" * 32)

from core.database import upgrade_database  # noqa: E402
from db.engine import Database, open_database  # noqa: E402
from tests.pg_server import PgServer, start_pg_server  # noqa: E402

# No per-example deadline: on a loaded 2-core machine a correct example can take a second, and a
# timing threshold in a test measures the machine, not the code (benchmarks/ measure speed).
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively.*")

TEMPLATE_DB = "pa_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_pg_server()
    try:
        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {TEMPLATE_DB}")
        admin.dispose()
        template = open_database(server.base_url + "/" + TEMPLATE_DB)
        upgrade_database(template)  # migrate once; every test clones the result
        template.engine.dispose()
        yield server
    finally:
        server.stop()


def _new_pg_database(server: PgServer, template: str | None) -> str:
    name = "pa_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    admin.dispose()
    return f"{server.base_url}/{name}"


def fresh_pg_url(server: PgServer) -> str:
    """A new PostgreSQL database cloned from the migrated, seeded template."""
    return _new_pg_database(server, TEMPLATE_DB)


def blank_pg_url(server: PgServer) -> str:
    """A new PostgreSQL database with nothing in it (not cloned from the migrated template)."""
    return _new_pg_database(server, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with nothing in it: no tables, no alembic_version."""
    if request.param == "postgresql":
        url = blank_pg_url(request.getfixturevalue("pg_server"))
    else:
        url = f"sqlite:///{tmp_path / 'blank.db'}"
    database = open_database(url)
    yield database
    database.engine.dispose()


def fresh_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database at head with the default split seeded, on each engine."""
    if request.param == "postgresql":
        return fresh_pg_url(request.getfixturevalue("pg_server"))
    url = fresh_sqlite_url(tmp_path)
    database = open_database(url)
    upgrade_database(database)
    database.engine.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(fresh_sqlite_url(tmp_path))
    upgrade_database(database)
    yield database
    database.engine.dispose()


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[Database]:
    database = open_database(fresh_pg_url(pg_server))
    yield database
    database.engine.dispose()


@pytest.fixture
def private_webhooks_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PA_WEBHOOK_ALLOW_PRIVATE=1 for one test: its webhook receivers listen on 127.0.0.1."""
    from settings import get_settings

    monkeypatch.setenv("PA_WEBHOOK_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test reads the environment as monkeypatch restores it
