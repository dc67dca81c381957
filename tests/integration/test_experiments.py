"""Switchback experiments on SQLite and PostgreSQL: filed with only the hash of their schedule,
reviewed as a major change, switched block by block by the schedule through the allocation log
(on a simulated clock), stopped by a governor, a guardrail or a pause, finished with the control
restored and the schedule revealed, adopted as an ordinary proposal."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.base.errors import NotFound, PermissionDenied, Refused, ValidationFailed
from core.experiments.design import verify_schedule
from core.experiments.service import (adopt_experiment, create_experiment, list_experiments,
                                      review_experiment, show_experiment, simulate_experiment,
                                      stop_experiment)
from core.experiments.switching import run_experiments, step_experiment
from core.governance.policy_store import set_policy
from core.jobs import schedule, webhooks
from core.platform_data.csv_import import import_csv
from core.proposals.lifecycle import get_proposal
from core.record.activity import list_activity
from core.record.audit import verify_record
from db.models import AllocationLog, Experiment, ExperimentSwitch, OutboxEvent
from tests.integration.state import every_row

DAY = timedelta(days=1)
CONTROL, OTHER = "80/15/3/2", "70/18/8/4"
ARMS = f"{CONTROL},{OTHER}"
JOB = {"experiments": schedule.EXPERIMENTS_CRON}  # the schedule's experiments job alone
URL = "http://127.0.0.1:9/hook"  # nothing listens: what is written is looked at, not delivered


# --- a simulated platform ------------------------------------------------------------------------

def first_midnight(db) -> datetime:
    """Two days after the install, at midnight: later than the seeded default on every engine."""
    installed = get_current_allocation(db).effective_from
    return datetime.combine(installed.date() + 2 * DAY, time(), tzinfo=UTC)


def live(db) -> str:
    return get_current_allocation(db).split.label()


def load_day(db, tmp_path: Path, day: datetime, tokens: int) -> None:
    """`tokens` launches on the UTC day starting at `day`, imported at that day's end (the
    platform's clock: nothing is recorded before it happened)."""
    rows = [f"S{day:%m%d}x{n},Token {n},0.5,100.00,{(day + timedelta(minutes=n)).isoformat()}"
            for n in range(tokens)]
    path = tmp_path / f"tokens-{day:%Y%m%d}.csv"
    path.write_text("\n".join(["symbol,name,price,volume_24h,created_at", *rows]) + "\n")
    import_csv(db, "tokens", path, now=day + DAY)


def tick(db, at: datetime):
    """`schedule --once --at AT` with the experiments job alone (lease and claims included)."""
    return schedule.run_due(db, JOB, at)


def run_days(db, tmp_path: Path, start: datetime, days: int,
             tokens_under: Callable[[str], int]) -> list[str]:
    """Day after day: the schedule's tick at midnight, then the day's launches, which answer to
    the split in force that day. Returns the split of each day."""
    splits = []
    for offset in range(days):
        at = start + offset * DAY
        tick(db, at)
        splits.append(live(db))
        load_day(db, tmp_path, at, tokens_under(splits[-1]))
    return splits


def file_experiment(db, now: datetime, *, blocks: int = 4, by: str = "ann",
                    guardrails: tuple[str, ...] = (), arms: str = ARMS, **kw) -> str:
    return create_experiment(db, arms=arms, block_hours=24, blocks=blocks,
                             guardrails=guardrails, starts_at=(now + DAY).isoformat(),
                             reasoning="does a bigger lottery bring more launches?", by=by,
                             now=now, **kw).experiment_id


def approve(db, experiment_id: str, now: datetime) -> None:
    review_experiment(db, experiment_id, "approved", by="gus", now=now)
    assert review_experiment(db, experiment_id, "approved", by="gail",
                             now=now).status == "approved"


def experiment_rows(db) -> list[AllocationLog]:
    with db.reads() as session:
        return list(session.scalars(sa.select(AllocationLog).where(
            AllocationLog.proposed_by == "experiment").order_by(AllocationLog.effective_from)))


def switch_count(db) -> int:
    with db.reads() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(ExperimentSwitch))


def status(db, experiment_id: str) -> str:
    return show_experiment(db, experiment_id).summary.status


# --- filing -------------------------------------------------------------------------------------

