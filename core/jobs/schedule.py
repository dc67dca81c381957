"""The seed's two cron jobs and the timelock queue, run by `python -m core schedule` in the
foreground.

* rebalance: the profit-rebalancer, daily at midnight UTC (`Settings.rebalance_cron`, 0 0 * * *)
* weekly_report: the weekly allocation report, Mondays 09:00 UTC (`Settings.weekly_report_cron`,
  0 9 * * 1)
* execute_due: queued changes whose timelock has ended take effect, every minute
* prune_webhooks: the webhook outbox's events past their retention, with their delivery log,
  are deleted, daily at 03:30 UTC (`PRUNE_WEBHOOKS_CRON`; never a pending delivery)
* experiments: approved switchback experiments start, switch the split at each block's start,
  are checked against their guardrails and finish, every minute (`EXPERIMENTS_CRON`;
  core/experiments/switching.py)
* webhooks: between the jobs, a delivery pass of the webhook outbox at least every
  `WEBHOOK_PASS_SECONDS`, so a receiver hears of a change within a minute

Cron expressions are read in UTC. Each run is wrapped: a failing job is logged (to stderr, by
the caller's logging setup) and the scheduler carries on with the next fire time; it never dies
of a job. Equivalent crontab lines (for a machine's cron instead of this loop) are in the README.

Two schedulers may run against one database: only the holder of the lease runs jobs and delivers
webhooks, and each fire time is claimed before it runs, so none runs twice (core/jobs/lease.py).
Every activity row a pass writes names the channel `scheduler` and the holder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from core.base.errors import DomainError, ValidationFailed
from core.jobs.lease import RENEW_SECONDS, AloneLease, DatabaseLease, Lease, host_name
from core.record.activity import acting_through
from db.engine import Database
from db.types import utcnow

log = logging.getLogger("core.schedule")

Job = Callable[[Database, datetime], Any]
MAX_NAP_SECONDS = 60.0  # wake at least this often, so a changed wall clock is noticed
DUE_WINDOW = timedelta(seconds=60)  # `--once`: a fire time this recent counts as due
WEBHOOK_PASS_SECONDS = 20.0
# A pass runs each job's latest fire time this recent that nobody ran yet: longer than a lease
# takeover can take (LEASE_SECONDS + a pass), so a fire time the dead holder missed is run late
# rather than never. The claims (core/jobs/lease.py) keep it to one run however often it is seen.
CATCH_UP = timedelta(minutes=5)
Housekeeping = Callable[[Database, datetime], Any]


def _rebalance(db: Database, fired_at: datetime) -> Any:
    # Imported here: the rebalancer is optional at import time and heavy (the OpenAI client).
    from core.proposals.lifecycle import expire_stale_proposals
    from core.rebalancer.service import run_rebalance

    # Housekeeping first: proposals past their lifetime become `expired`, so the rebalancer's
    # "same split already waiting" check and the dashboards see the real state.
    expire_stale_proposals(db, now=fired_at)
    result = run_rebalance(db, engine="auto", dry_run=False, by=None, scheduled=True)
    return result.as_json() if hasattr(result, "as_json") else result


def _weekly_report(db: Database, fired_at: datetime) -> Any:
    from core.jobs.reports import weekly_report

    return weekly_report(db, now=fired_at)  # the window ends at the scheduled time, not later


def _execute_due(db: Database, fired_at: datetime) -> Any:
    from core.proposals.queue import execute_due

    return execute_due(db, now=fired_at).as_json()


def _prune_webhooks(db: Database, fired_at: datetime) -> Any:
    from core.jobs.webhooks import prune_deliveries

    return prune_deliveries(db, now=fired_at).as_json()  # the retention ends at the fire time


def _experiments(db: Database, fired_at: datetime) -> Any:
    from core.experiments.switching import run_experiments

    # The fire time, not the clock: a block switches at the minute its start falls in.
    return run_experiments(db, fired_at).as_json()


JOBS: dict[str, Job] = {"rebalance": _rebalance, "weekly_report": _weekly_report,
                        "execute_due": _execute_due, "prune_webhooks": _prune_webhooks,
                        "experiments": _experiments}
# Queued changes take effect within a minute of their timelock's end.
EXECUTE_DUE_CRON = "* * * * *"
# Retention is counted in days: once a day is enough, at an hour apart from the other jobs.
PRUNE_WEBHOOKS_CRON = "30 3 * * *"
# Blocks start on whole hours or any minute: a switch follows its block's start within a minute.
EXPERIMENTS_CRON = "* * * * *"


def default_crons() -> dict[str, str]:
    from settings import get_settings

    settings = get_settings()
    return {"rebalance": settings.rebalance_cron, "weekly_report": settings.weekly_report_cron,
            "execute_due": EXECUTE_DUE_CRON, "prune_webhooks": PRUNE_WEBHOOKS_CRON,
            "experiments": EXPERIMENTS_CRON}


def check_crons(crons: dict[str, str]) -> None:
    problems = [f"{name}: {expr!r} is not a valid cron expression"
                for name, expr in crons.items() if not croniter.is_valid(expr)]
    if problems:
        raise ValidationFailed(*problems)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(UTC)


def next_run(now: datetime, cron: str) -> datetime:
    """The first fire time strictly after `now`, in UTC."""
    return croniter(cron, _utc(now)).get_next(datetime).astimezone(UTC)


def next_runs(now: datetime, crons: dict[str, str]) -> dict[str, datetime]:
    """Each job's next fire time strictly after `now`, in UTC."""
    check_crons(crons)
    return {name: next_run(now, expr) for name, expr in crons.items()}


