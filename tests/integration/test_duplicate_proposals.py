"""No duplicate proposals, on SQLite and PostgreSQL: the live split or a split already pending
is refused (naming the pending proposal) and nothing is written; activating a split supersedes
every other pending proposal of it, in the same transaction, logged.
"""

from __future__ import annotations

import json
import queue
import threading
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.validation import ProposalInput
from core.base.errors import DomainError, Refused
from core.proposals.lifecycle import (get_pending_proposals, get_proposal, review_proposal,
                                      validate_against_live, withdraw_proposal)
from core.record.activity import list_activity
from db.engine import open_database
from db.types import utcnow
from tests.integration.state import file, snapshot


def test_filing_a_split_already_pending_is_refused_naming_it_and_writes_nothing(team):
    first = file(team)
    before = snapshot(team)
    with pytest.raises(Refused) as refusal:
        file(team, by="gus")
    assert refusal.value.problems == [
        f"split: 75/15/6/4 is already pending as proposal {first}; review that one instead of "
        "filing it again"]
    assert snapshot(team) == before


def test_the_same_percentages_written_differently_are_the_same_split(team):
    first = file(team, (75, 15, 6, 4))
    with pytest.raises(Refused, match=first):
        file(team, ("75.00", "15.0", 6.0, "4"))


def test_filing_the_live_split_is_refused_and_writes_nothing(team):
    before = snapshot(team)
    with pytest.raises(Refused, match="split: 80/15/3/2 is already the live split"):
        file(team, (80, 15, 3, 2))
    assert snapshot(team) == before


def test_validation_reports_the_duplicate_as_an_error_so_the_form_never_says_valid(team):
    first = file(team)
    result = validate_against_live(team, ProposalInput(75, 15, 6, 4, "again"))
    assert not result.valid and first in result.errors[0]
    live = validate_against_live(team, ProposalInput(80, 15, 3, 2, "same"))
    assert live.errors == ["split: 80/15/3/2 is already the live split; there is nothing to change"]


def test_a_split_may_be_filed_again_once_the_pending_one_is_decided_or_withdrawn(team):
    rejected = file(team)
    review_proposal(team, rejected, "rejected", by="gus", notes="not now")
    withdrawn = file(team)
    withdraw_proposal(team, withdrawn, by="ann")
    third = file(team)
    assert [p.record.id for p in get_pending_proposals(team)] == [third]


def test_a_pending_proposal_past_its_lifetime_does_not_block_filing_the_split_again(team):
    stale = file(team, now=utcnow() - timedelta(days=8))
    fresh = file(team)
    assert fresh != stale


def test_the_command_line_refuses_a_duplicate_with_exit_3_and_names_the_pending_id(team, db_url):
    first = file(team)
    before = snapshot(team)
    args = ["--db", db_url, "propose", "--reinvestment", "75", "--dao", "15", "--lucky", "6",
            "--creator", "4", "--reasoning", "again", "--by", "gus", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["ok"] is False and first in document["errors"][0]
    assert f"error: split: 75/15/6/4 is already pending as proposal {first}" in result.stderr
    assert snapshot(team) == before


def test_the_same_split_filed_at_the_same_moment_is_filed_once(team, db_url):
    racers = 6
    barrier, results = threading.Barrier(racers), queue.Queue()

    def file_when_released(by: str) -> None:
        db = open_database(db_url)  # an engine of its own, like another process
        try:
            with db.engine.connect():
                pass
            barrier.wait(timeout=60)
            try:
                results.put(("filed", file(db, by=by)))
            except DomainError as refusal:
                results.put(("refused", refusal.problems[0]))
        finally:
            db.engine.dispose()

    threads = [threading.Thread(target=file_when_released, args=(name,))
               for name in ("ann", "gus", "gail", "gwen", "ada", "ann")]
    for thread in threads:
        thread.start()
    outcomes = [results.get(timeout=120) for _ in threads]
    for thread in threads:
        thread.join(timeout=60)
    filed = [value for kind, value in outcomes if kind == "filed"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(filed) == 1 and len(refused) == racers - 1
    assert all(f"already pending as proposal {filed[0]}" in r for r in refused)
    assert [p.record.id for p in get_pending_proposals(team)] == filed


# --- superseding -----------------------------------------------------------------------------------

def test_activating_a_split_supersedes_the_other_pending_proposals_of_it_and_logs_each(team):
    # A proposal past its lifetime but never marked expired (or one left by a version before
    # this rule) still waits with the same split: the activation supersedes it.
    older = file(team, now=utcnow() - timedelta(days=8))
    other = file(team, (78, 15, 4, 3))
    winner = file(team)
    review_proposal(team, winner, "approved", by="gus")
    superseded = get_proposal(team, older)
    assert superseded.status == "superseded"
    assert superseded.reviewed_by == "gus"
    assert superseded.review_notes == (f"superseded: 75/15/6/4 was activated through proposal "
                                       f"{winner}")
    assert superseded.reviewed_at == get_proposal(team, winner).effective_from
    assert get_proposal(team, other).status == "proposed"  # another split keeps waiting
    (logged,) = list_activity(team, activity_type="allocation_superseded")
    assert logged.metadata["proposal_id"] == older
    assert logged.metadata["superseded_by"] == winner and logged.metadata["by"] == "gus"


def test_a_refused_activation_supersedes_nothing(team):
    older = file(team, now=utcnow() - timedelta(days=8))
    winner = file(team)
    from core.governance.policy_store import set_policy

    set_policy(team, "lucky_max", "5", by="ada")  # 75/15/6/4 is now out of bounds
    before = snapshot(team)
    with pytest.raises(Refused, match="lucky: 6 is above the maximum 5"):
        review_proposal(team, winner, "approved", by="gus")
    assert snapshot(team) == before
    assert get_proposal(team, older).status == "proposed"
