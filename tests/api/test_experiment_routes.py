"""The experiment routes through HTTP on SQLite and PostgreSQL: the CLI's `experiment ... --json`
documents, who may do what (checked before the body), each refusal as problem details naming the
field, and nothing written by a refused request."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import sqlalchemy as sa

from api import routes
from api.schemas import SIMULATION_RUNS_OVER_HTTP
from core.allocation.current import get_current_allocation
from core.allocation.split import Split
from core.experiments.design import verify_schedule
from core.experiments.service import show_experiment
from core.governance.policy_store import set_policy
from core.governance.second_factor import enroll_totp
from core.jobs import webhooks
from core.platform_data.csv_import import import_csv
from db.models import OutboxEvent
from db.types import utcnow
from tests.api.test_routes import problem_of
from tests.integration import state
from tests.integration.test_experiments import run_days, tick

EXPERIMENTS = "/api/v1/experiments"
CONTROL = {"reinvestment": 80, "dao": 15, "lucky": 3, "creator": 2}
OTHER = {"reinvestment": 70, "dao": 18, "lucky": 8, "creator": 4}
DESIGN = {"arms": [CONTROL, OTHER], "block_hours": 24, "blocks": 4,
          "reasoning": "does a bigger lottery bring more launches?"}
UNKNOWN = "00000000-0000-0000-0000-000000000000"
ROOT = Path(__file__).resolve().parents[2]


def every_row(db) -> dict:
    """Every row of every table but the tokens' own (each request notes its token's last use)."""
    return {t: rows for t, rows in state.every_row(db).items() if t != "api_tokens"}


def file_experiment(api, who: str = "ann", **changes) -> dict:
    response = api.post(who, EXPERIMENTS, json={**DESIGN, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def approve(api, experiment_id: str) -> dict:
    url = f"{EXPERIMENTS}/{experiment_id}/reviews"
    first = api.post("gus", url, json={"decision": "approved"})
    assert (first.status_code, first.json()["status"]) == (200, "proposed"), first.text
    second = api.post("gil", url, json={"decision": "approved", "notes": "go"})
    assert second.status_code == 200, second.text
    return second.json()


def record_days(api, tmp_path: Path, days: int = 40) -> datetime:
    """`days` days of launches up to yesterday; returns the first day's midnight."""
    rng = random.Random(11)
    first = datetime.combine(utcnow().date() - timedelta(days=days), time(), tzinfo=UTC)
    rows = [f"S{d}x{n},Token {d} {n},0.5,100.00,"
            f"{(first + timedelta(days=d, minutes=n)).isoformat()}"
            for d in range(days) for n in range(20 + rng.randint(-3, 3))]
    path = tmp_path / "tokens.csv"
    path.write_text("\n".join(["symbol,name,price,volume_24h,created_at", *rows]) + "\n")
    import_csv(api.db, "tokens", path)
    return first


# --- filing and reading ------------------------------------------------------------------------

def test_an_analyst_files_an_experiment_and_a_viewer_reads_it_as_the_cli_prints_it(api):
    filed = file_experiment(api)
    assert filed["status"] == "proposed" and len(filed["schedule_sha256"]) == 64
    assert {"experiment_id", "starts_at", "ends_at", "minimum_detectable_effect_pct"} <= set(filed)
    starts = datetime.fromisoformat(filed["starts_at"])
    assert starts.minute == 0 and datetime.fromisoformat(filed["ends_at"]) == starts + 4 * \
        timedelta(days=1)
    eid = filed["experiment_id"]

    [listed] = api.get("vic", EXPERIMENTS).json()
    assert (listed["experiment_id"], listed["status"], listed["arms"]) == (eid, "proposed",
                                                                          [CONTROL, OTHER])
    shown = api.get("vic", f"{EXPERIMENTS}/{eid}")
    assert shown.status_code == 200
    assert shown.json() == show_experiment(api.db, eid).as_json()
    assert shown.json()["blocks"] == [] and "salt" not in shown.json()


