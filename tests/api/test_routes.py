"""Every route of the HTTP contract through FastAPI's TestClient, on SQLite and PostgreSQL:
the CLI's documents, and each refusal with its status and nothing written."""

from __future__ import annotations

import json

import pytest

from core.governance import policy_store
from core.proposals import lifecycle
from db import migrate
from tests.integration.state import snapshot

PROPOSAL = {"reinvestment": 75, "dao": 18, "lucky": 4, "creator": 3, "reasoning": "more to the DAO"}


def problem_of(response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert body["detail"] == "; ".join(body["errors"])
    return body["errors"]


def file_proposal(api, who: str = "ann", **changes) -> str:
    response = api.post(who, "/api/v1/proposals", json={**PROPOSAL, **changes})
    assert response.status_code == 201, response.text
    return response.json()["proposal_id"]


# --- health and docs ---------------------------------------------------------------------------

def test_health_answers_without_a_token_with_the_schema_revision(api):
    response = api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["revision"] == migrate.head_revision()  # whichever migration is the newest


def test_the_docs_and_the_openapi_document_list_every_route_without_a_token(api):
    assert api.client.get("/docs").status_code == 200
    paths = set(api.client.get("/openapi.json").json()["paths"])
    assert paths >= {"/health", "/functions/v1/profit-rebalancer", "/functions/v1/manage-profits",
                     "/api/v1/allocation", "/api/v1/allocation/amounts", "/api/v1/proposals",
                     "/api/v1/proposals/{proposal_id}", "/api/v1/proposals/{proposal_id}/reviews",
                     "/api/v1/history", "/api/v1/activity", "/api/v1/metrics", "/api/v1/compare"}


# --- reads ---------------------------------------------------------------------------------------

def test_the_allocation_is_the_current_split_as_the_cli_prints_it(api):
    body = api.get("vic", "/api/v1/allocation").json()
    assert body == lifecycle.get_current_allocation(api.db).as_json()
    assert (body["reinvestment"], body["dao"], body["lucky"], body["creator"]) == (80, 15, 3, 2)
    assert body["source"] == "database"


def test_amounts_add_up_to_the_profit_exactly(api):
    body = api.get("vic", "/api/v1/allocation/amounts", params={"profit": "1000.03"}).json()
    assert body["total"] == "1000.03"
    assert sum(map(float, (body[k] for k in ("reinvestment", "dao", "lucky", "creator")))) \
        == pytest.approx(1000.03)
    assert body["reinvestment"] == "800.02" and body["allocation_id"]


def test_amounts_of_a_profit_with_an_extra_decimal_are_refused_naming_the_field(api):
    errors = problem_of(api.get("vic", "/api/v1/allocation/amounts", params={"profit": "1.001"}), 422)
    assert errors == ["profit: 1.001 has more than 2 decimal places"]


def test_pending_proposals_are_listed_newest_first_and_other_statuses_on_request(api):
    first = file_proposal(api)
    second = file_proposal(api, reinvestment=76, dao=17)
    pending = api.get("vic", "/api/v1/proposals").json()
    assert [p["id"] for p in pending] == [second, first]
    assert {"id", "reinvestment", "dao", "lucky", "creator", "reasoning", "confidence",
            "proposed_by", "timestamp"} <= set(pending[0])
    active = api.get("vic", "/api/v1/proposals", params={"status": "active"}).json()
    assert [p["status"] for p in active] == ["active"]
    errors = problem_of(api.get("vic", "/api/v1/proposals", params={"status": "maybe"}), 422)
    assert errors[0].startswith("status: 'maybe' is not one of pending, proposed")


def test_one_proposal_is_its_story_as_proposal_show_prints_it_and_an_unknown_one_is_404(api):
    proposal_id = file_proposal(api)
    story = api.get("vic", f"/api/v1/proposals/{proposal_id}").json()
    assert story == lifecycle.get_proposal_story(api.db, proposal_id).as_json()
    assert story["id"] == proposal_id and story["status"] == "proposed"
    assert [e["event"] for e in story["timeline"]][:1] == ["filed"]
    errors = problem_of(api.get("vic", "/api/v1/proposals/00000000-0000-0000-0000-000000000000"), 404)
    assert errors == ["proposal: no proposal with id 00000000-0000-0000-0000-000000000000"]


def test_history_activity_metrics_and_compare_are_the_cli_documents(api):
    file_proposal(api)
    history = api.get("vic", "/api/v1/history", params={"limit": 1}).json()
    assert len(history) == 1 and history[0]["status"] == "proposed"
    assert history == [r.as_json() for r in lifecycle.get_allocation_history(api.db, 1)]
    activity = api.get("vic", "/api/v1/activity", params={"type": "allocation_proposed"}).json()
    assert [a["activity_type"] for a in activity] == ["allocation_proposed"]
    metrics = api.get("vic", "/api/v1/metrics").json()
    assert {"growth_rate_pct", "engagement_score", "dao_balance_usd", "avg_token_price_usd",
            "tokens_launched_7d", "days_of_data", "inputs"} <= set(metrics)
    periods = api.get("vic", "/api/v1/compare", params={"from": "2026-01-01"}).json()
    assert isinstance(periods, list) and periods[0]["split"] == "80/15/3/2"


def test_a_bad_query_value_is_422_naming_the_field(api):
    assert problem_of(api.get("vic", "/api/v1/history", params={"limit": 0}), 422)[0].startswith("limit:")
    assert problem_of(api.get("vic", "/api/v1/compare", params={"from": "May"}), 422) == [
        "from: 'May' is not an ISO 8601 date (YYYY-MM-DD)"]
    assert problem_of(api.get("vic", "/api/v1/compare",
                              params={"from": "2026-02-01", "to": "2026-01-01"}), 422) == [
        "to: 2026-01-01 is before from: 2026-02-01"]


def test_an_unknown_path_is_a_404_problem(api):
    problem_of(api.get("vic", "/api/v1/nothing"), 404)


# --- proposals and reviews -------------------------------------------------------------------------

def test_an_analyst_files_a_proposal_and_gets_its_id_and_warnings(api):
    response = api.post("ann", "/api/v1/proposals", json={**PROPOSAL, "confidence": 0.4})
    assert response.status_code == 201
    body = response.json()
    assert body["warnings"] and body["warnings"][0].startswith("confidence:")
    row = lifecycle.get_proposal(api.db, body["proposal_id"])
    assert row.status == "proposed" and row.proposer_username == "ann"


def test_a_viewer_may_not_file_a_proposal_and_nothing_is_written(api):
    before = snapshot(api.db)
    errors = problem_of(api.post("vic", "/api/v1/proposals", json=PROPOSAL), 403)
    assert errors == ["by: vic is a viewer; filing a proposal needs the analyst role or higher"]
    assert snapshot(api.db) == before


@pytest.mark.parametrize("changes, message", [
    ({"dao": float("nan")}, "dao: nan is not a finite number"),
    ({"dao": "eighteen"}, "dao: 'eighteen' is not a number"),
    ({"dao": 18.005, "reinvestment": 74.995}, "dao: 18.005 has more than 2 decimal places"),
    ({"dao": 31, "reinvestment": 62}, "dao: 31 is above the maximum 30"),
    ({"confidence": 2}, "confidence: 2 is outside 0..1"),
    ({"proposed_by": "robot"}, "proposed_by: 'robot' is not one of ai, manual, system"),
    ({"reasoning": "  "}, "reasoning: must not be empty"),
    ({"dao_pct": 18}, "dao_pct: is not a field of this request"),
])
def test_each_kind_of_bad_proposal_is_422_naming_the_field_and_writes_nothing(api, changes, message):
    before = snapshot(api.db)
    # Sent as text: NaN is not JSON, but Python's encoder writes it and some clients do too.
    response = api.post("ann", "/api/v1/proposals", content=json.dumps({**PROPOSAL, **changes}),
                        headers={"Content-Type": "application/json"})
    assert message in problem_of(response, 422)
    assert snapshot(api.db) == before


def test_a_missing_field_is_422_naming_it(api):
    body = {k: v for k, v in PROPOSAL.items() if k != "lucky"}
    assert problem_of(api.post("ann", "/api/v1/proposals", json=body), 422) == ["lucky: missing"]


def test_malformed_json_is_400_and_writes_nothing(api):
    before = snapshot(api.db)
    response = api.post("ann", "/api/v1/proposals", content=b'{"dao": 18,',
                        headers={"Content-Type": "application/json"})
    assert problem_of(response, 400) == ["body: not valid JSON"]
    assert snapshot(api.db) == before


def test_a_governor_approves_and_the_split_changes(api):
    proposal_id = file_proposal(api)
    response = api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews",
                        json={"decision": "approved", "notes": "fine"})
    assert response.status_code == 200
    assert response.json() == {"proposal_id": proposal_id, "status": "active", "approvals": 1,
                               "approvals_required": 1, "tier": "minor",
                               "executes_at": None}
    assert api.get("vic", "/api/v1/allocation").json()["dao"] == 18


