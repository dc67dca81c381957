"""Community voting's services, one transaction each: load a holders snapshot, the typed data a
wallet signs, cast a signed vote, the tally, and the export anyone can recount from.

A vote has no account behind it: the EIP-712 signature is the credential, so the actor of its
activity row is the voting address, and the channel (`cli`, `api`) is named by the entry point
as for every other change (core/base/channel.py). A refused vote writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.channel import current_channel
from core.base.errors import NotFound, Refused
from core.base.formatting import count, money
from core.base.locking import serialize_writes
from core.base.lookups import get_by_id
from core.base.parsing import parse_whole, shown
from core.base.sessions import reading, writing
from core.base.urls import redact_url
from core.record.activity import record_activity
from core.voting import chain, store, terms as vote_terms
from core.voting.addresses import parse_address
from core.voting.merkle import MerkleTree, WeightProof
from core.voting.snapshot_file import load_snapshot as read_snapshot_file
from core.voting.snapshot_file import Snapshot, units_to_decimal
from core.voting.tree_cache import TreeCache
from core.voting.tally import QUORUM_PCT_PLACES, Tally, standings
from core.voting.typed_data import (DEFAULT_CHAIN_ID, parse_chain_id, parse_support,
                                    parse_timestamp, typed_data, verify_vote)
from db.engine import Database
from db.models import (ProposalVote, ProposalVoteResult, ProposalVoteTerms, SnapshotHolder,
                       VoteSnapshot)
from db.types import utcnow

MAX_BLOCK = 2 ** 63 - 1  # a BIGINT; chains count blocks in the tens of millions
# A vote may be signed a little ahead of our clock (a wallet's clock runs fast), never further:
# a timestamp far ahead would lock its address out of changing its vote until then.
MAX_VOTE_CLOCK_AHEAD = timedelta(minutes=5)
SNAPSHOT_LOADER = "system"  # who loaded a snapshot when no channel names anyone


# --- snapshots --------------------------------------------------------------------------------

def _loader(by: str | None) -> str:
    if by:
        return by
    channel = current_channel() or {}
    return str(channel.get("os_user") or channel.get("token_id") or channel.get("channel")
               or SNAPSHOT_LOADER)[:64]


def load_snapshot(db: Database, path: str | Path, *, block: Any, token: Any = None,
                  chain_id: Any = None, by: str | None = None,
                  now: datetime | None = None) -> store.SnapshotFacts:
    """A holders snapshot from the platform's CSV (`address,balance[,delegate]`) of a token on
    chain `chain_id` (DEFAULT_CHAIN_ID when None; every vote on it signs for that chain), all
    rows or none: the file is read and checked whole before anything is written, then the
    snapshot, its Merkle root and every holder are written in one transaction."""
    number = parse_whole(block, "block", minimum=0, maximum=MAX_BLOCK)
    token_address = parse_address(token, "token") if token is not None else None
    chain_number = parse_chain_id(DEFAULT_CHAIN_ID if chain_id is None else chain_id)
    return _store_snapshot(db, read_snapshot_file(path), number, token_address, chain_number,
                           by, now, {})


def load_chain_snapshot(db: Database, rpc: str, holders: str | Path, *, block: Any, token: Any,
                        chain_id: Any = None, by: str | None = None,
                        now: datetime | None = None) -> store.SnapshotFacts:
    """A holders snapshot read from an EVM node: each address in the `holders` file (one a line)
    with its weight at `block` (core/voting/chain.py), on the node's chain (`eth_chainId`; a
    `chain_id` given must be it), then stored exactly as a CSV snapshot is. Nothing is written
    unless every holder was read."""
    number = parse_whole(block, "block", minimum=0, maximum=MAX_BLOCK)
    token_address = parse_address(token, "token")
    expected = parse_chain_id(chain_id) if chain_id is not None else None
    addresses = chain.read_holders(holders)
    chain_number, snapshot = chain.read_chain_snapshot(str(rpc), token_address, number,
                                                       addresses, expected)
    return _store_snapshot(db, snapshot, number, token_address, chain_number, by, now,
                           {"rpc": redact_url(str(rpc))})


def _store_snapshot(db: Database, snapshot: Snapshot, number: int, token_address: str | None,
                    chain_id: int, by: str | None, now: datetime | None,
                    source: dict[str, Any]) -> store.SnapshotFacts:
    with writing(db) as session:
        row = store.add_snapshot(session, snapshot, block=number, token=token_address,
                                 chain_id=chain_id, by=_loader(by), now=now or utcnow())
        facts = store.SnapshotFacts.of(row)
        record_activity(session, "vote_snapshot_loaded",
                        f"holders snapshot {row.id} loaded: {count(row.holders)} holders at block "
                        f"{number} of chain {chain_id}, total {money(facts.total)}",
                        {**facts.as_json(), "by": row.created_by, **source})
        return facts


def get_snapshot(db: Database, snapshot_id: Any) -> store.SnapshotFacts:
    with reading(db) as session:
        return store.SnapshotFacts.of(_snapshot_row(session, snapshot_id))


def _snapshot_row(session: so.Session, snapshot_id: Any) -> VoteSnapshot:
    return get_by_id(session, VoteSnapshot, snapshot_id, "snapshot", "a holders snapshot")


def _stored_holders(session: so.Session, row: VoteSnapshot) -> list[tuple[str, int, str | None]]:
    return [(address, int(units), delegate) for address, units, delegate in session.execute(
        sa.select(SnapshotHolder.address, SnapshotHolder.units, SnapshotHolder.delegate)
        .where(SnapshotHolder.snapshot_id == row.id))]


# The trees proofs are taken from, built once per snapshot (core/voting/tree_cache.py).
PROOF_TREES = TreeCache()


def snapshot_proof(db: Database, snapshot_id: Any, address: Any) -> WeightProof:
    """A holder's own weight with its Merkle proof against the snapshot's published root, so
    anyone can check it without trusting this server (`merkle.verify`). The snapshot's tree is
    built on its first proof and kept (PROOF_TREES): a snapshot never changes."""
    holder = parse_address(address)
    with reading(db) as session:
        row = _snapshot_row(session, snapshot_id)
        snapshot, root = str(row.id), row.merkle_root
    return PROOF_TREES.get((snapshot, root), lambda: _proof_tree(db, row)).proof(holder)


def _proof_tree(db: Database, row: VoteSnapshot) -> MerkleTree:
    """The snapshot's tree from its stored holders, refused unless it gives the published root."""
    with reading(db) as session:
        holders = _stored_holders(session, row)
    tree = MerkleTree((a, units) for a, units, _ in holders)
    if tree.root != row.merkle_root:
        raise Refused(f"snapshot: the stored holders give root {tree.root}, not the published "
                      f"{row.merkle_root}; this snapshot's table has been altered")
    return tree


