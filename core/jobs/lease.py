"""One scheduler at a time: a lease in the database, and each fire time claimed once.

Two `schedule` processes may run against one database (two hosts, for availability). Only the
holder of the lease row `scheduler_leases.schedule` runs jobs and delivers webhooks; it renews the
lease on every pass (at least every `RENEW_SECONDS`), and a lease not renewed for
`LEASE_SECONDS` (its holder died, hung or lost the database) is taken over by the other process
on its next pass. Taking, renewing and claiming are each one short transaction with the lease
row locked (PostgreSQL: `SELECT ... FOR UPDATE`; SQLite: `BEGIN IMMEDIATE` locks the database),
so two processes never both believe they hold it at the same instant of the database.

The lease alone cannot rule out a double run: a holder stuck in a long job stops renewing, the
other takes over, and both may reach the same fire time. So each job's fire time is also claimed
in `scheduler_runs` (job, fired_at) before it runs, under the lease row's lock: whoever claims it
first runs it, nobody runs it again, however late a takeover comes. A claimed run whose holder
died mid-way stays claimed (at most once, never twice): its row shows `finished_at` empty.

Times come from the scheduler's clock (simulated in tests, `--at` on the command line). Hosts
with skewed clocks are tolerated up to `LEASE_SECONDS - RENEW_SECONDS` (40 s) before a live
holder could be taken over early, and even then the claims keep every fire time to one run.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.sessions import reading, writing
from core.record.activity import record_activity
from db.engine import Database
from db.models import SchedulerLease, SchedulerRun

log = logging.getLogger("core.schedule")

LEASE_NAME = "schedule"
LEASE_SECONDS = 60
RENEW_SECONDS = 20  # three renewals per lease: one late pass does not lose it
LEASE_TAKEN_OVER = "scheduler_lease_taken_over"


def host_name() -> str:
    return socket.gethostname() or "unknown-host"


def new_holder_id() -> str:
    """host:pid:random: two processes never share one, even with the same pid on two hosts."""
    return f"{host_name()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease(Protocol):
    """What the schedule needs from its coordination with other schedulers."""

    holder: str
    held: bool

    def hold(self, now: datetime) -> bool: ...

    def claim(self, job: str, fired_at: datetime, now: datetime) -> bool: ...

    def finish(self, job: str, fired_at: datetime, ok: bool, error_type: str | None,
               now: datetime) -> None: ...

    def release(self, now: datetime) -> None: ...


class AloneLease:
    """A scheduler that is the only one (no database to coordinate through, e.g. the pure tests
    of the loop): always the holder, each fire time claimed once in memory."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or new_holder_id()
        self.held = True
        self._claimed: set[tuple[str, datetime]] = set()

    def hold(self, now: datetime) -> bool:
        return True

    def claim(self, job: str, fired_at: datetime, now: datetime) -> bool:
        if (job, fired_at) in self._claimed:
            return False
        self._claimed.add((job, fired_at))
        return True

    def finish(self, job: str, fired_at: datetime, ok: bool, error_type: str | None,
               now: datetime) -> None:
        pass

    def release(self, now: datetime) -> None:
        pass


class DatabaseLease:
    """The lease row `name` in `scheduler_leases`, held by `holder` (default: a new host:pid:random)."""

    def __init__(self, db: Database, holder: str | None = None, *, name: str = LEASE_NAME,
                 seconds: float = LEASE_SECONDS) -> None:
        self.db, self.name = db, name
        self.holder = holder or new_holder_id()
        self.length = timedelta(seconds=seconds)
        self.held = False

    def _locked(self, session: so.Session) -> SchedulerLease | None:
        return session.scalar(sa.select(SchedulerLease).where(SchedulerLease.name == self.name)
                              .with_for_update().execution_options(populate_existing=True))

    def _mine(self, row: SchedulerLease | None, now: datetime) -> bool:
        return row is not None and row.holder == self.holder and row.expires_at > now

    def hold(self, now: datetime) -> bool:
        """Take the lease if it is free or has expired, renew it if it is ours; False while
        another live process holds it."""
        with writing(self.db) as session:
            row = self._locked(session)
            if row is None:
                held = self._insert(session, now)
            elif row.holder == self.holder:
                row.expires_at = now + self.length  # ours, expired or not: nobody took it
                held = True
            elif row.expires_at <= now:
                previous, lapsed = row.holder, row.expires_at
                row.holder, row.acquired_at, row.expires_at = self.holder, now, now + self.length
                record_activity(session, LEASE_TAKEN_OVER,
                                f"scheduler {self.holder} took over the schedule from "
                                f"{previous}, whose lease lapsed at "
                                f"{lapsed.isoformat(timespec='seconds')}",
                                {"holder": self.holder, "previous_holder": previous,
                                 "previous_expires_at": lapsed, "at": now})
                held = True
            else:
                held = False
        if held != self.held:
            log.info("lease: %s %s the schedule", self.holder, "holds" if held else "does not hold")
        self.held = held
        return held

    def _insert(self, session: so.Session, now: datetime) -> bool:
        try:
            # A savepoint: when another process inserted the row first (PostgreSQL: we waited on
            # its key, then it committed), only this insert is undone and the lease is theirs.
            with session.begin_nested():
                session.add(SchedulerLease(name=self.name, holder=self.holder, acquired_at=now,
                                           expires_at=now + self.length))
        except sa.exc.IntegrityError:
            return False
        return True

    def claim(self, job: str, fired_at: datetime, now: datetime) -> bool:
        """Claim one fire time of one job, renewing the lease: False when the lease is no
        longer ours or any scheduler claimed this fire time before."""
        with writing(self.db) as session:
            row = self._locked(session)
            if not self._mine(row, now):
                self.held = False
                return False
            assert row is not None
            row.expires_at = now + self.length
            if session.get(SchedulerRun, (job, fired_at)) is not None:
                return False
            session.add(SchedulerRun(job=job, fired_at=fired_at, holder=self.holder,
                                     started_at=now))
        return True

    def finish(self, job: str, fired_at: datetime, ok: bool, error_type: str | None,
               now: datetime) -> None:
        """How the claimed run ended (the error's type only: its message may quote anything)."""
        with writing(self.db) as session:
            run = session.get(SchedulerRun, (job, fired_at))
            if run is not None and run.holder == self.holder:
                run.finished_at, run.ok, run.error_type = now, ok, error_type

    def release(self, now: datetime) -> None:
        """Give the lease up (a `--once` run ends): the next process need not wait for expiry."""
        with writing(self.db) as session:
            session.execute(sa.delete(SchedulerLease).where(
                SchedulerLease.name == self.name, SchedulerLease.holder == self.holder))
        self.held = False


def lease_holder(db: Database, now: datetime, name: str = LEASE_NAME) -> str | None:
    """Who holds the lease at `now` (None when nobody does, or their lease lapsed)."""
    with reading(db) as session:
        row = session.get(SchedulerLease, name)
        return row.holder if row is not None and row.expires_at > now else None


def claimed_runs(db: Database, job: str | None = None) -> list[tuple[str, datetime, str]]:
    """(job, fired_at, holder) of every claimed fire time, oldest first."""
    query = sa.select(SchedulerRun.job, SchedulerRun.fired_at, SchedulerRun.holder).order_by(
        SchedulerRun.fired_at, SchedulerRun.job)
    if job is not None:
        query = query.where(SchedulerRun.job == job)
    with reading(db) as session:
        return [(r.job, r.fired_at, r.holder) for r in session.execute(query)]
