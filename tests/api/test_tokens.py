"""API tokens: made by an admin, shown once, kept as a hash, expiring, revocable; a disabled
account's tokens stop at once; bad tokens from one client are slowed down; writes name the token."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.base.errors import NotAuthenticated, NotFound, PermissionDenied, Refused, ValidationFailed
from core.governance import accounts, api_tokens
from core.record.activity import list_activity
from db.types import utcnow
from tests.api.test_routes import PROPOSAL, problem_of


def unauthorised(response) -> list[str]:
    errors = problem_of(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    return errors


def test_a_request_without_a_token_is_401_with_www_authenticate(api):
    assert unauthorised(api.client.get("/api/v1/allocation")) == [
        "authorization: missing, unknown, expired or revoked token"]


def test_an_unknown_token_is_401(api):
    response = api.client.get("/api/v1/allocation", headers={"Authorization": "Bearer pa_nope"})
    unauthorised(response)


def test_a_revoked_token_stops_at_once(api):
    assert api.get("vic", "/api/v1/allocation").status_code == 200
    api_tokens.revoke_token(api.db, api.token_ids["vic"], by="ada")
    unauthorised(api.get("vic", "/api/v1/allocation"))


def test_a_disabled_accounts_token_stops_at_once_and_writes_nothing(api):
    accounts.disable_user(api.db, "ann", by="ada")
    unauthorised(api.post("ann", "/api/v1/proposals", json=PROPOSAL))
    assert api.get("vic", "/api/v1/proposals").json() == []


def test_a_token_acts_with_its_accounts_role_as_it_is_now(api):
    assert api.post("ann", "/api/v1/proposals", json=PROPOSAL).status_code == 201
    accounts.set_role(api.db, "ann", "viewer", by="ada")
    problem_of(api.post("ann", "/api/v1/proposals", json=PROPOSAL), 403)


def test_an_expired_token_is_refused(db):
    accounts.add_user(db, "ada", "admin", None, email="ada@example.org")
    issued = api_tokens.create_token(db, "ada", "short-lived", by="ada", expires_days=1)
    assert api_tokens.authenticate_token(db, issued.token).username == "ada"
    with pytest.raises(NotAuthenticated):
        api_tokens.authenticate_token(db, issued.token, now=utcnow() + timedelta(days=1, seconds=1))


def test_only_the_hash_is_stored_and_the_list_never_shows_the_token(api):
    with api.db.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM api_tokens"))]
    assert not any(token in str(stored) for token in api.tokens.values())
    assert api_tokens.hash_token(api.tokens["ann"]) in str(stored)
    listed = json.dumps([t.as_json() for t in api_tokens.list_tokens(api.db)])
    assert not any(token in listed for token in api.tokens.values())
    assert not any(token in json.dumps([a.as_json() for a in list_activity(api.db, 500)])
                   for token in api.tokens.values())


def test_each_write_names_the_account_and_the_token_in_the_activity_log(api):
    proposal_id = api.post("ann", "/api/v1/proposals", json=PROPOSAL).json()["proposal_id"]
    [filed] = list_activity(api.db, 1, "allocation_proposed")
    assert filed.metadata["by"] == "ann"
    assert filed.metadata["via"] == {"channel": "api", "token_id": api.token_ids["ann"]}
    assert filed.metadata["proposal_id"] == proposal_id


def test_only_an_admin_makes_or_revokes_tokens(api):
    with pytest.raises(PermissionDenied):
        api_tokens.create_token(api.db, "ann", "mine", by="gus")
    with pytest.raises(PermissionDenied):
        api_tokens.revoke_token(api.db, api.token_ids["ann"], by="ann")
    with pytest.raises(NotFound):
        api_tokens.create_token(api.db, "nobody", "x", by="ada")
    with pytest.raises(ValidationFailed, match="expires_days: 0 is outside 1..3650"):
        api_tokens.create_token(api.db, "ann", "x", by="ada", expires_days=0)
    accounts.disable_user(api.db, "vic", by="ada")
    with pytest.raises(Refused, match="disabled"):
        api_tokens.create_token(api.db, "vic", "x", by="ada")


def test_repeated_bad_tokens_from_one_client_are_slowed_down_like_sign_ins(api):
    bad = {"Authorization": "Bearer pa_guess"}
    for _ in range(3):
        unauthorised(api.client.get("/api/v1/allocation", headers=bad))
    throttled = api.client.get("/api/v1/allocation", headers=bad)
    errors = problem_of(throttled, 429)
    assert errors[0].startswith("authorization: too many bad tokens from this client")
    assert throttled.headers["Retry-After"] == "1"


def test_a_valid_token_is_never_locked_out_by_bad_ones_from_the_same_address(api):
    # Behind a proxy that hides client addresses, everyone shares one address.
    bad = {"Authorization": "Bearer pa_guess"}
    for _ in range(3):
        unauthorised(api.client.get("/api/v1/allocation", headers=bad))
    problem_of(api.client.get("/api/v1/allocation", headers=bad), 429)
    assert api.client.get("/api/v1/allocation", headers=api.headers("vic")).status_code == 200
    # ... and the good token does not clear the count the guesser is waiting out.
    problem_of(api.client.get("/api/v1/allocation", headers=bad), 429)


def test_the_throttle_waits_double_each_time_per_client():
    attempts = api_tokens.FailedTokenAttempts()
    now = utcnow()
    for _ in range(4):
        attempts.failed("10.0.0.1", now)
    with pytest.raises(Refused) as refused:
        attempts.check("10.0.0.1", now + timedelta(seconds=1))
    assert refused.value.retry_after == pytest.approx(1.0)
    attempts.check("10.0.0.1", now + timedelta(seconds=2))  # 2 s after the 4th failure
    attempts.check("10.0.0.2", now)  # another client is not slowed down


def test_the_cli_creates_lists_and_revokes_tokens(api, db_url):
    runner = CliRunner()
    made = runner.invoke(app, ["--db", db_url, "tokens", "create", "--user", "ann", "--name",
                               "billing", "--expires-days", "30", "--by", "ada", "--json"])
    assert made.exit_code == 0, made.output
    issued = json.loads(made.stdout)
    assert set(issued) == {"id", "token", "username", "name", "expires_at"}
    assert api.client.get("/api/v1/allocation", headers={
        "Authorization": f"Bearer {issued['token']}"}).status_code == 200
    listed = json.loads(runner.invoke(app, ["--db", db_url, "tokens", "list", "--json"]).stdout)
    row = next(r for r in listed if r["id"] == issued["id"])
    assert {k: row[k] for k in ("username", "name", "revoked")} == {
        "username": "ann", "name": "billing", "revoked": False}
    assert row["last_used_at"] is not None and "token" not in row
    revoked = runner.invoke(app, ["--db", db_url, "tokens", "revoke", issued["id"], "--by", "ada",
                                  "--json"])
    assert json.loads(revoked.stdout) == {"id": issued["id"], "revoked": True}
    refused = runner.invoke(app, ["--db", db_url, "tokens", "create", "--user", "ann", "--name",
                                  "x", "--by", "ann", "--json"])
    assert refused.exit_code == 3 and json.loads(refused.stdout)["ok"] is False
