"""The scheduler's pure parts: fire times, what is due, and surviving a failing job."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.base.errors import ValidationFailed
from core.jobs.schedule import due_jobs, next_runs, run_forever, run_job, run_once

SEED_CRONS = {"rebalance": "0 0 * * *", "weekly_report": "0 9 * * 1"}
MONDAY_9 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # 2025-01-06 is a Monday


def test_next_runs_gives_midnight_and_monday_nine_utc():
    assert next_runs(datetime(2025, 1, 3, 15, 30, tzinfo=UTC), SEED_CRONS) == {
        "rebalance": datetime(2025, 1, 4, 0, 0, tzinfo=UTC),
        "weekly_report": MONDAY_9}


def test_a_fire_time_is_never_now_itself():
    assert next_runs(MONDAY_9, SEED_CRONS)["weekly_report"] == MONDAY_9 + timedelta(days=7)


def test_next_runs_are_in_utc_whatever_zone_now_is_given_in():
    paris = datetime(2025, 1, 6, 10, 30, tzinfo=timezone(timedelta(hours=1)))  # 09:30 UTC
    runs = next_runs(paris, SEED_CRONS)
    assert runs["rebalance"] == datetime(2025, 1, 7, 0, 0, tzinfo=UTC)
    assert all(r.utcoffset() == timedelta(0) for r in runs.values())


def test_a_bad_cron_expression_is_refused_naming_the_job():
    with pytest.raises(ValidationFailed, match="rebalance: 'every day' is not a valid cron"):
        next_runs(MONDAY_9, {"rebalance": "every day"})


@pytest.mark.parametrize(("now", "due"), [
    (MONDAY_9, {"weekly_report"}),
    (MONDAY_9 + timedelta(seconds=59), {"weekly_report"}),
    (MONDAY_9 + timedelta(minutes=1), set()),
    (MONDAY_9 - timedelta(microseconds=1), set()),
    (datetime(2025, 1, 7, 0, 0, 5, tzinfo=UTC), {"rebalance"}),
])
def test_a_job_is_due_within_the_minute_after_its_fire_time(now, due):
    assert set(due_jobs(now, SEED_CRONS)) == due


def test_a_failing_job_is_logged_and_returned_not_raised(caplog):
    def broken(db, fired_at):
        raise RuntimeError("the advisor is down")

    with caplog.at_level(logging.ERROR, logger="core.schedule"):
        outcome = run_job("rebalance", None, MONDAY_9, {"rebalance": broken})
    assert not outcome.ok and outcome.error == "RuntimeError: the advisor is down"
    assert "rebalance: failed: the advisor is down" in caplog.text


def test_run_once_runs_only_the_due_jobs_with_their_fire_time():
    seen = []
    jobs = {name: (lambda db, at, name=name: seen.append((name, at)) or name) for name in SEED_CRONS}
    outcomes = run_once(None, SEED_CRONS, MONDAY_9 + timedelta(seconds=20), jobs)
    assert seen == [("weekly_report", MONDAY_9)]
    assert [o.as_json()["result"] for o in outcomes] == ["weekly_report"]


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.naps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_the_loop_runs_each_job_at_its_time_and_survives_failures():
    clock = FakeClock(datetime(2025, 1, 5, 23, 59, 30, tzinfo=UTC))  # Sunday night
    ran: list[tuple[str, datetime]] = []

    def record(name: str, fail: bool):
        def job(db, at):
            ran.append((name, at))
            if fail:
                raise RuntimeError("boom")
        return job

    jobs = {"rebalance": record("rebalance", True), "weekly_report": record("weekly_report", False)}
    run_forever(None, SEED_CRONS, clock=clock, sleep=clock.sleep, jobs=jobs,
                should_stop=lambda: clock.now >= datetime(2025, 1, 7, 0, 30, tzinfo=UTC),
                housekeeping=None)
    assert ran == [("rebalance", datetime(2025, 1, 6, 0, 0, tzinfo=UTC)),
                   ("weekly_report", MONDAY_9),
                   ("rebalance", datetime(2025, 1, 7, 0, 0, tzinfo=UTC))]
    assert max(clock.naps) <= 60


def test_between_jobs_the_loop_delivers_webhooks_at_least_every_twenty_seconds():
    clock = FakeClock(datetime(2025, 1, 5, 12, 0, tzinfo=UTC))  # hours from any job
    passes: list[datetime] = []
    run_forever(None, SEED_CRONS, clock=clock, sleep=clock.sleep, jobs={},
                should_stop=lambda: clock.now >= datetime(2025, 1, 5, 12, 5, tzinfo=UTC),
                housekeeping=lambda db, now: passes.append(now))
    assert len(passes) == 15  # 5 minutes, a pass every 20 s
    assert max(b - a for a, b in zip(passes, passes[1:])) == timedelta(seconds=20)


def test_a_failing_delivery_pass_is_logged_and_the_scheduler_goes_on():
    from core.jobs.schedule import deliver_webhooks

    assert deliver_webhooks(None, MONDAY_9)["error"].startswith("AttributeError")
