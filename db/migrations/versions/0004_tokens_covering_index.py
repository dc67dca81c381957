"""Tokens: a covering index on (created_at, price, volume_24h) replaces the created_at index.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_tokens_created_at')
        batch_op.create_index('ix_tokens_created_at_price_volume',
                              ['created_at', 'price', 'volume_24h'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_tokens_created_at_price_volume')
        batch_op.create_index('ix_tokens_created_at', ['created_at'], unique=False)
