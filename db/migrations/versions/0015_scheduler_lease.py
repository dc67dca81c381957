"""The scheduler's lease (one `schedule` process at a time) and its claimed fire times (each
fire time of each job runs at most once, even after a takeover).

Revision ID: 0015_scheduler_lease
Revises: 0014_invitations_totp
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0015_scheduler_lease'
# The trust issue's other parts use 0012..0014 on their own branches; the merge relinks the chain.
down_revision = '0014_invitations_totp'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheduler_leases',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('acquired_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases')),
    )
    op.create_table(
        'scheduler_runs',
        sa.Column('job', sa.String(length=64), nullable=False),
        sa.Column('fired_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=True),
        sa.Column('error_type', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('job', 'fired_at', name=op.f('pk_scheduler_runs')),
    )


def downgrade() -> None:
    op.drop_table('scheduler_runs')
    op.drop_table('scheduler_leases')
