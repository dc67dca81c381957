"""Running Alembic from code: the CLI, the app and the tests all upgrade through here.

Every command opens the database through `core.database.connect`, which asks whether the schema is
at head. Answering that must not import Alembic (with Mako and Pygments, about a third of a
second of start-up): the head is read from the revision files' own `revision` and
`down_revision` lines, and the database's revision from `alembic_version` with plain SQL.
Alembic is imported only to actually upgrade.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_revision() -> str:
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    # Several heads or a revision file these lines do not describe: let Alembic decide.
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    # A read: on SQLite it must not take the write lock (see db/engine.py), or every CLI call
    # would queue behind any writer just to learn the schema revision.
    with database.reader.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


@contextmanager
def migrating(database: Database) -> Iterator[sa.Connection]:
    """One transaction for a migration. On SQLite, foreign keys are not enforced while it runs and
    are checked in full before it commits: a batch migration (0009, 0012) copies a table, drops
    the old one and renames the copy, and the drop alone would break every reference to its rows
    (the log's own `based_on_id`, reviews, distributions), so SQLite would refuse it although the
    rename mends them. The pragma works only outside a transaction, hence before `begin`."""
    with database.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.dbapi_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        table, row, parent = broken[0][:3]
                        raise sa.exc.IntegrityError(
                            "PRAGMA foreign_key_check", None, sqlite3.IntegrityError(
                                f"FOREIGN KEY constraint failed: {len(broken)} row(s), the first "
                                f"{table} row {row} referring to a missing {parent} row"))
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


def upgrade(database: Database, target: str = "head", *,
            attributes: dict[str, Any] | None = None) -> str:
    """Upgrade to `target` in one transaction; returns the revision the database is now at.

    `attributes` reach the migrations as `context.config.attributes`: how core hands a migration
    what db/ may not import (0013 signs the rows already there with `audit_signer`)."""
    from alembic import command

    config = alembic_config()
    with migrating(database) as connection:
        config.attributes.update(attributes or {})
        config.attributes["connection"] = connection
        command.upgrade(config, target)
    revision = current_revision(database)
    assert revision is not None
    return revision
