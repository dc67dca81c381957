"""The experiment services: file, review, stop, adopt, list, show and simulate.

Each write is one service owning one transaction, every decision recorded in `protocol_activity`
with the actor (and, through the entry point, the channel); a refusal writes nothing.

Governance: an experiment is reviewed as one major change: `approvals_required_major` approvals
counted as a proposal's are (core.experiments.store.counted_approvals), never by the analyst who
filed it (four-eyes), sealed only by the governors of the moment it was filed, every arm within
the policy's bounds when filed and again when approved. Approved, it waits in the queue as one
major change: the approval that completes the count moves a start that comes sooner than
`timelock_hours_major` after it to the next whole hour at or after the timelock's end (the
schedule's hash covers only the order of the arms, so it stays valid; the blocks move with the
start), and while it waits any governor can stop it (the veto of a queued experiment), which
switches nothing. Once started, its switches follow the committed schedule
(core.experiments.switching) without a timelock of their own: the approvals were for the whole
schedule. Any governor can stop it, with a reason. Approval is refused when its time (moved or
not) would overlap another approved or running experiment: the split runs one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from core.allocation.policy import MIN_HOURS_BETWEEN_ACTIVATIONS
from core.allocation.split import Split
from core.allocation.validation import ProposalInput
from core.base.errors import PermissionDenied, Refused, ValidationFailed
from core.base.formatting import number, percent
from core.base.locking import serialize_writes
from core.base.parsing import (TEXT_LIMITS, check_text, optional_text, parse_instant, parse_whole,
                               shown, to_decimal)
from core.base.sessions import reading, writing
from core.experiments import store
from core.experiments.analysis import SEED, ExperimentResults, analyse
from core.experiments.design import (CONTROL, DEFAULT_METRIC, MAX_ARMS, ExperimentDesign,
                                     check_starts_at, draw_schedule, next_whole_hour,
                                     parse_design)
from core.experiments.power import (DEFAULT_RUNS, MAX_RUNS, MIN_RUNS, PowerEstimate,
                                    detectable_sentence, minimum_detectable_effect, simulate)
from core.governance.actors import refuse_unless_governing_since, resolve_actor
from core.governance.policy_store import load_policy
from core.governance.seal_state import is_sealed
from core.governance.second_factor import check_totp
from core.platform_data.outcomes import daily_figures
from core.proposals.lifecycle import DECISIONS, file_proposal
from core.record.activity import record_activity
from db.engine import Database
from db.models import Experiment, ExperimentReview
from db.types import utcnow

MAX_SEED = 2**32 - 1
# The actions as refusals name them ("by: vic is a viewer; filing an experiment needs ...").
FILING, REVIEWING, STOPPING = ("filing an experiment", "reviewing an experiment",
                               "stopping an experiment")
ADOPTING = "adopting an experiment's arm"
SIMULATING = "simulating an experiment"  # an entry point's check: a simulation writes nothing


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- results the entry points print ---------------------------------------------------------------

@dataclass(frozen=True)
class ExperimentFiled:
    experiment_id: str
    status: str
    schedule_sha256: str
    starts_at: datetime
    ends_at: datetime
    minimum_detectable_effect_pct: float | None
    detectable: str  # the power in words, as the dashboard shows it

    def as_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "status": self.status,
                "schedule_sha256": self.schedule_sha256, "starts_at": self.starts_at.isoformat(),
                "ends_at": self.ends_at.isoformat(),
                "minimum_detectable_effect_pct": _round(self.minimum_detectable_effect_pct),
                "detectable": self.detectable}


@dataclass(frozen=True)
class ExperimentReviewed:
    experiment_id: str
    status: str
    approvals: int
    approvals_required: int
    starts_at: datetime
    ends_at: datetime
    timelock_hours: int  # the policy's `timelock_hours_major`: an approved one waits at least this
    start_moved_from: datetime | None = None  # the filed start, when the timelock moved it

    def as_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "status": self.status,
                "approvals": self.approvals, "approvals_required": self.approvals_required,
                "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat(),
                "timelock_hours": self.timelock_hours,
                "start_moved_from": _iso(self.start_moved_from)}


@dataclass(frozen=True)
class ExperimentStopped:
    experiment_id: str
    status: str

    def as_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "status": self.status}


@dataclass(frozen=True)
class ExperimentAdopted:
    experiment_id: str
    proposal_id: str
    arm: int

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "experiment_id": self.experiment_id,
                "arm": self.arm}


@dataclass(frozen=True)
class ExperimentSummary:
    experiment_id: str
    status: str
    arms: tuple[Split, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str

    def as_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "status": self.status,
                "arms": [arm.as_json() for arm in self.arms],
                "arm_labels": [arm.label() for arm in self.arms],
                "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat(),
                "created_by": self.created_by}


@dataclass(frozen=True)
class ExperimentView:
    """One experiment as anyone may see it: never an arm of a block that has not begun, nor
    the salt, before it has ended."""

    summary: ExperimentSummary
    design: ExperimentDesign
    schedule_sha256: str
    reasoning: str
    approvals: list[str]
    approvals_required: int
    blocks: list[store.BlockView]
    results: ExperimentResults
    mde_pct: float | None
    stopped_by: str | None
    stop_reason: str | None
    ended_at: datetime | None
    salt: str | None
    schedule: tuple[int, ...] | None

    def as_json(self) -> dict[str, Any]:
        data = {**self.summary.as_json(), "schedule_sha256": self.schedule_sha256,
                "block_hours": self.design.block_hours, "blocks_planned": self.design.blocks,
                "burn_in_hours": self.design.burn_in_hours, "metric": self.design.metric,
                "guardrails": [g.label() for g in self.design.guardrails],
                "reasoning": self.reasoning, "approvals": self.approvals,
                "approvals_required": self.approvals_required,
                "minimum_detectable_effect_pct": _round(self.mde_pct),
                "blocks": [b.as_json() for b in self.blocks],
                "results": self.results.as_json(), "ended_at": _iso(self.ended_at),
                "stopped_by": self.stopped_by, "stop_reason": self.stop_reason}
        if self.salt is not None and self.schedule is not None:
            data["salt"], data["schedule"] = self.salt, list(self.schedule)
        return data


def _summary(row: Experiment) -> ExperimentSummary:
    return ExperimentSummary(str(row.id), row.status, store.design_of(row).arms, row.starts_at,
                             row.ends_at, row.created_by)


# --- filing ---------------------------------------------------------------------------------------

def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def recorded_mde(db: Database, design: ExperimentDesign, now: datetime,
                 runs: int = DEFAULT_RUNS) -> float | None:
    """The design's minimum detectable effect replayed over the most recent recorded days long
    enough for it (whole days, from a midnight); None when the records are too short, or no
    effect could be found often enough."""
    frame = daily_figures(db, now=now)
    values = frame[design.metric].to_numpy(dtype=float) if not frame.empty else np.array([])
    if not values.size or np.isnan(values).all():
        return None
    days = list(frame.index)
    last = _midnight(days[-1]) + timedelta(days=1)
    begin = _midnight((last - design.duration).date())
    if begin < _midnight(days[0]):
        return None
    try:
        return minimum_detectable_effect(design, days, values, runs=runs, starts_at=begin)
    except ValidationFailed:
        return None


def _reasoning(text: Any) -> str:
    return check_text(text, "reasoning", required=True).strip()


def _refuse_overlap(session: Any, starts_at: datetime, ends_at: datetime, *,
                    statuses: tuple[str, ...] = store.LIVE, other_than: Any = None,
                    why: str = "") -> None:
    other = store.overlapping(session, starts_at, ends_at, statuses=statuses,
                              other_than=other_than)
    if other is not None:
        raise Refused(f"starts_at: {starts_at.isoformat()} .. {ends_at.isoformat()}{why} overlaps "
                      f"experiment {other.id} ({other.status}, {other.starts_at.isoformat()} .. "
                      f"{other.ends_at.isoformat()}); the split can run one experiment at a time")


def whole_hour_at_or_after(moment: datetime) -> datetime:
    """`moment` itself when it is a whole hour (UTC), else the next one."""
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour if hour == moment else hour + timedelta(hours=1)


def queued_start(starts_at: datetime, approved_at: datetime, timelock_hours: int) -> datetime:
    """When an experiment approved at `approved_at` may start: as filed, unless that comes
    before the major timelock ends; then the next whole hour at or after its end."""
    earliest = approved_at + timedelta(hours=timelock_hours)
    return starts_at if starts_at >= earliest else whole_hour_at_or_after(earliest)


def create_experiment(db: Database, *, arms: Any, block_hours: Any, blocks: Any,
                      burn_in_hours: Any = 0, metric: Any = DEFAULT_METRIC,
                      guardrails: Any = (), starts_at: Any = None, reasoning: Any,
                      by: str | None, now: datetime | None = None,
                      mde_runs: int = DEFAULT_RUNS) -> ExperimentFiled:
    """An analyst files an experiment (status `proposed`). Its schedule is drawn now, with a
    secret salt; only the hash is shown. The minimum detectable effect is replayed over the
    recorded figures first (a read, outside the write's lock)."""
    now = now or utcnow()
    design = parse_design(arms=arms, block_hours=block_hours, blocks=blocks,
                          burn_in_hours=0 if burn_in_hours is None else burn_in_hours,
                          metric=metric or DEFAULT_METRIC, guardrails=tuple(guardrails or ()))
    reasoning = _reasoning(reasoning)
    start = check_starts_at(parse_instant(starts_at, "starts_at") if starts_at is not None
                            else next_whole_hour(now), now)
    ends_at = design.ends_at(start)
    mde = recorded_mde(db, design, now, mde_runs)
    with writing(db) as session:
        serialize_writes(session)  # the overlap check and the insert, one at a time
        actor = resolve_actor(session, by, "analyst", FILING)
        policy = load_policy(session)
        problems = store.arm_problems(design.arms, policy)
        gap = policy.min_hours_between_activations
        if gap and design.block_hours < gap:
            problems.append(f"block_hours: {design.block_hours} h is shorter than the policy's "
                            f"{MIN_HOURS_BETWEEN_ACTIVATIONS} ({gap} h)")
        if problems:
            raise Refused(*problems)
        _refuse_overlap(session, start, ends_at)
        committed = draw_schedule(design)
        row = Experiment(created_at=now, created_by=actor.username, reasoning=reasoning,
                         arms=store.arms_text(design.arms), block_hours=design.block_hours,
                         blocks=design.blocks, burn_in_hours=design.burn_in_hours,
                         metric=design.metric,
                         guardrails=[g.label() for g in design.guardrails], starts_at=start,
                         ends_at=ends_at, status=store.PROPOSED,
                         schedule_sha256=committed.sha256,
                         schedule_sealed=store.seal_schedule(session, committed), mde_pct=mde)
        session.add(row)
        session.flush()
        sentence = detectable_sentence(design, mde)
        record_activity(session, "experiment_filed",
                        f"{actor.username} filed experiment {row.id}: "
                        f"{', '.join(a.label() for a in design.arms)} in {design.blocks} blocks "
                        f"of {design.block_hours} h from {start.isoformat()} "
                        f"(schedule sha256 {committed.sha256})",
                        {"experiment_id": row.id, "by": actor.username, **design.as_json(),
                         "starts_at": start, "ends_at": ends_at,
                         "schedule_sha256": committed.sha256,
                         "minimum_detectable_effect_pct": _round(mde)})
        return ExperimentFiled(str(row.id), row.status, committed.sha256, start, ends_at, mde,
                               sentence)


# --- reviewing ------------------------------------------------------------------------------------

def review_experiment(db: Database, experiment_id: str, decision: str, *, by: str | None,
                      notes: str | None = None, now: datetime | None = None,
                      totp: str | None = None) -> ExperimentReviewed:
    """One governor's decision. A rejection ends it; the approval that reaches
    `approvals_required_major` approves it, to start at `starts_at`, or later when that comes
    before the major timelock has passed (`_queue`)."""
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision: {shown(decision)} is not one of {', '.join(DECISIONS)}")
    notes = optional_text(notes, "notes")
    notes = notes.strip() if notes and notes.strip() else None
    with writing(db) as session:
        serialize_writes(session)  # first: the actor's role is read under the lock too
        actor = resolve_actor(session, by, "governor", REVIEWING)
        now = now or utcnow()
        check_totp(session, actor.username, totp, action=REVIEWING, now=now)
        policy = load_policy(session)
        row = store.load(session, experiment_id)
        store.refuse_unless(row, (store.PROPOSED,), "reviewed")
        if now >= row.starts_at:
            raise Refused(f"experiment: {row.id} was to start at {row.starts_at.isoformat()}, "
                          "before it was approved; file it again with a later --starts-at")
        if row.created_by == actor.username:
            raise PermissionDenied(f"by: {actor.username} filed this experiment; someone else "
                                   "must review it (four-eyes rule)")
        if session.scalar(sa.select(ExperimentReview.id).where(
                ExperimentReview.experiment_id == row.id,
                ExperimentReview.reviewer == actor.username)) is not None:
            raise Refused(f"by: {actor.username} has already reviewed experiment {row.id}")
        if not actor.open_mode and is_sealed(session):
            refuse_unless_governing_since(session, actor.username, row.created_at,
                                          f"experiment {row.id}")
        design = store.design_of(row)
        if decision == "approved":
            # Against the policy and the calendar of this moment, not of the filing.
            problems = store.arm_problems(design.arms, policy)
            if problems:
                raise Refused(*(f"against the policy in force: {p}" for p in problems))
            _refuse_overlap(session, row.starts_at, row.ends_at,
                            statuses=(store.APPROVED, store.RUNNING), other_than=row.id)
        session.add(ExperimentReview(experiment_id=row.id, reviewer=actor.username,
                                     decision=decision, notes=notes, reviewed_at=now))
        session.flush()
        approvals = store.counted_approvals(session, row)
        required = policy.approvals_required_major
        meta = {"experiment_id": row.id, "by": actor.username, "notes": notes,
                "approvals": approvals, "approvals_required": required}
        moved_from = None
        if decision == "rejected":
            row.status, row.decided_at, row.decided_by = store.REJECTED, now, actor.username
            record_activity(session, "experiment_rejected",
                            f"{actor.username} rejected experiment {row.id}", meta)
        else:
            record_activity(session, "experiment_approval_recorded",
                            f"{actor.username} approved experiment {row.id}: {len(approvals)} "
                            f"of {required} approvals (reviewed as a major change)", meta)
            if len(approvals) >= required:
                moved_from = _queue(session, row, design, now, policy.timelock_hours_major)
                row.status, row.decided_at, row.decided_by = (store.APPROVED, now,
                                                              ", ".join(approvals)[:64])
                moved = (f" (moved from {moved_from.isoformat()}: it waits the "
                         f"{policy.timelock_hours_major} h timelock of a major change)"
                         if moved_from else "")
                record_activity(session, "experiment_approved",
                                f"experiment {row.id} approved ({len(approvals)} of {required}: "
                                f"{', '.join(approvals)}); it starts at "
                                f"{row.starts_at.isoformat()}{moved} unless a governor stops it",
                                {**meta, "starts_at": row.starts_at, "ends_at": row.ends_at,
                                 "start_moved_from": moved_from,
                                 "timelock_hours": policy.timelock_hours_major})
        return ExperimentReviewed(str(row.id), row.status, len(approvals), required,
                                  row.starts_at, row.ends_at, policy.timelock_hours_major,
                                  moved_from)


def _queue(session: Any, row: Experiment, design: ExperimentDesign, now: datetime,
           hours: int) -> datetime | None:
    """Queue an approved experiment behind the major timelock: a start sooner than `hours`
    after `now` moves to the next whole hour after it (the blocks with it; the hash covers only
    their arms' order). Returns the filed start when it moved. Refused when the moved time
    overlaps another approved or running experiment."""
    start = queued_start(row.starts_at, now, hours)
    if start == row.starts_at:
        return None
    filed = row.starts_at
    ends = design.ends_at(start)
    _refuse_overlap(session, start, ends, statuses=(store.APPROVED, store.RUNNING),
                    other_than=row.id, why=f" (moved by the {hours} h timelock from "
                    f"{filed.isoformat()})")
    row.starts_at, row.ends_at = start, ends
    return filed


# --- stopping -------------------------------------------------------------------------------------

def stop_experiment(db: Database, experiment_id: str, *, by: str | None, reason: Any,
                    now: datetime | None = None, totp: str | None = None) -> ExperimentStopped:
    """Any governor stops an experiment that has not ended, with a reason; a running one gives
    the control's split back through the log. The salt and schedule are revealed."""
    reason = check_text(reason, "reason", limit_of="notes").strip()
    if not reason:
        raise ValidationFailed("reason: stopping an experiment needs a reason (say why)")
    with writing(db) as session:
        serialize_writes(session)
        actor = resolve_actor(session, by, "governor", STOPPING)
        now = now or utcnow()
        check_totp(session, actor.username, totp, action=STOPPING, now=now)
        row = store.load(session, experiment_id)
        store.refuse_unless(row, store.LIVE, "stopped")
        store.end(session, row, store.STOPPED, now, by=actor.username, reason=reason,
                  policy=load_policy(session))
        return ExperimentStopped(str(row.id), row.status)


# --- reading --------------------------------------------------------------------------------------

def list_experiments(db: Database) -> list[ExperimentSummary]:
    """Every experiment, newest first."""
    with reading(db) as session:
        return [_summary(row) for row in session.scalars(
            sa.select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id))]