def test_filing_an_experiment_publishes_only_the_hash_of_its_schedule(team):
    now = first_midnight(team)
    filed = create_experiment(team, arms=ARMS, block_hours=24, blocks=4, reasoning="lottery",
                              by="ann", now=now + timedelta(minutes=20))
    assert filed.status == "proposed" and len(filed.schedule_sha256) == 64
    assert filed.starts_at == now + timedelta(hours=1)  # the next whole hour
    assert filed.ends_at == filed.starts_at + 4 * DAY
    assert filed.minimum_detectable_effect_pct is None  # nothing recorded to replay yet
    view = show_experiment(team, filed.experiment_id, now=now + timedelta(hours=2))
    data = view.as_json()
    assert data["blocks"] == [] and "salt" not in data and "schedule" not in data
    assert data["results"]["verdict"] == "not enough blocks yet"
    with team.reads() as session:
        row = session.get(Experiment, uuid.UUID(filed.experiment_id))
        assert row.revealed_salt is None and row.revealed_schedule is None
        assert "0,1" not in row.schedule_sealed and "1,0" not in row.schedule_sealed
    [logged] = list_activity(team, 5, "experiment_filed")
    assert logged.metadata["schedule_sha256"] == filed.schedule_sha256
    assert "salt" not in logged.metadata and "schedule" not in logged.metadata


def test_an_arm_outside_the_policy_bounds_is_refused_naming_it_and_nothing_is_written(team):
    before = every_row(team)
    with pytest.raises(Refused) as refused:
        file_experiment(team, first_midnight(team), arms=f"{CONTROL},95/3/1/1")
    assert ("arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90"
            in refused.value.problems)
    assert every_row(team) == before


def test_a_start_in_the_past_and_a_broken_design_are_refused(team):
    now = first_midnight(team)
    with pytest.raises(ValidationFailed, match="starts_at: .* is not in the future"):
        create_experiment(team, arms=ARMS, block_hours=24, blocks=4, reasoning="x", by="ann",
                          starts_at=(now - DAY).isoformat(), now=now)
    with pytest.raises(ValidationFailed, match="blocks: 3 is not a multiple of the 2 arms"):
        create_experiment(team, arms=ARMS, block_hours=24, blocks=3, reasoning="x", by="ann",
                          now=now)
    with pytest.raises(PermissionDenied):
        file_experiment(team, now, by="vic")  # a viewer files nothing


def test_two_experiments_cannot_share_the_split_at_the_same_time(team):
    now = first_midnight(team)
    first = file_experiment(team, now)
    with pytest.raises(Refused, match=f"overlaps experiment {first}"):
        file_experiment(team, now)


# --- governance ---------------------------------------------------------------------------------

def test_the_filer_cannot_approve_and_it_takes_approvals_required_major_approvals(team):
    now = first_midnight(team)
    set_policy(team, "approvals_required_major", "3", by="ada")
    experiment = file_experiment(team, now, by="gus")  # a governor may file, not approve it
    with pytest.raises(PermissionDenied, match="four-eyes"):
        review_experiment(team, experiment, "approved", by="gus", now=now)
    first = review_experiment(team, experiment, "approved", by="gail", now=now)
    assert (first.status, first.approvals, first.approvals_required) == ("proposed", 1, 3)
    with pytest.raises(Refused, match="already reviewed"):
        review_experiment(team, experiment, "approved", by="gail", now=now)
    assert review_experiment(team, experiment, "approved", by="gwen", now=now).approvals == 2
    done = review_experiment(team, experiment, "approved", by="ada", now=now)
    assert (done.status, done.approvals) == ("approved", 3)
    with pytest.raises(Refused, match="only proposed experiments can be reviewed"):
        review_experiment(team, experiment, "rejected", by="gwen", now=now)


def test_an_analyst_cannot_review_and_an_unknown_experiment_is_not_found(team):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    with pytest.raises(PermissionDenied):
        review_experiment(team, experiment, "approved", by="ann", now=now)
    with pytest.raises(NotFound):
        review_experiment(team, "not-an-id", "approved", by="gus", now=now)


