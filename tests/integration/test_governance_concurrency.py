"""Governance writes racing each other, on PostgreSQL (and SQLite): each thread has its own engine
and its own connection, all released together by a barrier.

Whatever the interleaving, the outcome must be one a serial order could give: exactly one
activation, one current row, each approval recorded once or refused with a clear message, and
never a database error.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import DomainError
from core.governance.accounts import add_user, count_accounts, disable_user, list_users
from core.governance.actors import Actor
from core.governance.policy_store import get_policy, load_policy, policy_versions, set_policy
from core.proposals.lifecycle import (auto_approve_if_allowed, expire_stale_proposals,
                                      file_proposal, get_allocation_history, get_proposal,
                                      propose_allocation, review_proposal)
from core.record.activity import list_activity
from db.engine import Database, open_database

ROUNDS_ON_POSTGRESQL = 5


def race(url: str, *tasks: Callable[[Database], Any]) -> list[tuple[str, Any]]:
    """Run each task in its own thread with its own engine, released at the same instant.
    Returns ("ok", result), ("refused", DomainError) or ("error", exception) per task."""
    barrier = threading.Barrier(len(tasks))
    results: list[tuple[str, Any]] = [("error", "did not finish")] * len(tasks)

    def worker(index: int, task: Callable[[Database], Any]) -> None:
        database = open_database(url)
        try:
            with database.engine.connect() as conn:  # connect before the start line
                conn.execute(sa.text("SELECT 1"))
            barrier.wait(timeout=30)
            results[index] = ("ok", task(database))
        except DomainError as refusal:
            results[index] = ("refused", refusal)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = ("error", error)
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    errors = [r for kind, r in results if kind == "error"]
    assert not errors, errors
    return results


def sso(db: Database, name: str, role: str, by: str | None = "ada") -> None:
    add_user(db, name, role, None, by=by, email=f"{name}@example.org")


def reviews_of(db: Database, proposal_id: str) -> list[tuple[str, str]]:
    query = sa.text("SELECT reviewer, decision FROM proposal_reviews WHERE proposal_id = :p"
                    ).bindparams(sa.bindparam("p", type_=sa.Uuid))
    with db.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(query, {"p": uuid.UUID(proposal_id)}))


def activations_of(db: Database, proposal_id: str) -> int:
    return sum(1 for e in list_activity(db, limit=10_000, activity_type="allocation_activated")
               if str(e.metadata.get("allocation_id")) == proposal_id)


def current_rows(db: Database) -> list[str]:
    return [r.id for r in get_allocation_history(db) if r.is_current]


def assert_timeline_unbroken(db: Database) -> None:
    """The active periods follow each other with no gap and no overlap."""
    periods = sorted((r for r in get_allocation_history(db) if r.status == "active"),
                     key=lambda r: r.effective_from)
    for earlier, later in zip(periods, periods[1:]):
        assert earlier.effective_until == later.effective_from
    assert periods[-1].effective_until is None


@pytest.fixture
def url(db_url: str) -> str:
    return db_url


@pytest.fixture
def team(db: Database) -> Database:
    sso(db, "ada", "admin", by=None)
    for name, role in (("abe", "admin"), ("gus", "governor"), ("gail", "governor"),
                       ("gwen", "governor"), ("ann", "analyst")):
        sso(db, name, role)
    return db


def _rounds(db: Database) -> int:
    return ROUNDS_ON_POSTGRESQL if db.dialect == "postgresql" else 2


SPLITS = ((75, 15, 6, 4), (80, 15, 3, 2))  # alternate: each within the step of the other


def test_two_governors_approving_at_once_activate_exactly_once(team, url):
    set_policy(team, "approvals_required", "2", by="ada")
    for round_ in range(_rounds(team)):
        split = SPLITS[round_ % 2]
        pid = propose_allocation(team, ProposalInput(*split, "race"), by="ann").proposal_id
        results = race(url, *(lambda d, who=who: review_proposal(d, pid, "approved", by=who)
                              for who in ("gus", "gail")))
        assert [kind for kind, _ in results] == ["ok", "ok"]
        assert sorted(r.status for _, r in results) == ["active", "proposed"]
        assert sorted(r.approvals for _, r in results) == [1, 2]
        assert reviews_of(team, pid) == [("gail", "approved"), ("gus", "approved")]
        assert activations_of(team, pid) == 1
        assert current_rows(team) == [pid]
    assert_timeline_unbroken(team)


def test_three_governors_at_once_with_two_required_record_two_and_refuse_the_third(team, url):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = propose_allocation(team, ProposalInput(75, 15, 6, 4, "race"), by="ann").proposal_id
    results = race(url, *(lambda d, who=who: review_proposal(d, pid, "approved", by=who)
                          for who in ("gus", "gail", "gwen")))
    kinds = Counter(kind for kind, _ in results)
    assert kinds == {"ok": 2, "refused": 1}
    refusal = next(r for kind, r in results if kind == "refused")
    assert "is active; only proposed ones can be reviewed" in str(refusal)
    assert len(reviews_of(team, pid)) == 2
    assert activations_of(team, pid) == 1
    assert current_rows(team) == [pid]


def test_the_same_governor_approving_twice_at_once_is_recorded_once(team, url):
    set_policy(team, "approvals_required", "2", by="ada")
    pid = propose_allocation(team, ProposalInput(75, 15, 6, 4, "race"), by="ann").proposal_id
    results = race(url, *(lambda d: review_proposal(d, pid, "approved", by="gus"),) * 2)
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    refusal = next(r for kind, r in results if kind == "refused")
    assert "gus has already reviewed" in str(refusal)
    assert reviews_of(team, pid) == [("gus", "approved")]
    assert get_proposal(team, pid).status == "proposed"


def test_two_proposals_approved_at_once_activate_one_after_the_other(team, url):
    first = propose_allocation(team, ProposalInput(75, 15, 6, 4, "a"), by="ann").proposal_id
    second = propose_allocation(team, ProposalInput(70, 20, 6, 4, "b"), by="ann").proposal_id
    results = race(url, lambda d: review_proposal(d, first, "approved", by="gus"),
                   lambda d: review_proposal(d, second, "approved", by="gail"))
    assert [kind for kind, _ in results] == ["ok", "ok"]  # 5 points apart: both may activate
    assert len(current_rows(team)) == 1
    assert current_rows(team)[0] in (first, second)
    assert_timeline_unbroken(team)


def test_of_two_far_apart_proposals_approved_at_once_the_second_is_rechecked_and_refused(team, url):
    first = propose_allocation(team, ProposalInput(90, 5, 3, 2, "a"), by="ann").proposal_id
    second = propose_allocation(team, ProposalInput(70, 20, 6, 4, "b"), by="ann").proposal_id
    results = race(url, lambda d: review_proposal(d, first, "approved", by="gus"),
                   lambda d: review_proposal(d, second, "approved", by="gail"))
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    refusal = next(r for kind, r in results if kind == "refused")
    assert "against the live split" in str(refusal) and "step limit 15" in str(refusal)
    winner = next(r.proposal_id for kind, r in results if kind == "ok")
    loser = second if winner == first else first
    assert current_rows(team) == [winner]
    assert reviews_of(team, loser) == []  # the refused approval left nothing behind
    assert get_proposal(team, loser).status == "proposed"
    assert_timeline_unbroken(team)


def test_an_approval_racing_the_expiry_ends_as_one_or_the_other(team, url):
    for _ in range(_rounds(team)):
        pid = propose_allocation(team, ProposalInput(*SPLITS[0], "race"), by="ann").proposal_id
        filed_at = get_proposal(team, pid).timestamp
        results = race(
            url,
            lambda d: review_proposal(d, pid, "approved", by="gus",
                                      now=filed_at + timedelta(days=6)),
            lambda d: expire_stale_proposals(d, now=filed_at + timedelta(days=8)))
        status = get_proposal(team, pid).status
        (review_kind, review), (_, expired) = results
        if status == "active":
            assert review_kind == "ok" and expired == []
        else:
            assert status == "expired" and expired == [pid]
            assert review_kind == "refused" and "expired" in str(review)
        # Back to 80/15/3/2 for the next round, by whichever way is open.
        if status == "active":
            back = propose_allocation(team, ProposalInput(*SPLITS[1], "back"), by="ann")
            review_proposal(team, back.proposal_id, "approved", by="gail")


def test_two_first_accounts_created_at_once_leave_one_admin_and_open_mode_closed(db, url):
    results = race(url, *(lambda d, n=n: add_user(d, n, "admin", None, email=f"{n}@example.org")
                          for n in ("alice", "bob")))
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    refusal = next(r for kind, r in results if kind == "refused")
    assert "needs an acting account" in str(refusal)
    assert count_accounts(db) == 1


def test_two_admins_disabling_each_other_at_once_leave_an_admin(team, url):
    results = race(url, lambda d: disable_user(d, "abe", by="ada"),
                   lambda d: disable_user(d, "ada", by="abe"))
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    admins = [a.username for a in list_users(team) if a.role == "admin" and a.active]
    assert len(admins) == 1


def test_two_policy_changes_at_once_both_land_in_consecutive_versions(team, url):
    results = race(url, lambda d: set_policy(d, "max_step", "10", by="ada"),
                   lambda d: set_policy(d, "approvals_required", "2", by="abe"))
    assert [kind for kind, _ in results] == ["ok", "ok"]
    assert sorted(v["version"] for v in policy_versions(team)) == [1, 2]
    policy = get_policy(team)
    assert (policy.max_step, policy.approvals_required) == (10, 2)  # neither change was lost


def test_two_rebalancer_runs_at_once_auto_approve_only_one_inside_the_cooldown(team, url):
    set_policy(team, "auto_approve_min_confidence", "0.5", by="ada")

    def file_and_try(database: Database, split: tuple[int, ...]) -> str | None:
        with database.sessions.begin() as session:
            row, _ = file_proposal(session, ProposalInput(*split, "race", "0.9", "ai"),
                                   Actor("system:scheduler", "analyst"), load_policy(session))
            return auto_approve_if_allowed(session, row, load_policy(session))

    results = race(url, lambda d: file_and_try(d, (75, 15, 6, 4)),
                   lambda d: file_and_try(d, (78, 15, 4, 3)))
    outcomes = sorted((r is None, r or "") for _, r in results)
    assert [approved for approved, _ in outcomes] == [False, True]
    assert "cooldown" in outcomes[0][1]
    assert len(current_rows(team)) == 1
    assert get_current_allocation(team).reviewed_by == "system:auto-approval"
