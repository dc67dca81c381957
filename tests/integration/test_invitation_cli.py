"""`users invite`, `users accept`, `users reset`, `users totp enroll` and `review --totp` against
the contract (../shared/spec/cli.md, "Added with the trust issue"), on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from core.governance.accounts import add_user, authenticate
from db.engine import open_database
from tests.integration.test_cli_contract import cli, is_iso, ok, refused
from tests.integration.state import every_row

PASSWORD = "a long passphrase"


@pytest.fixture
def url(db_url: str) -> str:
    db = open_database(db_url)
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "alice", "analyst", PASSWORD, by="ada")
    db.engine.dispose()
    return db_url


def rows(url: str) -> dict:
    db = open_database(url)
    try:
        return every_row(db)
    finally:
        db.engine.dispose()


def test_invite_prints_the_code_and_link_once_and_accept_makes_the_account(url):
    invited = ok(url, "users", "invite", "Nia", "--role", "governor", "--by", "ada")
    assert set(invited) >= {"username", "role", "invite_code", "invite_url", "expires_at"}
    assert (invited["username"], invited["role"]) == ("nia", "governor")
    assert invited["invite_url"].endswith(f"/?invite={invited['invite_code']}")
    assert is_iso(invited["expires_at"])
    run = cli(url, "users", "accept", invited["invite_code"], "--password-stdin", "--json",
              stdin="nia's own passphrase\n", process=True)
    assert run.code == 0, run.stderr
    assert run.json == {"username": "nia", "role": "governor", "active": True}
    assert invited["invite_code"] not in run.stdout + run.stderr
    db = open_database(url)
    assert authenticate(db, "nia", "nia's own passphrase").role == "governor"
    db.engine.dispose()


def test_a_used_an_expired_looking_or_an_unknown_code_exits_3_and_writes_nothing(url):
    invited = ok(url, "users", "invite", "nia", "--role", "viewer", "--by", "ada")
    assert cli(url, "users", "accept", invited["invite_code"], "--password-stdin",
               stdin=PASSWORD + "\n").code == 0
    before = rows(url)
    for code in (invited["invite_code"], "inv_unknown"):
        run = cli(url, "users", "accept", code, "--password-stdin", "--json",
                  stdin="someone's long passphrase\n")
        assert run.code == 3 and run.json["ok"] is False
        [problem] = run.json["errors"]
        assert problem.startswith("code: ") and code not in problem
        assert run.error_lines == [f"error: {problem}"]
    assert rows(url) == before


def test_invite_is_for_admins_and_refusals_name_the_field(url):
    before = rows(url)
    assert refused(url, "users", "invite", "nia", "--role", "viewer", "--by", "alice")[0].startswith("by: ")
    assert refused(url, "users", "invite", "nia", "--role", "boss", "--by", "ada")[0].startswith("role: ")
    assert refused(url, "users", "invite", "alice", "--role", "viewer", "--by", "ada")[0].startswith("username: ")
    assert rows(url) == before


def test_reset_gives_the_owner_a_code_to_choose_a_new_password(url):
    reset = ok(url, "users", "reset", "alice", "--by", "ada")
    assert reset["username"] == "alice" and reset["invite_url"].endswith(reset["invite_code"])
    document = cli(url, "users", "accept", reset["invite_code"], "--password-stdin", "--json",
                   stdin="alice's new passphrase\n")
    assert document.code == 0 and document.json == {"username": "alice", "role": "analyst",
                                                     "active": True}
    assert refused(url, "users", "reset", "nobody", "--by", "ada", code=4)[0].startswith("username: ")


def test_totp_enroll_prints_the_uri_for_ones_own_account_and_review_takes_totp(url):
    assert cli(url, "users", "add", "gus", "--role", "governor", "--by", "ada",
               "--password-stdin", stdin=PASSWORD + "\n").code == 0
    enrolled = ok(url, "users", "totp", "enroll", "gus", "--by", "gus")
    assert set(enrolled) >= {"username", "otpauth_uri"} and enrolled["username"] == "gus"
    assert enrolled["otpauth_uri"].startswith("otpauth://totp/")
    [problem] = refused(url, "users", "totp", "enroll", "gus", "--by", "ada")
    assert problem.startswith("by: ")
    ok(url, "policy", "set", "require_totp", "on", "--by", "ada")
    proposal = ok(url, "propose", "--reinvestment", "70", "--dao", "18", "--lucky", "8",
                  "--creator", "4", "--reasoning", "Q1", "--by", "alice")["proposal_id"]
    [problem] = refused(url, "review", proposal, "--decision", "approved", "--by", "gus")
    assert problem.startswith("totp: ")
    secret = parse_qs(urlparse(enrolled["otpauth_uri"]).query)["secret"][0]
    outcome = ok(url, "review", proposal, "--decision", "approved", "--by", "gus", "--totp",
                 pyotp.TOTP(secret).now())
    assert outcome["status"] == "active"
