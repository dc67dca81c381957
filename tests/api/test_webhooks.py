"""Webhooks against a local receiver that checks the signature, on SQLite and PostgreSQL:
delivery, retry after a 500, a receiver down for a while then back (nothing lost, order kept),
an event from a rolled-back change never sent. Time is moved by passing `now`, not by sleeping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.allocation.validation import ProposalInput
from core.base.errors import Refused, ValidationFailed
from core.governance import policy_store
from core.governance.accounts import add_user
from core.jobs import webhooks
from core.proposals import lifecycle, distribution
from core.record.activity import list_activity, record_activity
from db.models import WebhookEndpoint
from db.types import utcnow
from tests.api.receiver import Receiver

SPLIT = ProposalInput(75, 18, 4, 3, "more to the DAO")
# The receivers listen on 127.0.0.1, which only PA_WEBHOOK_ALLOW_PRIVATE=1 lets through.
pytestmark = pytest.mark.usefixtures("private_webhooks_allowed")


@pytest.fixture
def team(db):
    add_user(db, "ada", "admin", None, email="ada@example.org")
    add_user(db, "ann", "analyst", None, by="ada", email="ann@example.org")
    add_user(db, "gus", "governor", None, by="ada", email="gus@example.org")
    return db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def subscribe(db, receiver: Receiver, events: str = "all") -> str:
    added = webhooks.add_endpoint(db, receiver.url, events, by="ada")
    receiver.secret = added.secret
    return added.endpoint.id


def deliveries(db) -> dict[str, str]:
    return {d.type: d.status for d in webhooks.list_deliveries(db)}


def test_an_approval_is_announced_signed_in_the_order_it_happened(team, receiver):
    subscribe(team, receiver)
    proposal = lifecycle.propose_allocation(team, SPLIT, by="ann").proposal_id
    lifecycle.review_proposal(team, proposal, "approved", by="gus")
    result = webhooks.deliver_due(team)
    assert result.as_json() == {"delivered": 3, "failed": 0, "pending": 0}
    assert receiver.types() == ["proposal.filed", "proposal.reviewed", "allocation.activated"]
    assert all(r.signature_ok for r in receiver.received)
    first = receiver.received[0]
    assert first.headers["X-PA-Event"] == "proposal.filed"
    assert first.headers["Content-Type"] == "application/json"
    assert first.event["data"]["proposal_id"] == proposal and first.event["data"]["by"] == "ann"
    assert receiver.received[1].event["data"]["decision"] == "approved"
    activated = receiver.received[2].event
    assert activated["data"]["split"] == {"reinvestment": 75, "dao": 18, "lucky": 4, "creator": 3}
    ids = [r.headers["X-PA-Delivery"] for r in receiver.received]
    assert ids == [d.id for d in reversed(webhooks.list_deliveries(team))]


def test_a_wrong_secret_fails_the_receivers_check(team, receiver):
    subscribe(team, receiver)
    receiver.secret = "whsec_not_the_one"
    policy_store.set_policy(team, "max_step", "10", by="ada")
    webhooks.deliver_due(team)
    assert [r.signature_ok for r in receiver.received] == [False]


def test_an_endpoint_gets_only_the_events_it_subscribed_to(team, receiver):
    subscribe(team, receiver, "distribution.recorded")
    lifecycle.propose_allocation(team, SPLIT, by="ann")
    distribution.distribute(team, "100", "day-1", by="ann")
    webhooks.deliver_due(team)
    assert receiver.types() == ["distribution.recorded"]
    assert receiver.received[0].event["data"]["total"] == "100.00"


def test_a_500_is_retried_after_the_backoff_and_then_delivered(team, receiver):
    subscribe(team, receiver)
    receiver.statuses = [500]
    policy_store.set_policy(team, "max_step", "10", by="ada")
    now = utcnow()
    assert webhooks.deliver_due(team, now).as_json() == {"delivered": 0, "failed": 0, "pending": 1}
    [log] = webhooks.list_deliveries(team)
    assert (log.status, log.attempts, log.last_status_code) == ("pending", 1, 500)
    assert log.next_attempt_at == now + timedelta(minutes=1)
    # Not due yet 59 s later: nothing is sent.
    assert webhooks.deliver_due(team, now + timedelta(seconds=59)).delivered == 0
    assert receiver.attempts == 1
    assert webhooks.deliver_due(team, now + timedelta(minutes=1)).delivered == 1
    assert receiver.types() == ["policy.changed"]
    assert webhooks.list_deliveries(team)[0].attempts == 2


def test_a_receiver_down_for_hours_gets_everything_in_order_when_back(team, receiver):
    subscribe(team, receiver)
    receiver.stop()  # down: connections refused
    proposal = lifecycle.propose_allocation(team, SPLIT, by="ann").proposal_id
    lifecycle.review_proposal(team, proposal, "approved", by="gus")
    distribution.distribute(team, "10", "day-1", by="ann")
    now = utcnow()
    moments = [now, now + timedelta(minutes=1), now + timedelta(minutes=6)]
    for moment in moments:
        assert webhooks.deliver_due(team, moment).pending == 4
    [head] = [d for d in webhooks.list_deliveries(team) if d.type == "proposal.filed"]
    assert head.attempts == 3 and head.last_status_code is None and head.last_error
    # The ones behind the head were never tried: order is kept by waiting.
    assert {d.attempts for d in webhooks.list_deliveries(team) if d.id != head.id} == {0}
    back = Receiver(secret=receiver.secret)
    try:
        with team.sessions.begin() as session:  # the receiver came back, on another port
            session.scalars(sa.select(WebhookEndpoint)).one().url = back.url
        result = webhooks.deliver_due(team, now + timedelta(minutes=36))
        assert result.as_json() == {"delivered": 4, "failed": 0, "pending": 0}
        assert back.types() == ["proposal.filed", "proposal.reviewed", "allocation.activated",
                                "distribution.recorded"]
        assert [r.event["id"] for r in back.received] == sorted(r.event["id"] for r in back.received)
        assert all(r.signature_ok for r in back.received)
    finally:
        back.stop()


def test_after_six_failed_attempts_a_delivery_is_given_up_and_the_next_one_goes(team, receiver):
    subscribe(team, receiver)
    receiver.statuses = [500] * 6
    policy_store.set_policy(team, "max_step", "10", by="ada")
    policy_store.set_policy(team, "max_step", "11", by="ada")
    now = utcnow()
    waits = [timedelta(0), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
             timedelta(hours=2), timedelta(hours=6)]
    moment = now
    for wait in waits:
        moment += wait
        webhooks.deliver_due(team, moment)
    logs = sorted(webhooks.list_deliveries(team), key=lambda d: d.event_id)
    assert [(d.status, d.attempts) for d in logs] == [("failed", 6), ("delivered", 1)]
    assert [r.event["data"]["new_value"] for r in receiver.received] == [11]
    assert any(a.activity_type == "webhook_delivery_failed" for a in list_activity(team))


def test_an_event_from_a_rolled_back_change_is_never_sent(team, receiver):
    subscribe(team, receiver)
    distribution.distribute(team, "10", "k", by="ann")
    with pytest.raises(Refused):
        distribution.distribute(team, "11", "k", by="ann")  # refused after its checks began
    with pytest.raises(ValidationFailed):
        lifecycle.propose_allocation(team, ProposalInput(70, 31, 3, 2, "too much"), by="ann")
    with pytest.raises(RuntimeError):
        with team.sessions.begin() as session:
            record_activity(session, "profit_distributed", "a change that fails later", {"x": 1})
            raise RuntimeError("the change fails after logging")
    webhooks.deliver_due(team)
    assert receiver.types() == ["distribution.recorded"]
    assert len(webhooks.list_deliveries(team)) == 1


def test_two_passes_at_once_do_not_send_a_delivery_twice(team, receiver):
    subscribe(team, receiver)
    policy_store.set_policy(team, "max_step", "10", by="ada")
    now = utcnow()
    first, second = webhooks.deliver_due(team, now), webhooks.deliver_due(team, now)
    assert (first.delivered, second.delivered) == (1, 0)
    assert receiver.attempts == 1


def test_removing_an_endpoint_stops_its_deliveries_and_keeps_the_log(team, receiver):
    endpoint = subscribe(team, receiver)
    policy_store.set_policy(team, "max_step", "10", by="ada")
    webhooks.remove_endpoint(team, endpoint, by="ada")
    assert webhooks.deliver_due(team).as_json() == {"delivered": 0, "failed": 0, "pending": 0}
    assert [(d.status, d.last_error) for d in webhooks.list_deliveries(team)] == [
        ("failed", "endpoint removed")]
    assert webhooks.list_endpoints(team) == []


def test_only_an_admin_registers_an_endpoint_and_bad_input_is_refused(team, receiver):
    with pytest.raises(Refused, match="registering a webhook endpoint needs the admin role"):
        webhooks.add_endpoint(team, receiver.url, "all", by="ann")
    with pytest.raises(ValidationFailed, match="url: 'ftp://x' is not an http"):
        webhooks.add_endpoint(team, "ftp://x", "all", by="ada")
    with pytest.raises(ValidationFailed, match="events: proposal.filled not among"):
        webhooks.add_endpoint(team, receiver.url, "proposal.filled", by="ada")


def test_the_secret_is_shown_once_and_never_logged(team, receiver):
    added = webhooks.add_endpoint(team, receiver.url, "all", by="ada")
    assert added.secret.startswith("whsec_")
    assert added.secret not in str([a.as_json() for a in list_activity(team)])
    assert "secret" not in webhooks.list_endpoints(team)[0].as_json()


def test_the_cli_registers_delivers_and_lists_deliveries(team, receiver, db_url):
    runner = CliRunner()
    added = runner.invoke(app, ["--db", db_url, "webhooks", "add", receiver.url, "--events",
                                "policy.changed", "--by", "ada", "--json"])
    assert added.exit_code == 0, added.output
    receiver.secret = json.loads(added.stdout)["secret"]
    policy_store.set_policy(team, "max_step", "10", by="ada")
    once = runner.invoke(app, ["--db", db_url, "webhooks", "deliver", "--once", "--json"])
    assert json.loads(once.stdout) == {"delivered": 1, "failed": 0, "pending": 0}
    listed = runner.invoke(app, ["--db", db_url, "webhooks", "deliveries", "--json"])
    [row] = json.loads(listed.stdout)
    assert {k: row[k] for k in ("type", "status", "attempts", "last_status_code",
                                "next_attempt_at")} == {
        "type": "policy.changed", "status": "delivered", "attempts": 1, "last_status_code": 200,
        "next_attempt_at": None}
    assert receiver.received[0].signature_ok


def test_the_schedule_delivers_webhooks_in_its_once_pass(team, receiver, db_url):
    subscribe(team, receiver)
    policy_store.set_policy(team, "max_step", "10", by="ada")
    result = CliRunner().invoke(app, ["--db", db_url, "schedule", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["webhooks"]["delivered"] == 1
    assert receiver.types() == ["policy.changed"]


def test_a_second_writer_waits_so_event_ids_follow_commit_order(team, receiver):
    subscribe(team, receiver)
    first_drew_its_id = threading.Event()
    committed: list[str] = []

    def first() -> None:
        with team.sessions.begin() as session:
            record_activity(session, "policy_changed", "first", {"n": 1})
            first_drew_its_id.set()
            time.sleep(0.5)  # a slow change: the second writer must not commit before it
        committed.append("first")

    def second() -> None:
        first_drew_its_id.wait(10)
        with team.sessions.begin() as session:
            record_activity(session, "policy_changed", "second", {"n": 2})
        committed.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert committed == ["first", "second"]
    webhooks.deliver_due(team)
    assert [r.event["data"]["n"] for r in receiver.received] == [1, 2]


def test_a_withdrawal_and_an_expiry_are_announced(team, receiver):
    subscribe(team, receiver, "proposal.withdrawn,proposal.expired")
    withdrawn = lifecycle.propose_allocation(team, SPLIT, by="ann").proposal_id
    lifecycle.withdraw_proposal(team, withdrawn, by="ann")
    stale = lifecycle.propose_allocation(team, ProposalInput(76, 17, 4, 3, "later"), by="ann")
    lifecycle.expire_stale_proposals(team, now=utcnow() + timedelta(days=30))
    webhooks.deliver_due(team, utcnow() + timedelta(days=30))
    assert receiver.types() == ["proposal.withdrawn", "proposal.expired"]
    assert [r.event["data"]["proposal_id"] for r in receiver.received] == [
        withdrawn, stale.proposal_id]