def test_a_rejected_experiment_switches_nothing(team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    assert review_experiment(team, experiment, "rejected", by="gus", now=now,
                             notes="not now").status == "rejected"
    run_days(team, tmp_path, now + DAY, 4, lambda split: 20)
    assert experiment_rows(team) == [] and switch_count(team) == 0
    assert live(team) == CONTROL and status(team, experiment) == "rejected"


def test_an_experiment_not_yet_approved_neither_starts_nor_can_be_approved_after_its_start(team):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    review_experiment(team, experiment, "approved", by="gus", now=now)
    tick(team, now + DAY)
    assert switch_count(team) == 0 and status(team, experiment) == "proposed"
    with pytest.raises(Refused, match="before it was approved"):
        review_experiment(team, experiment, "approved", by="gail", now=now + DAY)


# --- the schedule -------------------------------------------------------------------------------

def test_the_schedule_switches_block_by_block_and_the_end_restores_the_control_and_the_schedule(
        team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8)
    approve(team, experiment, now)
    start = now + DAY
    rng = random.Random(7)
    splits = run_days(team, tmp_path, start, 8,
                      lambda split: (30 if split == OTHER else 20) + rng.choice((-1, 0, 1)))
    view = show_experiment(team, experiment, now=start + 8 * DAY - timedelta(minutes=1))
    assert view.summary.status == "running"
    arms = [CONTROL, OTHER]
    assert [b.index for b in view.blocks] == list(range(8))
    assert splits == [arms[b.arm] for b in view.blocks]  # each day ran its block's arm
    assert sorted(b.arm for b in view.blocks) == [0] * 4 + [1] * 4  # balanced
    changes = sum(1 for before, after in zip([CONTROL, *splits], splits) if before != after)
    rows = experiment_rows(team)
    assert len(rows) == changes  # a row where the split changed, none where it did not
    assert all(r.status == "active" and r.reviewed_by == f"experiment:{experiment}"
               for r in rows)

    tick(team, start + 8 * DAY)  # after the last block
    ended = show_experiment(team, experiment, now=start + 8 * DAY).as_json()
    assert ended["status"] == "finished" and live(team) == CONTROL
    assert verify_schedule(ended["schedule_sha256"], ended["salt"], ended["schedule"])
    assert ended["schedule"] == [b["arm"] for b in ended["blocks"]]
    effect = ended["results"]["effects"][0]
    assert 40 < effect["change_pct"] < 60 and effect["ci95"][0] > 0
    assert ended["results"]["verdict"].startswith(f"{OTHER} raised tokens per day by")
    assert {a["arm"]: a["days_used"] for a in ended["results"]["arms"]} == {0: 4, 1: 4}
    assert [a.activity_type for a in list_activity(team, 100, "experiment_finished")]


def test_two_schedule_runs_at_the_same_moment_switch_once(team):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    approve(team, experiment, now)
    start = now + DAY
    first, second = tick(team, start), tick(team, start)
    assert [o.job for o in first.ran] == ["experiments"] and second.ran == []
    # Even a second scheduler at another fire time inside the same block switches nothing.
    assert run_experiments(team, start + timedelta(minutes=5)).switched == []
    assert step_experiment(team, uuid.UUID(experiment),
                           start + timedelta(minutes=6)).switched == []
    assert switch_count(team) == 1


def test_two_schedulers_stepping_the_same_block_at_the_same_moment_switch_it_once(team):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    approve(team, experiment, now)
    start = now + DAY
    barrier = threading.Barrier(2)

    def scheduler(minutes: int):
        barrier.wait()
        return run_experiments(team, start + timedelta(minutes=minutes)).switched

    with ThreadPoolExecutor(2) as pool:
        switched = [s for result in pool.map(scheduler, (1, 2)) for s in result]
    assert len(switched) == 1 and switch_count(team) == 1
    assert len(experiment_rows(team)) == (1 if live(team) == OTHER else 0)


def test_a_governor_stops_it_and_the_control_comes_back_through_the_log(team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8)
    approve(team, experiment, now)
    start = now + DAY
    days = 0
    while days < 2 and (days == 0 or live(team) != OTHER):  # the first round runs both arms
        run_days(team, tmp_path, start + days * DAY, 1, lambda split: 20)
        days += 1
    assert live(team) == OTHER
    at = start + days * DAY - timedelta(hours=1)
    with pytest.raises(ValidationFailed, match="reason"):
        stop_experiment(team, experiment, by="gwen", reason="  ", now=at)
    with pytest.raises(PermissionDenied):
        stop_experiment(team, experiment, by="ann", reason="mine", now=at)
    stopped = stop_experiment(team, experiment, by="gwen", reason="the market moved", now=at)
    assert stopped.as_json() == {"experiment_id": experiment, "status": "stopped"}
    assert live(team) == CONTROL
    restored = experiment_rows(team)[-1]  # the control, back through an ordinary log row
    assert (restored.effective_from, restored.status, restored.effective_until) == (
        at, "active", None)
    data = show_experiment(team, experiment).as_json()
    assert (data["stopped_by"], data["stop_reason"]) == ("gwen", "the market moved")
    assert verify_schedule(data["schedule_sha256"], data["salt"], data["schedule"])
    assert len(data["blocks"]) == days
    switched = switch_count(team)
    run_days(team, tmp_path, start + days * DAY, 3, lambda split: 20)
    assert switch_count(team) == switched and live(team) == CONTROL
    with pytest.raises(Refused, match="only proposed or approved or running"):
        stop_experiment(team, experiment, by="gus", reason="again", now=at)
    assert verify_record(team).ok  # reviews, switches and the experiment all sign and verify


@pytest.mark.usefixtures("private_webhooks_allowed")
def test_a_guardrail_breach_stops_it_restores_the_control_and_sends_experiment_stopped(
        team, tmp_path):
    webhooks.add_endpoint(team, URL, "experiment.stopped", by="ada")
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8, guardrails=("tokens_per_day:-10",))
    approve(team, experiment, now)
    start = now + DAY
    # The other arm halves the launches: the guardrail allows a fall of 10 % at most.
    run_days(team, tmp_path, start, 4, lambda split: 10 if split == OTHER else 20)
    tick(team, start + 4 * DAY)  # two blocks of each arm have ended
    data = show_experiment(team, experiment).as_json()
    assert data["status"] == "stopped" and data["stopped_by"] == "system:guardrail"
    assert data["stop_reason"].startswith(f"guardrail tokens_per_day:-10 breached by {OTHER}")
    assert live(team) == CONTROL
    with team.reads() as session:
        events = list(session.scalars(sa.select(OutboxEvent)))
    assert [e.type for e in events] == ["experiment.stopped"]
    assert events[0].data["experiment_id"] == experiment
    assert events[0].data["breaches"][0]["metric"] == "tokens_per_day"