def _results(session: Any, row: Experiment, design: ExperimentDesign,
             schedule: tuple[int, ...], now: datetime) -> ExperimentResults:
    done = store.switches(session, row)
    figures = store.block_figures(session, row, design, done, store.analysed_until(row, now),
                                  [design.metric])
    return analyse(design, schedule, figures[design.metric], mde_pct=row.mde_pct, seed=SEED)


def show_experiment(db: Database, experiment_id: str,
                    now: datetime | None = None) -> ExperimentView:
    """The design, the blocks that have started (each with its arm and time), the results so far
    and, once it has ended, the salt and the whole schedule."""
    now = now or utcnow()
    with reading(db) as session:
        row = store.load(session, experiment_id)
        design = store.design_of(row)
        committed = store.open_schedule(session, row)
        done = store.switches(session, row)
        blocks = store.started_blocks(row, design, committed, done, now)
        results = _results(session, row, design, committed.schedule, now)
        shown_schedule = store.revealed(row)
        return ExperimentView(
            _summary(row), design, row.schedule_sha256, row.reasoning,
            store.counted_approvals(session, row), load_policy(session).approvals_required_major,
            blocks, results, row.mde_pct, row.stopped_by, row.stop_reason, row.ended_at,
            shown_schedule.salt if shown_schedule else None,
            shown_schedule.schedule if shown_schedule else None)


