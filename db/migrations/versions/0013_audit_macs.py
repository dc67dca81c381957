"""A record that proves itself: every append-only row gets its place in its table's audit chain
and the chain's HMAC; accounts, API tokens, webhook endpoints and dashboard sessions (and the
allocation log, whose review lifecycle moves) an HMAC over their security fields; webhook
secrets are sealed, so their column widens to hold the sealed form.

The MACs need the audit key, which lives outside the database and is core's to read (db/ never
imports core). So the rows already here are signed, and plaintext webhook secrets sealed, by the
`audit_signer` that `core.database.upgrade_database` hands in through the Alembic config, inside
this revision's own transaction and while the append-only guards are down: no window in which an
unsigned row could be slipped in and later signed as if it were ours. A database with rows and no
signer (a bare `alembic upgrade`) is refused rather than left unsigned.

Revision ID: 0013_audit_macs
Revises: 0012_sealed_governance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from db import triggers

revision = '0013_audit_macs'
down_revision = '0012_sealed_governance'
branch_labels = None
depends_on = None

# The append-only tables as they were at this revision (later ones add theirs with their own
# guards): a migration must not follow a constant that moves on.
CHAINED = (triggers.LOG, triggers.GOVERNANCE, "protocol_activity", "profit_distributions",
           "allocation_policy", "proposal_reviews", "governance_reviews", "governance_seals",
           "timelock_queue", "proposal_vetoes")
ROW_SIGNED = (triggers.LOG, "users", "api_tokens", "webhook_endpoints", "web_sessions")
SIGNER = "audit_signer"


def _seq_type() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _has_rows(table: str) -> bool:
    return op.get_bind().scalar(sa.text(f"SELECT 1 FROM {table} LIMIT 1")) is not None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Down while the rows already here are signed (an UPDATE of an insert-only row); back up,
    # with the chain's own guards, at the end.
    for statement in triggers.drop_statements(dialect, CHAINED):
        op.execute(statement)
    for table in CHAINED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('chain_seq', _seq_type(), nullable=True))
            batch_op.add_column(sa.Column('chain_mac', sa.String(length=64), nullable=True))
            batch_op.create_index(f'uq_{table}_chain_seq', ['chain_seq'], unique=True)
    for table in ROW_SIGNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('row_mac', sa.String(length=64), nullable=True))
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=100),
                              type_=sa.String(length=400), existing_nullable=False)

    signer = context.config.attributes.get(SIGNER)
    if signer is not None:
        signer(op.get_bind())
    elif any(_has_rows(t) for t in (*CHAINED, *ROW_SIGNED)):
        raise RuntimeError("0013_audit_macs: rows already here must be signed with the audit key; "
                           "upgrade with `python -m core db upgrade`, not a bare alembic")

    for statement in triggers.create_statements(dialect, CHAINED, audit=True):
        op.execute(statement)


def downgrade() -> None:
    # Sealed secrets cannot be opened here (the key is core's): refuse rather than leave endpoints
    # whose secret the older code would take for the plain one.
    if _has_rows('webhook_endpoints'):
        raise RuntimeError("0013_audit_macs: webhook endpoints hold sealed secrets; remove them "
                           "before downgrading")
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, CHAINED):
        op.execute(statement)
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=400),
                              type_=sa.String(length=100), existing_nullable=False)
    for table in ROW_SIGNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('row_mac')
    for table in CHAINED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'uq_{table}_chain_seq')
            batch_op.drop_column('chain_mac')
            batch_op.drop_column('chain_seq')
    for statement in triggers.create_statements(dialect, CHAINED):
        op.execute(statement)
