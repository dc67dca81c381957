"""Approvals at the same moment from separate processes (and threads): one current split, and
the active periods form one unbroken timeline."""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import types
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import DomainError
from core.database import upgrade_database
from core.proposals.lifecycle import propose_allocation, review_proposal
from db.engine import Database, open_database
from db.models import AllocationLog, ProposalReview

N = 8
WAIT_SECONDS = 120


def approve_when_released(url: str, proposal_id: str, reviewer: str, barrier: Any,
                          results: Any) -> None:
    """One reviewer in its own process or thread, with its own engine, released with the rest."""
    db = open_database(url)
    try:
        with db.engine.connect():  # connect before the race, so the race is about the review
            pass
        barrier.wait(timeout=WAIT_SECONDS)
        try:
            outcome = review_proposal(db, proposal_id, "approved", by=reviewer)
            results.put((proposal_id, reviewer, "done", outcome.status))
        except DomainError as refusal:
            results.put((proposal_id, reviewer, "refused", "; ".join(refusal.problems)))
        except Exception as error:  # noqa: BLE001 - reported to the test, which fails on it
            results.put((proposal_id, reviewer, "error", repr(error)))
    finally:
        db.engine.dispose()


@contextlib.contextmanager
def _nothing_for_spawn_to_rerun() -> Iterator[None]:
    """A spawned child re-runs the parent's __main__; after an AppTest run in the same session
    that is the dashboard's app.py. A bare module in its place gives the child nothing to re-run."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def race(url: str, jobs: list[tuple[str, str]], mode: str) -> list[tuple[str, str, str, str]]:
    """Run every (proposal_id, reviewer) approval at the same moment; return what each got."""
    if mode == "processes":
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(len(jobs)), context.Queue()
        workers = [context.Process(target=approve_when_released, args=(url, p, r, barrier, results))
                   for p, r in jobs]
    else:
        import queue

        barrier, results = threading.Barrier(len(jobs)), queue.Queue()
        workers = [threading.Thread(target=approve_when_released, args=(url, p, r, barrier, results))
                   for p, r in jobs]
    with _nothing_for_spawn_to_rerun():
        for worker in workers:
            worker.start()
    outcomes = [results.get(timeout=WAIT_SECONDS) for _ in jobs]
    for worker in workers:
        worker.join(timeout=WAIT_SECONDS)
    return outcomes


def file_near_proposals(db: Database, n: int) -> list[str]:
    """n proposals, each within the step limit of every other and of 80/15/3/2."""
    return [propose_allocation(db, ProposalInput(70 + i, 20 - i, 6, 4, f"proposal {i}"),
                               by="alice").proposal_id for i in range(n)]


def active_periods(db: Database) -> list[AllocationLog]:
    with db.sessions() as session:
        return list(session.scalars(sa.select(AllocationLog).where(AllocationLog.status == "active")
                                    .order_by(AllocationLog.effective_from, AllocationLog.timestamp)))


def assert_one_unbroken_timeline(db: Database, expected_rows: int) -> None:
    periods = active_periods(db)
    assert len(periods) == expected_rows
    current = [p for p in periods if p.effective_until is None]
    assert len(current) == 1
    assert periods[-1] is current[0]
    for earlier, later in zip(periods, periods[1:]):
        assert earlier.effective_until is not None
        assert earlier.effective_until == later.effective_from  # no gap, no overlap
        assert earlier.effective_from <= earlier.effective_until
    assert get_current_allocation(db).id == str(current[0].id)


def pg_url(pg_server) -> str:
    from tests.conftest import fresh_pg_url

    return fresh_pg_url(pg_server)


def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    database = open_database(url)
    upgrade_database(database)
    database.engine.dispose()
    return url


@pytest.fixture(params=[pytest.param(("postgresql", "processes"), id="postgresql-processes"),
                        pytest.param(("postgresql", "threads"), id="postgresql-threads"),
                        pytest.param(("sqlite", "processes"), id="sqlite-processes"),
                        pytest.param(("sqlite", "threads"), id="sqlite-threads")])
def arena(request: pytest.FixtureRequest, tmp_path: Path):
    engine_name, mode = request.param
    if engine_name == "postgresql":
        url = pg_url(request.getfixturevalue("pg_server"))
    else:
        url = sqlite_url(tmp_path)
    db = open_database(url)
    yield url, db, mode
    db.engine.dispose()


def test_approving_many_proposals_at_the_same_moment_leaves_one_current_split_and_no_gaps(arena):
    url, db, mode = arena
    proposals = file_near_proposals(db, N)
    outcomes = race(url, [(p, f"governor-{i}") for i, p in enumerate(proposals)], mode)

    assert [o for o in outcomes if o[2] != "done"] == []
    assert sorted(o[0] for o in outcomes) == sorted(proposals)
    assert {o[3] for o in outcomes} == {"active"}
    assert_one_unbroken_timeline(db, expected_rows=N + 1)  # the seeded default and all N
    with db.engine.connect() as conn:
        activated = conn.scalar(sa.text(
            "SELECT count(*) FROM protocol_activity WHERE activity_type = 'allocation_activated'"))
    assert activated == N + 1


def test_approving_one_proposal_from_many_places_at_once_activates_it_exactly_once(arena):
    url, db, mode = arena
    previous = get_current_allocation(db).id
    [proposal_id] = file_near_proposals(db, 1)
    outcomes = race(url, [(proposal_id, f"governor-{i}") for i in range(N)], mode)

    kinds = Counter(o[2] for o in outcomes)
    assert kinds == {"done": 1, "refused": N - 1}, outcomes
    for _, _, kind, detail in outcomes:
        if kind == "refused":
            assert "is active; only proposed ones can be reviewed" in detail
    assert_one_unbroken_timeline(db, expected_rows=2)
    assert get_current_allocation(db).id == proposal_id
    with db.sessions() as session:
        reviews = session.scalar(sa.select(sa.func.count()).select_from(ProposalReview))
        replaced = session.get(AllocationLog, uuid.UUID(previous))
        assert replaced.effective_until is not None
    assert reviews == 1