@dataclass(frozen=True)
class SnapshotCheck:
    snapshot_id: str
    holders: int
    merkle_root: str
    recomputed_root: str
    holders_sha256: str
    recomputed_sha256: str

    @property
    def ok(self) -> bool:
        return (self.merkle_root == self.recomputed_root
                and self.holders_sha256 == self.recomputed_sha256)

    def as_json(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "holders": self.holders, "ok": self.ok,
                "merkle_root": self.merkle_root, "recomputed_root": self.recomputed_root,
                "holders_sha256": self.holders_sha256,
                "recomputed_sha256": self.recomputed_sha256}


def verify_snapshot(db: Database, snapshot_id: Any) -> SnapshotCheck:
    """Recompute a snapshot's Merkle root and holders digest from its stored rows and compare
    them with the published ones (the rows are not chained one by one: this is their check)."""
    with reading(db) as session:
        row = _snapshot_row(session, snapshot_id)
        holders = _stored_holders(session, row)
    return SnapshotCheck(str(row.id), len(holders), row.merkle_root,
                         MerkleTree((a, units) for a, units, _ in holders).root,
                         row.holders_sha256, store.holders_digest(holders))


# --- the typed data and a cast vote ---------------------------------------------------------

def vote_typed_data(db: Database, proposal_id: Any, *, address: Any, support: Any,
                    timestamp: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """The EIP-712 document a wallet signs for this vote (`timestamp` defaults to now), on the
    chain of the proposal's snapshot; refused for a proposal that is not put to a vote."""
    with reading(db) as session:
        terms = vote_terms.terms_of(session, proposal_id)
        moment = int((now or utcnow()).timestamp()) if timestamp is None else timestamp
        return typed_data(terms.proposal_id, address, support, moment,
                          vote_terms.chain_of(session, terms))


@dataclass(frozen=True)
class CastOutcome:
    proposal_id: str
    address: str
    support: str
    weight: Decimal  # the address's effective weight now (its own, and what is delegated to it)
    timestamp: int
    replaced: bool  # an earlier vote of the address no longer counts

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "address": self.address,
                "support": self.support, "weight": str(self.weight),
                "timestamp": self.timestamp, "replaced": self.replaced}


