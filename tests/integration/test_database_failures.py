"""How a database failure reaches people: core translates it once (`core.base.sessions`), and the
message says what happened. Busy is "try again", not "cannot be reached"; a failed read is not
"refused the change"; a directory given to `import` is not "does not exist"."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from cli.errors import exit_code
from core.base.errors import (Conflict, DatabaseBusy, DatabaseUnavailable, InvalidDatabaseUrl,
                              NotFound, ReadFailed, ValidationFailed)
from core.base.sessions import reading, writing
from core.database import connect
from core.proposals.distribution import distribute, list_distributions
from db.engine import Database

# A statement each engine refuses at run time with an error about the value, not the connection.
BAD_VALUE = {"sqlite": "SELECT abs(-9223372036854775808)",  # "integer overflow"
             "postgresql": "SELECT 1 / 0"}  # "division by zero"


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_a_locked_sqlite_database_is_busy_try_again_and_not_unreachable(sqlite_db: Database):
    # Our own wait for the lock, shortened from 30 s so the test does not sit out the full wait.
    sa.event.listen(sqlite_db.engine, "connect",
                    lambda conn, _record: conn.execute("PRAGMA busy_timeout = 50"))
    sqlite_db.engine.dispose()
    other = sqlite3.connect(sqlite_db.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with pytest.raises(DatabaseBusy) as caught:
            distribute(sqlite_db, Decimal("100.00"), "busy-1")
    finally:
        other.execute("ROLLBACK")
        other.close()
    message = str(caught.value)
    assert "busy" in message and "try again" in message and "database is locked" in message
    assert "cannot be reached" not in message
    assert exit_code(caught.value) == 1
    assert list_distributions(sqlite_db) == []  # nothing was written


def test_a_locked_postgresql_table_is_busy_on_the_command_line_and_nothing_is_written(pg_db):
    url = pg_db.engine.url.render_as_string(hide_password=False)
    locker = sa.create_engine(url)
    with locker.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("LOCK TABLE profit_allocation_log IN ACCESS EXCLUSIVE MODE")
        # lock_timeout makes PostgreSQL give up waiting (SQLSTATE 55P03) after 200 ms.
        result = cli("--db", url + "?options=-c%20lock_timeout%3D200",
                     "distribute", "--profit", "100.00", "--key", "busy-pg")
        conn.exec_driver_sql("ROLLBACK")
    locker.dispose()
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line]
    assert len(errors) == 1 and errors[0].startswith("error: database: busy with another change; "
                                                     "try again (")
    assert "cannot be reached" not in result.stderr
    assert list_distributions(pg_db) == []


def test_a_failed_read_says_the_read_failed_not_that_a_change_was_refused(db: Database):
    with pytest.raises(ReadFailed) as caught, reading(db) as session:
        session.execute(sa.text(BAD_VALUE[db.dialect]))
    message = str(caught.value)
    assert message.startswith("database: the read failed (")
    assert "refused" not in message and "cannot be reached" not in message
    assert exit_code(caught.value) == 1


def test_the_same_failure_inside_a_write_is_a_refused_change_with_exit_3(db: Database):
    with pytest.raises(Conflict) as caught, writing(db) as session:
        session.execute(sa.text(BAD_VALUE[db.dialect]))
    assert str(caught.value).startswith("database: refused the change (")
    assert exit_code(caught.value) == 3


def test_a_write_the_database_guards_against_is_a_refused_change_and_rolls_back(db: Database):
    distribute(db, Decimal("100.00"), "guarded")
    with pytest.raises(Conflict) as caught, writing(db) as session:
        session.execute(sa.text("DELETE FROM profit_distributions"))  # append-only: a trigger
    assert "refused the change" in str(caught.value)
    assert len(list_distributions(db)) == 1


def test_a_server_that_is_not_there_cannot_be_reached():
    with pytest.raises(DatabaseUnavailable) as caught:
        connect("postgresql://someone:secret@127.0.0.1:9/nowhere")
    message = str(caught.value)
    assert message.startswith("database: cannot be reached (") and "secret" not in message
    assert not isinstance(caught.value, DatabaseBusy)
    assert exit_code(caught.value) == 1


def test_a_url_that_is_no_database_url_is_bad_usage():
    with pytest.raises(InvalidDatabaseUrl) as caught:
        connect("not a url at all")
    assert exit_code(caught.value) == 2


def test_a_directory_given_to_import_is_named_a_directory_with_exit_3(db_url, tmp_path: Path):
    folder = tmp_path / "exports"
    folder.mkdir()
    result = cli("--db", db_url, "import", "tokens", str(folder))
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == f"error: file: {folder} is a directory, not a CSV file"


def test_a_missing_file_given_to_import_does_not_exist_with_exit_4(db_url, tmp_path: Path):
    missing = tmp_path / "nowhere.csv"
    result = cli("--db", db_url, "import", "tokens", str(missing))
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == f"error: file: {missing} does not exist"


@pytest.mark.parametrize(("error", "code"), [
    (ValidationFailed("x: bad"), 3), (Conflict("database: refused the change (c)"), 3),
    (NotFound("proposal: no such id"), 4), (DatabaseBusy("database: busy"), 1),
    (DatabaseUnavailable("database: cannot be reached"), 1), (ReadFailed("database: r"), 1),
    (InvalidDatabaseUrl("database: not a usable database URL"), 2),
])
def test_each_core_exception_has_its_one_exit_code_on_the_command_line(error, code):
    assert exit_code(error) == code
