"""The record proves itself (core/record/audit.py): each forgery by raw SQL, as the app's own role
could write it, is named by `audit verify` (exit 3) and not honoured by the product; the failure
is recorded as `audit_failed` activity and an `audit.failed` event. Raw SQL here is SQLAlchemy
Core on a plain connection: an INSERT or UPDATE with no ORM session, so nothing signs it."""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from core.base.errors import DomainError, NotAuthenticated, PermissionDenied, Refused
from core.base.keys import keys_for
from core.database import upgrade_database
from core.governance.accounts import add_user, authenticate
from core.governance.api_tokens import authenticate_token, create_token
from core.governance.policy_store import get_policy, set_policy
from core.governance.web_sessions import open_session, session_account
from core.jobs import webhooks
from core.proposals.distribution import distribute
from core.proposals.lifecycle import get_pending_proposals, review_proposal
from core.record.activity import list_activity
from core.record.audit import verify_record
from db import migrate
from db.engine import Database, open_database
from db.models import (AllocationPolicy, ApiToken, OutboxEvent, ProfitDistribution,
                       ProposalReview, ProtocolActivity, User, WebhookEndpoint, WebSession)
from db.types import utcnow
from tests.integration.state import file
from tests.integration.test_cli_contract import cli

PASSWORD = "correct horse battery staple"


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def raw(db: Database, statement: Any) -> None:
    with db.engine.begin() as connection:
        connection.execute(statement)


def verify_cli(db: Database) -> tuple[int, dict[str, Any]]:
    run = cli(url_of(db), "audit", "verify", "--json")
    return run.code, run.json


def assert_named(db: Database, table: str, row_id: str) -> None:
    """`audit verify` exits 3 and names this row (and the CLI's first line names a broken one)."""
    code, report = verify_cli(db)
    assert code == 3, report
    assert report["ok"] is False
    assert {"table": table, "id": row_id} in [{"table": b["table"], "id": b["id"]}
                                              for b in report["broken"]], report


def audit_failures(db: Database) -> list[dict[str, Any]]:
    return [a.metadata for a in list_activity(db, 200, activity_type="audit_failed")]


def listen_for_audit_failures(db: Database) -> None:
    """An endpoint for `audit.failed`: the outbox keeps only events some endpoint wants."""
    webhooks.add_endpoint(db, "http://127.0.0.1:9/hook", "audit.failed", by="ada")


def events(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.scalars(sa.select(OutboxEvent.type)))


def test_a_database_written_only_by_the_application_verifies(team, private_webhooks_allowed):
    add_user(team, "pia", "analyst", PASSWORD, by="ada")
    set_policy(team, "approvals_required", "2", by="ada")
    proposal = file(team)
    review_proposal(team, proposal, "approved", by="gus")
    review_proposal(team, proposal, "approved", by="gail")
    distribute(team, "1000.03", "run-1", by="ann")
    create_token(team, "ann", "ci", by="ada")
    webhooks.add_endpoint(team, "http://127.0.0.1:9/hook", "all", by="ada")
    open_session(team, "gus")
    authenticate(team, "pia", PASSWORD)
    code, report = verify_cli(team)
    assert (code, report["ok"], report["broken"]) == (0, True, [])
    assert report["rows"] > 20


def test_a_role_changed_by_raw_sql_is_named_and_not_honoured(team, private_webhooks_allowed):
    listen_for_audit_failures(team)
    raw(team, sa.update(User).where(User.username == "vic").values(role="admin"))
    assert_named(team, "users", "vic")
    with pytest.raises(PermissionDenied, match="audit"):
        set_policy(team, "approvals_required", "1", by="vic")
    assert get_policy(team).approvals_required == 1
    failure = audit_failures(team)[0]
    assert (failure["table"], failure["id"]) == ("users", "vic")
    assert "audit.failed" in events(team)


def test_a_password_hash_set_by_raw_sql_does_not_sign_in(team):
    add_user(team, "pia", "analyst", PASSWORD, by="ada")
    with team.engine.connect() as connection:
        known_hash = connection.scalar(sa.select(User.password_hash).where(User.username == "pia"))
    # The attacker copies a hash whose password they know onto the admin's account.
    raw(team, sa.update(User).where(User.username == "ada").values(password_hash=known_hash))
    assert authenticate(team, "pia", PASSWORD).username == "pia"
    with pytest.raises(Refused, match="unknown account or wrong password"):
        authenticate(team, "ada", PASSWORD)
    assert_named(team, "users", "ada")
    described = [a.description for a in list_activity(team, 50, activity_type="audit_failed")]
    assert described and all(known_hash not in d for d in described)


def test_an_api_token_inserted_by_raw_sql_is_refused(team):
    genuine = create_token(team, "ann", "ci", by="ada")
    assert authenticate_token(team, genuine.token).username == "ann"
    forged = "pa_" + "x" * 43
    token_id = uuid.uuid4()
    raw(team, sa.insert(ApiToken).values(
        id=token_id, token_hash=hashlib.sha256(forged.encode()).hexdigest(), username="ada",
        name="backdoor", created_by="ada", created_at=utcnow()))
    with pytest.raises(NotAuthenticated):
        authenticate_token(team, forged)
    assert_named(team, "api_tokens", str(token_id))
    assert forged not in str(audit_failures(team))
    assert [f["id"] for f in audit_failures(team)] == [str(token_id)]