def test_an_analyst_may_not_review(api):
    proposal_id = file_proposal(api)
    before = snapshot(api.db)
    errors = problem_of(api.post("ann", f"/api/v1/proposals/{proposal_id}/reviews",
                                 json={"decision": "approved"}), 403)
    assert errors == ["by: ann is an analyst; reviewing a proposal needs the governor role or higher"]
    assert snapshot(api.db) == before


def test_the_four_eyes_rule_is_403(api):
    proposal_id = file_proposal(api, who="gus")
    before = snapshot(api.db)
    errors = problem_of(api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews",
                                 json={"decision": "approved"}), 403)
    assert "four-eyes" in errors[0]
    assert snapshot(api.db) == before


def test_reviewing_a_decided_proposal_is_409(api):
    proposal_id = file_proposal(api)
    api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews", json={"decision": "rejected"})
    before = snapshot(api.db)
    errors = problem_of(api.post("gil", f"/api/v1/proposals/{proposal_id}/reviews",
                                 json={"decision": "approved"}), 409)
    assert errors == [f"proposal: {proposal_id} is rejected; only proposed ones can be reviewed"]
    assert snapshot(api.db) == before


def test_a_second_review_by_the_same_governor_is_409(api):
    policy_store.set_policy(api.db, "approvals_required", "2", by="ada")
    proposal_id = file_proposal(api)
    assert api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews",
                    json={"decision": "approved"}).json()["status"] == "proposed"
    errors = problem_of(api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews",
                                 json={"decision": "approved"}), 409)
    assert "already reviewed" in errors[0]


