"""The trust issue: the timelock queue and vetoes, sealed governance and its proposals, and since
when each account governs.

The allocation log's statuses grow by `queued` and `vetoed` (the check is replaced as 0009 did;
on SQLite the batch copy drops the log's triggers, which are made again from db/triggers.py).
Accounts that govern at the upgrade are taken to have governed since they were made.

Revision ID: 0012_sealed_governance
Revises: 0011_api_tokens_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
from db import triggers
from sqlalchemy.dialects import postgresql

revision = '0012_sealed_governance'
down_revision = '0011_api_tokens_webhooks'
branch_labels = None
depends_on = None

NEW_TABLES = ("governance_proposals", "governance_reviews", "governance_seals", "timelock_queue",
              "proposal_vetoes")
OLD_STATUSES = ('proposed', 'active', 'rejected', 'expired', 'withdrawn', 'superseded')
NEW_STATUSES = OLD_STATUSES + ('queued', 'vetoed')


def _status_in(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def _replace_log_status_check(values: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, (triggers.LOG,)):
        op.execute(statement)
    with op.batch_alter_table(triggers.LOG, schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_profit_allocation_log_valid_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_profit_allocation_log_valid_status'),
                                         _status_in(values))
    for statement in triggers.create_statements(dialect, (triggers.LOG,)):
        op.execute(statement)


def upgrade() -> None:
    op.create_table('governance_proposals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('change', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decision_notes', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('policy', 'role', 'disable', 'enable', 'unseal', 'invite')", name=op.f('ck_governance_proposals_valid_kind')),
    sa.CheckConstraint("status IN ('proposed', 'queued', 'active', 'rejected', 'vetoed', 'expired', 'withdrawn')", name=op.f('ck_governance_proposals_valid_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_governance_proposals'))
    )
    with op.batch_alter_table('governance_proposals', schema=None) as batch_op:
        batch_op.create_index('ix_governance_proposals_status_created_at', ['status', 'created_at'], unique=False)

    op.create_table('governance_seals',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sealed', sa.Boolean(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('governance_proposal_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_governance_seals'))
    )
    op.create_table('proposal_vetoes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('vetoed_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('vetoed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('allocation', 'governance')", name=op.f('ck_proposal_vetoes_valid_kind')),
    sa.CheckConstraint('length(trim(reason)) > 0', name=op.f('ck_proposal_vetoes_reason_present')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_vetoes')),
    sa.UniqueConstraint('proposal_id', 'vetoed_by', name='uq_proposal_vetoes_proposal_vetoed_by')
    )
    with op.batch_alter_table('proposal_vetoes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_vetoes_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('timelock_queue',
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('queued_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('executes_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delay_hours', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('allocation', 'governance')", name=op.f('ck_timelock_queue_valid_kind')),
    sa.CheckConstraint('executes_at >= queued_at', name=op.f('ck_timelock_queue_executes_after_queued')),
    sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_timelock_queue'))
    )
    with op.batch_alter_table('timelock_queue', schema=None) as batch_op:
        batch_op.create_index('ix_timelock_queue_executes_at', ['executes_at'], unique=False)

    op.create_table('governance_reviews',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('reviewed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f('ck_governance_reviews_valid_decision')),
    sa.ForeignKeyConstraint(['proposal_id'], ['governance_proposals.id'], name=op.f('fk_governance_reviews_proposal_id_governance_proposals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_governance_reviews')),
    sa.UniqueConstraint('proposal_id', 'reviewer', name='uq_governance_reviews_proposal_reviewer')
    )
    with op.batch_alter_table('governance_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_governance_reviews_proposal_id'), ['proposal_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('governing_since', db.types.UTCDateTime(timezone=True), nullable=True))

    op.execute("UPDATE users SET governing_since = created_at "
               "WHERE active AND role IN ('governor', 'admin')")
    for statement in triggers.create_statements(op.get_bind().dialect.name, NEW_TABLES):
        op.execute(statement)
    _replace_log_status_check(NEW_STATUSES)


def downgrade() -> None:
    # Rows already queued or vetoed break the narrower check: the downgrade refuses (the
    # database raises) rather than rewrite history.
    _replace_log_status_check(OLD_STATUSES)
    for statement in triggers.drop_statements(op.get_bind().dialect.name, NEW_TABLES):
        op.execute(statement)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('governing_since')

    with op.batch_alter_table('governance_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_governance_reviews_proposal_id'))

    op.drop_table('governance_reviews')
    with op.batch_alter_table('timelock_queue', schema=None) as batch_op:
        batch_op.drop_index('ix_timelock_queue_executes_at')

    op.drop_table('timelock_queue')
    with op.batch_alter_table('proposal_vetoes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_vetoes_proposal_id'))

    op.drop_table('proposal_vetoes')
    op.drop_table('governance_seals')
    with op.batch_alter_table('governance_proposals', schema=None) as batch_op:
        batch_op.drop_index('ix_governance_proposals_status_created_at')

    op.drop_table('governance_proposals')
