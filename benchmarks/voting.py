"""What community voting's pure core costs at the issue's scale: a 1,000,000-holder snapshot read
from CSV and its Merkle root built, 10,000 signed votes verified, and their tally.

    python benchmarks/voting.py [--holders 1000000] [--votes 10000] [--seed 7]

The snapshot file is made first (not timed): random addresses, half written lower-case and half
checksummed, balances with up to 18 decimal places, one holder in ten delegating to another.
The voters are `--votes` keys made from the seed, each a holder of the snapshot; their votes
are signed with eth-account (not timed). Then, timed with time.perf_counter, one run each:

* read the CSV (`core.voting.snapshot_file.load_snapshot`: every address checked, every
  balance parsed exactly, duplicates looked for);
* build the Merkle tree and its root (`core.voting.merkle.MerkleTree`), and one holder's proof
  checked against it;
* verify every vote (`core.voting.typed_data.verify_vote`: parse, rebuild the typed data,
  recover the signer with eth-account);
* tally them (`core.voting.tally.tally_snapshot`: latest vote per address, Snapshot's
  delegation over the whole snapshot, the quorum).

Then, with `--stored` (the stored part, core/voting/service.py), on SQLite (a file) and on a
throwaway PostgreSQL (tests/pg_server.py), each timed once:

* load the same snapshot file into the database (`load_snapshot`: read and checked, Merkle root
  and holders digest, every holder row written through the engine's bulk path, one transaction);
* file a proposal put to the vote, store the signed votes (not timed: written in one
  transaction through the ORM, each with its audit-chain MAC), and tally them from the database
  (`proposal_tally`: latest vote per address, the voters' and their delegators' rows read on
  indexes, core.voting.tally).

Prints a Markdown table and the process's peak memory. Which elliptic-curve backend eth-keys
uses is printed too: it decides the verification time (coincurve's C library, when installed,
or eth-keys' pure-Python one).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_keys(count: int, rng: random.Random):  # type: ignore[no-untyped-def]
    from eth_account import Account
    return [Account.from_key(rng.getrandbits(255).to_bytes(32, "big")) for _ in range(count)]


def write_snapshot(path: Path, holders: int, voters: list[str], rng: random.Random) -> None:
    from core.voting.addresses import checksummed
    addresses = list(voters)
    seen = set(a.lower() for a in addresses)
    while len(addresses) < holders:
        raw = f"{rng.getrandbits(160):040x}"
        if "0x" + raw in seen:
            continue
        seen.add("0x" + raw)
        addresses.append(checksummed(raw) if len(addresses) % 2 else "0x" + raw)
    rng.shuffle(addresses)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("address,balance,delegate\n")
        for i, address in enumerate(addresses):
            balance = f"{rng.randrange(10 ** 6)}.{rng.randrange(10 ** 18):018d}"
            delegate = addresses[rng.randrange(len(addresses))] if i % 10 == 0 else ""
            if delegate.lower() == address.lower():
                delegate = ""
            out.write(f"{address},{balance},{delegate}\n")


def sign_votes(keys, proposal: str, start: int, rng: random.Random) -> list[dict]:  # type: ignore[no-untyped-def]
    from eth_account.messages import encode_typed_data

    from core.voting.typed_data import SUPPORTS, typed_data
    votes = []
    for i, key in enumerate(keys):
        support = rng.choice(SUPPORTS)
        document = typed_data(proposal, key.address, support, start + i)
        signature = "0x" + key.sign_message(encode_typed_data(full_message=document)).signature.hex()
        votes.append({"address": key.address, "support": support, "timestamp": start + i,
                      "signature": signature, "proposal": proposal})
    return votes


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=1_000_000)
    parser.add_argument("--votes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stored", action="store_true",
                        help="also load the snapshot into SQLite and PostgreSQL and tally there")
    parser.add_argument("--pure", action=argparse.BooleanOptionalAction, default=True,
                        help="time the pure core's steps (default on)")
    args = parser.parse_args()

    import eth_keys

    from core.voting.merkle import MerkleTree, verify
    from core.voting.snapshot_file import load_snapshot
    from core.voting.tally import tally_snapshot
    from core.voting.typed_data import verify_vote

    rng = random.Random(args.seed)
    proposal = "6f1c7a52-3d0e-4c55-9f1e-2b8a7c9d0e11"
    print(f"preparing {args.votes:,} keys and signed votes, {args.holders:,} holders "
          f"(eth-keys backend: {type(eth_keys.KeyAPI().backend).__name__})", file=sys.stderr)
    keys = make_keys(args.votes, rng)
    votes = sign_votes(keys, proposal, 1_767_225_600, rng)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "holders.csv"
        write_snapshot(path, max(args.holders, args.votes), [k.address for k in keys], rng)
        size = path.stat().st_size
        snapshot, seconds = timed(lambda: load_snapshot(path))
        rows.append((f"read a {len(snapshot.holders):,}-holder CSV ({size / 2**20:,.0f} MiB)",
                     seconds, f"total {snapshot.total}"))
        if args.stored:
            rows.extend(stored(path, keys, rng, folder))
    if not args.pure:
        report(rows)
        return
    tree, seconds = timed(lambda: MerkleTree((h.address, h.units) for h in snapshot.holders))
    rows.append((f"Merkle tree and root of {len(tree):,} holders", seconds, tree.root[:18] + "…"))
    proof = tree.proof(keys[0].address)
    ok, seconds = timed(lambda: verify(proof.proof, proof.leaf, proof.root))
    rows.append((f"check one holder's proof ({len(proof.proof)} hashes)", seconds, f"valid: {ok}"))
    checked, seconds = timed(lambda: [verify_vote(proposal, **v) for v in votes])
    rows.append((f"verify {len(checked):,} signed votes", seconds,
                 f"{seconds / len(checked) * 1e3:.2f} ms a vote"))
    result, seconds = timed(lambda: tally_snapshot(checked, snapshot))
    rows.append((f"tally {len(checked):,} votes over the snapshot", seconds,
                 f"for {result.for_:.0f}, against {result.against:.0f}, "
                 f"quorum met {result.quorum_met}"))

    report(rows)


def report(rows: list[tuple[str, float, str]]) -> None:
    print("| step | seconds | note |\n|---|---:|---|")
    for step, seconds, note in rows:
        print(f"| {step} | {seconds:.3f} | {note} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: {peak:,.0f} MiB")


def stored_votes(db, proposal: str, keys, rng: random.Random, start: int) -> None:  # type: ignore[no-untyped-def]
    """The signed votes written straight into the votes table (each verified first, as
    `cast_vote` would), in one transaction: what the tally then reads."""
    import uuid
    from decimal import Decimal

    from core.base.sessions import writing
    from core.voting.typed_data import verify_vote
    from db.models import ProposalVote

    votes = sign_votes(keys, proposal, start, random.Random(rng.random()))
    with writing(db) as session:
        for v in votes:
            checked = verify_vote(proposal, **v)
            session.add(ProposalVote(proposal_id=uuid.UUID(proposal), address=checked.address,
                                     support=checked.support, timestamp=checked.timestamp,
                                     signature=checked.signature, weight_units=Decimal(0)))


def measure_engine(url: str, label: str, path: Path, keys, rng: random.Random  # type: ignore[no-untyped-def]
                   ) -> list[tuple[str, float, str]]:
    from datetime import UTC, datetime, timedelta

    from core.allocation.validation import ProposalInput
    from core.database import connect
    from core.governance.policy_store import set_policy
    from core.proposals.lifecycle import propose_allocation
    from core.voting.service import load_snapshot as load_stored, proposal_tally

    db = connect(url)
    facts, seconds = timed(lambda: load_stored(db, path, block=19_000_000))
    rows = [(f"{label}: load the {facts.holders:,}-holder snapshot (all or nothing)", seconds,
             f"root {facts.merkle_root[:18]}…")]
    set_policy(db, "community_vote", "advisory", by="bench")
    now = datetime.now(UTC)
    proposal = propose_allocation(db, ProposalInput(75, 15, 6, 4, "bench"), by="bench",
                                  now=now).proposal_id
    stored_votes(db, proposal, keys, rng, int(now.timestamp()) + 1)
    view, seconds = timed(lambda: proposal_tally(db, proposal, now=now + timedelta(hours=1)))
    rows.append((f"{label}: tally {view.tally.voters:,} stored votes", seconds,
                 f"for {view.tally.for_:.0f}, quorum met {view.tally.quorum_met}"))
    db.engine.dispose()
    return rows


def stored(path: Path, keys, rng: random.Random, folder: str) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from tests.pg_server import start_pg_server

    seed = rng.random()  # the same votes on both engines
    rows = measure_engine(f"sqlite:///{folder}/bench.db", "SQLite", path, keys, random.Random(seed))
    server = start_pg_server()
    try:
        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE voting_bench")
        admin.dispose()
        rows += measure_engine(server.base_url + "/voting_bench", "PostgreSQL", path, keys,
                               random.Random(seed))
    finally:
        server.stop()
    return rows


if __name__ == "__main__":
    main()