# --- adopting -------------------------------------------------------------------------------------

def _evidence(row: Experiment, design: ExperimentDesign, arm: int,
              results: ExperimentResults) -> str:
    """The proposal's reasoning: what the experiment found, in one paragraph (cut to the
    reasoning limit)."""
    effect = next((e for e in results.effects if e.arm == arm), None)
    parts = [f"Adopting arm {arm} ({design.arms[arm].label()}) of experiment {row.id} "
             f"({row.status}; {design.blocks} blocks of {design.block_hours} h from "
             f"{row.starts_at.isoformat()}, schedule sha256 {row.schedule_sha256}), against the "
             f"control {design.arms[CONTROL].label()} on {design.metric}."]
    if effect is not None and effect.change_pct is not None and effect.ci95 is not None:
        parts.append(f"Change {percent(effect.change_pct, signed=True)} (95%: "
                     f"{number(effect.ci95[0], 1, signed=True)} … "
                     f"{percent(effect.ci95[1], signed=True)}), randomisation p = "
                     f"{effect.p_value if effect.p_value is not None else 'n/a'}.")
    parts.append(f"Verdict: {results.verdict}.")
    text = " ".join(parts)
    limit = TEXT_LIMITS["reasoning"]
    return text if len(text) <= limit else text[:limit - 1] + "…"


