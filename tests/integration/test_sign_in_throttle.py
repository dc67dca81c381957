"""The sign-in throttle: an atomic count per (name, client), unknown names answered exactly like
known ones, and the owner's ways back in (another client, `users unlock`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import extract_parameters
from typer.testing import CliRunner

from cli import app
from core.base.errors import PermissionDenied, Refused, ValidationFailed
from core.governance.accounts import DUMMY_HASH, add_user, authenticate, unlock_user
from core.record.activity import list_activity
from db.engine import Database
from db.models import SignInFailure, User
from db.types import utcnow

PASSWORD = "the owner's long password"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


@pytest.fixture
def team(db: Database) -> Database:
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "alice", "admin", PASSWORD, by="ada")
    return db


def failures(db: Database, name: str, client: str | None = None) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(SignInFailure.failures), 0)).where(
        SignInFailure.username == name)
    if client is not None:
        query = query.where(SignInFailure.client == client)
    with db.reads() as session:
        return session.scalar(query)


def answer(db: Database, name: str, password: str, client: str | None, now) -> str:  # type: ignore[no-untyped-def]
    try:
        return "signed in as " + authenticate(db, name, password, client=client, now=now).username
    except Refused as refusal:
        return str(refusal)


def test_sixteen_parallel_wrong_passwords_are_each_counted_once(team):
    db = team
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(16)

    def guess(number: int) -> None:
        start.wait()
        outcome = answer(db, "alice", f"guess {number}", ATTACKER, None)
        with lock:
            outcomes["verified" if "wrong password" in outcome else
                     "throttled" if "too many failed attempts" in outcome else outcome] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcomes.values()) == 16 and set(outcomes) <= {"verified", "throttled"}, outcomes
    # Every guess that reached the password check is in the count; the rest were turned away
    # before it (at least the three free attempts were checked).
    assert outcomes["verified"] >= 3
    assert failures(db, "alice", ATTACKER) == outcomes["verified"]


def test_a_lock_out_is_per_client_so_the_owner_still_signs_in_from_elsewhere(team):
    db = team
    now = utcnow()
    for n in range(8):
        answer(db, "alice", f"guess {n}", ATTACKER, now + timedelta(minutes=n))
    assert "too many failed attempts" in answer(db, "alice", PASSWORD, ATTACKER,
                                                now + timedelta(minutes=7, seconds=1))
    assert answer(db, "alice", PASSWORD, OWNER, now + timedelta(minutes=7, seconds=1)) == \
        "signed in as alice"
    assert failures(db, "alice", ATTACKER) == 8  # the owner's success clears only the owner's


def test_unlock_clears_every_clients_failures_and_is_logged(team):
    db = team
    now = utcnow()
    for n in range(4):
        answer(db, "alice", f"guess {n}", ATTACKER, now)
    assert "too many failed attempts" in answer(db, "alice", PASSWORD, ATTACKER, now)
    assert unlock_user(db, "Alice", by="ada") == 1
    assert answer(db, "alice", PASSWORD, ATTACKER, now) == "signed in as alice"
    assert failures(db, "alice") == 0
    line = list_activity(db, limit=1)[0]
    assert line.activity_type == "account_unlocked" and line.metadata["by"] == "ada"


def test_only_an_admin_may_unlock(team):
    db = team
    add_user(db, "gus", "governor", PASSWORD, by="ada")
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        unlock_user(db, "alice", by="gus")


def test_users_unlock_on_the_command_line_lets_the_owner_straight_back_in(team, db_url):
    db = team
    now = utcnow()
    for n in range(5):
        answer(db, "alice", f"guess {n}", ATTACKER, now)
    result = CliRunner().invoke(app, ["--db", db_url, "users", "unlock", "alice", "--by", "alice",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert '"clients_cleared": 1' in result.stdout
    assert answer(db, "alice", PASSWORD, ATTACKER, now) == "signed in as alice"


def test_an_unknown_name_is_answered_and_slowed_exactly_like_a_known_one(team):
    db = team
    now = utcnow()
    steps = [("guess", 0), ("guess", 0), ("guess", 0), ("guess", 0.5), ("guess", 1), ("guess", 2)]

    def story(name: str) -> list[str]:
        return [answer(db, name, password, ATTACKER, now + timedelta(seconds=at))
                for password, at in steps]

    known, unknown = story("alice"), story("nobody")
    assert known == unknown
    assert known[3] == "sign-in: too many failed attempts, try again in 1 s"
    assert failures(db, "nobody", ATTACKER) == failures(db, "alice", ATTACKER) == 4


def test_an_unknown_name_costs_the_same_password_hashing_as_a_real_account(team):
    with team.reads() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.username == "alice"))
    assert extract_parameters(DUMMY_HASH) == extract_parameters(stored)


@pytest.mark.parametrize("name, rule", [
    ("a" * 500, "at most 64 are allowed"), ("nul\x00name", "NUL"), ("surrogate\ud800", "surrogate"),
])
def test_a_name_no_text_rule_allows_is_refused_by_the_rule_and_writes_nothing(team, name, rule):
    # No account can have such a name, so the answer tells nothing about which accounts exist.
    with pytest.raises(ValidationFailed, match=f"username: .*{rule}"):
        authenticate(team, name, PASSWORD, client=ATTACKER)
    with team.reads() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SignInFailure)) == 0


@pytest.mark.parametrize("name", ["   ", "Ünïcode", "no such person"])
def test_a_name_that_cannot_be_an_account_is_refused_and_throttled_like_any_other(team, name):
    db = team
    now = utcnow()
    answers = [answer(db, name, PASSWORD, ATTACKER, now) for _ in range(4)]
    assert answers == ["sign-in: unknown account or wrong password"] * 3 + [
        "sign-in: too many failed attempts, try again in 1 s"]


def test_a_client_address_that_is_not_printable_or_too_long_is_still_one_client(team):
    db = team
    now = utcnow()
    for client in ("x" * 500, "bad\x00client"):
        for _ in range(3):
            answer(db, "alice", "wrong", client, now)
        assert "too many failed attempts" in answer(db, "alice", PASSWORD, client, now)


def test_failure_counts_nobody_added_to_for_a_day_are_forgotten(team):
    db = team
    long_ago = utcnow() - timedelta(days=2)
    for _ in range(5):
        answer(db, "alice", "wrong", ATTACKER, long_ago)
    answer(db, "nobody", "wrong", OWNER, utcnow())
    assert failures(db, "alice") == 0
    assert failures(db, "nobody") == 1


def lock_waiters(db: Database) -> int:
    # A new connection each time: pg_stat_activity is a snapshot per transaction.
    with db.engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))


def test_a_sign_in_waiting_for_a_count_that_is_cleared_meanwhile_still_answers(pg_db):
    db = pg_db
    add_user(db, "ada", "admin", PASSWORD)
    answer(db, "ada", "wrong", ATTACKER, None)
    result: dict[str, str] = {}
    with db.engine.connect() as holder:
        holder.execute(sa.text("SELECT * FROM sign_in_failures WHERE username = 'ada' FOR UPDATE"))
        waiting = threading.Thread(
            target=lambda: result.update(answer=answer(db, "ada", PASSWORD, ATTACKER, None)))
        waiting.start()
        deadline = time.monotonic() + 20
        while not lock_waiters(db):
            assert time.monotonic() < deadline, "the sign-in never waited for the row"
            time.sleep(0.05)
        # An unlock (or the day-old clean-up) deletes the row the sign-in is waiting for.
        holder.execute(sa.text("DELETE FROM sign_in_failures WHERE username = 'ada'"))
        holder.commit()
        waiting.join()
    assert result["answer"] == "signed in as ada"
