"""Governance: accounts, the versioned policy and per-governor reviews.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.types
from db import triggers

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('last_failed_login_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'analyst', 'governor', 'admin')", name=op.f('ck_users_valid_role')),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('allocation_policy',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('changed_key', sa.String(length=64), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_allocation_policy'))
    )
    op.create_table('proposal_reviews',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('reviewed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f('ck_proposal_reviews_valid_decision')),
    sa.ForeignKeyConstraint(['proposal_id'], ['profit_allocation_log.id'], name=op.f('fk_proposal_reviews_proposal_id_profit_allocation_log')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_reviews')),
    sa.UniqueConstraint('proposal_id', 'reviewer', name='uq_proposal_reviews_proposal_reviewer')
    )
    with op.batch_alter_table('proposal_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_reviews_proposal_id'), ['proposal_id'], unique=False)

    for statement in triggers.create_statements(op.get_bind().dialect.name, ('allocation_policy', 'proposal_reviews')):
        op.execute(statement)


def downgrade() -> None:
    for statement in triggers.drop_statements(op.get_bind().dialect.name, ('allocation_policy', 'proposal_reviews')):
        op.execute(statement)
    op.drop_table('proposal_reviews')
    op.drop_table('allocation_policy')
    op.drop_table('users')
