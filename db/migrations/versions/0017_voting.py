"""Community voting: holders snapshots (insert-only, their holder rows fixed), each split
proposal's vote terms checkpointed at filing, the signed votes and the closed votes' results
(insert-only, in the audit chain: `audit=True`, the chain columns exist since 0013).

Revision ID: 0017_voting
Revises: 0016_experiments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
from db import triggers

revision = '0017_voting'
down_revision = '0016_experiments'
branch_labels = None
depends_on = None

NEW_GUARDED = ("vote_snapshots", "snapshot_holders", "proposal_vote_terms", "proposal_votes",
               "proposal_vote_results")
MODES = ('advisory', 'binding_major')
SUPPORTS = ('for', 'against', 'abstain')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _seq() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _units() -> db.types.ExactDecimal:
    return db.types.ExactDecimal(precision=78, scale=0)


def upgrade() -> None:
    op.create_table(
        'vote_snapshots',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('block', sa.BigInteger(), nullable=False),
        sa.Column('token', sa.String(length=42), nullable=True),
        sa.Column('holders', sa.Integer(), nullable=False),
        sa.Column('total_units', _units(), nullable=False),
        sa.Column('merkle_root', sa.String(length=66), nullable=False),
        sa.Column('holders_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint('block >= 0', name=op.f('ck_vote_snapshots_block_not_negative')),
        sa.CheckConstraint('holders > 0', name=op.f('ck_vote_snapshots_holders_positive')),
        sa.CheckConstraint('length(merkle_root) = 66', name=op.f('ck_vote_snapshots_merkle_root_hex')),
        sa.CheckConstraint('length(holders_sha256) = 64',
                           name=op.f('ck_vote_snapshots_holders_sha256_hex')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_vote_snapshots')),
    )
    with op.batch_alter_table('vote_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_vote_snapshots_created_at', ['created_at'], unique=False)
        batch_op.create_index('uq_vote_snapshots_chain_seq', ['chain_seq'], unique=True)

    op.create_table(
        'snapshot_holders',
        sa.Column('snapshot_id', sa.Uuid(), nullable=False),
        sa.Column('address', sa.String(length=42), nullable=False),
        sa.Column('units', _units(), nullable=False),
        sa.Column('delegate', sa.String(length=42), nullable=True),
        sa.ForeignKeyConstraint(['snapshot_id'], ['vote_snapshots.id'],
                                name=op.f('fk_snapshot_holders_snapshot_id_vote_snapshots')),
        sa.PrimaryKeyConstraint('snapshot_id', 'address', name=op.f('pk_snapshot_holders')),
    )
    with op.batch_alter_table('snapshot_holders', schema=None) as batch_op:
        batch_op.create_index('ix_snapshot_holders_snapshot_delegate', ['snapshot_id', 'delegate'],
                              unique=False, sqlite_where=sa.text('delegate IS NOT NULL'),
                              postgresql_where=sa.text('delegate IS NOT NULL'))

    op.create_table(
        'proposal_vote_terms',
        sa.Column('proposal_id', sa.Uuid(), nullable=False),
        sa.Column('snapshot_id', sa.Uuid(), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('opens_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('closes_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('quorum_pct', sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint(_in('mode', MODES), name=op.f('ck_proposal_vote_terms_valid_mode')),
        sa.CheckConstraint('closes_at > opens_at',
                           name=op.f('ck_proposal_vote_terms_closes_after_opening')),
        sa.CheckConstraint('quorum_pct >= 0 AND quorum_pct <= 100',
                           name=op.f('ck_proposal_vote_terms_quorum_pct_range')),
        sa.ForeignKeyConstraint(['proposal_id'], ['profit_allocation_log.id'],
                                name=op.f('fk_proposal_vote_terms_proposal_id_profit_allocation_log')),
        sa.ForeignKeyConstraint(['snapshot_id'], ['vote_snapshots.id'],
                                name=op.f('fk_proposal_vote_terms_snapshot_id_vote_snapshots')),
        sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_proposal_vote_terms')),
    )
    with op.batch_alter_table('proposal_vote_terms', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_vote_terms_closes_at', ['closes_at'], unique=False)
        batch_op.create_index('uq_proposal_vote_terms_chain_seq', ['chain_seq'], unique=True)

    op.create_table(
        'proposal_votes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('proposal_id', sa.Uuid(), nullable=False),
        sa.Column('address', sa.String(length=42), nullable=False),
        sa.Column('support', sa.String(length=16), nullable=False),
        sa.Column('timestamp', sa.BigInteger(), nullable=False),
        sa.Column('signature', sa.String(length=132), nullable=False),
        sa.Column('weight_units', _units(), nullable=False),
        sa.Column('recorded_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.CheckConstraint(_in('support', SUPPORTS), name=op.f('ck_proposal_votes_valid_support')),
        sa.CheckConstraint('timestamp >= 0', name=op.f('ck_proposal_votes_timestamp_not_negative')),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal_vote_terms.proposal_id'],
                                name=op.f('fk_proposal_votes_proposal_id_proposal_vote_terms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_votes')),
        sa.UniqueConstraint('proposal_id', 'address', 'timestamp',
                            name='uq_proposal_votes_proposal_address_timestamp'),
    )
    with op.batch_alter_table('proposal_votes', schema=None) as batch_op:
        batch_op.create_index('uq_proposal_votes_chain_seq', ['chain_seq'], unique=True)

    op.create_table(
        'proposal_vote_results',
        sa.Column('proposal_id', sa.Uuid(), nullable=False),
        sa.Column('closed_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('for_units', _units(), nullable=False),
        sa.Column('against_units', _units(), nullable=False),
        sa.Column('abstain_units', _units(), nullable=False),
        sa.Column('voters', sa.Integer(), nullable=False),
        sa.Column('quorum_met', sa.Boolean(), nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.Column('chain_seq', _seq(), nullable=True),
        sa.Column('chain_mac', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposal_vote_terms.proposal_id'],
                                name=op.f('fk_proposal_vote_results_proposal_id_'
                                          'proposal_vote_terms')),
        sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_proposal_vote_results')),
    )
    with op.batch_alter_table('proposal_vote_results', schema=None) as batch_op:
        batch_op.create_index('uq_proposal_vote_results_chain_seq', ['chain_seq'], unique=True)

    for statement in triggers.create_statements(op.get_bind().dialect.name, NEW_GUARDED,
                                                audit=True):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, NEW_GUARDED):
        op.execute(statement)
    op.drop_table('proposal_vote_results')
    op.drop_table('proposal_votes')
    with op.batch_alter_table('proposal_vote_terms', schema=None) as batch_op:
        batch_op.drop_index('uq_proposal_vote_terms_chain_seq')
        batch_op.drop_index('ix_proposal_vote_terms_closes_at')
    op.drop_table('proposal_vote_terms')
    op.drop_table('snapshot_holders')
    with op.batch_alter_table('vote_snapshots', schema=None) as batch_op:
        batch_op.drop_index('uq_vote_snapshots_chain_seq')
        batch_op.drop_index('ix_vote_snapshots_created_at')
    op.drop_table('vote_snapshots')