def _instant(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _refuse_outside_period(terms: ProposalVoteTerms, result: ProposalVoteResult | None,
                           moment: int, now: datetime) -> None:
    opens, closes = terms.opens_at.isoformat(timespec="seconds"), terms.closes_at.isoformat(
        timespec="seconds")
    if result is not None or now >= terms.closes_at:
        raise Refused(f"proposal: voting on {terms.proposal_id} closed at {closes}; no vote is "
                      "taken after it")
    if now < terms.opens_at:
        raise Refused(f"proposal: voting on {terms.proposal_id} opens at {opens}")
    # Whole seconds, as a vote's timestamp is: a vote signed in the second the proposal was
    # filed is inside the period.
    if not int(terms.opens_at.timestamp()) <= moment < terms.closes_at.timestamp():
        raise Refused(f"timestamp: {moment} ({_instant(moment)}) is outside the voting period "
                      f"{opens} .. {closes}; sign the vote with the current time")
    if moment > (now + MAX_VOTE_CLOCK_AHEAD).timestamp():
        raise Refused(f"timestamp: {moment} ({_instant(moment)}) is ahead of the clock "
                      f"({now.isoformat(timespec='seconds')}) by more than "
                      f"{int(MAX_VOTE_CLOCK_AHEAD.total_seconds() // 60)} minutes; sign the "
                      "vote with the current time")


def cast_vote(db: Database, proposal_id: Any, *, address: Any, support: Any, timestamp: Any,
              signature: Any, now: datetime | None = None) -> CastOutcome:
    """Record a signed vote. Refused, with nothing written: a signature that does not recover
    `address` over exactly this proposal, support and time; voting not open; an address with no
    weight at the snapshot (its own or delegated); a timestamp not later than the address's
    latest vote (a later vote replaces an earlier one, an older one never does)."""
    parse_support(support)
    parse_timestamp(timestamp)
    with writing(db) as session:
        terms = vote_terms.terms_of(session, proposal_id)  # NotFound before a signature is checked
        # The signature names the proposal and the snapshot's chain through the domain: a vote
        # signed for another one, or on another chain, recovers another address and is refused.
        vote = verify_vote(terms.proposal_id, address=address, support=support,
                           timestamp=timestamp, signature=signature,
                           chain_id=vote_terms.chain_of(session, terms))
        # Serialised: two votes of one address at the same moment cannot both be the latest.
        serialize_writes(session)
        now = now or utcnow()
        _refuse_outside_period(terms, vote_terms.result_of(session, terms.proposal_id),
                               vote.timestamp, now)
        own = store.holder_units(session, terms.snapshot_id, vote.address)
        if own + store.delegated_units(session, terms.snapshot_id, vote.address) == 0:
            snapshot = session.get(VoteSnapshot, terms.snapshot_id)
            raise Refused(f"address: {vote.address} held nothing at snapshot {terms.snapshot_id} "
                          f"(block {snapshot.block if snapshot else '?'}) and nobody delegated "
                          "to it; only holders at the snapshot, or their delegates, can vote")
        latest = store.latest_vote_of(session, terms.proposal_id, vote.address)
        if latest is not None and vote.timestamp <= latest.timestamp:
            same = latest.timestamp == vote.timestamp and latest.support == vote.support
            raise Refused(
                f"timestamp: {vote.address} already voted {latest.support} with timestamp "
                f"{latest.timestamp}" + (" (this very vote)" if same else "")
                + "; a vote replaces an earlier one only with a later timestamp")
        delegated = store.delegated_units(session, terms.snapshot_id, vote.address,
                                          except_voters_of=terms.proposal_id)
        weight = own + delegated
        session.add(ProposalVote(proposal_id=terms.proposal_id, address=vote.address,
                                 support=vote.support, timestamp=vote.timestamp,
                                 signature=vote.signature, weight_units=Decimal(weight),
                                 recorded_at=now))
        session.flush()
        outcome = CastOutcome(str(terms.proposal_id), vote.address, vote.support,
                              units_to_decimal(weight), vote.timestamp, latest is not None)
        record_activity(session, "vote_cast",
                        f"{vote.address} voted {vote.support} on proposal {terms.proposal_id} "
                        f"with weight {outcome.weight}"
                        + (" (replacing its earlier vote)" if latest is not None else ""),
                        {**outcome.as_json(), "signature": vote.signature, "by": vote.address,
                         "snapshot_id": terms.snapshot_id})
        return outcome


# --- the tally and the export ---------------------------------------------------------------

@dataclass(frozen=True)
class TallyView:
    proposal_id: str
    snapshot_id: str
    chain_id: int  # the snapshot's chain: the one its votes are signed for
    mode: str
    quorum_pct: Decimal
    opens_at: datetime
    closes_at: datetime
    status: str  # vote_terms.OPEN or vote_terms.CLOSED
    tally: Tally
    outcome: str | None  # what closing it did, once closed by execute-due

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "snapshot_id": self.snapshot_id,
                "chain_id": self.chain_id, **self.tally.as_json(),
                "quorum_pct": _pct_number(self.quorum_pct), "mode": self.mode,
                "opens_at": self.opens_at.isoformat(), "closes_at": self.closes_at.isoformat(),
                "status": self.status, "outcome": self.outcome}