def last_run(now: datetime, cron: str) -> datetime:
    """The latest fire time at or before `now` (cron has whole-minute resolution)."""
    minute = _utc(now).replace(second=0, microsecond=0)
    if croniter.match(cron, minute):
        return minute
    return croniter(cron, minute).get_prev(datetime).astimezone(UTC)


def due_jobs(now: datetime, crons: dict[str, str],
             window: timedelta = DUE_WINDOW) -> dict[str, datetime]:
    """Jobs with a fire time in (now - window, now], with that fire time."""
    check_crons(crons)
    fired = {name: last_run(now, expr) for name, expr in crons.items()}
    return {name: at for name, at in fired.items() if at > _utc(now) - window}


@dataclass(frozen=True)
class JobOutcome:
    job: str
    fired_at: datetime
    ok: bool
    result: Any = None
    error: str | None = None

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else self.error.partition(":")[0]

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "fired_at": self.fired_at.isoformat(), "ok": self.ok,
                "result": self.result, "error": self.error}


def run_job(name: str, db: Database, fired_at: datetime,
            jobs: dict[str, Job] | None = None) -> JobOutcome:
    """Run one job; any exception is logged and returned, never raised."""
    job = (jobs or JOBS)[name]
    log.info("%s: starting (scheduled %s)", name, fired_at.isoformat(timespec="minutes"))
    try:
        result = job(db, fired_at)
    except Exception as exc:  # noqa: BLE001 - the scheduler must outlive any job failure
        log.exception("%s: failed: %s", name, exc)
        return JobOutcome(name, fired_at, False, error=f"{type(exc).__name__}: {exc}")
    log.info("%s: done", name)
    return JobOutcome(name, fired_at, True, result=result)


def run_once(db: Database, crons: dict[str, str], now: datetime | None = None,
             jobs: dict[str, Job] | None = None) -> list[JobOutcome]:
    """Run the jobs due at `now` (fired within the last minute) and return how they went."""
    due = due_jobs(now or utcnow(), crons)
    return [run_job(name, db, at, jobs) for name, at in sorted(due.items(), key=lambda i: i[1])]


