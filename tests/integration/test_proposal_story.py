"""One proposal and its story (`get_proposal_story`, `proposal show`), on SQLite and PostgreSQL:
status, tier, approvals and a timeline of every event in order, each with who and their notes.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from cli import app
from core.governance.policy_store import set_policy
from core.allocation.current import get_current_allocation
from core.allocation.records import TIMELINE_EVENTS
from core.base.errors import NotFound
from core.proposals.lifecycle import (expire_stale_proposals, get_proposal, get_proposal_story,
                                      review_proposal, withdraw_proposal)
from db.engine import Database
from db.types import utcnow
from tests.integration.state import file

MAJOR_SPLIT = (64, 16, 10, 10)


def events(db: Database, pid: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.event, e.by, e.notes) for e in get_proposal_story(db, pid).timeline]


def test_a_major_proposal_approved_twice_then_replaced_tells_every_step_in_order(team):
    set_policy(team, "timelock_hours_major", "0", by="ada")  # as before the queue (tested apart)
    pid = file(team, MAJOR_SPLIT)
    review_proposal(team, pid, "approved", by="gus", notes="treasury is healthy")
    review_proposal(team, pid, "approved", by="gail", notes="agreed")
    later = file(team, (70, 16, 8, 6), by="gus")
    review_proposal(team, later, "approved", by="gwen")
    story = get_proposal_story(team, pid)
    assert (story.record.status, story.tier, story.approvals, story.approvals_required) == (
        "active", "major", ["gus", "gail"], 2)
    assert story.compared_with.label() == "80/15/3/2" and story.replaced_by == later
    assert [(e.event, e.by, e.notes) for e in story.timeline] == [
        ("filed", "ann", "Q1 strategy"),
        ("approved", "gus", "treasury is healthy"),
        ("approved", "gail", "agreed"),
        ("activated", "gail", "agreed"),
        ("replaced", "gwen", f"replaced by 70/16/8/6 (proposal {later})"),
    ]
    times = [e.at for e in story.timeline]
    assert times == sorted(times)
    assert story.timeline[-1].at == get_proposal(team, later).effective_from


def test_a_rejection_after_an_approval_is_told_with_both_reviewers_notes(team):
    pid = file(team, MAJOR_SPLIT)
    review_proposal(team, pid, "approved", by="gus", notes="fine by me")
    review_proposal(team, pid, "rejected", by="gail", notes="too far in one step")
    assert events(team, pid) == [("filed", "ann", "Q1 strategy"),
                                 ("approved", "gus", "fine by me"),
                                 ("rejected", "gail", "too far in one step")]
    assert get_proposal_story(team, pid).tier == "major"


def test_a_withdrawal_ends_the_story(team):
    pid = file(team)
    withdraw_proposal(team, pid, by="ann", notes="filed too early")
    assert events(team, pid) == [("filed", "ann", "Q1 strategy"),
                                 ("withdrawn", "ann", "filed too early")]


def test_an_expiry_ends_the_story(team):
    pid = file(team)
    filed_at = get_proposal(team, pid).timestamp
    expire_stale_proposals(team, now=filed_at + timedelta(days=8))
    (filed, expired) = get_proposal_story(team, pid).timeline
    assert (filed.event, expired.event, expired.by) == ("filed", "expired", None)
    assert expired.at == filed_at + timedelta(days=8)


def test_a_superseded_proposal_names_the_one_that_took_its_place(team):
    older = file(team, now=utcnow() - timedelta(days=8))
    winner = file(team)
    review_proposal(team, winner, "approved", by="gus")
    story = get_proposal_story(team, older)
    assert story.superseded_by == winner
    assert [e.event for e in story.timeline] == ["filed", "superseded"]
    assert story.timeline[-1].by == "gus"


def test_a_pending_proposal_is_measured_against_the_live_split(team):
    pid = file(team, (70, 20, 6, 4))  # 10 points from 80/15/3/2: minor
    assert get_proposal_story(team, pid).tier == "minor"
    review_proposal(team, file(team, (90, 5, 3, 2), by="gus"), "approved", by="gail")
    story = get_proposal_story(team, pid)  # now 20 points from the live 90/5/3/2
    assert (story.tier, story.approvals_required) == ("major", 2)
    assert story.compared_with == get_current_allocation(team).split


def test_the_seeded_default_has_a_story_too(team):
    seeded = get_current_allocation(team).id
    assert [e.event for e in get_proposal_story(team, seeded).timeline] == ["filed", "activated"]


def test_an_unknown_proposal_is_not_found(team):
    with pytest.raises(NotFound):
        get_proposal_story(team, str(uuid.uuid4()))


def test_proposal_show_json_carries_the_pending_fields_status_tier_and_timeline(team, db_url):
    pid = file(team, MAJOR_SPLIT)
    review_proposal(team, pid, "approved", by="gus", notes="yes")
    result = CliRunner().invoke(app, ["--db", db_url, "proposal", "show", pid, "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"id", "reinvestment", "dao", "lucky", "creator", "reasoning", "confidence",
            "proposed_by", "timestamp"} <= set(document)
    assert (document["id"], document["reinvestment"], document["status"], document["tier"],
            document["approvals"], document["approvals_required"]) == (
        pid, 64, "proposed", "major", ["gus"], 2)
    assert [(e["event"], e["by"], e["notes"]) for e in document["timeline"]] == [
        ("filed", "ann", "Q1 strategy"), ("approved", "gus", "yes")]
    assert all(set(e) == {"at", "event", "by", "notes"} for e in document["timeline"])
    assert {e["event"] for e in document["timeline"]} <= set(TIMELINE_EVENTS)
    text = CliRunner().invoke(app, ["--db", db_url, "proposal", "show", pid])
    assert text.exit_code == 0 and "major change against 80/15/3/2" in text.stdout
    missing = CliRunner().invoke(app, ["--db", db_url, "proposal", "show", "nope", "--json"])
    assert missing.exit_code == 4 and json.loads(missing.stdout)["ok"] is False