def test_a_pause_stops_a_running_experiment_and_it_switches_nothing_after(team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8)
    approve(team, experiment, now)
    start = now + DAY
    run_days(team, tmp_path, start, 2, lambda split: 20)
    set_policy(team, "rebalancing_paused", "on", by="ada")
    switched = switch_count(team)
    run_days(team, tmp_path, start + 2 * DAY, 3, lambda split: 20)
    data = show_experiment(team, experiment).as_json()
    assert data["status"] == "stopped" and data["stopped_by"] == "system:pause"
    assert live(team) == CONTROL
    assert switch_count(team) in (switched, switched + 1)  # + the control's restoring, if any
    with team.reads() as session:
        assert session.scalar(sa.select(sa.func.max(ExperimentSwitch.block_index))) == 1


def test_a_split_changed_from_elsewhere_stops_the_experiment_and_stays(team, tmp_path):
    from tests.integration.state import file
    from core.proposals.lifecycle import review_proposal

    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=8)
    approve(team, experiment, now)
    start = now + DAY
    run_days(team, tmp_path, start, 1, lambda split: 20)
    proposal = file(team, (75, 15, 6, 4))
    review_proposal(team, proposal, "approved", by="gwen", now=start + timedelta(hours=5))
    tick(team, start + DAY)
    assert status(team, experiment) == "stopped" and live(team) == "75/15/6/4"


# --- adopting and power -------------------------------------------------------------------------

def test_adopting_an_arm_files_an_ordinary_proposal_with_the_evidence(team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=4)
    with pytest.raises(Refused, match="only finished or stopped"):
        adopt_experiment(team, experiment, 1, by="ann", now=now)
    approve(team, experiment, now)
    start = now + DAY
    run_days(team, tmp_path, start, 4, lambda split: 30 if split == OTHER else 20)
    tick(team, start + 4 * DAY)
    with pytest.raises(ValidationFailed, match="arm: 2 is not an arm"):
        adopt_experiment(team, experiment, 2, by="ann", now=start + 4 * DAY)
    adopted = adopt_experiment(team, experiment, 1, by="ann", now=start + 4 * DAY)
    proposal = get_proposal(team, adopted.proposal_id)
    assert proposal.status == "proposed" and proposal.split.label() == OTHER
    assert proposal.proposed_by == "manual" and experiment in proposal.reasoning
    assert "Verdict:" in proposal.reasoning
    assert proposal.input_metrics["experiment_id"] == experiment


