"""Start-up: a command that needs neither the AI advisor, pandas nor Alembic does not import them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from db import migrate

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "pandas", "alembic", "mako", "streamlit", "plotly", "croniter")


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "core", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return names, done


def test_current_imports_neither_the_advisor_nor_pandas_nor_alembic(sqlite_db):
    url = sqlite_db.engine.url.render_as_string(hide_password=False)
    names, done = imported_modules("--db", url, "current", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["source"] == "database"
    assert "sqlalchemy" in names  # the measurement saw the imports at all
    assert sorted(n for n in names if n.split(".")[0] in HEAVY or n in HEAVY) == []


def test_the_head_revision_read_from_the_files_is_alembics():
    alembic_head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.head_revision() == alembic_head