def test_a_policy_version_inserted_by_raw_sql_is_passed_over(team):
    set_policy(team, "approvals_required", "2", by="ada")
    with team.engine.connect() as connection:
        latest = connection.execute(sa.select(AllocationPolicy.version, AllocationPolicy.settings)
                                    .order_by(AllocationPolicy.version.desc())).first()
    raw(team, sa.insert(AllocationPolicy).values(
        version=latest.version + 1, settings={**latest.settings, "approvals_required": 1},
        changed_key="approvals_required", old_value="2", new_value="1", changed_by="ada",
        changed_at=utcnow()))
    assert get_policy(team).approvals_required == 2
    assert_named(team, "allocation_policy", str(latest.version + 1))
    # A change made afterwards builds on the version in force, not on the forged one.
    set_policy(team, "max_step", "10", by="ada")
    assert get_policy(team).approvals_required == 2
    assert [f["table"] for f in audit_failures(team)] == ["allocation_policy"]


def test_an_approval_inserted_by_raw_sql_does_not_count(team):
    set_policy(team, "approvals_required", "2", by="ada")
    proposal = file(team)
    review_proposal(team, proposal, "approved", by="gus")
    review_id = uuid.uuid4()
    raw(team, sa.insert(ProposalReview).values(
        id=review_id, proposal_id=uuid.UUID(proposal), reviewer="gail", decision="approved",
        reviewed_at=utcnow()))
    [pending] = get_pending_proposals(team)
    assert pending.approvals == ["gus"]
    assert_named(team, "proposal_reviews", str(review_id))
    # Even when the forged row took the chain's next place, the next genuine review verifies.
    outcome = review_proposal(team, proposal, "approved", by="gwen")
    assert (outcome.status, outcome.approvals) == ("active", 2)
    code, report = verify_cli(team)
    assert [b["id"] for b in report["broken"]] == [str(review_id)]


def test_an_activity_row_inserted_by_raw_sql_is_named(team):
    forged = uuid.uuid4()
    raw(team, sa.insert(ProtocolActivity).values(
        id=forged, timestamp=utcnow(), activity_type="allocation_activated",
        description="nothing to see", meta={"by": "ada"}))
    assert_named(team, "protocol_activity", str(forged))


def test_a_ledger_row_cannot_be_altered_and_one_inserted_by_raw_sql_is_named(team):
    done = distribute(team, "1000.00", "run-1", by="ann")
    with pytest.raises(sa.exc.DBAPIError):
        raw(team, sa.update(ProfitDistribution).values(total=1))
    forged = uuid.uuid4()
    raw(team, sa.insert(ProfitDistribution).values(
        id=forged, idempotency_key="run-2", total=5, allocation_id=uuid.UUID(done.allocation_id),
        reinvestment_pct=80, dao_pct=15, lucky_pct=3, creator_pct=2, reinvestment_amount=4,
        dao_amount=1, lucky_amount=0, creator_amount=0, created_by="ann", created_at=utcnow()))
    assert_named(team, "profit_distributions", str(forged))


def test_a_split_activated_by_raw_sql_is_not_paid_out_under(team):
    from db.models import AllocationLog

    proposal = uuid.UUID(file(team))
    now = utcnow()
    raw(team, sa.update(AllocationLog).where(AllocationLog.status == "active",
                                             AllocationLog.effective_until.is_(None))
        .values(effective_until=now))
    raw(team, sa.update(AllocationLog).where(AllocationLog.id == proposal)
        .values(status="active", effective_from=now))
    with pytest.raises(Refused, match="audit check"):
        distribute(team, "1000.00", "run-1", by="ann")
    assert_named(team, "profit_allocation_log", str(proposal))
    assert "profit_allocation_log" in [f["table"] for f in audit_failures(team)]


def test_a_dashboard_session_inserted_by_raw_sql_signs_nobody_in(team):
    add_user(team, "pia", "analyst", PASSWORD, by="ada")
    genuine = open_session(team, "pia")
    assert session_account(team, genuine.token).username == "pia"
    with team.engine.connect() as connection:
        mark = connection.scalar(sa.select(WebSession.password_mark))
    forged = "f" * 43
    raw(team, sa.insert(WebSession).values(
        token_hash=hashlib.sha256(forged.encode()).hexdigest(), username="pia", password_mark=mark,
        created_at=utcnow(), expires_at=utcnow().replace(year=utcnow().year + 1)))
    assert session_account(team, forged) is None
    code, report = verify_cli(team)
    assert code == 3 and [b["table"] for b in report["broken"]] == ["web_sessions"]
    assert hashlib.sha256(forged.encode()).hexdigest() not in str(report)


