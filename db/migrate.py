"""Running Alembic from code: the CLI, the app and the tests all upgrade through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.engine import READ_ONLY, Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    # A read: on SQLite it must not take the write lock (see db/engine.py), or every CLI call
    # would queue behind any writer just to learn the schema revision.
    with database.engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, target: str = "head") -> str:
    """Upgrade to `target` in one transaction; returns the revision the database is now at."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)
    revision = current_revision(database)
    assert revision is not None
    return revision
