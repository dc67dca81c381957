"""Alembic environment: the connection (or URL) comes from the caller, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from db.engine import make_engine
from db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from settings import get_settings  # only for the bare `alembic` command line

        url = get_settings().database_url
    # Through the same transaction as `python -m core db upgrade` (SQLite's foreign keys held
    # back while a table is copied, checked before the commit).
    from db.engine import Database
    from db.migrate import migrating

    with migrating(Database(make_engine(url))) as conn:
        _run(conn)
