"""TOTP second factor, on SQLite and PostgreSQL, with the real pyotp and a simulated clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import sqlalchemy as sa

from core.base.errors import PermissionDenied, ValidationFailed
from core.governance.accounts import add_user, authenticate
from core.governance.policy_store import get_policy, set_policy
from core.governance.second_factor import enroll_totp, has_totp
from core.proposals.lifecycle import review_proposal
from db.engine import Database
from tests.integration.state import every_row, file

PASSWORD = "a long passphrase"
# A fixed instant in the middle of a 30 s step: "now" in every test here.
NOW = datetime(2026, 11, 2, 10, 0, 15, tzinfo=timezone.utc)


@pytest.fixture
def team(db: Database) -> Database:
    add_user(db, "ada", "admin", PASSWORD)
    for name, role in (("gus", "governor"), ("gail", "governor"), ("ann", "analyst")):
        add_user(db, name, role, PASSWORD, by="ada")
    return db


def enrolled(db: Database, name: str) -> pyotp.TOTP:
    uri = enroll_totp(db, name, by=name, now=NOW).otpauth_uri
    return pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])


def code_at(totp: pyotp.TOTP, at: datetime) -> str:
    return totp.at(at)


def test_enrolment_gives_an_otpauth_uri_for_ones_own_account_only(team):
    enrollment = enroll_totp(team, "gus", by="gus", now=NOW)
    uri = urlparse(enrollment.otpauth_uri)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["issuer"] == ["Profit allocation"]
    assert has_totp(team, "gus")
    before = every_row(team)
    with pytest.raises(PermissionDenied, match="only for their own account"):
        enroll_totp(team, "gus", by="ada", now=NOW)
    assert every_row(team) == before


def test_the_secret_is_not_stored_in_the_clear(team):
    totp = enrolled(team, "gus")
    with team.engine.connect() as conn:
        sealed = conn.scalar(sa.text("SELECT secret_sealed FROM totp_factors WHERE username = 'gus'"))
    assert totp.secret not in sealed
    assert totp.secret not in repr(every_row(team))


def test_without_require_totp_nobody_is_asked_for_a_code(team):
    enrolled(team, "gus")
    assert get_policy(team).require_totp is False
    assert authenticate(team, "gus", PASSWORD, now=NOW).username == "gus"
    assert review_proposal(team, file(team), "approved", by="gus", now=NOW).status == "active"


def test_require_totp_asks_governors_for_a_current_code_to_sign_in(team):
    totp = enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    with pytest.raises(PermissionDenied, match="totp: signing in needs a current code"):
        authenticate(team, "gus", PASSWORD, now=NOW)
    with pytest.raises(PermissionDenied, match="totp: the code is wrong"):
        authenticate(team, "gus", PASSWORD, now=NOW, client="c2",
                     totp=code_at(totp, NOW + timedelta(minutes=5)))
    assert authenticate(team, "gus", PASSWORD, now=NOW, client="c3",
                        totp=code_at(totp, NOW)).username == "gus"
    # An analyst is not asked; nor is a governor who has not enrolled yet (to enrol, they sign in).
    assert authenticate(team, "ann", PASSWORD, now=NOW).username == "ann"
    assert authenticate(team, "gail", PASSWORD, now=NOW).username == "gail"


def test_wrong_codes_count_as_failed_sign_ins(team):
    enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            authenticate(team, "gus", PASSWORD, now=NOW, client="c", totp="000000")
    with team.engine.connect() as conn:
        assert conn.scalar(sa.text(
            "SELECT failures FROM sign_in_failures WHERE username = 'gus' AND client = 'c'")) == 3


def test_a_code_from_the_previous_window_is_accepted_once(team):
    totp = enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    previous = code_at(totp, NOW - timedelta(seconds=30))
    outcome = review_proposal(team, file(team), "approved", by="gus", now=NOW, totp=previous)
    assert outcome.status == "active"
    too_old = code_at(totp, NOW - timedelta(seconds=60))
    with pytest.raises(PermissionDenied, match="totp: the code is wrong or no longer current"):
        review_proposal(team, file(team, (70, 20, 6, 4)), "approved", by="gus", now=NOW,
                        totp=too_old)


def test_a_used_code_is_refused_the_second_time_and_nothing_is_written(team):
    totp = enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    code = code_at(totp, NOW)
    review_proposal(team, file(team), "approved", by="gus", now=NOW, totp=code)
    second = file(team, (70, 20, 6, 4))
    before = every_row(team)
    with pytest.raises(PermissionDenied, match="totp: this code was already used"):
        review_proposal(team, second, "rejected", by="gus", now=NOW + timedelta(seconds=5),
                        totp=code)
    assert every_row(team) == before
    # The next step's code works.
    later = NOW + timedelta(seconds=30)
    assert review_proposal(team, second, "rejected", by="gus", now=later,
                           totp=code_at(totp, later), notes="no").status == "rejected"


def test_require_totp_blocks_a_review_without_a_code_and_a_governor_without_totp(team):
    enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    proposal = file(team)
    before = every_row(team)
    with pytest.raises(PermissionDenied, match="totp: reviewing a proposal needs a current code"):
        review_proposal(team, proposal, "approved", by="gus", now=NOW)
    with pytest.raises(PermissionDenied, match="totp: a code is the 6 digits"):
        review_proposal(team, proposal, "approved", by="gus", now=NOW, totp="12ab56")
    with pytest.raises(PermissionDenied, match="gail has none; enrol first"):
        review_proposal(team, proposal, "approved", by="gail", now=NOW, totp="123456")
    assert every_row(team) == before


def test_replacing_a_factor_under_require_totp_needs_a_code_of_the_old_one(team):
    old = enrolled(team, "gus")
    set_policy(team, "require_totp", "on", by="ada")
    with pytest.raises(PermissionDenied, match="totp: replacing your second factor needs"):
        enroll_totp(team, "gus", by="gus", now=NOW)
    uri = enroll_totp(team, "gus", by="gus", now=NOW, code=code_at(old, NOW)).otpauth_uri
    new = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    assert new.secret != old.secret
    later = NOW + timedelta(seconds=30)
    assert review_proposal(team, file(team), "approved", by="gus", now=later,
                           totp=code_at(new, later)).status == "active"


def test_the_policy_key_takes_on_and_off_only(team):
    set_policy(team, "require_totp", "on", by="ada")
    assert get_policy(team).require_totp is True
    set_policy(team, "require_totp", "off", by="ada")
    assert get_policy(team).require_totp is False
    with pytest.raises(ValidationFailed, match="require_totp: .sometimes."):
        set_policy(team, "require_totp", "sometimes", by="ada")


# --- the same gate on vetoes and governance reviews ----------------------------------------------

def _queued_major(db: Database) -> str:
    from core.governance.policy_store import set_policy as set_key

    set_key(db, "timelock_hours_major", "24", by="ada")
    pid = file(db, (64, 30, 3, 3), by="ann")
    review_proposal(db, pid, "approved", by="gus", now=NOW)
    review_proposal(db, pid, "approved", by="gail", now=NOW)
    return pid


def test_a_veto_needs_a_current_code_when_the_policy_requires_one(team):
    from core.proposals.queue import veto

    pid = _queued_major(team)
    set_policy(team, "require_totp", "on", by="ada")
    totp = enrolled(team, "gail")
    before = every_row(team)
    with pytest.raises(PermissionDenied, match="totp: vetoing a queued change"):
        veto(team, pid, by="gail", reason="too fast", now=NOW)
    with pytest.raises(PermissionDenied, match="totp"):
        veto(team, pid, by="gail", reason="too fast", now=NOW, totp="000000"
             if code_at(totp, NOW) != "000000" else "111111")
    assert every_row(team) == before
    assert veto(team, pid, by="gail", reason="too fast", now=NOW,
                totp=code_at(totp, NOW)).status == "vetoed"


def test_a_governance_review_needs_a_current_code_when_the_policy_requires_one(team):
    from core.governance.changes import request_policy_change, review_governance
    from core.proposals.queue import execute_due
    from core.governance.sealing import seal

    add_user(team, "gwen", "governor", PASSWORD, by="ada")
    seal(team, by="ada")
    # Sealed, requiring TOTP is itself a governance change, approved and queued like any other.
    require = request_policy_change(team, "require_totp", "on", by="ada")
    review_governance(team, require.id, "approved", by="gail", now=NOW)
    review_governance(team, require.id, "approved", by="gwen", now=NOW)
    later = NOW + timedelta(hours=25)
    assert execute_due(team, later).executed == [require.id]
    totp = enrolled(team, "gus")
    filing = request_policy_change(team, "max_step", "20", by="ada")
    before = every_row(team)
    with pytest.raises(PermissionDenied, match="totp: reviewing a governance proposal"):
        review_governance(team, filing.id, "approved", by="gus", now=later)
    assert every_row(team) == before
    outcome = review_governance(team, filing.id, "approved", by="gus", now=later,
                                totp=code_at(totp, later))
    assert outcome.approvals == 1
