"""`python -m core experiment ...` on SQLite and PostgreSQL: the contract's --json fields, exit
codes and one-line refusals, and the schedule's `--once --at` switching a block."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta

from core.allocation.current import get_current_allocation
from core.experiments.design import verify_schedule
from core.platform_data.csv_import import import_csv
from db.engine import open_database
from db.types import utcnow
from tests.integration.cli_answers import ok, refused
from tests.integration.state import every_row

ARMS = "80/15/3/2,70/18/8/4"


def a_future_minute() -> datetime:
    """Two hours ahead at minute 17: no other job of the schedule fires then."""
    return (utcnow() + timedelta(hours=2)).replace(minute=17, second=0, microsecond=0)


def test_an_experiment_from_filing_to_stop_and_adoption_on_the_command_line(run, team_url):
    start = a_future_minute()
    filed = ok(run("experiment", "create", "--arms", ARMS, "--block-hours", "1", "--blocks", "4",
                   "--guardrail", "volume_per_day:-10", "--starts-at", start.isoformat(),
                   "--reasoning", "does the lottery pay?", "--by", "ann", "--json"))
    assert {"experiment_id", "status", "schedule_sha256", "starts_at", "ends_at",
            "minimum_detectable_effect_pct"} <= set(filed)
    assert filed["status"] == "proposed" and filed["starts_at"] == start.isoformat()
    assert filed["ends_at"] == (start + timedelta(hours=4)).isoformat()
    eid = filed["experiment_id"]
    first = ok(run("experiment", "review", eid, "--decision", "approved", "--by", "gus", "--json"))
    assert (first["status"], first["approvals"]) == ("proposed", 1)
    second = ok(run("experiment", "review", eid, "--decision", "approved", "--by", "gail",
                    "--notes", "go", "--json"))
    assert (second["status"], second["approvals"]) == ("approved", 2)
    # It waits the 24 h timelock of a major change: the start moved to a whole hour after it
    # (tests/integration/test_experiment_queue.py); the schedule fires inside its first block, at
    # minute 17, when no other job of the schedule fires.
    assert (second["start_moved_from"], second["timelock_hours"]) == (start.isoformat(), 24)
    moved = datetime.fromisoformat(second["starts_at"])
    assert moved.minute == 0 and moved > start + timedelta(hours=21)
    fire = moved + timedelta(minutes=17)
    [listed] = ok(run("experiment", "list", "--json"))
    assert {"experiment_id", "status", "arms", "starts_at", "ends_at"} <= set(listed)
    assert listed["status"] == "approved" and len(listed["arms"]) == 2

    tick = ok(run("schedule", "--once", "--at", fire.isoformat(), "--json"))
    [experiments] = [r for r in tick["ran"] if r["job"] == "experiments"]
    assert experiments["result"]["started"] == [eid]
    assert experiments["result"]["switched"][0]["block"] == 0
    again = ok(run("schedule", "--once", "--at", fire.isoformat(), "--json"))
    assert [r for r in again["ran"] if r["job"] == "experiments"] == []  # claimed: once

    shown = ok(run("experiment", "show", eid, "--json"))
    assert {"experiment_id", "status", "arms", "schedule_sha256", "blocks", "results"} <= set(shown)
    assert shown["status"] == "running" and "salt" not in shown and "schedule" not in shown
    [block] = shown["blocks"]
    assert {"index", "arm", "starts_at", "ends_at"} <= set(block)
    assert {"metric", "arms", "effects", "verdict"} <= set(shown["results"])
    assert shown["results"]["verdict"] == "not enough blocks yet"
    database = open_database(team_url)
    try:
        assert get_current_allocation(database).split.label() == ARMS.split(",")[block["arm"]]
    finally:
        database.engine.dispose()

    stopped = ok(run("experiment", "stop", eid, "--by", "gwen", "--reason", "enough", "--json"))
    assert stopped == {"experiment_id": eid, "status": "stopped"}
    ended = ok(run("experiment", "show", eid, "--json"))
    assert verify_schedule(ended["schedule_sha256"], ended["salt"], ended["schedule"])
    assert ended["schedule"][0] == block["arm"]
    # One block of one arm is no evidence: nothing to adopt (tests/integration/test_experiments.py
    # adopts the arm of an experiment that ran).
    refused(run("experiment", "adopt", eid, "--arm", "1", "--by", "ann", "--json"), 3,
            "has no evidence to adopt an arm on (not enough blocks yet)")
    assert ok(run("pending", "--json")) == []


def test_refusals_name_the_field_exit_with_the_cli_codes_and_write_nothing(run, team_url):
    database = open_database(team_url)
    before = every_row(database)
    refused(run("experiment", "create", "--arms", "80/15/3/2,95/3/1/1", "--block-hours", "24",
                "--blocks", "4", "--reasoning", "x", "--by", "ann", "--json"), 3,
            "arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90")
    refused(run("experiment", "create", "--arms", ARMS, "--block-hours", "0", "--blocks", "4",
                "--reasoning", "x", "--by", "ann", "--json"), 3, "block_hours:")
    refused(run("experiment", "create", "--arms", ARMS, "--block-hours", "24", "--blocks", "4",
                "--starts-at", "2020-01-01T00:00:00Z", "--reasoning", "x", "--by", "ann",
                "--json"), 3, "starts_at: ")
    refused(run("experiment", "review", "no-such-id", "--decision", "approved", "--by", "gus",
                "--json"), 4, "experiment:")
    refused(run("experiment", "show", "5b8f0a2e-0000-4000-8000-000000000000", "--json"), 4,
            "experiment: no experiment")
    refused(run("experiment", "simulate", "--arms", ARMS, "--block-hours", "24", "--blocks", "4",
                "--from", "2026-01-01", "--json"), 3, "from: there are no recorded figures")
    assert every_row(database) == before
    database.engine.dispose()
    usage = run("experiment", "stop", "5b8f0a2e-0000-4000-8000-000000000000", "--by", "gus")
    assert usage.exit_code == 2  # --reason is required


def test_simulate_reports_power_from_the_recorded_figures_and_create_the_detectable_effect(
        run, team_url, tmp_path):
    database = open_database(team_url)
    rng = random.Random(11)
    first = datetime.combine(utcnow().date() - timedelta(days=40), time(), tzinfo=UTC)
    rows = [f"S{d}x{n},Token {d} {n},0.5,100.00,"
            f"{(first + timedelta(days=d, minutes=n)).isoformat()}"
            for d in range(40) for n in range(20 + rng.randint(-3, 3))]
    path = tmp_path / "tokens.csv"
    path.write_text("\n".join(["symbol,name,price,volume_24h,created_at", *rows]) + "\n")
    import_csv(database, "tokens", path)
    before = every_row(database)
    power = ok(run("experiment", "simulate", "--arms", ARMS, "--block-hours", "24", "--blocks",
                   "20", "--from", first.date().isoformat(), "--effect-pct", "30", "--runs", "40",
                   "--seed", "2", "--json"))
    assert {"runs", "effect_pct", "mean_change_pct", "coverage_pct", "power_pct",
            "minimum_detectable_effect_pct"} <= set(power)
    assert power["runs"] == 40 and power["power_pct"] > 80
    assert every_row(database) == before
    database.engine.dispose()
    filed = ok(run("experiment", "create", "--arms", ARMS, "--block-hours", "24", "--blocks",
                   "8", "--reasoning", "power", "--by", "ann", "--json"))
    assert filed["minimum_detectable_effect_pct"] > 0
