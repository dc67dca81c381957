"""The minimum delay between activations (`min_hours_between_activations`), on SQLite and
PostgreSQL: an activation sooner than that after the last one is refused, saying when it becomes
possible, and nothing is written; 0 (the default) switches it off.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.allocation.current import get_current_allocation
from core.base.errors import Refused, ValidationFailed
from core.governance.policy_store import get_policy, set_policy
from core.proposals.lifecycle import review_proposal
from db.types import utcnow
from tests.integration.state import file, snapshot


def test_off_by_default_so_two_activations_may_follow_each_other(team):
    assert get_policy(team).min_hours_between_activations == 0
    review_proposal(team, file(team, (75, 15, 6, 4)), "approved", by="gus")
    pid = file(team, (74, 15, 6, 5))
    assert review_proposal(team, pid, "approved", by="gus").status == "active"


def test_an_activation_inside_the_delay_is_refused_saying_when_it_becomes_possible(team):
    set_policy(team, "min_hours_between_activations", "24", by="ada")
    start = utcnow()
    # The seeded default was never decided: the first activation is not held back by it.
    review_proposal(team, file(team, (75, 15, 6, 4)), "approved", by="gus", now=start)
    pid = file(team, (74, 15, 6, 5))
    last = get_current_allocation(team).effective_from
    before = snapshot(team)
    with pytest.raises(Refused) as refusal:
        review_proposal(team, pid, "approved", by="gail", now=start + timedelta(hours=23))
    possible = (last + timedelta(hours=24)).isoformat(timespec="seconds")
    assert refusal.value.problems == [
        f"min_hours_between_activations: the split last changed at "
        f"{last.isoformat(timespec='seconds')}; the next activation is possible from {possible} "
        "(24 h between activations)"]
    assert snapshot(team) == before  # not even the approval is kept
    outcome = review_proposal(team, pid, "approved", by="gail", now=last + timedelta(hours=24))
    assert outcome.status == "active"


def test_an_approval_that_does_not_activate_is_not_held_back(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    set_policy(team, "min_hours_between_activations", "24", by="ada")
    review_proposal(team, file(team, (75, 15, 6, 4)), "approved", by="gus")
    pid = file(team, (58, 27, 10, 5))  # major against 75/15/6/4: needs two approvals
    assert review_proposal(team, pid, "approved", by="gus").status == "proposed"
    with pytest.raises(Refused, match="min_hours_between_activations"):
        review_proposal(team, pid, "approved", by="gail")


@pytest.mark.parametrize("value, problem", [
    ("-1", "min_hours_between_activations: -1 is below the minimum 0"),
    ("1.5", "min_hours_between_activations: 1.5 is not a whole number"),
    ("soon", "min_hours_between_activations: 'soon' is not a number"),
])
def test_a_bad_delay_is_refused(team, value, problem):
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(team, "min_hours_between_activations", value, by="ada")
    assert refusal.value.problems == [problem]
