"""Demo data: loaded once into an empty embedded database, and always labelled as such."""

from __future__ import annotations

import streamlit as st

from core.base.errors import DatabaseFailure, DomainError
from db.engine import Database
from ui.feedback import stop_on_database_failure
from ui.readers import reader


@st.cache_resource(show_spinner="First start: loading demo data into the empty database…")
def _load_demo_once(url: str, _db: Database) -> bool:
    """Fill an empty *embedded* (SQLite) database with demo data, once per process and URL; then
    make sure the log has a current split (the default 80/15/3/2 when it is empty).

    A server database (PostgreSQL) is never filled with invented numbers: it is somebody's
    real platform, empty only until its data is imported. The demo runs before the default is
    seeded, so its own last approved split is the current one (not 80/15/3/2 "approved by
    nobody" on top of it).
    """
    from core.database import seed_default_allocation

    loaded = False
    if _db.dialect == "sqlite":
        from core.platform_data.demo import generate_demo_data, has_platform_data

        if not has_platform_data(_db):
            try:
                generate_demo_data(_db)
                loaded = True
            except DatabaseFailure:
                raise  # not "filled already": the page says what happened
            except DomainError:
                pass  # another server process filled it a moment ago
    seed_default_allocation(_db)  # nothing to do when the log already has rows
    return loaded


def ensure_demo_data(db: Database) -> None:
    try:
        _load_demo_once(db.engine.url.render_as_string(hide_password=True), db)
    except DatabaseFailure as failure:
        stop_on_database_failure(failure)


@reader(ttl=60)
def is_demo(db: Database) -> bool:
    from core.platform_data.demo import holds_demo_data

    return holds_demo_data(db)


def demo_banner(db: Database) -> None:
    if is_demo(db):
        st.warning("🧪 **Demo data.** The tokens, engagement and treasury figures on these pages "
                   "were generated for demonstration (`python -m core demo-data`); they are not "
                   "a real platform's numbers.")
