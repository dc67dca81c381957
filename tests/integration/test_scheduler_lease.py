"""One scheduler at a time (the trust issue, part 9), on SQLite and PostgreSQL, on a simulated clock.

Two schedulers are two `DatabaseLease` holders on one database, driven pass by pass as
`python -m core schedule` drives its own (`run_pass`), with the real jobs.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cli import app
from core.jobs.lease import (LEASE_SECONDS, LEASE_TAKEN_OVER, DatabaseLease, claimed_runs,
                             lease_holder)
from core.jobs.schedule import run_due, run_forever, run_pass
from core.record.activity import list_activity
from db.engine import Database

START = datetime(2030, 1, 7, 10, 0, 5, tzinfo=UTC)  # a Monday, five seconds past ten
EVERY_MINUTE = {"weekly_report": "* * * * *", "rebalance": "*/5 * * * *"}
HOURLY = {"weekly_report": "0 * * * *", "rebalance": "0 0 1 1 *"}
PASS = timedelta(seconds=10)


def reports(db: Database) -> list:
    return list_activity(db, 10_000, "weekly_allocation_report")


def minutes(first: int, last: int) -> list[datetime]:
    return [START.replace(minute=m, second=0) for m in range(first, last + 1)]


def test_two_schedulers_driven_alternately_for_ten_minutes_run_each_fire_time_once(db):
    a, b = DatabaseLease(db, "host-a:1:aaaa"), DatabaseLease(db, "host-b:2:bbbb")
    for step in range(60):  # 10:00:05 .. 10:09:55, a pass every 10 s, A and B in turn
        run_pass(db, EVERY_MINUTE, START + step * PASS, a if step % 2 == 0 else b)
    runs = claimed_runs(db, "weekly_report")
    assert [at for _, at, _ in runs] == minutes(0, 9)
    assert {holder for _, _, holder in runs} == {"host-a:1:aaaa"}
    assert [at for _, at, _ in claimed_runs(db, "rebalance")] == minutes(0, 0) + minutes(5, 5)
    assert len(reports(db)) == 10
    assert len(list_activity(db, 10_000, "rebalance_run")) == 2


def test_when_the_holder_stops_renewing_the_other_takes_over_after_expiry_and_runs_what_it_missed(db):
    a, b = DatabaseLease(db, "host-a:1:aaaa"), DatabaseLease(db, "host-b:2:bbbb")
    now = START
    while now < START.replace(minute=3, second=50):  # both pass every 10 s, 5 s apart
        run_pass(db, EVERY_MINUTE, now, a)
        run_pass(db, EVERY_MINUTE, now + timedelta(seconds=5), b)
        now += PASS
    lapses = now - PASS + timedelta(seconds=LEASE_SECONDS)  # A's last renewal at 10:03:45
    assert lease_holder(db, now) == "host-a:1:aaaa" and lapses == START.replace(minute=4, second=45)
    # A has died. B keeps passing: it waits for the lease to lapse, then takes it over.
    while now < START.replace(minute=10):
        ran = run_pass(db, EVERY_MINUTE, now, b)
        assert b.held == (now >= lapses)
        if now < lapses:
            assert ran == []
        now += PASS
    runs = claimed_runs(db, "weekly_report")
    assert [at for _, at, _ in runs] == minutes(0, 9)  # 10:04 too: run late, not lost
    assert [h for _, at, h in runs if at < START.replace(minute=4, second=0)] == ["host-a:1:aaaa"] * 4
    assert {h for _, at, h in runs if at >= START.replace(minute=4, second=0)} == {"host-b:2:bbbb"}
    assert len(reports(db)) == 10
    (taken,) = list_activity(db, 100, LEASE_TAKEN_OVER)
    assert taken.metadata["holder"] == "host-b:2:bbbb"
    assert taken.metadata["previous_holder"] == "host-a:1:aaaa"
    assert taken.metadata["via"]["channel"] == "scheduler"


def test_a_late_takeover_does_not_run_again_a_fire_time_the_dead_holder_already_ran(db):
    a, b = DatabaseLease(db, "host-a:1:aaaa"), DatabaseLease(db, "host-b:2:bbbb")
    assert [o.job for o in run_pass(db, HOURLY, START, a)] == ["weekly_report"]  # 10:00, then dies
    lapsed = START + timedelta(seconds=LEASE_SECONDS)
    assert run_pass(db, HOURLY, lapsed - timedelta(seconds=1), b) == []
    assert run_pass(db, HOURLY, lapsed, b) == [] and b.held  # 10:00 is in its window, but done
    assert len(reports(db)) == 1


def test_a_live_holders_lease_is_never_taken_even_at_the_same_moment(db):
    a, b = DatabaseLease(db, "host-a:1:aaaa"), DatabaseLease(db, "host-b:2:bbbb")
    assert a.hold(START) and not b.hold(START)
    assert not b.hold(START + timedelta(seconds=LEASE_SECONDS - 1))
    assert a.hold(START + timedelta(seconds=LEASE_SECONDS - 1))  # renewed: another minute
    assert not b.hold(START + timedelta(seconds=LEASE_SECONDS + 30))


def test_two_processes_taking_a_free_lease_at_once_get_one_holder(db):
    leases = [DatabaseLease(db, f"host-{i}:{i}:0000") for i in range(2)]
    results: dict[int, bool] = {}
    barrier = threading.Barrier(2)

    def take(i: int) -> None:
        barrier.wait()
        results[i] = leases[i].hold(START)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False, True]
    assert lease_holder(db, START) == next(lease.holder for lease in leases if lease.held)


def test_every_activity_row_of_a_scheduled_job_names_the_scheduler_that_ran_it(db):
    a = DatabaseLease(db, "host-a:1:aaaa")
    run_pass(db, HOURLY, START, a)
    (report,) = reports(db)
    assert report.metadata["via"]["channel"] == "scheduler"
    assert report.metadata["via"]["holder"] == "host-a:1:aaaa" and report.metadata["via"]["host"]


def test_a_loop_that_stops_gives_the_lease_up_for_the_standby(db):
    clock = {"now": START}
    lease = DatabaseLease(db, "host-a:1:aaaa")
    run_forever(db, HOURLY, clock=lambda: clock["now"], lease=lease, housekeeping=None,
                sleep=lambda s: clock.update(now=clock["now"] + timedelta(seconds=s)),
                should_stop=lambda: clock["now"] >= START + timedelta(minutes=2))
    assert len(reports(db)) == 1 and lease_holder(db, START) is None
    assert DatabaseLease(db, "host-b:2:bbbb").hold(clock["now"])


def test_schedule_once_twice_in_the_same_minute_runs_the_job_once_and_leaves_the_lease_free(db):
    monday_nine = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    first = run_due(db, {"weekly_report": "0 9 * * 1", "rebalance": "0 0 * * *"},
                    monday_nine + timedelta(seconds=10))
    again = run_due(db, {"weekly_report": "0 9 * * 1", "rebalance": "0 0 * * *"},
                    monday_nine + timedelta(seconds=40))
    assert [o.job for o in first.ran] == ["weekly_report"] and again.ran == []
    assert first.lease["holder"] != again.lease["holder"] and again.lease["held"]
    assert lease_holder(db, monday_nine) is None
    assert len(reports(db)) == 1


def test_schedule_once_while_another_scheduler_holds_the_lease_runs_nothing_and_says_so(db_url, db):
    at = datetime(2025, 1, 6, 9, 0, 20, tzinfo=UTC)
    assert DatabaseLease(db, "host-a:1:aaaa").hold(at - timedelta(seconds=10))
    result = CliRunner().invoke(app, ["--db", db_url, "schedule", "--once", "--at",
                                      at.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ran"] == [] and data["lease"]["held"] is False
    assert data["webhooks"] == {"skipped": "another scheduler holds the lease"}
    assert reports(db) == [] and lease_holder(db, at) == "host-a:1:aaaa"


def test_a_scheduler_that_cannot_reach_the_database_runs_nothing_and_carries_on(db):
    from db.engine import open_database

    gone = open_database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    lease = DatabaseLease(gone, "host-a:1:aaaa")
    assert run_pass(gone, HOURLY, START, lease) == [] and not lease.held
    assert run_pass(db, HOURLY, START, DatabaseLease(db, "host-b:2:bbbb"))  # the other runs it
