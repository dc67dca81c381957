"""An approved experiment waits in the queue as one major change, on SQLite and PostgreSQL: the
approval that completes the count moves a start sooner than `timelock_hours_major` to the next
whole hour after it (the blocks with it, the committed hash unchanged), any governor can stop it
while it waits and then it switches nothing, an approval whose moved time would overlap another
experiment is refused; and while an experiment holds the split, the rebalancer's auto-approval
does not move it (a simulated clock throughout, but for the rebalancer's metrics)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from core.allocation.current import get_current_allocation
from core.base.errors import Refused
from core.experiments.design import verify_schedule
from core.experiments.service import (create_experiment, queued_start, review_experiment,
                                      show_experiment, stop_experiment, whole_hour_at_or_after)
from core.experiments.switching import step_experiment
from core.governance.policy_store import set_policy
from core.proposals.lifecycle import get_proposal
from core.rebalancer.service import run_rebalance
from core.record.activity import list_activity
from db.types import utcnow
from tests.integration.launch_week import load_launch_week
from tests.integration.state import every_row
from tests.integration.test_experiments import ARMS, CONTROL, experiment_rows, switch_count

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def a_midnight(db) -> datetime:
    """Two days after the install, at midnight: later than the seeded default on every engine."""
    installed = get_current_allocation(db).effective_from
    return datetime.combine(installed.date() + 2 * DAY, time(), tzinfo=UTC)


def step(db, experiment: str, at: datetime):
    """The schedule's step of one experiment at `at`."""
    return step_experiment(db, uuid.UUID(experiment), at)


def file(db, now: datetime, starts_at: datetime, *, block_hours: int = 6, blocks: int = 4) -> str:
    return create_experiment(db, arms=ARMS, block_hours=block_hours, blocks=blocks,
                             starts_at=starts_at.isoformat(), reasoning="lottery", by="ann",
                             now=now).experiment_id


# --- the rule, pure ------------------------------------------------------------------------------

def test_a_start_moves_to_the_next_whole_hour_at_or_after_the_timelock_s_end():
    approved = datetime(2026, 5, 4, 10, 20, tzinfo=UTC)
    assert queued_start(approved + HOUR, approved, 24) == datetime(2026, 5, 5, 11, tzinfo=UTC)
    assert queued_start(approved + 3 * DAY, approved, 24) == approved + 3 * DAY  # as filed
    on_the_hour = datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert queued_start(on_the_hour + HOUR, on_the_hour, 24) == on_the_hour + DAY
    assert queued_start(approved + HOUR, approved, 0) == approved + HOUR  # no timelock
    assert whole_hour_at_or_after(on_the_hour) == on_the_hour


# --- the queue ---------------------------------------------------------------------------------

def test_the_approval_that_completes_the_count_moves_a_sooner_start_behind_the_timelock(team):
    midnight = a_midnight(team)
    filed_start = midnight + 2 * HOUR
    experiment = file(team, midnight, filed_start)
    sha = show_experiment(team, experiment, now=midnight).schedule_sha256
    first = review_experiment(team, experiment, "approved", by="gus", now=midnight)
    assert (first.status, first.starts_at, first.start_moved_from) == ("proposed", filed_start,
                                                                       None)
    approved_at = midnight + timedelta(hours=1, minutes=20)
    done = review_experiment(team, experiment, "approved", by="gail", now=approved_at)
    moved = midnight + DAY + 2 * HOUR  # 01:20 + 24 h, to the next whole hour
    assert (done.status, done.starts_at, done.start_moved_from) == ("approved", moved, filed_start)
    assert done.ends_at == moved + 4 * 6 * HOUR and done.timelock_hours == 24
    assert done.as_json()["start_moved_from"] == filed_start.isoformat()

    view = show_experiment(team, experiment, now=approved_at)
    assert (view.summary.starts_at, view.summary.ends_at) == (moved, done.ends_at)
    assert view.schedule_sha256 == sha
    [logged] = list_activity(team, 5, "experiment_approved")
    assert logged.metadata["start_moved_from"] == filed_start.isoformat()
    assert logged.metadata["timelock_hours"] == 24
    assert f"it starts at {moved.isoformat()} (moved from {filed_start.isoformat()}: it waits " \
           "the 24 h timelock of a major change)" in logged.description

    # Nothing happens at the filed start; the blocks run from the moved one.
    assert step(team, experiment, filed_start).started == []
    assert switch_count(team) == 0
    started = step(team, experiment, moved)
    assert started.started == [experiment] and started.switched[0]["block"] == 0
    [block] = show_experiment(team, experiment, now=moved).blocks
    assert (block.starts_at, block.ends_at, block.switched_at) == (moved, moved + 6 * HOUR, moved)
    stop_experiment(team, experiment, by="gwen", reason="seen enough", now=moved + HOUR)
    ended = show_experiment(team, experiment, now=moved + HOUR).as_json()
    assert verify_schedule(sha, ended["salt"], ended["schedule"])  # the moved schedule's hash


def test_a_start_already_past_the_timelock_stays_as_filed(team):
    midnight = a_midnight(team)
    experiment = file(team, midnight, midnight + 2 * DAY)
    review_experiment(team, experiment, "approved", by="gus", now=midnight)
    done = review_experiment(team, experiment, "approved", by="gail", now=midnight)
    assert (done.starts_at, done.start_moved_from) == (midnight + 2 * DAY, None)
    assert "moved" not in list_activity(team, 5, "experiment_approved")[0].description