def test_a_webhook_secret_cannot_be_read_from_the_database(team, private_webhooks_allowed):
    added = webhooks.add_endpoint(team, "http://127.0.0.1:9/hook", "all", by="ada")
    with team.engine.connect() as connection:
        stored = connection.scalar(sa.select(WebhookEndpoint.secret))
    assert added.secret not in stored and not stored.startswith(webhooks.SECRET_PREFIX)
    assert keys_for(team.engine).open(stored) == added.secret


def test_a_webhook_endpoint_redirected_by_raw_sql_is_sent_nothing(team, private_webhooks_allowed):
    webhooks.add_endpoint(team, "http://127.0.0.1:9/hook", "all", by="ada")
    raw(team, sa.update(WebhookEndpoint).values(url="http://127.0.0.1:8/attacker"))
    file(team)
    webhooks.deliver_due(team, timeout=1)
    # The failure's own `audit.failed` event is queued for the same endpoint, and given up too.
    passed = webhooks.deliver_due(team, timeout=1)
    assert (passed.delivered, passed.pending) == (0, 0)
    assert {(d.status, d.last_error) for d in webhooks.list_deliveries(team)} == {
        ("failed", "endpoint fails its audit check")}
    assert [f["table"] for f in audit_failures(team)] == ["webhook_endpoints"]


def test_a_row_forged_before_a_genuine_change_stays_broken_after_it(team):
    """Re-signing on a later change would launder the forgery (say, a role kept through a
    disable by an admin who did not know)."""
    raw(team, sa.update(User).where(User.username == "gus").values(role="admin"))
    from core.governance.accounts import disable_user

    disable_user(team, "gus", by="ada")
    assert_named(team, "users", "gus")


def test_a_failure_found_in_a_read_is_recorded_once_with_its_event(team,
                                                                   private_webhooks_allowed):
    listen_for_audit_failures(team)
    raw(team, sa.update(User).where(User.username == "vic").values(role="admin"))
    genuine = create_token(team, "vic", "ci", by="ada")
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            authenticate_token(team, genuine.token)
    assert [(f["table"], f["id"]) for f in audit_failures(team)] == [("users", "vic")]
    assert events(team).count("audit.failed") == 1


def test_concurrent_writers_extend_each_chain_without_a_fork(team):
    """Two writers at once, each appending to the ledger and to activity: one unbroken chain."""
    url = url_of(team)
    barrier, errors = threading.Barrier(2), []

    def writer(name: str) -> None:
        database = open_database(url)
        try:
            barrier.wait(timeout=60)
            for number in range(15):
                distribute(database, "10.00", f"{name}-{number}", by="ann")
        except (DomainError, threading.BrokenBarrierError) as error:
            errors.append(error)
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with team.engine.connect() as connection:
        places = list(connection.scalars(sa.select(ProfitDistribution.chain_seq)
                                         .order_by(ProfitDistribution.chain_seq)))
    assert places == list(range(1, 31))
    assert verify_record(team).ok


def test_rows_already_there_at_0013_are_signed_and_secrets_sealed(blank_db):
    migrate.upgrade(blank_db, "0011_api_tokens_webhooks")
    now = utcnow()
    endpoint = uuid.uuid4()
    with blank_db.engine.begin() as connection:
        for number in range(3):
            connection.execute(sa.text(
                "INSERT INTO protocol_activity (id, timestamp, activity_type, description, metadata) "
                "VALUES (:id, :at, 'note', :text, NULL)"),
                {"id": uuid.uuid4().hex if blank_db.dialect == "sqlite" else str(uuid.uuid4()),
                 "at": now.replace(tzinfo=None), "text": f"before the audit {number}"})
        connection.execute(sa.insert(User).values(username="ada", display_name="Ada", role="admin",
                                                  active=True, created_at=now))
        connection.execute(sa.text(
            "INSERT INTO webhook_endpoints (id, url, events, secret, created_by, created_at) "
            "VALUES (:id, 'http://127.0.0.1:9/h', '[\"all\"]', 'whsec_plain', 'ada', :at)"),
            {"id": endpoint.hex if blank_db.dialect == "sqlite" else str(endpoint),
             "at": now.replace(tzinfo=None)})
    upgrade_database(blank_db)
    report = verify_record(blank_db)
    assert report.ok, report.broken
    with blank_db.engine.connect() as connection:
        sealed = connection.scalar(sa.select(WebhookEndpoint.secret))
        places = list(connection.scalars(sa.select(ProtocolActivity.chain_seq)
                                         .order_by(ProtocolActivity.chain_seq)))
    assert keys_for(blank_db.engine).open(sealed) == "whsec_plain"
    assert places == [1, 2, 3, 4]  # the three already there, then the seeded default's


def test_a_bare_alembic_upgrade_of_rows_it_cannot_sign_is_refused(blank_db):
    migrate.upgrade(blank_db, "0011_api_tokens_webhooks")
    with blank_db.engine.begin() as connection:
        connection.execute(sa.insert(User).values(username="ada", display_name="Ada", role="admin",
                                                  active=True, created_at=utcnow()))
    with pytest.raises(RuntimeError, match="python -m core db upgrade"):
        migrate.upgrade(blank_db)
    assert migrate.current_revision(blank_db) == "0011_api_tokens_webhooks"
