"""The app under a restricted PostgreSQL role, the migrations under the schema's owner: the app
does all its work, and TRUNCATE and DDL are refused by privileges before any trigger is asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import DatabaseUnavailable, NotFound, Refused, ValidationFailed
from core.database import connect, grant_app_role, upgrade_database
from core.governance.accounts import add_user, authenticate, unlock_user
from core.governance.policy_store import set_policy
from core.jobs.reports import weekly_report
from core.platform_data.csv_import import import_csv
from core.proposals.distribution import distribute
from core.proposals.lifecycle import propose_allocation, review_proposal
from db import migrate, triggers
from db.engine import Database, open_database
from db.models import Base
from settings import get_settings
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"


@dataclass
class Roles:
    owner_url: str
    app_url: str
    app_role: str


@pytest.fixture
def roles(pg_server: PgServer) -> Iterator[Roles]:
    """A blank database owned by a non-superuser owner role, and a login role for the app."""
    suffix = uuid.uuid4().hex[:8]
    owner, app, name = f"pa_owner_{suffix}", f"pa_app_{suffix}", f"pa_roles_{suffix}"
    admin = sa.create_engine(server_url(pg_server, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN")
        conn.exec_driver_sql(f"CREATE ROLE {app} LOGIN")
        conn.exec_driver_sql(f"CREATE DATABASE {name} OWNER {owner}")
    admin.dispose()
    yield Roles(server_url(pg_server, name, owner), server_url(pg_server, name, app), app)


def server_url(server: PgServer, database: str, user: str | None = None) -> str:
    return f"postgresql+psycopg://{user or server.user}@127.0.0.1:{server.port}/{database}"


@pytest.fixture
def migration_url(roles: Roles, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MIGRATION_DATABASE_URL", roles.owner_url)
    get_settings.cache_clear()
    yield roles.owner_url
    monkeypatch.delenv("MIGRATION_DATABASE_URL")
    get_settings.cache_clear()


def privilege_refused(db: Database, sql: str) -> str:
    with pytest.raises(sa.exc.ProgrammingError) as error, db.engine.begin() as conn:
        conn.execute(sa.text(sql))
    return str(error.value.orig)


def test_the_app_role_connecting_first_has_the_owner_migrate_and_grant_it(roles, migration_url):
    db = connect(roles.app_url)
    try:
        assert migrate.current_revision(db) == migrate.head_revision()
        assert get_current_allocation(db).source == "database"  # the owner seeded the default
        with db.engine.connect() as conn:
            owners = set(conn.scalars(sa.text(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")))
            assert owners == {sa.make_url(roles.owner_url).username}
            granted = conn.scalar(sa.text(
                "SELECT description FROM protocol_activity WHERE activity_type = 'database_role_granted'"))
        assert roles.app_role in granted
    finally:
        db.engine.dispose()


@pytest.fixture
def app_db(roles: Roles) -> Iterator[Database]:
    """Migrated by the owner, privileges granted with the service `db grant-app-role` runs."""
    owner = open_database(roles.owner_url)
    upgrade_database(owner)
    grant_app_role(owner, roles.app_role)
    owner.engine.dispose()
    db = connect(roles.app_url)
    yield db
    db.engine.dispose()


def test_the_app_role_does_all_the_apps_work(app_db, tmp_path):
    db = app_db
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "gus", "governor", PASSWORD, by="ada")
    set_policy(db, "max_step", "20", by="ada")
    proposal = propose_allocation(db, ProposalInput(70, 18, 8, 4, "more reinvestment"), by="ada")
    assert review_proposal(db, proposal.proposal_id, "approved", by="gus").status == "active"
    assert distribute(db, "1000.00", "run-1", by="ada").created is True
    with pytest.raises(Refused):
        authenticate(db, "gus", "wrong password", client="203.0.113.7")
    assert unlock_user(db, "gus", by="ada") == 1
    assert authenticate(db, "gus", PASSWORD, client="203.0.113.7").username == "gus"
    csv = tmp_path / "treasury.csv"
    csv.write_text("at,balance_usd\n2026-01-01T00:00:00Z,100.00\n", encoding="utf-8")
    import_csv(db, "treasury", csv)
    import_csv(db, "treasury", csv)  # the second load updates the row it loaded
    weekly_report(db)


@pytest.mark.parametrize("table", triggers.APPEND_ONLY_TABLES)
def test_the_app_role_may_not_truncate_an_append_only_table(app_db, table):
    assert "permission denied for table" in privilege_refused(app_db, f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize("sql, reason", [
    ("CREATE TABLE mine (x int)", "permission denied for schema public"),
    ("DROP TRIGGER profit_distributions_no_delete ON profit_distributions", "must be owner"),
    ("ALTER TABLE profit_allocation_log DISABLE TRIGGER ALL", "must be owner"),
    ("TRUNCATE tokens", "permission denied for table tokens"),
    ("DELETE FROM protocol_activity", "permission denied for table protocol_activity"),
    ("UPDATE profit_distributions SET total = 1", "permission denied for table profit_distributions"),
])
def test_the_app_role_may_not_change_the_schema_or_rewrite_history(app_db, sql, reason):
    assert reason in privilege_refused(app_db, sql)


def test_every_table_of_the_models_is_granted_to_the_app_role(app_db, roles):
    with app_db.engine.connect() as conn:
        for table in Base.metadata.tables:
            assert conn.scalar(sa.text("SELECT has_table_privilege(:r, :t, 'SELECT, INSERT')"),
                               {"r": roles.app_role, "t": table}), table
            assert not conn.scalar(sa.text("SELECT has_table_privilege(:r, :t, 'TRUNCATE')"),
                                   {"r": roles.app_role, "t": table}), table


def test_without_a_migration_url_the_app_role_says_it_may_not_migrate(roles):
    with pytest.raises(DatabaseUnavailable, match="this role may not change the schema.*"
                                                   "MIGRATION_DATABASE_URL"):
        connect(roles.app_url)


def test_grant_app_role_refuses_bad_names_unknown_roles_the_owner_and_sqlite(roles, sqlite_db):
    owner = open_database(roles.owner_url)
    upgrade_database(owner)
    try:
        with pytest.raises(ValidationFailed, match="role: 'app; DROP TABLE users' must be"):
            grant_app_role(owner, "app; DROP TABLE users")
        with pytest.raises(NotFound, match="no PostgreSQL role named 'nobody_here'"):
            grant_app_role(owner, "nobody_here")
        with pytest.raises(Refused, match="is the role running this"):
            grant_app_role(owner, sa.make_url(roles.owner_url).username)
    finally:
        owner.engine.dispose()
    with pytest.raises(Refused, match="roles exist only on PostgreSQL"):
        grant_app_role(sqlite_db, "app")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "MIGRATION_DATABASE_URL")}
    environment.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_on_the_command_line_the_owner_migrates_and_grants_and_the_app_role_works(roles):
    owner_env = {"DATABASE_URL": roles.app_url, "MIGRATION_DATABASE_URL": roles.owner_url}
    upgraded = run_cli("db", "upgrade", "--json", env=owner_env)
    assert upgraded.returncode == 0, upgraded.stderr
    granted = run_cli("db", "grant-app-role", roles.app_role, "--json", env=owner_env)
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["role"] == roles.app_role
    app_env = {"DATABASE_URL": roles.app_url}
    done = run_cli("distribute", "--profit", "250.00", "--key", "cli-run", "--json", env=app_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] is True