def test_an_experiment_s_design_is_refused_naming_each_field_and_nothing_is_written(api):
    before = every_row(api.db)
    cases = [
        ({"arms": [CONTROL, {**OTHER, "dao": 18.555}]},
         "arms: arm 2: dao: 18.555 has more than 2 decimal places"),
        ({"arms": [CONTROL, {**OTHER, "lottery": 8}]}, "arms: arm 2 is not a split"),
        ({"arms": [CONTROL, {"reinvestment": 70, "dao": 18, "lucky": 8}]},
         "arms: arm 2: creator: missing"),
        ({"arms": [CONTROL, {**OTHER, "creator": 5}]},
         "arms: arm 2: the four sum to 101, not exactly 100"),
        ({"arms": [CONTROL]}, "arms: 1 given; an experiment has 2 to 4"),
        ({"blocks": 5}, "blocks: 5 is not a multiple of the 2 arms"),
        ({"block_hours": "x"}, "block_hours: 'x' is not a whole number"),
        ({"burn_in_hours": 24}, "burn_in_hours: 24 leaves nothing of a block of 24 h"),
        ({"metric": "likes"}, "metric: 'likes' is not one of tokens_per_day"),
        ({"guardrails": ["volume_per_day:10"]},
         "guardrail: 'volume_per_day:10' is not METRIC:-PCT"),
        ({"starts_at": "2020-01-01T00:00:00Z"}, "starts_at: 2020-01-01T00:00:00+00:00 is not in "
                                                "the future"),
        ({"reasoning": " "}, "reasoning:"),
        ({"typo": 1}, "typo: is not a field of this request"),
    ]
    for change, message in cases:
        errors = problem_of(api.post("ann", EXPERIMENTS, json={**DESIGN, **change}), 422)
        assert any(e.startswith(message) for e in errors), (change, errors)
    body = {k: v for k, v in DESIGN.items() if k != "reasoning"}
    assert problem_of(api.post("ann", EXPERIMENTS, json=body), 422) == ["reasoning: missing"]
    problem_of(api.post("ann", EXPERIMENTS, content=b'{"arms": [', headers={
        "Content-Type": "application/json"}), 400)
    assert every_row(api.db) == before


def test_an_arm_outside_the_policy_is_a_409_naming_the_arm(api):
    errors = problem_of(api.post("ann", EXPERIMENTS, json={
        **DESIGN, "arms": [CONTROL, {"reinvestment": 95, "dao": 3, "lucky": 1, "creator": 1}]}),
        409)
    assert "arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90" in errors


