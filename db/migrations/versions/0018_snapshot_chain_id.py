"""A holders snapshot names its chain: `vote_snapshots.chain_id` (EIP-155), which the typed data
of every vote on it carries in its domain, so a holder signs on the chain the token lives on and
the signature binds the vote to it.

Snapshots loaded before this revision were signed for Ethereum mainnet (chain 1, the only chain
the typed data knew), so they get 1: the column is added NOT NULL with DEFAULT 1 and its range
check in one `ALTER TABLE ... ADD COLUMN`, the same statement on both engines: no batch copy of
the table (on SQLite a copy drops the table's triggers, which would then be made again as 0012
does for the log), so the default stays (db.models says it too), and adding a column fires no
UPDATE guard on either engine: the table's guards stay as they are. The rows' chain MACs stay valid: the MAC covers chain_id only when it is not 1
(core.record.audit.CHAINED_LATER).

Revision ID: 0018_snapshot_chain_id
Revises: 0017_voting
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018_snapshot_chain_id'
down_revision = '0017_voting'
branch_labels = None
depends_on = None

TABLE = 'vote_snapshots'
MAINNET = 1  # the chain every snapshot before this revision was voted on
MAX_CHAIN_ID = 2 ** 53 - 1  # db.models.MAX_CHAIN_ID as it is at this revision
CHECK = 'ck_vote_snapshots_chain_id_range'


def upgrade() -> None:
    op.execute(sa.text(
        f"ALTER TABLE {TABLE} ADD COLUMN chain_id BIGINT DEFAULT {MAINNET} NOT NULL "
        f"CONSTRAINT {CHECK} CHECK (chain_id >= 1 AND chain_id <= {MAX_CHAIN_ID})"))


def downgrade() -> None:
    # Below this revision every snapshot is mainnet's: one of another chain cannot go down
    # without its votes' signatures (and its chain MAC) ceasing to verify.
    others = op.get_bind().scalar(sa.text(
        f"SELECT count(*) FROM {TABLE} WHERE chain_id <> {MAINNET}"))
    if others:
        raise RuntimeError(f"{TABLE}: {others} snapshot(s) on a chain other than {MAINNET}; "
                           f"revision {down_revision} cannot hold them, so it is not taken")
    # SQLite (3.35 on) drops a column with its own CHECK; PostgreSQL drops the check with it.
    op.execute(sa.text(f"ALTER TABLE {TABLE} DROP COLUMN chain_id"))