def adopt_experiment(db: Database, experiment_id: str, arm: Any, *, by: str | None,
                     now: datetime | None = None) -> ExperimentAdopted:
    """File an ordinary proposal with arm `arm`'s split and the experiment's evidence in its
    reasoning, through the proposal filing service: it is reviewed and queued like any other.
    Nothing is adopted automatically."""
    index = parse_whole(arm, "arm", minimum=0, maximum=MAX_ARMS - 1)
    with writing(db) as session:
        actor = resolve_actor(session, by, "analyst", ADOPTING)
        now = now or utcnow()
        row = store.load(session, experiment_id)
        store.refuse_unless(row, store.ENDED, "adopted")
        design = store.design_of(row)
        if index >= len(design.arms):
            raise ValidationFailed(f"arm: {index} is not an arm of experiment {row.id} (0.."
                                   f"{len(design.arms) - 1}, the control being 0)")
        results = _results(session, row, design, store.open_schedule(session, row).schedule, now)
        if not results.enough_blocks:
            raise Refused(f"experiment: {row.id} has no evidence to adopt an arm on "
                          f"({results.verdict}); nothing was filed")
        split = design.arms[index]
        proposal = ProposalInput(*(v for _, v in split.items()),
                                 reasoning=_evidence(row, design, index, results),
                                 confidence=1, proposed_by="manual",
                                 input_metrics={"experiment_id": str(row.id), "arm": index,
                                                "results": results.as_json()})
        filed, _ = file_proposal(session, proposal, actor, load_policy(session), now)
        record_activity(session, "experiment_adopted",
                        f"{actor.username} proposed arm {index} ({split.label()}) of experiment "
                        f"{row.id} as proposal {filed.id}",
                        {"experiment_id": row.id, "arm": index, "proposal_id": filed.id,
                         "split": split.as_json(), "by": actor.username,
                         "verdict": results.verdict})
        return ExperimentAdopted(str(row.id), str(filed.id), index)


