"""The pages' one mapping of core's exceptions (ui/feedback.py): each database failure says what
happened. Real failures from a real SQLite database through core's session helpers."""

from __future__ import annotations

import sqlite3

from streamlit.testing.v1 import AppTest

from tests.app.helpers import TIMEOUT, all_text


def failing_page(url: str, kind: str) -> None:
    """A page that runs one core call failing as `kind`, then carries on."""
    import sqlalchemy as sa
    import streamlit as st

    from core.base.sessions import reading, writing
    from db.engine import open_database
    from ui.feedback import core_call

    db = open_database(url)
    # Our wait for another writer's lock, shortened from 30 s for the test.
    sa.event.listen(db.engine, "connect", lambda conn, _r: conn.execute("PRAGMA busy_timeout = 50"))
    with core_call():
        if kind == "read":
            with reading(db) as session:
                session.execute(sa.text("SELECT abs(-9223372036854775808)"))  # integer overflow
        elif kind == "refused":
            with writing(db) as session:
                session.execute(sa.text("DELETE FROM profit_allocation_log"))  # append-only
        else:
            with writing(db) as session:
                session.execute(sa.text("SELECT 1"))
    st.write("the rest of the page")


def run(url: str, kind: str) -> str:
    at = AppTest.from_function(failing_page, kwargs={"url": url, "kind": kind},
                               default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return all_text(at)


def test_a_failed_read_is_shown_as_a_read_failure_and_the_page_carries_on(sqlite_db):
    shown = run(sqlite_db.engine.url.render_as_string(), "read")
    assert "The database could not read this data (integer overflow)" in shown
    assert "refused" not in shown and "cannot be reached" not in shown
    assert "the rest of the page" in shown


def test_a_change_the_database_refuses_says_refused_and_nothing_written(sqlite_db):
    shown = run(sqlite_db.engine.url.render_as_string(), "refused")
    assert "The database refused the change (" in shown and "nothing was written" in shown
    assert "could not read" not in shown and "cannot be reached" not in shown


def test_a_locked_database_is_busy_try_again_not_unreachable(sqlite_db):
    other = sqlite3.connect(sqlite_db.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        shown = run(sqlite_db.engine.url.render_as_string(), "busy")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "The database is busy with another change (database is locked)" in shown
    assert "Try again in a moment" in shown and "cannot be reached" not in shown
    assert "the rest of the page" in shown
