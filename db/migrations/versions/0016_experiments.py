"""Switchback experiments: the experiments, their reviews (insert-only) and each block's switch
(insert-only, one per block), and `experiment` as a proposer of the allocation log (a block's
switch is an ordinary log row).

The log's proposer check is replaced as 0009 replaced its status check: on SQLite the batch copy
drops the log's triggers, which are made again from db/triggers.py, with the audit chain's guards
(`audit=True`: the chain columns exist since 0013).

Revision ID: 0016_experiments
Revises: 0015_scheduler_lease
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types
from db import triggers

revision = '0016_experiments'
down_revision = '0015_scheduler_lease'
branch_labels = None
depends_on = None

NEW_INSERT_ONLY = ("experiment_reviews", "experiment_switches")
OLD_PROPOSERS = ('ai', 'manual', 'system')
NEW_PROPOSERS = OLD_PROPOSERS + ('experiment',)
STATUSES = ('proposed', 'approved', 'rejected', 'running', 'finished', 'stopped')
METRICS = ('tokens_per_day', 'volume_per_day', 'avg_price', 'engagement_score',
           'wallet_connections')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_proposer_check(values: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, (triggers.LOG,)):
        op.execute(statement)
    with op.batch_alter_table(triggers.LOG, schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_profit_allocation_log_valid_proposed_by'), type_='check')
        batch_op.create_check_constraint(op.f('ck_profit_allocation_log_valid_proposed_by'),
                                         _in('proposed_by', values))
    for statement in triggers.create_statements(dialect, (triggers.LOG,), audit=True):
        op.execute(statement)


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _seq() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    _replace_proposer_check(NEW_PROPOSERS)
    op.create_table(
        'experiments',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('reasoning', sa.Text(), nullable=False),
        sa.Column('arms', sa.String(length=200), nullable=False),
        sa.Column('block_hours', sa.Integer(), nullable=False),
        sa.Column('blocks', sa.Integer(), nullable=False),
        sa.Column('burn_in_hours', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(length=32), nullable=False),
        sa.Column('guardrails', _json(), nullable=False),
        sa.Column('starts_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('schedule_sha256', sa.String(length=64), nullable=False),
        sa.Column('schedule_sealed', sa.Text(), nullable=False),
        sa.Column('revealed_salt', sa.String(length=64), nullable=True),
        sa.Column('revealed_schedule', sa.Text(), nullable=True),
        sa.Column('mde_pct', sa.Double(), nullable=True),
        sa.Column('decided_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('stopped_by', sa.String(length=64), nullable=True),
        sa.Column('stop_reason', sa.Text(), nullable=True),
        sa.Column('row_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint(_in('status', STATUSES), name=op.f('ck_experiments_valid_status')),
        sa.CheckConstraint(_in('metric', METRICS), name=op.f('ck_experiments_valid_metric')),
        sa.CheckConstraint('length(trim(arms)) > 0', name=op.f('ck_experiments_arms_present')),
        sa.CheckConstraint('block_hours >= 1', name=op.f('ck_experiments_block_hours_positive')),
        sa.CheckConstraint('blocks > 0', name=op.f('ck_experiments_blocks_positive')),
        sa.CheckConstraint('burn_in_hours >= 0 AND burn_in_hours < block_hours',
                           name=op.f('ck_experiments_burn_in_within_block')),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_experiments_ends_after_start')),
        sa.CheckConstraint('length(schedule_sha256) = 64', name=op.f('ck_experiments_sha256_hex')),
        sa.CheckConstraint('length(trim(reasoning)) > 0',
                           name=op.f('ck_experiments_reasoning_present')),
        sa.CheckConstraint("(revealed_salt IS NULL AND revealed_schedule IS NULL) OR "
                           "status IN ('finished', 'stopped')",
                           name=op.f('ck_experiments_revealed_only_when_ended')),
        sa.CheckConstraint("status <> 'stopped' OR length(trim(stop_reason)) > 0",
                           name=op.f('ck_experiments_stopped_has_reason')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    )
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.create_index('ix_experiments_status_starts_at', ['status', 'starts_at'],
                              unique=False)

    op.create_table(
        'experiment_reviews',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('experiment_id', sa.Uuid(), nullable=False),
        sa.Column('reviewer', sa.String(length=64), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('reviewed_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint("decision IN ('approved', 'rejected')",
                           name=op.f('ck_experiment_reviews_valid_decision')),
        sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'],
                                name=op.f('fk_experiment_reviews_experiment_id_experiments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_reviews')),
        sa.UniqueConstraint('experiment_id', 'reviewer',
                            name='uq_experiment_reviews_experiment_reviewer'),
    )
    with op.batch_alter_table('experiment_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiment_reviews_experiment_id'), ['experiment_id'],
                              unique=False)
        batch_op.create_index('uq_experiment_reviews_chain_seq', ['chain_seq'], unique=True)

    op.create_table(
        'experiment_switches',
        sa.Column('experiment_id', sa.Uuid(), nullable=False),
        sa.Column('block_index', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('arm', sa.Integer(), nullable=False),
        sa.Column('allocation_id', sa.Uuid(), nullable=True),
        sa.Column('switched_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint('block_index >= -1',
                           name=op.f('ck_experiment_switches_valid_block_index')),
        sa.CheckConstraint('arm >= 0', name=op.f('ck_experiment_switches_arm_not_negative')),
        sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'],
                                name=op.f('fk_experiment_switches_experiment_id_experiments')),
        sa.ForeignKeyConstraint(['allocation_id'], ['profit_allocation_log.id'],
                                name=op.f('fk_experiment_switches_allocation_id_'
                                          'profit_allocation_log')),
        sa.PrimaryKeyConstraint('experiment_id', 'block_index',
                                name=op.f('pk_experiment_switches')),
    )
    with op.batch_alter_table('experiment_switches', schema=None) as batch_op:
        batch_op.create_index('uq_experiment_switches_chain_seq', ['chain_seq'], unique=True)

    for statement in triggers.create_statements(op.get_bind().dialect.name, NEW_INSERT_ONLY,
                                                audit=True):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, NEW_INSERT_ONLY):
        op.execute(statement)
    op.drop_table('experiment_switches')
    with op.batch_alter_table('experiment_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_experiment_reviews_chain_seq')
        batch_op.drop_index(batch_op.f('ix_experiment_reviews_experiment_id'))
    op.drop_table('experiment_reviews')
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.drop_index('ix_experiments_status_starts_at')
    op.drop_table('experiments')
    # Switch rows already in the log would break the narrower check: the downgrade refuses (the
    # database raises) rather than rewrite history.
    _replace_proposer_check(OLD_PROPOSERS)