def deliver_webhooks(db: Database, now: datetime) -> dict[str, Any]:
    """One delivery pass of the webhook outbox; like a job, a failure is logged, never raised."""
    from core.jobs.webhooks import deliver_due

    try:
        return deliver_due(db, now).as_json()
    except Exception as exc:  # noqa: BLE001 - the scheduler must outlive a delivery failure
        log.exception("webhooks: delivery pass failed: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def as_scheduler(lease: Lease) -> Any:
    """Activity written inside names the scheduler (and which one) as the channel."""
    return acting_through(channel="scheduler", holder=lease.holder, host=host_name())


def run_pass(db: Database, crons: dict[str, str], now: datetime, lease: Lease, *,
             jobs: dict[str, Job] | None = None, window: timedelta = CATCH_UP,
             clock: Callable[[], datetime] | None = None) -> list[JobOutcome]:
    """One pass of a scheduler: when it holds the lease, each job's latest fire time in
    (now - window, now] that no scheduler has claimed yet is claimed and run. A process that
    does not hold the lease runs nothing. `clock` (default: `now` throughout) times the claims
    of a pass whose jobs take a while."""
    check_crons(crons)
    clock = clock or (lambda: now)
    with as_scheduler(lease):
        if not _lease_call("hold", lambda: lease.hold(now), False):
            lease.held = False
            return []
        ran = []
        for name, at in sorted(due_jobs(now, crons, window).items(), key=lambda i: i[1]):
            # Claiming also renews the lease before what may be a long job.
            if not _lease_call("claim", lambda: lease.claim(name, at, clock()), False):
                continue
            outcome = run_job(name, db, at, jobs)
            _lease_call("finish", lambda: lease.finish(name, at, outcome.ok, outcome.error_type,
                                                       clock()), None)
            ran.append(outcome)
        return ran


def _lease_call(what: str, call: Callable[[], Any], failed: Any) -> Any:
    """A lease operation; when the database cannot do it, logged and taken as `failed` (not
    holding, not claimed): like a job, the lease never stops the scheduler, and a scheduler that
    cannot reach the database runs nothing."""
    try:
        return call()
    except DomainError as error:
        log.error("lease: %s failed: %s", what, "; ".join(error.problems))
        return failed


@dataclass(frozen=True)
class DueRun:
    """`schedule --once`: the jobs that were due, and the webhook delivery pass."""

    ran: list[JobOutcome]
    next: dict[str, datetime]
    webhooks: dict[str, Any]
    lease: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ran": [o.as_json() for o in self.ran],
                "next": {k: v.isoformat() for k, v in self.next.items()}, "webhooks": self.webhooks,
                "lease": self.lease}


def run_due(db: Database, crons: dict[str, str], now: datetime, *,
            jobs: dict[str, Job] | None = None, holder: str | None = None) -> DueRun:
    """One tick of the schedule (`schedule --once`): the jobs due at `now` (fired within the last
    minute and not yet run by any scheduler), then the webhooks they (or anyone) queued. Runs
    nothing while another scheduler holds the lease; gives the lease up when done."""
    lease = DatabaseLease(db, holder)
    try:
        ran = run_pass(db, crons, now, lease, jobs=jobs, window=DUE_WINDOW)
        held = lease.held
        if held:
            with as_scheduler(lease):
                webhooks = deliver_webhooks(db, now)
        else:
            webhooks = {"skipped": "another scheduler holds the lease"}
    finally:
        if lease.held:
            lease.release(now)
    return DueRun(ran, next_runs(now, crons), webhooks, {"holder": lease.holder, "held": held})


def run_forever(db: Database, crons: dict[str, str], *, clock: Callable[[], datetime] = utcnow,
                sleep: Callable[[float], None] = time.sleep, jobs: dict[str, Job] | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                housekeeping: Housekeeping | None = deliver_webhooks,
                lease: Lease | None = None) -> None:
    """Pass after pass (until `should_stop`): run what is due, then `housekeeping` (the webhook
    delivery pass), then sleep until the next fire time, waking at least every
    `WEBHOOK_PASS_SECONDS` (with housekeeping) and every `RENEW_SECONDS` (to renew the lease).

    `lease` coordinates this process with other schedulers of the same database (the CLI always
    gives a DatabaseLease); without one the loop takes itself to be the only scheduler.
    """
    lease = lease or AloneLease()
    for name, at in next_runs(clock(), crons).items():
        log.info("%s: next run %s (%s)", name, at.isoformat(timespec="minutes"), crons[name])
    try:
        while not should_stop():
            run_pass(db, crons, clock(), lease, jobs=jobs, clock=clock)
            nap = MAX_NAP_SECONDS if isinstance(lease, AloneLease) else RENEW_SECONDS
            if housekeeping is not None:
                if lease.held:
                    with as_scheduler(lease):
                        housekeeping(db, clock())
                nap = min(nap, WEBHOOK_PASS_SECONDS)
            now = clock()
            wait = (min(next_runs(now, crons).values()) - now).total_seconds()
            sleep(min(max(wait, 0.0), nap))
    finally:
        if lease.held:
            _lease_call("release", lambda: lease.release(clock()), None)
