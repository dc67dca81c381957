"""A change and its record are one transaction, on SQLite and PostgreSQL: when writing the
activity row or the webhook event fails, the change itself is refused and nothing at all is
written (no ledger row, no review, no activity, no outbox row). Were the record written in a
second transaction after the change committed, the change would stand unannounced.

The failure is made where the database would make it, at the flush of that one row, so the test
holds however the services are arranged inside."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from core.governance.policy_store import set_policy
from core.jobs import webhooks
from core.proposals.distribution import distribute
from core.proposals.lifecycle import review_proposal, withdraw_proposal
from db.engine import Database
from db.models import OutboxEvent, ProtocolActivity
from tests.integration.state import every_row, file

pytestmark = pytest.mark.usefixtures("private_webhooks_allowed")


class RecordWriteFailed(Exception):
    """The stand-in for the database failing to write one record row."""


@contextmanager
def failing_to_write(model: type, **matching: Any) -> Iterator[None]:
    """Every flush that would insert a `model` row with these values fails."""

    def refuse(session: so.Session, *_: Any) -> None:
        for row in session.new:
            if isinstance(row, model) and all(getattr(row, k) == v for k, v in matching.items()):
                raise RecordWriteFailed(f"{model.__name__} {matching}")

    sa.event.listen(so.Session, "before_flush", refuse)
    try:
        yield
    finally:
        sa.event.remove(so.Session, "before_flush", refuse)


def distribution(db: Database) -> Callable[[], Any]:
    return lambda: distribute(db, "100", "day-1", by="ann")


def review(db: Database) -> Callable[[], Any]:
    proposal = file(db)  # one approval activates it under the default policy
    return lambda: review_proposal(db, proposal, "approved", by="gus")


def withdrawal(db: Database) -> Callable[[], Any]:
    proposal = file(db)
    return lambda: withdraw_proposal(db, proposal, by="ann")


def policy_change(db: Database) -> Callable[[], Any]:
    return lambda: set_policy(db, "max_step", "10", by="ada")


# (a change, its activity type, its webhook event type)
CHANGES = [(distribution, "profit_distributed", "distribution.recorded"),
           (review, "allocation_approval_recorded", "proposal.reviewed"),
           (review, "allocation_activated", "allocation.activated"),
           (withdrawal, "allocation_withdrawn", "proposal.withdrawn"),
           (policy_change, "policy_changed", "policy.changed")]


@pytest.mark.parametrize(("change", "activity", "event"), CHANGES,
                         ids=[f"{c.__name__}-{a}" for c, a, _ in CHANGES])
@pytest.mark.parametrize("failing", ["activity", "event"])
def test_a_change_whose_record_cannot_be_written_is_refused_and_writes_nothing(
        team, change, activity, event, failing):
    webhooks.add_endpoint(team, "http://127.0.0.1:9/hook", "all", by="ada")  # events are kept
    run = change(team)
    before = every_row(team)
    failure = (failing_to_write(ProtocolActivity, activity_type=activity) if failing == "activity"
               else failing_to_write(OutboxEvent, type=event))
    with failure, pytest.raises(RecordWriteFailed):
        run()
    assert every_row(team) == before
    run()  # and the same change, its record written, goes through
    assert every_row(team) != before
