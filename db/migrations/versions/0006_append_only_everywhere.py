"""Hardening (issue 8): every append-only table refuses SQLite's REPLACE and PostgreSQL's
TRUNCATE; failed sign-ins are counted per (account, client) in their own table.

The guards are rebuilt from db/triggers.py for every append-only table, so on a new database
(where 0001 and 0003 already made the current set) this only re-creates the same triggers.

Revision ID: 0006_append_only_everywhere
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
from db import triggers

revision = '0006_append_only_everywhere'
down_revision = '0005'
branch_labels = None
depends_on = None

# The append-only tables of this revision, named as they were: later revisions guard their own.
TABLES = (triggers.LOG, "protocol_activity", "profit_distributions", "allocation_policy",
          "proposal_reviews")
# The guards this revision added; a downgrade removes them and leaves the older ones.
ADDED_SUFFIXES = ("_no_replace", "_positive_rowid", "_rowid_fixed", "_no_truncate")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, TABLES):
        op.execute(statement)
    for statement in triggers.create_statements(dialect, TABLES):
        op.execute(statement)

    op.create_table('sign_in_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'client', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_last_failed_at'), ['last_failed_at'],
                              unique=False)
    # The count moved to sign_in_failures: per account and client, and for unknown names too.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_failed_login_at')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('last_failed_login_at', db.types.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_last_failed_at'))
    op.drop_table('sign_in_failures')

    dialect = op.get_bind().dialect.name
    for guard in triggers.guards():
        if guard.table in TABLES and guard.name.endswith(ADDED_SUFFIXES) and not (
                guard.name == f"{triggers.LOG}_no_truncate"):  # 0001 made that one
            op.execute(f"DROP TRIGGER IF EXISTS {guard.name}"
                       + (f" ON {guard.table}" if dialect == "postgresql" else ""))