def test_simulating_a_design_writes_nothing_and_reports_its_power(team, tmp_path):
    now = first_midnight(team)
    rng = random.Random(3)
    for offset in range(40):
        load_day(team, tmp_path, now + offset * DAY, 20 + rng.randint(-3, 3))
    before = every_row(team)
    estimate = simulate_experiment(team, arms=ARMS, block_hours=24, blocks=20, from_=now,
                                   effect_pct=30, runs=40, seed=5, now=now + 41 * DAY)
    assert every_row(team) == before
    data = estimate.as_json()
    assert data["runs"] == 40 and data["effect_pct"] == 30
    assert data["power_pct"] > 80 and 20 < data["mean_change_pct"] < 40
    assert data["minimum_detectable_effect_pct"] is not None
    with pytest.raises(ValidationFailed, match="runs"):
        simulate_experiment(team, arms=ARMS, block_hours=24, blocks=20, from_=now, runs=5,
                            now=now + 41 * DAY)


def test_filing_with_recorded_figures_reports_the_minimum_detectable_effect(team, tmp_path):
    now = first_midnight(team)
    rng = random.Random(4)
    for offset in range(30):
        load_day(team, tmp_path, now + offset * DAY, 20 + rng.randint(-3, 3))
    filed = create_experiment(team, arms=ARMS, block_hours=24, blocks=8, reasoning="power",
                              by="ann", now=now + 30 * DAY, mde_runs=40)
    assert filed.minimum_detectable_effect_pct is not None
    assert 0 < filed.minimum_detectable_effect_pct < 100
    assert filed.detectable.startswith("with 8 blocks of 24 h you can detect a change of about")


def test_the_list_shows_every_experiment_newest_first(team):
    now = first_midnight(team)
    older = file_experiment(team, now)
    newer = create_experiment(team, arms=ARMS, block_hours=24, blocks=4, reasoning="later",
                              by="ann", starts_at=(now + 30 * DAY).isoformat(),
                              now=now + timedelta(hours=1)).experiment_id
    assert [s.experiment_id for s in list_experiments(team)] == [newer, older]


# --- what the database and the audit keep ------------------------------------------------------

def test_the_database_refuses_a_schedule_revealed_early_and_a_switch_rewritten(team, tmp_path):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    approve(team, experiment, now)
    tick(team, now + DAY)
    key = uuid.UUID(experiment).hex if team.dialect == "sqlite" else experiment
    for sql in (f"UPDATE experiments SET revealed_salt = 'ab' WHERE id = '{key}'",
                f"UPDATE experiments SET status = 'paused' WHERE id = '{key}'",
                f"UPDATE experiments SET blocks = 0 WHERE id = '{key}'",
                "UPDATE experiment_switches SET arm = 1 - arm",
                "DELETE FROM experiment_switches",
                "DELETE FROM experiment_reviews"):
        with pytest.raises(sa.exc.IntegrityError), team.engine.begin() as conn:
            conn.execute(sa.text(sql))
    assert switch_count(team) == 1


def test_an_experiment_approved_by_raw_sql_switches_nothing(team):
    now = first_midnight(team)
    experiment = file_experiment(team, now)
    key = uuid.UUID(experiment).hex if team.dialect == "sqlite" else experiment
    with team.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE experiments SET status = 'approved' WHERE id = '{key}'"))
    tick(team, now + DAY)
    assert switch_count(team) == 0 and live(team) == CONTROL
    assert list_activity(team, 5, "audit_failed")


@pytest.mark.usefixtures("private_webhooks_allowed")
def test_each_block_start_sends_experiment_switched_with_its_block_and_arm(team, tmp_path):
    webhooks.add_endpoint(team, URL, "experiment.switched", by="ada")
    now = first_midnight(team)
    experiment = file_experiment(team, now, blocks=4)
    approve(team, experiment, now)
    start = now + DAY
    run_days(team, tmp_path, start, 4, lambda split: 20)
    with team.reads() as session:
        events = list(session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.created_at)))
    assert [e.type for e in events] == ["experiment.switched"] * 4
    assert [e.data["block"] for e in events] == [0, 1, 2, 3]
    assert sorted(e.data["arm"] for e in events) == [0, 0, 1, 1]
    assert {e.data["experiment_id"] for e in events} == {experiment}