def _pct_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _stored_tally(terms: ProposalVoteTerms, result: ProposalVoteResult, total_units: int) -> Tally:
    pct = Decimal(terms.quorum_pct)
    return Tally(int(result.for_units), int(result.against_units), int(result.abstain_units),
                 total_units * int(pct.scaleb(QUORUM_PCT_PLACES)), result.voters, pct)


def tally_view(session: so.Session, terms: ProposalVoteTerms, now: datetime) -> TallyView:
    result = vote_terms.result_of(session, terms.proposal_id)
    if result is not None:
        total = int(session.get(VoteSnapshot, terms.snapshot_id).total_units)
        counted = _stored_tally(terms, result, total)
    else:
        counted = store.tally_of(session, terms)
    status = vote_terms.OPEN if vote_terms.is_open(terms, result, now) else vote_terms.CLOSED
    return TallyView(str(terms.proposal_id), str(terms.snapshot_id),
                     vote_terms.chain_of(session, terms), terms.mode,
                     Decimal(terms.quorum_pct), terms.opens_at, terms.closes_at, status, counted,
                     result.outcome if result is not None else None)


def proposal_tally(db: Database, proposal_id: Any, now: datetime | None = None) -> TallyView:
    """The result so far (or as it was when the vote closed), recomputed from the stored votes and
    the snapshot; `status` is `closed` from `closes_at` on, even before execute-due records it."""
    with reading(db) as session:
        return tally_view(session, vote_terms.terms_of(session, proposal_id), now or utcnow())


@dataclass(frozen=True)
class VotesExport:
    tally: TallyView
    votes: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"tally": self.tally.as_json(), "votes": self.votes}


def proposal_votes(db: Database, proposal_id: Any, now: datetime | None = None) -> VotesExport:
    """Every vote as cast, with its signature, and the tally: what anyone needs, with the
    published snapshot, to recount (core.voting.tally.tally_snapshot). Each vote says whether it
    counts and, when a later vote of its address replaced it, when (`standings`, the tally's own
    rule): a replaced vote stays listed, signature and all, so a recount can see it too."""
    with reading(db) as session:
        terms = vote_terms.terms_of(session, proposal_id)
        cast = store.stored_votes(session, terms.proposal_id)
        votes = [{"address": v.address, "support": v.support,
                  "weight": str(units_to_decimal(int(v.weight_units))),
                  "signature": v.signature, "timestamp": v.timestamp, **standing.as_json()}
                 for v, standing in zip(cast, standings(cast), strict=True)]
        return VotesExport(tally_view(session, terms, now or utcnow()), votes)
