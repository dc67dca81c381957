"""The allocation log's guards, tightened: a row's id, and who decided it and why, are fixed once
decided; active periods can never overlap (a trigger on SQLite, an exclusion constraint on
PostgreSQL).

The guards are rebuilt from db/triggers.py, so on a new database (where 0001 already made the
current set) this only re-creates the same triggers.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

from db import triggers

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = (triggers.LOG,)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, TABLES):
        op.execute(statement)
    for statement in triggers.create_statements(dialect, TABLES):
        op.execute(statement)
    for statement in triggers.overlap_constraint_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"ALTER TABLE {triggers.LOG} DROP CONSTRAINT IF EXISTS {triggers.PG_NO_OVERLAP}")
