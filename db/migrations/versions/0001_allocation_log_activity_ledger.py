"""The allocation log, the activity log and the distribution ledger, with their guards.

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types
from db import triggers

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profit_allocation_log',
    sa.Column('id', sa.Uuid(), server_default=db.types.new_uuid(), nullable=False),
    sa.Column('timestamp', db.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('reinvestment_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('dao_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('lucky_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('creator_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reasoning', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('input_metrics', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('proposed_by', sa.String(length=16), nullable=False),
    sa.Column('proposer_username', sa.String(length=64), nullable=True),
    sa.Column('based_on_id', sa.Uuid(), nullable=True),
    sa.Column('effective_from', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('effective_until', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_notes', sa.Text(), nullable=True),
    sa.CheckConstraint("effective_until IS NULL OR (status = 'active' AND effective_until >= effective_from)", name=op.f('ck_profit_allocation_log_effective_until_after_from')),
    sa.CheckConstraint("proposed_by IN ('ai', 'manual', 'system')", name=op.f('ck_profit_allocation_log_valid_proposed_by')),
    sa.CheckConstraint("status <> 'active' OR effective_from IS NOT NULL", name=op.f('ck_profit_allocation_log_active_has_effective_from')),
    sa.CheckConstraint("status IN ('proposed', 'active', 'rejected', 'expired')", name=op.f('ck_profit_allocation_log_valid_status')),
    sa.CheckConstraint('confidence >= 0 AND confidence <= 1', name=op.f('ck_profit_allocation_log_confidence_range')),
    sa.CheckConstraint('creator_pct >= 0 AND creator_pct <= 100 AND round(creator_pct, 2) = creator_pct', name=op.f('ck_profit_allocation_log_creator_pct_range')),
    sa.CheckConstraint('dao_pct >= 0 AND dao_pct <= 100 AND round(dao_pct, 2) = dao_pct', name=op.f('ck_profit_allocation_log_dao_pct_range')),
    sa.CheckConstraint('length(trim(reasoning)) > 0', name=op.f('ck_profit_allocation_log_reasoning_present')),
    sa.CheckConstraint('lucky_pct >= 0 AND lucky_pct <= 100 AND round(lucky_pct, 2) = lucky_pct', name=op.f('ck_profit_allocation_log_lucky_pct_range')),
    sa.CheckConstraint('reinvestment_pct >= 0 AND reinvestment_pct <= 100 AND round(reinvestment_pct, 2) = reinvestment_pct', name=op.f('ck_profit_allocation_log_reinvestment_pct_range')),
    sa.CheckConstraint('round(reinvestment_pct + dao_pct + lucky_pct + creator_pct, 2) = 100', name=op.f('ck_profit_allocation_log_valid_total_percentage')),
    sa.ForeignKeyConstraint(['based_on_id'], ['profit_allocation_log.id'], name=op.f('fk_profit_allocation_log_based_on_id_profit_allocation_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profit_allocation_log'))
    )
    with op.batch_alter_table('profit_allocation_log', schema=None) as batch_op:
        batch_op.create_index('ix_profit_allocation_log_effective_from', ['effective_from'], unique=False)
        batch_op.create_index('ix_profit_allocation_log_status_timestamp', ['status', 'timestamp'], unique=False)
        batch_op.create_index('uq_profit_allocation_log_one_current', ['status'], unique=True, sqlite_where=sa.text("status = 'active' AND effective_until IS NULL"), postgresql_where=sa.text("status = 'active' AND effective_until IS NULL"))
    op.create_table('protocol_activity',
    sa.Column('id', sa.Uuid(), server_default=db.types.new_uuid(), nullable=False),
    sa.Column('timestamp', db.types.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('activity_type', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_activity'))
    )
    with op.batch_alter_table('protocol_activity', schema=None) as batch_op:
        batch_op.create_index('ix_protocol_activity_timestamp', ['timestamp'], unique=False)
        batch_op.create_index('ix_protocol_activity_type_timestamp', ['activity_type', 'timestamp'], unique=False)
    op.create_table('profit_distributions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('total', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.Column('allocation_id', sa.Uuid(), nullable=True),
    sa.Column('reinvestment_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('dao_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('lucky_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('creator_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('reinvestment_amount', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.Column('dao_amount', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.Column('lucky_amount', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.Column('creator_amount', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('CAST(creator_amount AS NUMERIC) >= 0', name=op.f('ck_profit_distributions_creator_amount_not_negative')),
    sa.CheckConstraint('CAST(dao_amount AS NUMERIC) >= 0', name=op.f('ck_profit_distributions_dao_amount_not_negative')),
    sa.CheckConstraint('CAST(lucky_amount AS NUMERIC) >= 0', name=op.f('ck_profit_distributions_lucky_amount_not_negative')),
    sa.CheckConstraint('CAST(reinvestment_amount AS NUMERIC) >= 0', name=op.f('ck_profit_distributions_reinvestment_amount_not_negative')),
    sa.CheckConstraint('CAST(total AS NUMERIC) >= 0', name=op.f('ck_profit_distributions_total_not_negative')),
    sa.CheckConstraint('creator_pct >= 0 AND creator_pct <= 100 AND round(creator_pct, 2) = creator_pct', name=op.f('ck_profit_distributions_creator_pct_range')),
    sa.CheckConstraint('dao_pct >= 0 AND dao_pct <= 100 AND round(dao_pct, 2) = dao_pct', name=op.f('ck_profit_distributions_dao_pct_range')),
    sa.CheckConstraint('lucky_pct >= 0 AND lucky_pct <= 100 AND round(lucky_pct, 2) = lucky_pct', name=op.f('ck_profit_distributions_lucky_pct_range')),
    sa.CheckConstraint('reinvestment_pct >= 0 AND reinvestment_pct <= 100 AND round(reinvestment_pct, 2) = reinvestment_pct', name=op.f('ck_profit_distributions_reinvestment_pct_range')),
    sa.CheckConstraint('round(reinvestment_pct + dao_pct + lucky_pct + creator_pct, 2) = 100', name=op.f('ck_profit_distributions_valid_total_percentage')),
    sa.ForeignKeyConstraint(['allocation_id'], ['profit_allocation_log.id'], name=op.f('fk_profit_distributions_allocation_id_profit_allocation_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profit_distributions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_profit_distributions_idempotency_key'))
    )
    with op.batch_alter_table('profit_distributions', schema=None) as batch_op:
        batch_op.create_index('ix_profit_distributions_created_at', ['created_at'], unique=False)

    for statement in triggers.create_statements(op.get_bind().dialect.name, ('profit_allocation_log', 'protocol_activity', 'profit_distributions')):
        op.execute(statement)


def downgrade() -> None:
    for statement in triggers.drop_statements(op.get_bind().dialect.name, ('profit_allocation_log', 'protocol_activity', 'profit_distributions')):
        op.execute(statement)
    op.drop_table('profit_distributions')
    op.drop_table('protocol_activity')
    op.drop_table('profit_allocation_log')