def test_the_policy_s_major_timelock_decides_how_far_the_start_moves(team):
    set_policy(team, "timelock_hours_major", "6", by="ada")
    midnight = a_midnight(team)
    experiment = file(team, midnight, midnight + HOUR)
    review_experiment(team, experiment, "approved", by="gus", now=midnight)
    done = review_experiment(team, experiment, "approved", by="gail", now=midnight)
    assert (done.starts_at, done.timelock_hours) == (midnight + 6 * HOUR, 6)


def test_any_governor_stops_a_queued_experiment_and_it_switches_nothing(team):
    midnight = a_midnight(team)
    experiment = file(team, midnight, midnight + HOUR)
    review_experiment(team, experiment, "approved", by="gus", now=midnight)
    moved = review_experiment(team, experiment, "approved", by="gail", now=midnight).starts_at
    stopped = stop_experiment(team, experiment, by="gwen", reason="the launch calendar changed",
                              now=midnight + 2 * HOUR)
    assert stopped.status == "stopped"
    for hours in range(0, 4 * 6 + 2, 6):  # every block's start, and past the end
        assert step(team, experiment, moved + hours * HOUR).switched == []
    assert switch_count(team) == 0 and experiment_rows(team) == []
    assert get_current_allocation(team).split.label() == CONTROL
    [logged] = list_activity(team, 5, "experiment_stopped")
    assert logged.metadata["by"] == "gwen" and logged.metadata["restored_allocation_id"] is None


def test_an_approval_whose_moved_time_would_overlap_another_experiment_is_refused(team):
    midnight = a_midnight(team)
    later = file(team, midnight, midnight + 26 * HOUR, block_hours=1)  # 26 h .. 30 h
    review_experiment(team, later, "approved", by="gus", now=midnight)
    review_experiment(team, later, "approved", by="gail", now=midnight)
    sooner = file(team, midnight, midnight + 2 * HOUR)  # 2 h .. 26 h: no overlap as filed
    review_experiment(team, sooner, "approved", by="gus", now=midnight)
    before = every_row(team)
    with pytest.raises(Refused) as refused:  # moved to 24 h .. 48 h, it would
        review_experiment(team, sooner, "approved", by="gail", now=midnight)
    [message] = refused.value.problems
    assert message.startswith(f"starts_at: {(midnight + DAY).isoformat()} .. "
                              f"{(midnight + 2 * DAY).isoformat()} (moved by the 24 h timelock "
                              f"from {(midnight + 2 * HOUR).isoformat()}) overlaps experiment "
                              f"{later} (approved")
    assert every_row(team) == before


# --- the rebalancer's auto-approval ------------------------------------------------------------

@pytest.fixture
def auto_approving(team, tmp_path: Path):
    """A launch week recorded up to now (the rules answer 74/15/6/5 with confidence 0.9) and the
    bounded auto-approval on, without a cooldown."""
    load_launch_week(team, tmp_path)
    set_policy(team, "auto_approve_min_confidence", "0.85", by="ada")
    set_policy(team, "auto_approve_cooldown_hours", "0", by="ada")
    return team


def approved_experiment(db) -> tuple[str, datetime]:
    """An experiment approved now, waiting behind the timelock; returns it and its start."""
    now = utcnow()
    experiment = create_experiment(db, arms=ARMS, block_hours=6, blocks=4, reasoning="lottery",
                                   by="ann", now=now).experiment_id
    review_experiment(db, experiment, "approved", by="gus", now=now)
    return experiment, review_experiment(db, experiment, "approved", by="gail",
                                         now=now).starts_at


def test_the_rebalancer_files_for_a_governor_while_an_experiment_waits_in_the_queue(
        auto_approving):
    experiment, starts_at = approved_experiment(auto_approving)
    result = run_rebalance(auto_approving, engine="rules", by="ada")
    assert (result.outcome, result.auto_approved) == ("filed", False)
    assert result.auto_approval_note == (
        f"experiment {experiment} is approved to start at {starts_at.isoformat()} until "
        f"{(starts_at + DAY).isoformat()}: the split follows its schedule, so the rebalancer's "
        "proposal waits for a governor instead of being auto-approved")
    assert get_proposal(auto_approving, result.proposal_id).status == "proposed"
    assert get_current_allocation(auto_approving).split.label() == CONTROL
    [run] = list_activity(auto_approving, 5, "rebalance_run")
    assert run.metadata["auto_approval_note"] == result.auto_approval_note


def test_the_rebalancer_does_not_move_the_split_of_a_running_experiment_which_runs_on(
        auto_approving):
    experiment, starts_at = approved_experiment(auto_approving)
    step(auto_approving, experiment, starts_at)
    arm_in_force = get_current_allocation(auto_approving).split.label()
    result = run_rebalance(auto_approving, engine="rules", by="ada")
    assert result.outcome == "filed" and f"experiment {experiment} is running until" in \
        result.auto_approval_note
    assert get_current_allocation(auto_approving).split.label() == arm_in_force
    # The next block switches as scheduled: the split was not changed from elsewhere.
    later = step(auto_approving, experiment, starts_at + 6 * HOUR)
    assert later.stopped == [] and later.switched[0]["block"] == 1
    assert show_experiment(auto_approving, experiment).summary.status == "running"


def test_once_the_experiment_is_stopped_the_auto_approval_applies_again(auto_approving):
    experiment, _ = approved_experiment(auto_approving)
    stop_experiment(auto_approving, experiment, by="gwen", reason="not now")
    result = run_rebalance(auto_approving, engine="rules", by="ada")
    assert (result.outcome, result.auto_approved) == ("activated", True)
    assert get_current_allocation(auto_approving).split.label() == "74/15/6/5"
