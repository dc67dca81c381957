"""Invitations and password-reset codes (hashed, single use), and TOTP second factors (sealed).

Revision ID: 0014_invitations_totp
Revises: 0013_audit_macs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0014_invitations_totp'
down_revision = '0013_audit_macs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_invitations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('invite', 'reset')",
                           name=op.f('ck_account_invitations_valid_kind')),
        sa.CheckConstraint("role IS NULL OR role IN ('viewer', 'analyst', 'governor', 'admin')",
                           name=op.f('ck_account_invitations_valid_role')),
        sa.CheckConstraint("kind <> 'invite' OR role IS NOT NULL",
                           name=op.f('ck_account_invitations_invite_has_role')),
        sa.CheckConstraint("expires_at > created_at",
                           name=op.f('ck_account_invitations_expires_after_created')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_invitations')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_account_invitations_code_hash')),
    )
    with op.batch_alter_table('account_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_invitations_username'), ['username'],
                              unique=False)

    op.create_table(
        'totp_factors',
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('secret_sealed', sa.String(length=300), nullable=False),
        sa.Column('last_step', sa.BigInteger(), nullable=True),
        sa.Column('enrolled_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['username'], ['users.username'],
                                name=op.f('fk_totp_factors_username_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('username', name=op.f('pk_totp_factors')),
    )


def downgrade() -> None:
    op.drop_table('totp_factors')
    with op.batch_alter_table('account_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_invitations_username'))
    op.drop_table('account_invitations')