def test_a_review_of_an_unknown_proposal_is_404_and_a_bad_decision_422(api):
    problem_of(api.post("gus", "/api/v1/proposals/nope/reviews", json={"decision": "approved"}), 404)
    proposal_id = file_proposal(api)
    assert problem_of(api.post("gus", f"/api/v1/proposals/{proposal_id}/reviews",
                               json={"decision": "maybe"}), 422) == [
        "decision: 'maybe' is not one of approved, rejected"]


def test_a_stale_approval_against_a_changed_live_split_is_409(api):
    stale = file_proposal(api, reinvestment=65, dao=28)
    other = file_proposal(api, reinvestment=70, dao=23)
    api.post("gus", f"/api/v1/proposals/{other}/reviews", json={"decision": "approved"})
    # Filed against 80/15/3/2; the live split is now 70/23/4/3, 5 points away, past a 3-point step.
    policy_store.set_policy(api.db, "max_step", "3", by="ada")
    before = snapshot(api.db)
    errors = problem_of(api.post("gil", f"/api/v1/proposals/{stale}/reviews",
                                 json={"decision": "approved"}), 409)
    assert errors[0].startswith("against the live split 70/23/4/3: reinvestment: moves 5 points")
    assert snapshot(api.db) == before


# --- the design's two functions ----------------------------------------------------------------------

def test_manage_profits_records_once_then_answers_200_with_the_same_record(api):
    body = {"profit": "1000.03", "key": "2026-11-24"}
    first = api.post("ann", "/functions/v1/manage-profits", json=body)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["total"] == "1000.03"
    again = api.post("ann", "/functions/v1/manage-profits", json=body)
    assert again.status_code == 200
    assert again.json()["distribution_id"] == first.json()["distribution_id"]
    assert again.json()["created"] is False


def test_manage_profits_with_a_used_key_and_another_amount_is_409_and_writes_nothing(api):
    api.post("ann", "/functions/v1/manage-profits", json={"profit": "10", "key": "k"})
    before = snapshot(api.db)
    errors = problem_of(api.post("ann", "/functions/v1/manage-profits",
                                 json={"profit": "11", "key": "k"}), 409)
    assert errors == ["key: 'k' was already used for a distribution of 10.00, not 11.00"]
    assert snapshot(api.db) == before


