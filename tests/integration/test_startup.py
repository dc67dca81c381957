"""Start-up: a command imports what it needs and nothing more. `current` reads through
SQLAlchemy Core: no ORM, no models, no pydantic-settings, no AI advisor, pandas or Alembic; and
reading the command line imports no database code at all. Checked with `python -X importtime`,
so the tests hold without a timing threshold and fail as soon as an import at the top of a
module pulls one of these back in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from core.allocation.current import get_current_allocation
from core.allocation.split import BUCKETS
from db import migrate

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "pandas", "alembic", "mako", "streamlit", "plotly", "croniter")
# What `current` must not load besides HEAVY: the ORM and what stands on it, and the settings
# class (the URL comes from --db here; settings/__init__.py reads DATABASE_URL without it).
NOT_FOR_CURRENT = ("sqlalchemy.orm", "db.models", "core.proposals.lifecycle", "core.governance.accounts",
                   "core.record.activity", "pydantic_settings", "settings.model")


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "core", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return names, done


def loaded(names: set[str], modules: tuple[str, ...]) -> list[str]:
    """The names in `names` that are one of `modules` or inside one of them."""
    return sorted(n for n in names if any(n == m or n.startswith(m + ".") for m in modules))


def test_current_imports_neither_the_orm_nor_the_advisor_nor_pandas_nor_alembic(db_url):
    names, done = imported_modules("--db", db_url, "current", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["source"] == "database"
    assert {"sqlalchemy", "core.allocation.current"} <= names  # the measurement saw the imports at all
    assert loaded(names, HEAVY + NOT_FOR_CURRENT) == []


@pytest.mark.parametrize("args", [("--help",), ("current", "--no-such-option"), ("nonsense",)],
                         ids=["help", "bad-option", "unknown-command"])
def test_reading_the_command_line_imports_no_database_code(args):
    names, done = imported_modules("--db", "sqlite:///unused.db", *args)
    assert done.returncode == (0 if args == ("--help",) else 2), done.stderr[-2000:]
    assert {"typer", "cli.allocation_cmds", "cli.outcome_cmds"} <= names
    assert loaded(names, ("sqlalchemy", "psycopg", "pydantic_settings", "core.database",
                          "db.engine", "db.models") + HEAVY) == []
    assert not (ROOT / "unused.db").exists()


def test_current_still_creates_and_seeds_a_database_that_has_no_schema(blank_db):
    url = blank_db.engine.url.render_as_string(hide_password=False)
    names, done = imported_modules("--db", url, "current", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["source"] == "database"
    assert [document[b] for b in BUCKETS] == [80, 15, 3, 2]
    assert migrate.current_revision(blank_db) == migrate.head_revision()
    assert get_current_allocation(blank_db).id == document["id"]
    assert "alembic" in names  # an upgrade runs Alembic: only the "already at head" path is light


def test_the_head_revision_read_from_the_files_is_alembics():
    alembic_head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.head_revision() == alembic_head
