"""Two more ends for a proposal: `withdrawn` (by its proposer or an admin) and `superseded` (the
same split was activated through another proposal).

On SQLite the batch operation copies the table, which drops its triggers: the allocation log's
guards are re-created from db/triggers.py afterwards (on PostgreSQL the same statements just
replace them).

Revision ID: 0009_withdrawn_superseded
Revises: 0007
"""

from __future__ import annotations

from alembic import op

from db import triggers

revision = '0009_withdrawn_superseded'  # alembic_version holds at most 32 characters
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = (triggers.LOG,)
OLD = ('proposed', 'active', 'rejected', 'expired')
NEW = OLD + ('withdrawn', 'superseded')


def _status_in(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def _replace_status_check(values: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, TABLES):
        op.execute(statement)
    with op.batch_alter_table(triggers.LOG, schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_profit_allocation_log_valid_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_profit_allocation_log_valid_status'),
                                         _status_in(values))
    for statement in triggers.create_statements(dialect, TABLES):
        op.execute(statement)


def upgrade() -> None:
    _replace_status_check(NEW)


def downgrade() -> None:
    # Rows already withdrawn or superseded would break the narrower check: the downgrade
    # refuses (the database raises) rather than rewrite history.
    _replace_status_check(OLD)
