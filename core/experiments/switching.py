"""The schedule's part: approved experiments start at `starts_at`, each block's arm is put in
force at the block's start, the guardrails are checked after each block, and the control comes
back after the last one. Run every minute by `python -m core schedule` (core.jobs.schedule), with
the time of the fire (`--at` on the command line, a simulated clock in tests).

Each experiment is stepped in a transaction of its own, under the application's write lock, so
a pass that fails on one experiment still steps the others. A block switches once: the fire time
is claimed by one scheduler (core.jobs.lease), and the switch's key (experiment, block) holds
even against a second scheduler at another fire time.

What stops a running (or due) experiment instead of switching it:
* a pause: the policy's `rebalancing_paused` (no automatic change of the split while it is on);
* the split changed from elsewhere since the last switch (a governor's decision stands: the
  control is not forced back over it);
* an approval that no longer counts (its governor was disabled or demoted before the start);
* a guardrail breached (core.experiments.analysis.check_guardrails), with the webhook
  `experiment.stopped`.
A block the scheduler reaches late is switched late; one it missed entirely is skipped, and
neither counts in the analysis unless its arm was in force by the end of its burn-in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from core.base.locking import serialize_writes
from core.base.sessions import reading, writing
from core.experiments import store
from core.experiments.analysis import check_guardrails
from core.governance.policy_store import load_policy
from core.record.activity import record_activity
from core.record.audit import honoured
from db.engine import Database
from db.models import Experiment, ExperimentSwitch

PAUSED = "split changes are paused by the policy (rebalancing_paused)"
GUARDRAIL = "system:guardrail"
PAUSE = "system:pause"


@dataclass(frozen=True)
class ExperimentsPass:
    """What one pass did, per experiment id."""

    started: list[str] = field(default_factory=list)
    switched: list[dict[str, Any]] = field(default_factory=list)  # {"experiment_id", "block"}
    finished: list[str] = field(default_factory=list)
    stopped: list[dict[str, str]] = field(default_factory=list)  # {"experiment_id", "reason"}

    def as_json(self) -> dict[str, Any]:
        return {"started": self.started, "switched": self.switched, "finished": self.finished,
                "stopped": self.stopped}


def due_experiments(db: Database, now: datetime) -> list[uuid.UUID]:
    """Experiments the schedule must look at now: approved ones whose start has come, and
    running ones."""
    with reading(db) as session:
        return list(session.scalars(sa.select(Experiment.id).where(
            sa.or_(sa.and_(Experiment.status == store.APPROVED, Experiment.starts_at <= now),
                   Experiment.status == store.RUNNING)).order_by(Experiment.starts_at)))


def run_experiments(db: Database, now: datetime) -> ExperimentsPass:
    """One pass over every due experiment (the schedule's `experiments` job)."""
    outcome = ExperimentsPass()
    for experiment_id in due_experiments(db, now):
        step_experiment(db, experiment_id, now, outcome)
    return outcome


def _stop(session: Any, row: Experiment, now: datetime, by: str, reason: str, policy: Any,
          outcome: ExperimentsPass, **extra: Any) -> None:
    store.end(session, row, store.STOPPED, now, by=by, reason=reason, policy=policy, extra=extra)
    outcome.stopped.append({"experiment_id": str(row.id), "reason": reason})


def step_experiment(db: Database, experiment_id: uuid.UUID, now: datetime,
                    outcome: ExperimentsPass | None = None) -> ExperimentsPass:
    """Bring one experiment up to `now`: start it, switch to the current block's arm, stop it,
    or finish it (see the module's docstring)."""
    outcome = outcome or ExperimentsPass()
    with writing(db) as session:
        serialize_writes(session)
        row = session.get(Experiment, experiment_id, populate_existing=True)
        if row is None or row.status not in (store.APPROVED, store.RUNNING) \
                or row.starts_at > now:
            return outcome  # decided meanwhile (stopped, or another scheduler finished it)
        # An experiment whose state was written outside the application switches nothing.
        if not honoured(session, row, "an experiment's switch"):
            return outcome
        policy = load_policy(session)
        if policy.rebalancing_paused:
            _stop(session, row, now, PAUSE, PAUSED, policy, outcome)
            return outcome
        design = store.design_of(row)
        committed = store.open_schedule(session, row)
        done = store.switches(session, row)
        if row.status == store.RUNNING and not store.live_is_ours(session, row, design,
                                                                  committed, done):
            _stop(session, row, now, store.SYSTEM, "the split was changed outside the "
                  "experiment since its last switch", policy, outcome)
            return outcome
        if row.status == store.APPROVED:
            approvals = store.counted_approvals(session, row)
            if len(approvals) < policy.approvals_required_major:
                _stop(session, row, now, store.SYSTEM,
                      f"only {len(approvals)} of the {policy.approvals_required_major} approvals "
                      "still count at its start (an approver no longer governs)", policy, outcome)
                return outcome
        index = store.block_index_at(row, now)
        finishing = index >= design.blocks
        if index in done and not finishing:
            return outcome  # this block is in force already
        # After each block (so when the next one is due, or the last has ended).
        if design.guardrails and index > 0:
            figures = store.block_figures(session, row, design, done, now,
                                          {g.metric for g in design.guardrails})
            breaches = check_guardrails(design, committed.schedule, figures)
            if breaches:
                _stop(session, row, now, GUARDRAIL, "; ".join(b.message for b in breaches),
                      policy, outcome, breaches=[
                          {"metric": b.metric, "arm": b.arm, "change_pct": round(b.change_pct, 2),
                           "ci95": [round(v, 2) for v in b.ci95]} for b in breaches])
                return outcome
        if finishing and row.status == store.APPROVED:
            _stop(session, row, now, store.SYSTEM, "its blocks had all passed before the "
                  "schedule reached it", policy, outcome)
            return outcome
        if finishing:
            store.end(session, row, store.FINISHED, now, by=store.SYSTEM, reason=None,
                      policy=policy)
            outcome.finished.append(str(row.id))
            return outcome
        if row.status == store.APPROVED:
            row.status, row.started_at = store.RUNNING, now
            record_activity(session, "experiment_started",
                            f"experiment {row.id} started: {design.blocks} blocks of "
                            f"{design.block_hours} h until {row.ends_at.isoformat()}",
                            {"experiment_id": row.id, "by": store.SYSTEM,
                             "starts_at": row.starts_at, "ends_at": row.ends_at,
                             "schedule_sha256": row.schedule_sha256})
            outcome.started.append(str(row.id))
        arm = committed.schedule[index]
        split = design.arms[arm]
        start, stop = design.block_bounds(row.starts_at)[index]
        log = store.put_in_force(session, row, split, policy, now,
                                 f"experiment {row.id}: block {index + 1} of {design.blocks} "
                                 f"({start.isoformat()} .. {stop.isoformat()}), arm {arm} "
                                 f"{split.label()}")
        session.add(ExperimentSwitch(experiment_id=row.id, block_index=index, arm=arm,
                                     allocation_id=log.id if log else None, switched_at=now))
        session.flush()
        record_activity(session, "experiment_block_started",
                        f"experiment {row.id}: block {index + 1} of {design.blocks} runs arm "
                        f"{arm} ({split.label()})",
                        {"experiment_id": row.id, "block": index, "arm": arm,
                         "split": split.as_json(), "allocation_id": log.id if log else None,
                         "starts_at": start, "ends_at": stop, "by": store.SYSTEM})
        outcome.switched.append({"experiment_id": str(row.id), "block": index, "arm": arm})
        return outcome
