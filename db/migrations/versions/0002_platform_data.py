"""Platform data the rebalancer reads: tokens, daily engagement, DAO treasury snapshots.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('price', sa.Double(), nullable=False),
    sa.Column('volume_24h', sa.Double(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price >= 0', name=op.f('ck_tokens_price_not_negative')),
    sa.CheckConstraint('volume_24h >= 0', name=op.f('ck_tokens_volume_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tokens'))
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index('ix_tokens_created_at', ['created_at'], unique=False)
    op.create_table('engagement_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('wallet_connections', sa.Integer(), nullable=False),
    sa.Column('trades_count', sa.Integer(), nullable=False),
    sa.Column('page_views', sa.Integer(), nullable=False),
    sa.CheckConstraint('page_views >= 0', name=op.f('ck_engagement_daily_page_views_not_negative')),
    sa.CheckConstraint('trades_count >= 0', name=op.f('ck_engagement_daily_trades_count_not_negative')),
    sa.CheckConstraint('wallet_connections >= 0', name=op.f('ck_engagement_daily_wallet_connections_not_negative')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_engagement_daily'))
    )
    op.create_table('dao_treasury_snapshots',
    sa.Column('at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('balance_usd', db.types.ExactDecimal(precision=24, scale=2), nullable=False),
    sa.CheckConstraint('CAST(balance_usd AS NUMERIC) >= 0', name=op.f('ck_dao_treasury_snapshots_balance_not_negative')),
    sa.PrimaryKeyConstraint('at', name=op.f('pk_dao_treasury_snapshots'))
    )


def downgrade() -> None:
    op.drop_table('dao_treasury_snapshots')
    op.drop_table('engagement_daily')
    op.drop_table('tokens')
