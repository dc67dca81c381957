"""The webhook outbox on SQLite and PostgreSQL: an event is written, in the change's own
transaction, only when an active endpoint subscribes to it; nobody's event is no row at all."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.governance.policy_store import set_policy
from core.jobs import webhooks
from core.proposals.distribution import distribute
from core.record.activity import list_activity
from db.models import OutboxEvent, WebhookDelivery
from tests.integration.state import file

# A port nothing listens on: these tests look at what is written, nothing is delivered.
URL = "http://127.0.0.1:9/hook"
pytestmark = pytest.mark.usefixtures("private_webhooks_allowed")


def outbox(db) -> list[str]:
    with db.reads() as session:
        return list(session.scalars(sa.select(OutboxEvent.type).order_by(OutboxEvent.id)))


def deliveries(db) -> int:
    with db.reads() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery))


def test_a_change_no_endpoint_subscribes_to_writes_no_outbox_row_but_is_still_logged(team):
    set_policy(team, "max_step", "10", by="ada")
    file(team)
    distribute(team, "100", "day-1", by="ann")
    assert outbox(team) == [] and deliveries(team) == 0
    logged = {a.activity_type for a in list_activity(team, 50)}
    assert {"policy_changed", "allocation_proposed", "profit_distributed"} <= logged


def test_only_the_events_an_endpoint_subscribes_to_are_written(team):
    webhooks.add_endpoint(team, URL, "distribution.recorded", by="ada")
    file(team)
    set_policy(team, "max_step", "10", by="ada")
    distribute(team, "100", "day-1", by="ann")
    assert outbox(team) == ["distribution.recorded"] and deliveries(team) == 1


def test_an_event_two_endpoints_want_is_one_row_with_a_delivery_for_each(team):
    webhooks.add_endpoint(team, URL, "all", by="ada")
    webhooks.add_endpoint(team, URL + "2", "policy.changed", by="ada")
    set_policy(team, "max_step", "10", by="ada")
    assert outbox(team) == ["policy.changed"] and deliveries(team) == 2


def test_a_removed_endpoint_no_longer_causes_outbox_rows(team):
    endpoint = webhooks.add_endpoint(team, URL, "all", by="ada").endpoint.id
    webhooks.remove_endpoint(team, endpoint, by="ada")
    set_policy(team, "max_step", "10", by="ada")
    file(team)
    assert outbox(team) == [] and deliveries(team) == 0
