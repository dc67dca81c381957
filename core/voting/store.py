"""Community voting in the database: holders snapshots, each proposal's vote terms, the signed
votes and the closed votes' results. Helpers here take the caller's session and never commit
(core/voting/service.py and core/proposals own the transactions).

* A snapshot is written all rows or none, in the caller's transaction, through each engine's
  bulk path (`executemany` of tuples on SQLite, COPY on PostgreSQL): a million holders through
  the ORM would take minutes. Its chained row (core.record.audit) carries the Merkle root of the
  (address, weight) table and the SHA-256 of the whole holders table, delegates included
  (`holders_digest`), so the million holder rows need no MAC of their own.
* A proposal takes the snapshot in force when it is filed (core/voting/terms.py), with the
  quorum and the period of that moment: the policy changing afterwards does not touch it.
* The tally reads only the rows it needs: the votes of the proposal, and the holders who voted or
  delegated to a voter (two indexed reads, never the whole snapshot), then counts them with
  core.voting.tally, the same function anyone recounting from the export uses.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.voting.merkle import MerkleTree
from core.voting.snapshot_file import Holder, Snapshot, effective_weights, units_to_decimal
from core.voting.tally import Tally, latest_votes, tally
from db import triggers
from db.models import ProposalVote, ProposalVoteTerms, SnapshotHolder, VoteSnapshot

HOLDERS_BATCH = 100_000  # rows per executemany on SQLite: bounds the tuples held at once
HOLDER_COLUMNS = ("snapshot_id", "address", "units", "delegate")
_SQLITE_INSERT = (f"INSERT INTO snapshot_holders ({', '.join(HOLDER_COLUMNS)}) "
                  "VALUES (?, ?, ?, ?)")
_PG_COPY = f"COPY snapshot_holders ({', '.join(HOLDER_COLUMNS)}) FROM STDIN"


# --- snapshots --------------------------------------------------------------------------------

def holders_digest(holders: Iterable[tuple[str, int, str | None]]) -> str:
    """SHA-256 of the holders table in one spelling: a line `address,units,delegate` per holder
    (delegate empty when none), in address order, so it is the same however the rows were read."""
    digest = hashlib.sha256()
    for address, units, delegate in sorted(holders):
        digest.update(f"{address},{units},{delegate or ''}\n".encode("ascii"))
    return digest.hexdigest()


def _sqlite_rows(snapshot_id: uuid.UUID, holders: Iterable[Holder]) -> Iterator[list[tuple[Any, ...]]]:
    key = snapshot_id.hex  # sa.Uuid's stored form on SQLite: 32 hex digits
    batch: list[tuple[Any, ...]] = []
    for h in holders:
        batch.append((key, h.address, str(h.units), h.delegate))
        if len(batch) >= HOLDERS_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_holders(session: so.Session, snapshot_id: uuid.UUID, holders: Iterable[Holder]) -> None:
    """Every holder row of a snapshot, through the engine's bulk path, in the caller's
    transaction (a failure rolls the whole snapshot back)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # In key order, so each row lands at the end of the primary key's index; and with the
        # table's guards (db/triggers.py) set aside for the load: their per-row checks took
        # three quarters of its time. SQLite's DDL is part of the transaction and the load holds
        # the only write lock, so no other writer ever sees the table unguarded, and a failed
        # load puts them back with everything else. (PostgreSQL keeps its guards: the app's role
        # may not drop a trigger, and COPY is fast with them.)
        for statement in triggers.drop_statements("sqlite", triggers.FIXED_TABLES):
            connection.exec_driver_sql(statement)
        ordered = sorted(holders, key=lambda h: h.address)
        for batch in _sqlite_rows(snapshot_id, ordered):
            connection.exec_driver_sql(_SQLITE_INSERT, batch)
        for statement in triggers.create_statements("sqlite", triggers.FIXED_TABLES, audit=True):
            connection.exec_driver_sql(statement)
        return
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        key = str(snapshot_id)
        for h in holders:
            copy.write_row((key, h.address, h.units, h.delegate))


@dataclass(frozen=True)
class SnapshotFacts:
    snapshot_id: str
    block: int
    token: str | None
    chain_id: int  # the chain the token lives on, which every vote on the snapshot signs for
    holders: int
    total: Decimal
    merkle_root: str
    holders_sha256: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "block": self.block, "token": self.token,
                "chain_id": self.chain_id, "holders": self.holders, "total": str(self.total),
                "merkle_root": self.merkle_root, "holders_sha256": self.holders_sha256,
                "created_at": self.created_at.isoformat()}

    @classmethod
    def of(cls, row: VoteSnapshot) -> SnapshotFacts:
        return cls(str(row.id), row.block, row.token, row.chain_id, row.holders,
                   units_to_decimal(int(row.total_units)), row.merkle_root, row.holders_sha256,
                   row.created_at)


