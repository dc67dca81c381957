"""The privileges of the application's own PostgreSQL role, apart from the role that owns the
schema and runs the migrations.

The app role may read every table and write what the application writes, and nothing more: no
TRUNCATE, no DDL (it owns nothing, and PostgreSQL 15 gives no one CREATE on `public` by default),
so it can neither empty a table nor drop or disable a trigger. It gets no UPDATE on insert-only
tables and no DELETE on any append-only table: the triggers refuse those anyway, and a privilege
refuses them before any trigger runs.
"""

from __future__ import annotations

import re

from db import triggers
from db.models import Base

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def table_privileges(table: str) -> tuple[str, ...]:
    privileges = ["SELECT", "INSERT"]
    if table not in (*triggers.INSERT_ONLY_TABLES, *triggers.FIXED_TABLES):
        privileges.append("UPDATE")
    if table not in (*triggers.APPEND_ONLY_TABLES, *triggers.FIXED_TABLES):
        privileges.append("DELETE")
    return tuple(privileges)


def grant_statements(role: str) -> list[str]:
    """Idempotent GRANT/REVOKE statements for `role` (checked against ROLE_NAME by the caller)."""
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON alembic_version TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    for table in Base.metadata.sorted_tables:
        statements.append(f"GRANT {', '.join(table_privileges(table.name))} ON {table.name} TO {role}")
    return statements
