"""The webhook outbox's retention on SQLite and PostgreSQL: an event and its delivery log are
kept 30 days (PA_WEBHOOK_RETENTION_DAYS), then pruned by the schedule or `webhooks prune`; an
event with a pending delivery is never pruned. The clock is moved by passing `now`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli import app
from core.governance.policy_store import set_policy
from core.jobs import schedule, webhooks
from core.record.activity import list_activity
from db.types import utcnow
from tests.api.receiver import Receiver
from tests.integration.state import snapshot

THIRTY_DAYS = timedelta(days=30)  # the documented default, written here as the README says it
pytestmark = pytest.mark.usefixtures("private_webhooks_allowed")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def subscribe(db, receiver: Receiver) -> str:
    added = webhooks.add_endpoint(db, receiver.url, "all", by="ada")
    receiver.secret = added.secret
    return added.endpoint.id


def log(db) -> list[tuple[str, str]]:
    return sorted((d.endpoint_id, d.status) for d in webhooks.list_deliveries(db))


def event_time(db) -> datetime:
    (created_at,) = {d.created_at for d in webhooks.list_deliveries(db)}
    return created_at


def pruned_activity(db) -> list[dict]:
    return [a.metadata for a in list_activity(db, 50, activity_type="webhook_log_pruned")]


def delivered_and_failed(team, receiver) -> datetime:
    """One event, delivered to one endpoint and given up for another (removed); its time."""
    subscribe(team, receiver)
    gone = webhooks.add_endpoint(team, receiver.url + "/gone", "all", by="ada").endpoint.id
    set_policy(team, "max_step", "10", by="ada")
    created = event_time(team)
    webhooks.remove_endpoint(team, gone, by="ada")
    webhooks.deliver_due(team, created)
    assert sorted(status for _, status in log(team)) == ["delivered", "failed"]
    return created


def test_delivered_and_failed_deliveries_are_kept_exactly_thirty_days(team, receiver):
    created = delivered_and_failed(team, receiver)
    kept = webhooks.prune_deliveries(team, now=created + THIRTY_DAYS)
    assert (kept.events, kept.deliveries) == (0, 0)
    assert len(log(team)) == 2 and pruned_activity(team) == []
    gone = webhooks.prune_deliveries(team, now=created + THIRTY_DAYS + timedelta(seconds=1))
    assert (gone.events, gone.deliveries, gone.older_than_days) == (1, 2, 30)
    assert log(team) == [] and snapshot(team)["outbox_events"] == 0
    [recorded] = pruned_activity(team)
    assert (recorded["events"], recorded["deliveries"], recorded["older_than_days"]) == (1, 2, 30)


def test_a_pending_delivery_is_never_pruned_however_old_nor_the_rest_of_its_event(team, receiver):
    subscribe(team, receiver)
    down = Receiver(statuses=[500])
    try:
        webhooks.add_endpoint(team, down.url, "all", by="ada")
        set_policy(team, "max_step", "10", by="ada")
        created = event_time(team)
        webhooks.deliver_due(team, created)
        assert sorted(status for _, status in log(team)) == ["delivered", "pending"]
        a_year = created + timedelta(days=365)
        assert webhooks.prune_deliveries(team, now=a_year).as_json()["events"] == 0
        assert sorted(status for _, status in log(team)) == ["delivered", "pending"]
        # Still there to be sent when its receiver answers.
        assert webhooks.deliver_due(team, a_year).delivered == 1
        assert [r.event["type"] for r in down.received] == ["policy.changed"]
    finally:
        down.stop()


def test_a_prune_that_finds_nothing_writes_nothing(team, receiver):
    delivered_and_failed(team, receiver)
    before = snapshot(team)
    assert webhooks.prune_deliveries(team, now=utcnow() + timedelta(days=29)).events == 0
    assert snapshot(team) == before


def test_the_retention_is_read_from_pa_webhook_retention_days(team, receiver, monkeypatch):
    from settings import get_settings

    created = delivered_and_failed(team, receiver)
    monkeypatch.setenv("PA_WEBHOOK_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    try:
        assert webhooks.retention_days() == 7
        assert webhooks.prune_deliveries(team, now=created + timedelta(days=7)).events == 0
        assert webhooks.prune_deliveries(
            team, now=created + timedelta(days=7, seconds=1)).deliveries == 2
    finally:
        monkeypatch.delenv("PA_WEBHOOK_RETENTION_DAYS")
        get_settings.cache_clear()


def test_the_schedule_prunes_daily_at_its_fire_time_as_the_scheduler(team, receiver):
    created = delivered_and_failed(team, receiver)
    fire = (created + timedelta(days=31)).replace(hour=3, minute=30, second=0, microsecond=0)
    tick = schedule.run_due(team, schedule.default_crons(), fire + timedelta(seconds=20))
    [pruned] = [o for o in tick.ran if o.job == "prune_webhooks"]
    assert pruned.ok and (pruned.result["events"], pruned.result["deliveries"]) == (1, 2)
    assert pruned.result["older_than"] == (fire - THIRTY_DAYS).isoformat()
    assert log(team) == []
    [activity] = list_activity(team, 50, activity_type="webhook_log_pruned")
    assert activity.metadata["via"]["channel"] == "scheduler"
    # Not due an hour later: the job runs once a day.
    later = schedule.run_due(team, schedule.default_crons(), fire + timedelta(hours=1))
    assert "prune_webhooks" not in [o.job for o in later.ran]


def test_the_cli_prunes_with_a_given_age_and_moment(team, receiver, db_url):
    created = delivered_and_failed(team, receiver)
    at = (created + timedelta(days=10, seconds=1)).astimezone(UTC).isoformat()
    result = CliRunner().invoke(app, ["--db", db_url, "webhooks", "prune", "--older-than-days",
                                      "10", "--at", at, "--json"])
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in json.loads(result.stdout).items() if k != "older_than"} == {
        "events": 1, "deliveries": 2, "older_than_days": 10}
    assert log(team) == []


@pytest.mark.parametrize("days", ["0", "3651", "2.5", "ten"])
def test_the_cli_refuses_a_bad_age_with_one_line_and_writes_nothing(team, receiver, db_url, days):
    delivered_and_failed(team, receiver)
    before = snapshot(team)
    result = CliRunner().invoke(app, ["--db", db_url, "webhooks", "prune", "--older-than-days",
                                      days, "--at", "2100-01-01T00:00:00Z", "--json"])
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert line.startswith("error: older_than_days: ")
    assert snapshot(team) == before