def test_manage_profits_while_distributions_are_paused_is_409(api):
    policy_store.set_policy(api.db, "distributions_paused", "true", by="ada")
    errors = problem_of(api.post("ann", "/functions/v1/manage-profits",
                                 json={"profit": "10", "key": "k"}), 409)
    assert errors == ["distribution: distributions are paused by the policy"]


@pytest.mark.parametrize("profit, message", [
    ("NaN", "profit: NaN is not a finite number"),
    ("ten", "profit: 'ten' is not a number"),
    (1000.001, "profit: 1000.001 has more than 2 decimal places"),
    ("-5", "profit: -5 is negative"),
])
def test_a_bad_profit_is_422_naming_the_field_and_writes_nothing(api, profit, message):
    before = snapshot(api.db)
    errors = problem_of(api.post("ann", "/functions/v1/manage-profits",
                                 json={"profit": profit, "key": "k"}), 422)
    assert errors == [message]
    assert snapshot(api.db) == before


def test_a_viewer_may_not_distribute(api):
    before = snapshot(api.db)
    problem_of(api.post("vic", "/functions/v1/manage-profits", json={"profit": "1", "key": "k"}), 403)
    assert snapshot(api.db) == before


METRICS = {"growth_rate_pct": 30.0, "engagement_score": 80.0, "dao_balance_usd": 20000.0,
           "avg_token_price_usd": 1.5, "tokens_launched_7d": 40, "days_of_data": 30}


def test_the_rebalancer_answers_the_cli_document_and_files_its_proposal(api):
    response = api.post("ann", "/functions/v1/profit-rebalancer",
                        json={"engine": "rules", "metrics": METRICS})
    assert response.status_code == 200
    body = response.json()
    assert {"success", "should_rebalance", "current_allocation", "suggested_allocation",
            "reasoning", "confidence", "proposal_id", "engine", "fallback_reason",
            "metrics"} <= set(body)
    assert body["engine"] == "rules" and body["metrics"] == METRICS
    if body["should_rebalance"]:
        assert lifecycle.get_proposal(api.db, body["proposal_id"]).proposer_username == "ann"


def test_the_rebalancer_without_a_body_reads_the_database_and_a_dry_run_files_nothing(api):
    before = snapshot(api.db)["profit_allocation_log"]
    body = api.post("ann", "/functions/v1/profit-rebalancer", json={"dry_run": True,
                                                                   "engine": "rules"}).json()
    assert body["proposal_id"] is None
    assert snapshot(api.db)["profit_allocation_log"] == before
    assert api.post("ann", "/functions/v1/profit-rebalancer").status_code == 200


@pytest.mark.parametrize("body, message", [
    ({"engine": "magic"}, "engine: 'magic' is not one of auto, rules, ai"),
    ({"dry_run": "yes"}, "dry_run: must be true or false"),
    ({"metrics": {**METRICS, "engagement_score": "high"}}, "engagement_score: 'high' is not a finite number"),
    ({"metrics": {k: v for k, v in METRICS.items() if k != "days_of_data"}}, "days_of_data: missing"),
])
def test_a_bad_rebalancer_body_is_422_and_writes_nothing(api, body, message):
    before = snapshot(api.db)
    assert message in problem_of(api.post("ann", "/functions/v1/profit-rebalancer", json=body), 422)
    assert snapshot(api.db) == before


def test_a_viewer_may_not_run_the_rebalancer(api):
    problem_of(api.post("vic", "/functions/v1/profit-rebalancer", json={"engine": "rules"}), 403)


# --- a database that cannot be reached ----------------------------------------------------------------

def test_an_unreachable_database_is_503_on_health_and_on_every_route():
    from fastapi.testclient import TestClient

    from api.app import create_app
    from db.engine import open_database

    gone = open_database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    client = TestClient(create_app(gone), raise_server_exceptions=False)
    health = client.get("/health")
    # The operator's log has the reason; the caller is not told the host, port or driver's words.
    assert problem_of(health, 503) == ["database: unavailable"]
    assert health.json()["database"] == "unreachable"
    route = client.get("/api/v1/allocation", headers={"Authorization": "Bearer pa_x"})
    assert problem_of(route, 503) == ["database: unavailable"]
    for answer in (health, route):
        assert "127.0.0.1" not in answer.text and "port" not in answer.text
        assert "Traceback" not in answer.text
