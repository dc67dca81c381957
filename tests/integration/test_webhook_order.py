"""Per endpoint, webhook events go out in the order they happened, on SQLite and PostgreSQL: a
later event never overtakes an earlier one that waits for its retry. The clock is moved by
passing `now`, against a local receiver that checks signatures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.governance.policy_store import set_policy
from core.jobs import webhooks
from db.types import utcnow
from tests.api.receiver import Receiver

pytestmark = pytest.mark.usefixtures("private_webhooks_allowed")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def test_a_later_event_waits_for_an_earlier_one_whose_retry_is_not_due_yet(team, receiver):
    receiver.secret = webhooks.add_endpoint(team, receiver.url, "policy.changed", by="ada").secret
    receiver.statuses = [500]  # the first attempt of the first event fails; the rest succeed
    set_policy(team, "max_step", "10", by="ada")
    set_policy(team, "max_step", "11", by="ada")
    now = utcnow()
    assert webhooks.deliver_due(team, now).as_json() == {"delivered": 0, "failed": 0, "pending": 2}
    assert receiver.attempts == 1
    # Half a minute later the first event's retry (after 1 min) is not due: the second, due
    # since it was written, still waits behind it.
    assert webhooks.deliver_due(team, now + timedelta(seconds=30)).as_json() == {
        "delivered": 0, "failed": 0, "pending": 2}
    assert receiver.attempts == 1 and receiver.received == []
    assert webhooks.deliver_due(team, now + timedelta(minutes=1)).as_json() == {
        "delivered": 2, "failed": 0, "pending": 0}
    assert [r.event["data"]["new_value"] for r in receiver.received] == [10, 11]
    assert [r.event["id"] for r in receiver.received] == sorted(r.event["id"]
                                                               for r in receiver.received)
    assert all(r.signature_ok for r in receiver.received)
