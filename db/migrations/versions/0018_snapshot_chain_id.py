"""A holders snapshot names its chain: `vote_snapshots.chain_id` (EIP-155), which the typed data
of every vote on it carries in its domain, so a holder signs on the chain the token lives on and
the signature binds the vote to it.

Snapshots loaded before this revision were signed for Ethereum mainnet (chain 1, the only chain
the typed data knew), so they get 1. The column is added nullable, filled, then made NOT NULL with
its range check, with no server default left behind: every new snapshot says its chain. The
table's guards refuse every UPDATE, so they are set aside for the fill and made again after it
(on SQLite the batch copy that adds the check drops them anyway, as 0012's copy of the log did).
The rows' chain MACs stay valid: the MAC covers chain_id only when it is not 1
(core.record.audit.CHAINED_LATER).

Revision ID: 0018_snapshot_chain_id
Revises: 0017_voting
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db import triggers

revision = '0018_snapshot_chain_id'
down_revision = '0017_voting'
branch_labels = None
depends_on = None

TABLE = 'vote_snapshots'
MAINNET = 1  # the chain every snapshot before this revision was voted on
MAX_CHAIN_ID = 2 ** 53 - 1  # db.models.MAX_CHAIN_ID as it is at this revision


def _guards_down() -> str:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, (TABLE,)):
        op.execute(statement)
    return dialect


def _guards_up(dialect: str) -> None:
    for statement in triggers.create_statements(dialect, (TABLE,), audit=True):
        op.execute(statement)


def upgrade() -> None:
    dialect = _guards_down()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_id', sa.BigInteger(), nullable=True))
    op.execute(sa.text(f"UPDATE {TABLE} SET chain_id = {MAINNET}"))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column('chain_id', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint(
            op.f('ck_vote_snapshots_chain_id_range'),
            f'chain_id >= 1 AND chain_id <= {MAX_CHAIN_ID}')
    _guards_up(dialect)


def downgrade() -> None:
    # Below this revision every snapshot is mainnet's: one of another chain cannot go down
    # without its votes' signatures (and its chain MAC) ceasing to verify.
    others = op.get_bind().scalar(sa.text(
        f"SELECT count(*) FROM {TABLE} WHERE chain_id <> {MAINNET}"))
    if others:
        raise RuntimeError(f"{TABLE}: {others} snapshot(s) on a chain other than {MAINNET}; "
                           f"revision {down_revision} cannot hold them, so it is not taken")
    dialect = _guards_down()
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_vote_snapshots_chain_id_range'), type_='check')
        batch_op.drop_column('chain_id')
    _guards_up(dialect)