def add_snapshot(session: so.Session, snapshot: Snapshot, *, block: int, token: str | None,
                 chain_id: int, by: str, now: datetime) -> VoteSnapshot:
    """The snapshot's row and its holders, in the caller's transaction."""
    root = MerkleTree((h.address, h.units) for h in snapshot.holders).root
    digest = holders_digest((h.address, h.units, h.delegate) for h in snapshot.holders)
    row = VoteSnapshot(id=uuid.uuid4(), block=block, token=token, chain_id=chain_id,
                       holders=len(snapshot.holders),
                       total_units=Decimal(snapshot.total_units), merkle_root=root,
                       holders_sha256=digest, created_at=now, created_by=by)
    session.add(row)
    session.flush()  # the holders' foreign key needs the row
    insert_holders(session, row.id, snapshot.holders)
    return row


# --- weights ------------------------------------------------------------------------------------

def _units(value: Any) -> int:
    return int(value)


def holder_units(session: so.Session, snapshot_id: uuid.UUID, address: str) -> int:
    units = session.scalar(sa.select(SnapshotHolder.units).where(
        SnapshotHolder.snapshot_id == snapshot_id, SnapshotHolder.address == address))
    return 0 if units is None else _units(units)


def delegated_units(session: so.Session, snapshot_id: uuid.UUID, address: str, *,
                    except_voters_of: uuid.UUID | None = None) -> int:
    """The weight holders delegated to `address`; with `except_voters_of`, only that of holders
    who have not voted on that proposal themselves (Snapshot's rule)."""
    query = sa.select(SnapshotHolder.units).where(SnapshotHolder.snapshot_id == snapshot_id,
                                                  SnapshotHolder.delegate == address)
    if except_voters_of is not None:
        query = query.where(SnapshotHolder.address.not_in(
            sa.select(ProposalVote.address).where(ProposalVote.proposal_id == except_voters_of)))
    return sum(_units(u) for u in session.scalars(query))


def _weights_of_voters(session: so.Session, terms: ProposalVoteTerms
                       ) -> tuple[dict[str, int], dict[str, str]]:
    """Balances and delegations of the holders that matter to the tally: the voters, and those
    who delegated to a voter. Two reads on indexes (a single OR would scan the snapshot)."""
    voters = sa.select(ProposalVote.address).where(ProposalVote.proposal_id == terms.proposal_id)
    columns = (SnapshotHolder.address, SnapshotHolder.units, SnapshotHolder.delegate)
    balances: dict[str, int] = {}
    delegates: dict[str, str] = {}
    for condition in (SnapshotHolder.address.in_(voters), SnapshotHolder.delegate.in_(voters)):
        for address, units, delegate in session.execute(sa.select(*columns).where(
                SnapshotHolder.snapshot_id == terms.snapshot_id, condition)):
            balances[address] = _units(units)
            if delegate:
                delegates[address] = delegate
    return balances, delegates


def stored_votes(session: so.Session, proposal_id: uuid.UUID) -> list[ProposalVote]:
    return list(session.scalars(sa.select(ProposalVote).where(
        ProposalVote.proposal_id == proposal_id)
        .order_by(ProposalVote.timestamp, ProposalVote.address)))


def latest_vote_of(session: so.Session, proposal_id: uuid.UUID, address: str
                   ) -> ProposalVote | None:
    return session.scalar(sa.select(ProposalVote).where(
        ProposalVote.proposal_id == proposal_id, ProposalVote.address == address)
        .order_by(ProposalVote.timestamp.desc()).limit(1))


def tally_of(session: so.Session, terms: ProposalVoteTerms) -> Tally:
    """The tally of a proposal's stored votes against its snapshot, with the quorum fixed when
    it was filed."""
    total = _units(session.scalar(sa.select(VoteSnapshot.total_units).where(
        VoteSnapshot.id == terms.snapshot_id)))
    votes = [(address, support, timestamp) for address, support, timestamp in session.execute(
        sa.select(ProposalVote.address, ProposalVote.support, ProposalVote.timestamp)
        .where(ProposalVote.proposal_id == terms.proposal_id))]
    counted = latest_votes(_CastRow(*v) for v in votes)
    balances, delegates = _weights_of_voters(session, terms)
    weights = effective_weights(balances, delegates, counted.keys())
    return tally(counted.values(), {a: int(w) for a, w in weights.items()}, total,
                 terms.quorum_pct)


@dataclass(frozen=True, slots=True)
class _CastRow:
    address: str
    support: str
    timestamp: int


