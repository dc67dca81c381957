"""What the self-proving record costs the writers: 1,000 distributions and 1,000 approvals, timed.

    python benchmarks/audit_cost.py [--url DATABASE_URL] [--count 1000]

Without --url it runs on a throwaway SQLite file and on a throwaway PostgreSQL server (as the
tests start one), each a new database at head. With --url the database must be new (at head or
empty): it gets the accounts `bench-admin`, `bench-analyst` and four governors.

Each distribution is `core.proposals.distribution.distribute` with a new key (one ledger row,
one activity row, each chained). The approvals are `review_proposal` on proposals that need
more approvals than they get (approvals_required = 4, each proposal approved twice), so every
approval records a review and its activity rows and none activates a split (activations are
refused within `min_hours_between_activations`, which would turn the run into a test of
refusals). Filing the proposals is not timed. Prints one table row per database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOVERNORS = ("bench-g1", "bench-g2", "bench-g3", "bench-g4")


def prepare(url: str):  # type: ignore[no-untyped-def]
    from core.database import connect
    from core.governance.accounts import add_user
    from core.governance.policy_store import set_policy

    db = connect(url)
    add_user(db, "bench-admin", "admin", None, email="bench-admin@example.org")
    add_user(db, "bench-analyst", "analyst", None, by="bench-admin",
             email="bench-analyst@example.org")
    for name in GOVERNORS:
        add_user(db, name, "governor", None, by="bench-admin", email=f"{name}@example.org")
    set_policy(db, "approvals_required_major", "4", by="bench-admin")
    set_policy(db, "approvals_required", "4", by="bench-admin")
    return db


def time_distributions(db, count: int) -> float:  # type: ignore[no-untyped-def]
    from core.proposals.distribution import distribute

    started = time.perf_counter()
    for number in range(count):
        distribute(db, "1000.03", f"bench-{number}", by="bench-analyst")
    return time.perf_counter() - started


def time_approvals(db, count: int) -> float:  # type: ignore[no-untyped-def]
    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation, review_proposal

    proposals = []
    for number in range((count + 1) // 2):
        # Distinct splits (a pending duplicate is refused), each a small step from 80/15/3/2.
        shift = Decimal(number + 1) / 100
        split = ProposalInput(Decimal(80) - shift, Decimal(15) + shift, Decimal(3), Decimal(2),
                              "audit cost benchmark")
        proposals.append(propose_allocation(db, split, by="bench-analyst").proposal_id)
    started = time.perf_counter()
    done = 0
    for proposal_id in proposals:
        for governor in GOVERNORS[:2]:
            if done < count:
                review_proposal(db, proposal_id, "approved", by=governor)
                done += 1
    return time.perf_counter() - started


def measure(url: str, count: int, label: str) -> None:
    db = prepare(url)
    try:
        distributions = time_distributions(db, count)
        approvals = time_approvals(db, count)
    finally:
        db.engine.dispose()
    print(f"| {label} | {count} | {distributions:.2f} s ({distributions / count * 1000:.2f} ms each) "
          f"| {approvals:.2f} s ({approvals / count * 1000:.2f} ms each) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    print("| database | n | distributions | approvals |")
    print("|---|---|---|---|")
    if args.url:
        measure(args.url, args.count, args.url.split(":", 1)[0])
        return
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", args.count, "SQLite (file, WAL)")
    import sqlalchemy as sa

    from tests.pg_server import start_pg_server

    server = start_pg_server()
    try:
        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE audit_cost")
        admin.dispose()
        measure(server.base_url + "/audit_cost", args.count, "PostgreSQL")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