# --- power before starting ------------------------------------------------------------------------

def simulate_experiment(db: Database, *, arms: Any, block_hours: Any, blocks: Any,
                        burn_in_hours: Any = 0, metric: Any = DEFAULT_METRIC, from_: Any,
                        effect_pct: Any = 0, runs: Any = DEFAULT_RUNS, seed: Any = SEED,
                        now: datetime | None = None) -> PowerEstimate:
    """Power by simulation over the recorded figures from `from_`: `runs` replays, each with a
    fresh schedule and the metric multiplied by (1 + effect/100) on the other arms' blocks,
    analysed as a live experiment is. Writes nothing."""
    design = parse_design(arms=arms, block_hours=block_hours, blocks=blocks,
                          burn_in_hours=0 if burn_in_hours is None else burn_in_hours,
                          metric=metric or DEFAULT_METRIC)
    start = parse_instant(from_, "from")
    try:
        effect = float(to_decimal(0 if effect_pct is None else effect_pct, "effect_pct"))
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    runs = parse_whole(DEFAULT_RUNS if runs is None else runs, "runs", minimum=MIN_RUNS,
                       maximum=MAX_RUNS)
    seed = parse_whole(SEED if seed is None else seed, "seed", minimum=0, maximum=MAX_SEED)
    frame = daily_figures(db, start=start.date(), now=now or utcnow())
    if frame.empty or frame[design.metric].isna().all():
        raise ValidationFailed(f"from: there are no recorded figures of {design.metric} from "
                               f"{start.date().isoformat()} to replay the design over")
    return simulate(design, list(frame.index), frame[design.metric].to_numpy(dtype=float),
                    effect, runs=runs, seed=seed, starts_at=start)
