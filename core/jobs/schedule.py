"""The seed's two cron jobs and the timelock queue, run by `python -m core schedule` in the
foreground.

* rebalance: the profit-rebalancer, daily at midnight UTC (`Settings.rebalance_cron`, 0 0 * * *)
* weekly_report: the weekly allocation report, Mondays 09:00 UTC (`Settings.weekly_report_cron`,
  0 9 * * 1)
* execute_due: queued changes whose timelock has ended take effect, every minute
* webhooks: between the jobs, a delivery pass of the webhook outbox at least every
  `WEBHOOK_PASS_SECONDS`, so a receiver hears of a change within a minute

Cron expressions are read in UTC. Each run is wrapped: a failing job is logged (to stderr, by
the caller's logging setup) and the scheduler carries on with the next fire time; it never dies
of a job. Equivalent crontab lines (for a machine's cron instead of this loop) are in the README.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from core.base.errors import ValidationFailed
from db.engine import Database
from db.types import utcnow

log = logging.getLogger("core.schedule")

Job = Callable[[Database, datetime], Any]
MAX_NAP_SECONDS = 60.0  # wake at least this often, so a changed wall clock is noticed
DUE_WINDOW = timedelta(seconds=60)  # `--once`: a fire time this recent counts as due
WEBHOOK_PASS_SECONDS = 20.0
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


JOBS: dict[str, Job] = {"rebalance": _rebalance, "weekly_report": _weekly_report,
                        "execute_due": _execute_due}
# Queued changes take effect within a minute of their timelock's end.
EXECUTE_DUE_CRON = "* * * * *"


def default_crons() -> dict[str, str]:
    from settings import get_settings

    settings = get_settings()
    return {"rebalance": settings.rebalance_cron, "weekly_report": settings.weekly_report_cron,
            "execute_due": EXECUTE_DUE_CRON}


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


@dataclass(frozen=True)
class DueRun:
    """`schedule --once`: the jobs that were due, and the webhook delivery pass."""

    ran: list[JobOutcome]
    next: dict[str, datetime]
    webhooks: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"ran": [o.as_json() for o in self.ran],
                "next": {k: v.isoformat() for k, v in self.next.items()}, "webhooks": self.webhooks}


def run_due(db: Database, crons: dict[str, str], now: datetime) -> DueRun:
    """One tick of the schedule: the jobs due at `now`, then the webhooks they (or anyone) queued."""
    ran = run_once(db, crons, now)
    return DueRun(ran, next_runs(now, crons), deliver_webhooks(db, now))


def run_forever(db: Database, crons: dict[str, str], *, clock: Callable[[], datetime] = utcnow,
                sleep: Callable[[float], None] = time.sleep, jobs: dict[str, Job] | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                housekeeping: Housekeeping | None = deliver_webhooks) -> None:
    """Sleep until the next fire time, run what is due, repeat (until `should_stop`); between
    jobs, wake every `WEBHOOK_PASS_SECONDS` for `housekeeping` (the webhook delivery pass)."""
    upcoming = next_runs(clock(), crons)
    for name, at in upcoming.items():
        log.info("%s: next run %s (%s)", name, at.isoformat(timespec="minutes"), crons[name])
    while not should_stop():
        for name, at in sorted(upcoming.items(), key=lambda i: i[1]):
            if at <= clock():
                run_job(name, db, at, jobs)
                # After a long run, skip fire times already past rather than run twice in a row.
                upcoming[name] = next_run(max(at, clock()), crons[name])
                log.info("%s: next run %s", name, upcoming[name].isoformat(timespec="minutes"))
        nap = MAX_NAP_SECONDS
        if housekeeping is not None:
            housekeeping(db, clock())
            nap = WEBHOOK_PASS_SECONDS
        wait = (min(upcoming.values()) - clock()).total_seconds()
        sleep(min(max(wait, 0.0), nap))