def test_who_may_do_what_is_checked_before_the_body(api):
    before = every_row(api.db)
    bad = {"arms": "eighty", "typo": 1}
    errors = problem_of(api.post("vic", EXPERIMENTS, json=bad), 403)
    assert errors == ["by: vic is a viewer; filing an experiment needs the analyst role or higher"]
    errors = problem_of(api.post("vic", f"{EXPERIMENTS}/simulate", json=bad), 403)
    assert errors[0].endswith("simulating an experiment needs the analyst role or higher")
    for action in ("reviews", "stop"):
        errors = problem_of(api.post("ann", f"{EXPERIMENTS}/{UNKNOWN}/{action}", json=bad), 403)
        assert errors[0].startswith("by: ann is an analyst;") and "the governor role" in errors[0]
    for response in (api.client.post(EXPERIMENTS, json=bad), api.client.get(EXPERIMENTS),
                     api.client.get(f"{EXPERIMENTS}/{UNKNOWN}"),
                     api.client.post(f"{EXPERIMENTS}/{UNKNOWN}/stop", json=bad)):
        problem_of(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert every_row(api.db) == before


def test_an_unknown_experiment_is_404_on_every_route(api):
    for response in (api.get("vic", f"{EXPERIMENTS}/{UNKNOWN}"),
                     api.get("vic", f"{EXPERIMENTS}/not-an-id"),
                     api.post("gus", f"{EXPERIMENTS}/{UNKNOWN}/reviews",
                              json={"decision": "approved"}),
                     api.post("gus", f"{EXPERIMENTS}/{UNKNOWN}/stop", json={"reason": "no"})):
        [error] = problem_of(response, 404)
        assert error.startswith("experiment: ")


# --- governance ---------------------------------------------------------------------------------

def test_two_governors_approve_it_and_it_waits_the_major_timelock(api):
    filed = file_experiment(api)  # starts at the next whole hour: sooner than 24 h
    eid = filed["experiment_id"]
    asked = utcnow()
    approved = approve(api, eid)
    assert (approved["status"], approved["approvals"], approved["approvals_required"]) == (
        "approved", 2, 2)
    assert approved["timelock_hours"] == 24 and approved["start_moved_from"] == filed["starts_at"]
    moved = datetime.fromisoformat(approved["starts_at"])
    assert moved.minute == moved.second == 0
    assert asked + timedelta(hours=24) <= moved < utcnow() + timedelta(hours=25)
    assert datetime.fromisoformat(approved["ends_at"]) == moved + 4 * timedelta(days=1)
    shown = api.get("vic", f"{EXPERIMENTS}/{eid}").json()
    assert (shown["status"], shown["starts_at"], shown["schedule_sha256"]) == (
        "approved", approved["starts_at"], filed["schedule_sha256"])
    assert shown["approvals"] == ["gus", "gil"]
    [logged] = api.get("vic", "/api/v1/activity", params={"type": "experiment_approved"}).json()
    assert logged["metadata"]["start_moved_from"] == filed["starts_at"]
    assert logged["metadata"]["via"]["channel"] == "api" and "moved from" in logged["description"]


def test_the_filer_cannot_review_and_no_governor_reviews_twice(api):
    eid = file_experiment(api, "gus")["experiment_id"]  # a governor may file, too
    errors = problem_of(api.post("gus", f"{EXPERIMENTS}/{eid}/reviews",
                                 json={"decision": "approved"}), 403)
    assert "four-eyes" in errors[0]
    assert api.post("gil", f"{EXPERIMENTS}/{eid}/reviews",
                    json={"decision": "approved"}).status_code == 200
    problem_of(api.post("gil", f"{EXPERIMENTS}/{eid}/reviews", json={"decision": "approved"}), 409)
    problem_of(api.post("ada", f"{EXPERIMENTS}/{eid}/reviews", json={"decision": "maybe"}), 422)
    rejected = api.post("ada", f"{EXPERIMENTS}/{eid}/reviews",
                        json={"decision": "rejected", "notes": "not now"}).json()
    assert (rejected["status"], rejected["start_moved_from"]) == ("rejected", None)


def test_a_review_needs_a_current_code_when_the_policy_requires_totp(api):
    uri = enroll_totp(api.db, "gus", by="gus").otpauth_uri
    totp = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    set_policy(api.db, "require_totp", "on", by="ada")
    eid = file_experiment(api)["experiment_id"]
    url = f"{EXPERIMENTS}/{eid}/reviews"
    [error] = problem_of(api.post("gus", url, json={"decision": "approved"}), 403)
    assert error == ("totp: reviewing an experiment needs a current code from your "
                     "authenticator app")
    reviewed = api.post("gus", url, json={"decision": "approved", "totp": totp.now()})
    assert (reviewed.status_code, reviewed.json()["approvals"]) == (200, 1)


def test_approval_is_refused_when_its_moved_time_would_overlap_another_experiment(api):
    first = file_experiment(api, starts_at=(utcnow() + timedelta(days=2)).replace(
        minute=0, second=0, microsecond=0).isoformat(), block_hours=1)
    assert approve(api, first["experiment_id"])["start_moved_from"] is None  # past the timelock
    # Filed for the next hours, it does not overlap the first; moved behind the timelock it would.
    second = file_experiment(api, block_hours=6, blocks=4)
    assert api.post("gus", f"{EXPERIMENTS}/{second['experiment_id']}/reviews",
                    json={"decision": "approved"}).status_code == 200
    before = every_row(api.db)
    [error] = problem_of(api.post("gil", f"{EXPERIMENTS}/{second['experiment_id']}/reviews",
                                  json={"decision": "approved"}), 409)
    assert "(moved by the 24 h timelock from" in error
    assert f"overlaps experiment {first['experiment_id']} (approved" in error
    assert every_row(api.db) == before


def test_any_governor_stops_a_queued_experiment_with_a_reason_and_it_never_starts(api):
    filed = file_experiment(api)
    eid = filed["experiment_id"]
    approve(api, eid)
    url = f"{EXPERIMENTS}/{eid}/stop"
    problem_of(api.post("gus", url, json={"reason": " "}), 422)
    problem_of(api.post("gus", url, json={}), 422)
    live = get_current_allocation(api.db).split
    stopped = api.post("ada", url, json={"reason": "the launch calendar changed"})
    assert stopped.status_code == 200
    assert stopped.json() == {"experiment_id": eid, "status": "stopped"}
    shown = api.get("vic", f"{EXPERIMENTS}/{eid}").json()
    assert (shown["stopped_by"], shown["stop_reason"]) == ("ada", "the launch calendar changed")
    assert verify_schedule(shown["schedule_sha256"], shown["salt"], shown["schedule"])
    assert shown["blocks"] == [] and get_current_allocation(api.db).split == live
    problem_of(api.post("gus", url, json={"reason": "again"}), 409)  # ended already


# --- power before starting ----------------------------------------------------------------------

SIMULATION = {"arms": [CONTROL, OTHER], "block_hours": 24, "blocks": 20, "effect_pct": 30,
              "runs": 40, "seed": 2}


def test_an_analyst_simulates_the_power_of_a_design_and_nothing_is_written(api, tmp_path):
    first = record_days(api, tmp_path)
    before = every_row(api.db)
    answer = api.post("ann", f"{EXPERIMENTS}/simulate",
                      json={**SIMULATION, "from": first.date().isoformat()})
    assert answer.status_code == 200, answer.text
    power = answer.json()
    assert (power["runs"], power["effect_pct"]) == (40, 30) and power["power_pct"] > 80
    assert {"mean_change_pct", "coverage_pct", "minimum_detectable_effect_pct"} <= set(power)
    assert every_row(api.db) == before


def test_a_simulation_is_bounded_over_http_and_one_runs_at_a_time(api, tmp_path):
    url = f"{EXPERIMENTS}/simulate"
    errors = problem_of(api.post("ann", url, json={**SIMULATION, "from": "2026-01-01",
                                                   "runs": SIMULATION_RUNS_OVER_HTTP + 1}), 422)
    assert errors == [f"runs: {SIMULATION_RUNS_OVER_HTTP + 1} is outside 20.."
                      f"{SIMULATION_RUNS_OVER_HTTP}"]
    assert problem_of(api.post("ann", url, json=SIMULATION), 422) == ["from: missing"]
    errors = problem_of(api.post("ann", url, json={**SIMULATION, "from": "2026-01-01"}), 422)
    assert errors[0].startswith("from: there are no recorded figures of tokens_per_day")
    assert routes.ONE_SIMULATION.acquire(blocking=False)  # another simulation is running
    try:
        busy = api.post("ann", url, json={**SIMULATION, "from": "2026-01-01"})
        assert problem_of(busy, 429) == [routes.SIMULATION_BUSY]
        assert busy.headers["Retry-After"] == str(routes.SIMULATION_RETRY_SECONDS)
    finally:
        routes.ONE_SIMULATION.release()
    assert f"at most {SIMULATION_RUNS_OVER_HTTP:,} runs" in (ROOT / "README.md").read_text()


# --- adopting an arm ----------------------------------------------------------------------------

DAY = timedelta(days=1)


def finished(api, tmp_path: Path) -> str:
    """An experiment filed and approved over HTTP for three days ahead, then run to its end on a
    simulated clock (four daily blocks, the schedule's job at each midnight): the other arm
    brings half as many launches again."""
    start = datetime.combine(utcnow().date() + 3 * DAY, time(), tzinfo=UTC)
    eid = file_experiment(api, starts_at=start.isoformat())["experiment_id"]
    approve(api, eid)
    other = Split.from_mapping(OTHER).label()
    run_days(api.db, tmp_path, start, 4, lambda split: 30 if split == other else 20)
    tick(api.db, start + 4 * DAY)
    assert api.get("vic", f"{EXPERIMENTS}/{eid}").json()["status"] == "finished"
    return eid


def adopt_url(experiment_id: str) -> str:
    return f"{EXPERIMENTS}/{experiment_id}/adopt"


def test_an_analyst_adopts_an_ended_experiment_s_arm_as_an_ordinary_proposal(
        api, tmp_path, private_webhooks_allowed):
    eid = finished(api, tmp_path)
    webhooks.add_endpoint(api.db, "http://127.0.0.1:9/hook", "all", by="ada")  # never delivered
    adopted = api.post("ann", adopt_url(eid), json={"arm": 1})
    assert adopted.status_code == 201, adopted.text
    body = adopted.json()
    assert body == {"proposal_id": body["proposal_id"], "experiment_id": eid, "arm": 1}

    shown = api.get("vic", f"/api/v1/proposals/{body['proposal_id']}").json()
    assert (shown["status"], shown["proposed_by"], shown["proposer_username"]) == (
        "proposed", "manual", "ann")  # the token's account files it
    assert {k: shown[k] for k in OTHER} == OTHER
    assert eid in shown["reasoning"] and "Verdict:" in shown["reasoning"]
    for kind in ("experiment_adopted", "allocation_proposed"):
        [logged] = api.get("vic", "/api/v1/activity", params={"type": kind}).json()
        assert logged["metadata"]["via"] == {"channel": "api", "token_id": api.token_ids["ann"]}
    # The blocks' switches are in the log as the experiment's rows (their label documented).
    history = api.get("vic", "/api/v1/history")
    assert history.status_code == 200, history.text
    assert "experiment" in {row["proposed_by"] for row in history.json()}
    # The CLI's adopt announces what filing any proposal does, and no event of its own.
    with api.db.reads() as session:
        events = [e.type for e in session.scalars(sa.select(OutboxEvent))]
    assert events == ["proposal.filed"]


def test_adopting_a_bad_arm_or_too_early_is_refused_and_files_nothing(api, tmp_path):
    eid = finished(api, tmp_path)
    later = (utcnow() + 20 * DAY).replace(minute=0, second=0, microsecond=0)
    waiting = file_experiment(api, starts_at=later.isoformat())["experiment_id"]
    before = every_row(api.db)
    [error] = problem_of(api.post("ann", adopt_url(waiting), json={"arm": 1}), 409)
    assert error.startswith(f"experiment: {waiting}") and "only finished or stopped" in error
    cases = [({"arm": 2}, 422, f"arm: 2 is not an arm of experiment {eid} (0..1, the control "
                               f"being 0)"),
             ({"arm": 4}, 422, "arm: 4 is outside 0..3"),
             ({"arm": -1}, 422, "arm: -1 is outside 0..3"),
             ({"arm": "one"}, 422, "arm: 'one' is not a whole number"),
             ({}, 422, "arm: missing"),
             ({"arm": 1, "by": "gus"}, 422, "by: is not a field of this request")]
    for body, status, message in cases:
        errors = problem_of(api.post("ann", adopt_url(eid), json=body), status)
        assert message in errors, (body, errors)
    problem_of(api.post("ann", adopt_url(eid), content=b'{"arm": ',
                        headers={"Content-Type": "application/json"}), 400)
    assert every_row(api.db) == before
    assert api.get("vic", "/api/v1/proposals").json() == []


def test_adopting_needs_an_analyst_and_a_known_experiment(api, tmp_path):
    before = every_row(api.db)
    errors = problem_of(api.post("vic", adopt_url(UNKNOWN), json={"arm": "x", "typo": 1}), 403)
    assert errors == ["by: vic is a viewer; adopting an experiment's arm needs the analyst role "
                      "or higher"]
    problem_of(api.client.post(adopt_url(UNKNOWN), json={"arm": 1}), 401)
    for url in (adopt_url(UNKNOWN), adopt_url("not-an-id")):
        [error] = problem_of(api.post("ann", url, json={"arm": 1}), 404)
        assert error.startswith("experiment: ")
    assert every_row(api.db) == before
