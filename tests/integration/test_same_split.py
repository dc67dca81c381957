"""What counts as the same split, on SQLite and PostgreSQL: all four buckets, in both places the
comparison decides (a duplicate filing is refused; an activation supersedes the other pending
proposals of its split). Splits alike in some buckets but not all are different proposals."""

from __future__ import annotations

import pytest

from core.proposals.lifecycle import get_pending_proposals, get_proposal, review_proposal
from tests.integration.state import file

FILED = (75, 15, 6, 4)
# Each differs from FILED in two buckets only, and agrees on the other two.
ALIKE_BUT_NOT_THE_SAME = [(75, 15, 5, 5), (75, 14, 6, 5), (74, 16, 6, 4), (76, 15, 5, 4)]


@pytest.mark.parametrize("other", ALIKE_BUT_NOT_THE_SAME)
def test_a_split_differing_in_two_buckets_is_no_duplicate_and_both_stay_pending(team, other):
    first = file(team, FILED, by="ann")
    second = file(team, other, by="gus")
    assert {p.record.id for p in get_pending_proposals(team)} == {first, second}


@pytest.mark.parametrize("other", ALIKE_BUT_NOT_THE_SAME)
def test_activating_a_split_does_not_supersede_one_differing_in_two_buckets(team, other):
    waiting = file(team, other, by="gus")
    winner = file(team, FILED, by="ann")
    review_proposal(team, winner, "approved", by="gail")
    assert get_proposal(team, winner).status == "active"
    assert get_proposal(team, waiting).status == "proposed"
