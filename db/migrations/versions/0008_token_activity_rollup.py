"""Token activity roll-up: launches, price and volume sums per minute, hour and day, filled
from the tokens already there (so an upgraded database reads the same figures as before).

Revision ID: 0008_token_activity_rollup
Revises: 0009_withdrawn_superseded
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
from db import rollup

revision = '0008_token_activity_rollup'
down_revision = '0009_withdrawn_superseded'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('token_activity_rollup',
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('bucket_start', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tokens', sa.BigInteger(), nullable=False),
    sa.Column('price_sum', db.types.ExactDecimal(precision=None, scale=None), nullable=False),
    sa.Column('volume_sum', db.types.ExactDecimal(precision=None, scale=None), nullable=False),
    sa.CheckConstraint('width IN (60, 3600, 86400)', name=op.f('ck_token_activity_rollup_valid_width')),
    sa.CheckConstraint('tokens >= 0', name=op.f('ck_token_activity_rollup_tokens_not_negative')),
    sa.PrimaryKeyConstraint('width', 'bucket_start', name=op.f('pk_token_activity_rollup'))
    )
    dialect = op.get_bind().dialect.name
    for statement in rollup.fill_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table('token_activity_rollup')
