"""An experiment as stored: its design read back, its sealed schedule, its switches through the
allocation log, the figures of its blocks, and the approvals that count.

Helpers that receive a session and never commit; the services (`service`, `switching`) own the
transactions.

**Secrecy of the schedule.** The salt and the arm of every block are sealed with the box key,
which lives outside the database (core.base.keys): a database reader, the app's own role, a
backup or a governor's query learns only the SHA-256, so nobody can time a launch to a known arm.
Only the system opens it, to switch the split and to analyse the blocks that have run; the
outputs show a block's arm once the block has started, and the salt and the whole schedule once
the experiment has ended (`reveal`), when anyone can check them against the hash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
import sqlalchemy.orm as so

from core.allocation.policy import MIN_HOURS_BETWEEN_ACTIVATIONS, Policy
from core.allocation.records import CurrentAllocation
from core.allocation.split import Split
from core.allocation.validation import ProposalInput, proposal_tier, validate_proposal
from core.base.errors import KeyUnavailable, Refused
from core.base.keys import keys_for
from core.base.lookups import get_by_id
from core.experiments.analysis import BlockFigures, block_values
from core.experiments.design import (CONTROL, CommittedSchedule, ExperimentDesign, parse_arms,
                                     parse_design, verify_schedule)
from core.governance.actors import active_governors, has_accounts
from core.governance.seal_state import is_sealed
from core.platform_data.outcomes import figures_between
from core.proposals.lifecycle import current_row
from core.record.activity import record_activity
from core.record.audit import honoured
from db.models import (EXPERIMENT_STATUSES, RESTORE_BLOCK, AllocationLog, Experiment,
                       ExperimentReview, ExperimentSwitch, User)

PROPOSED, APPROVED, REJECTED, RUNNING, FINISHED, STOPPED = EXPERIMENT_STATUSES
ENDED = (FINISHED, STOPPED)
# Still to run: these hold their stretch of time, so no other experiment may overlap it.
LIVE = (PROPOSED, APPROVED, RUNNING)
EXPERIMENT = "experiment"  # `proposed_by` of every switch in the allocation log
SYSTEM = "system:experiment"  # who finishes an experiment (its schedule ended)


def switcher(row: Experiment) -> str:
    """Who the allocation log names as deciding a switch: the experiment itself, which its
    approvers approved as a whole (fits the log's 64-character `reviewed_by`)."""
    return f"experiment:{row.id}"


# --- reading a row back -------------------------------------------------------------------------

def load(session: so.Session, experiment_id: Any) -> Experiment:
    row = get_by_id(session, Experiment, experiment_id, "experiment", "an experiment")
    session.refresh(row)  # the latest state, under the caller's lock
    return row


def arms_text(arms: Iterable[Split]) -> str:
    """The arms as `--arms` takes them and the table stores them: "80/15/3/2,70/18/8/4"."""
    return ",".join(arm.label() for arm in arms)


def design_of(row: Experiment) -> ExperimentDesign:
    return parse_design(arms=parse_arms(row.arms), block_hours=row.block_hours, blocks=row.blocks,
                        burn_in_hours=row.burn_in_hours, metric=row.metric,
                        guardrails=tuple(row.guardrails or ()))


def seal_schedule(session: so.Session, committed: CommittedSchedule) -> str:
    return keys_for(session).seal(json.dumps({"salt": committed.salt,
                                              "schedule": list(committed.schedule)}))


def open_schedule(session: so.Session, row: Experiment) -> CommittedSchedule:
    """The sealed salt and schedule, checked against the published hash (a schedule that does
    not match it is never followed)."""
    data = json.loads(keys_for(session).open(row.schedule_sealed))
    committed = CommittedSchedule(str(data["salt"]), tuple(int(a) for a in data["schedule"]))
    if not verify_schedule(row.schedule_sha256, committed.salt, committed.schedule):
        raise KeyUnavailable(f"experiment: {row.id}'s sealed schedule does not match its "
                             "published SHA-256")
    return committed


def schedule_text(schedule: Iterable[int]) -> str:
    return ",".join(str(arm) for arm in schedule)


def revealed(row: Experiment) -> CommittedSchedule | None:
    """The salt and schedule written in the clear when the experiment ended."""
    if row.revealed_salt is None or row.revealed_schedule is None:
        return None
    return CommittedSchedule(row.revealed_salt,
                             tuple(int(a) for a in row.revealed_schedule.split(",") if a))


def switches(session: so.Session, row: Experiment) -> dict[int, ExperimentSwitch]:
    """The switches made so far, by block (RESTORE_BLOCK: the control restored at the end)."""
    return {s.block_index: s for s in session.scalars(
        sa.select(ExperimentSwitch).where(ExperimentSwitch.experiment_id == row.id))}


def block_index_at(row: Experiment, moment: datetime) -> int:
    """The block in which `moment` lies (negative before the start, >= blocks after the end)."""
    return math.floor((moment - row.starts_at) / timedelta(hours=row.block_hours))


def analysed_until(row: Experiment, now: datetime) -> datetime:
    """The end of what an analysis may use: the moment the experiment ended, else now."""
    return row.ended_at if row.ended_at is not None else now


# --- governance ---------------------------------------------------------------------------------

def arm_problems(arms: Iterable[Split], policy: Policy) -> list[str]:
    """Every arm's breaches of the policy's bounds, each naming the arm (as a proposal of that
    split would be refused)."""
    problems = []
    for index, arm in enumerate(arms):
        errors = validate_proposal(ProposalInput(*(v for _, v in arm.items()), "arm"),
                                   policy=policy).errors
        problems.extend(f"arms: arm {index + 1} ({arm.label()}): {error}" for error in errors)
    return problems


def policy_problems(design: ExperimentDesign, policy: Policy) -> list[str]:
    """What the policy refuses in a design, one message each naming the field: every arm within
    the bounds, and blocks no shorter than the time the policy keeps between two activations
    (as `service.create_experiment` checks them when filing). For checking as a design is typed."""
    problems = arm_problems(design.arms, policy)
    gap = policy.min_hours_between_activations
    if gap and design.block_hours < gap:
        problems.append(f"block_hours: {design.block_hours} h is shorter than the policy's "
                        f"{MIN_HOURS_BETWEEN_ACTIVATIONS} ({gap} h)")
    return problems


def counted_approvals(session: so.Session, row: Experiment) -> list[str]:
    """The approvals that count, as `core.proposals.lifecycle.counted_approvals` counts a
    proposal's: by active governors; sealed, only by those governing when it was filed; a review
    or an account that fails its audit check is no approval."""
    query = (sa.select(ExperimentReview).where(ExperimentReview.experiment_id == row.id,
                                               ExperimentReview.decision == "approved")
             .order_by(ExperimentReview.reviewed_at))
    accounts = has_accounts(session)
    if accounts:
        governors = active_governors()
        if is_sealed(session):
            governors = governors.where(User.governing_since <= row.created_at)
        query = query.where(ExperimentReview.reviewer.in_(governors))
    return [review.reviewer for review in session.scalars(query).all()
            if honoured(session, review, "an experiment's approval")
            and (not accounts or honoured(session, session.get(User, review.reviewer),
                                          "an experiment's approval"))]


def overlapping(session: so.Session, starts_at: datetime, ends_at: datetime, *,
                statuses: tuple[str, ...] = LIVE,
                other_than: Any = None) -> Experiment | None:
    """An experiment in `statuses` whose time overlaps [starts_at, ends_at): two at once would
    switch the one split against each other."""
    query = sa.select(Experiment).where(Experiment.status.in_(statuses),
                                        Experiment.starts_at < ends_at,
                                        Experiment.ends_at > starts_at)
    if other_than is not None:
        query = query.where(Experiment.id != other_than)
    return session.scalar(query.order_by(Experiment.starts_at).limit(1))


def holding_the_split(session: so.Session) -> Experiment | None:
    """The experiment that holds the split: approved and waiting for its start, or running.
    Until it ends, no automatic change may move the split (the next switch would find the split
    changed from elsewhere, and stop the experiment)."""
    return session.scalar(sa.select(Experiment).where(Experiment.status.in_((APPROVED, RUNNING)))
                          .order_by(Experiment.starts_at).limit(1))


# --- switching the split ------------------------------------------------------------------------

def put_in_force(session: so.Session, row: Experiment, split: Split, policy: Policy,
                 now: datetime, reasoning: str) -> AllocationLog | None:
    """Make `split` the live split through an ordinary allocation-log row (`proposed_by`
    `experiment`), closing the live period at the same instant, as an activation does; None
    when it is the live split already (nothing changes, so nothing is written). The caller
    holds the write lock (`serialize_writes`)."""
    current = current_row(session)
    live = CurrentAllocation.of(current).split
    if split == live:
        return None
    at = max(now, current.effective_from or now) if current is not None else now
    if current is not None:
        current.effective_until = at
        session.flush()  # the old period closes before the new one opens (one-current index)
    by = switcher(row)
    log = AllocationLog(
        reinvestment_pct=split.reinvestment, dao_pct=split.dao, lucky_pct=split.lucky,
        creator_pct=split.creator, status="active", reasoning=reasoning, confidence=1,
        input_metrics={"experiment_id": str(row.id)}, proposed_by=EXPERIMENT,
        proposer_username=row.created_by, based_on_id=current.id if current else None,
        timestamp=at, effective_from=at, reviewed_by=by, reviewed_at=at,
        review_notes=f"experiment {row.id}, approved by {row.decided_by}")
    session.add(log)
    session.flush()
    record_activity(session, "allocation_activated",
                    f"{split.label()} is now active (experiment {row.id}), replacing "
                    f"{live.label()}",
                    {"allocation_id": log.id, "split": split.as_json(),
                     "previous_allocation_id": current.id if current else None,
                     "previous_split": live.as_json(), "by": by, "experiment_id": row.id,
                     "tier": proposal_tier(split, live, policy),
                     "delta": {k: float(v) for k, v in split.delta(live).items()}})
    return log


def live_is_ours(session: so.Session, row: Experiment, design: ExperimentDesign,
                 committed: CommittedSchedule, done: dict[int, ExperimentSwitch]) -> bool:
    """Whether the live split is still the one the experiment's last switch put in force (no
    activation from elsewhere came between)."""
    blocks = [index for index in done if index >= 0]
    if not blocks:
        return False
    current = current_row(session)
    expected = design.arms[committed.schedule[max(blocks)]]
    return CurrentAllocation.of(current).split == expected


def end(session: so.Session, row: Experiment, status: str, now: datetime, *, by: str,
        reason: str | None, policy: Policy, extra: dict[str, Any] | None = None) -> None:
    """Finish or stop `row`: the control's split back through the log when the experiment's own
    arm is still in force (a split changed from elsewhere is a governor's decision and stays),
    the salt and the schedule revealed, and the end recorded."""
    design = design_of(row)
    committed = open_schedule(session, row)
    done = switches(session, row)
    restored = None
    if RESTORE_BLOCK not in done and live_is_ours(session, row, design, committed, done):
        control = design.arms[CONTROL]
        restored = put_in_force(session, row, control, policy, now,
                                f"experiment {row.id} {status}: the control "
                                f"{control.label()} is restored")
        session.add(ExperimentSwitch(experiment_id=row.id, block_index=RESTORE_BLOCK,
                                     arm=CONTROL, allocation_id=restored.id if restored else None,
                                     switched_at=now))
    row.status, row.ended_at = status, now
    row.revealed_salt, row.revealed_schedule = committed.salt, schedule_text(committed.schedule)
    if status == STOPPED:
        row.stopped_by, row.stop_reason = by, reason
    session.flush()
    verb = "finished" if status == FINISHED else f"stopped by {by}: {reason}"
    record_activity(session, f"experiment_{status}", f"experiment {row.id} {verb}",
                    {"experiment_id": row.id, "status": status, "by": by, "reason": reason,
                     "restored_allocation_id": restored.id if restored else None,
                     "control": design.arms[CONTROL].as_json(),
                     "schedule_sha256": row.schedule_sha256, "salt": committed.salt,
                     "schedule": list(committed.schedule), **(extra or {})})


# --- the figures of each block ------------------------------------------------------------------

def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _ceil_day(moment: datetime) -> date:
    day = _day(moment)
    return day if moment == datetime.combine(day, time(), tzinfo=UTC) else day + timedelta(days=1)


def block_figures(session: so.Session, row: Experiment, design: ExperimentDesign,
                  done: dict[int, ExperimentSwitch], until: datetime,
                  metrics: Iterable[str]) -> dict[str, BlockFigures]:
    """Per metric, each block's mean daily figure after its burn-in, from whole days recorded
    before `until`. A block counts only when its own arm was put in force by the end of its
    burn-in (a switch the schedule made late, or never, would measure another arm's days)."""
    bounds = design.block_bounds(row.starts_at)
    burn_in = timedelta(hours=design.burn_in_hours)
    in_time = np.array([i in done and done[i].switched_at <= start + burn_in
                        for i, (start, _) in enumerate(bounds)], dtype=bool)
    first, last = _day(row.starts_at), min(_ceil_day(row.ends_at), _day(until))
    frame = figures_between(session, first, last) if last > first else None
    out = {}
    for metric in metrics:
        if frame is None or frame.empty:
            values = np.full(design.blocks, np.nan)
            out[metric] = BlockFigures(values, np.zeros(design.blocks))
            continue
        figures = block_values(list(frame.index), frame[metric].to_numpy(dtype=float), bounds,
                               design.burn_in_hours, until=until)
        out[metric] = BlockFigures(np.where(in_time, figures.values, np.nan),
                                   np.where(in_time, figures.hours_used, 0.0))
    return out


@dataclass(frozen=True)
class BlockView:
    """One block that has started: its arm (public once it began), its time, and when the
    schedule switched to it (None: it never did, e.g. the scheduler was down)."""

    index: int
    arm: int
    starts_at: datetime
    ends_at: datetime
    switched_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "arm": self.arm, "starts_at": self.starts_at.isoformat(),
                "ends_at": self.ends_at.isoformat(),
                "switched_at": self.switched_at.isoformat() if self.switched_at else None}


def started_blocks(row: Experiment, design: ExperimentDesign, committed: CommittedSchedule,
                   done: dict[int, ExperimentSwitch], now: datetime) -> list[BlockView]:
    """The blocks that began: switched to (their arm is in the log for all to see), or whose
    start passed before `now` (or the end). Never a later one: their arms are the secret the
    hash keeps."""
    if row.status not in (RUNNING, *ENDED) or row.started_at is None:
        return []
    until = analysed_until(row, now)
    return [BlockView(i, committed.schedule[i], start, stop,
                      done[i].switched_at if i in done else None)
            for i, (start, stop) in enumerate(design.block_bounds(row.starts_at))
            if i in done or start < until]


def refuse_unless(row: Experiment, statuses: tuple[str, ...], action: str) -> None:
    if row.status not in statuses:
        raise Refused(f"experiment: {row.id} is {row.status}; only {' or '.join(statuses)} "
                      f"experiments can be {action}")
