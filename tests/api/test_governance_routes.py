"""The trust issue's routes over HTTP: vetoing a queued change, and governance proposals."""

from __future__ import annotations

from core.allocation.validation import ProposalInput
from core.governance.changes import request_policy_change
from core.governance.sealing import seal
from core.proposals.lifecycle import propose_allocation, review_proposal
from tests.api.test_routes import problem_of
from tests.integration.state import snapshot


def _queued(api) -> str:
    pid = propose_allocation(api.db, ProposalInput(64, 30, 3, 3, "all in"), by="ann").proposal_id
    review_proposal(api.db, pid, "approved", by="gus")
    assert review_proposal(api.db, pid, "approved", by="gil").status == "queued"
    return pid


def test_a_governor_vetoes_a_queued_change_over_http(api):
    pid = _queued(api)
    response = api.post("gus", f"/api/v1/proposals/{pid}/veto", json={"reason": "not yet"})
    assert response.status_code == 200
    assert response.json() == {"proposal_id": pid, "status": "vetoed", "vetoes": 1,
                               "vetoes_required": 1}


def test_a_veto_without_a_reason_or_by_an_analyst_is_refused_and_writes_nothing(api):
    pid = _queued(api)
    before = snapshot(api.db)
    assert "reason" in problem_of(api.post("gus", f"/api/v1/proposals/{pid}/veto",
                                           json={"reason": " "}), 422)[0]
    assert "governor role" in problem_of(api.post("ann", f"/api/v1/proposals/{pid}/veto",
                                                  json={"reason": "no"}), 403)[0]
    assert snapshot(api.db) == before


def test_governance_proposals_are_listed_and_reviewed_over_http(api):
    seal(api.db, by="ada")
    filing = request_policy_change(api.db, "max_step", "20", by="ada")
    [listed] = api.get("vic", "/api/v1/governance/proposals").json()
    assert (listed["id"], listed["status"], listed["change"]["to"]) == (filing.id, "proposed", 20)
    response = api.post("gus", f"/api/v1/governance/proposals/{filing.id}/reviews",
                        json={"decision": "approved"})
    assert response.status_code == 200
    assert response.json()["approvals"] == 1 and response.json()["status"] == "proposed"
    assert "four-eyes" in problem_of(api.post(
        "ada", f"/api/v1/governance/proposals/{filing.id}/reviews",
        json={"decision": "approved"}), 403)[0]
