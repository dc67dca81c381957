"""The routes of ../shared/spec/api.md: each reads its inputs, calls one core service and returns
the document the CLI prints for the same command."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from api.auth import Caller, caller, database
from api.errors import database_problems, problem
from api.schemas import DistributionBody, ProposalBody, RebalanceBody, ReviewBody, VetoBody
from core.allocation.validation import ProposalInput
from core.base.errors import DatabaseUnavailable
from core.database import schema_revision
from core.platform_data import metrics_store, queries
from core.governance import changes
from core.proposals import distribution, lifecycle, queue
from core.rebalancer.service import run_rebalance
from core.record.activity import list_activity
from db.engine import Database



class ExactJsonRequest(Request):
    """A request whose JSON numbers with a fraction are read as exact decimals, not doubles: money
    sent as 1234567890123456.78 stays that amount, and a number is taken exactly as the same
    digits in a string would be."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJsonRoute(APIRoute):
    """Routes whose bodies carry money (FastAPI's custom request class pattern)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact


health = APIRouter(tags=["health"])
functions = APIRouter(prefix="/functions/v1", tags=["the original design's functions"])
money = APIRouter(prefix="/functions/v1", tags=["the original design's functions"],
                  route_class=ExactJsonRoute)
v1 = APIRouter(prefix="/api/v1", tags=["allocation"])


@health.get("/health", responses={503: {"description": "the database cannot be reached"}})
def get_health(db: Database = Depends(database)) -> Any:
    """Liveness and the database (no token needed)."""
    try:
        return {"status": "ok", "database": "ok", "revision": schema_revision(db)}
    except DatabaseUnavailable as error:
        return problem(503, database_problems(error), extra={"database": "unreachable"})


@functions.post("/profit-rebalancer")
def profit_rebalancer(body: RebalanceBody | None = None, who: Caller = Depends(caller),
                      db: Database = Depends(database)) -> dict[str, Any]:
    """The rebalancer (analyst): the CLI's `rebalance --json` document."""
    body = body or RebalanceBody()
    with who.acting():
        result = run_rebalance(db, metrics=body.metrics, engine=body.engine,
                               dry_run=body.dry_run, by=who.by)
    return result.as_json()


@money.post("/manage-profits", status_code=201,
            responses={200: {"description": "the key was already recorded with this amount"},
                       409: {"description": "another amount under this key, paused, above the "
                                            "policy's cap, or unusually large without "
                                            "`confirm_total`"}})
def manage_profits(body: DistributionBody, response: Response, who: Caller = Depends(caller),
                   db: Database = Depends(database)) -> dict[str, Any]:
    """A distribution with the active split (analyst), idempotent by key: the CLI's
    `distribute --json`; 201 recorded, 200 already recorded with this amount. An amount over ten
    times the largest distribution so far needs `confirm_total` repeating it."""
    with who.acting():
        record = distribution.distribute(db, body.profit, body.key, by=who.by, confirm_large=True,
                                         confirm_total=body.confirm_total)
    response.status_code = 201 if record.created else 200
    return record.as_json()


@v1.get("/allocation")
def get_allocation(_: Caller = Depends(caller), db: Database = Depends(database)) -> dict[str, Any]:
    """The split in force: the CLI's `current --json`."""
    return lifecycle.get_current_allocation(db).as_json()


@v1.get("/allocation/amounts")
def get_amounts(profit: str = Query(...), _: Caller = Depends(caller),
                db: Database = Depends(database)) -> dict[str, Any]:
    """Amounts per bucket from the active split: the CLI's `amounts --json`."""
    parts, current = distribution.amounts_for(db, profit)
    return distribution.amounts_as_json(parts, current)


@v1.get("/proposals")
def get_proposals(status: str = Query(lifecycle.WAITING), _: Caller = Depends(caller),
                  db: Database = Depends(database)) -> list[dict[str, Any]]:
    """Proposals (default: pending), newest first, as the CLI's `pending --json`."""
    return [p.as_json() for p in lifecycle.list_proposals(db, status)]


@v1.post("/proposals", status_code=201)
def post_proposal(body: ProposalBody, who: Caller = Depends(caller),
                  db: Database = Depends(database)) -> dict[str, Any]:
    """File a proposal (analyst): `{"proposal_id", "warnings"}`."""
    proposal = ProposalInput(body.reinvestment, body.dao, body.lucky, body.creator, body.reasoning,
                             body.confidence, body.proposed_by,
                             {"manual": True} if body.proposed_by == "manual" else None)
    with who.acting():
        return lifecycle.propose_allocation(db, proposal, by=who.by).as_json()


@v1.get("/proposals/{proposal_id}")
def get_proposal(proposal_id: str, _: Caller = Depends(caller),
                 db: Database = Depends(database)) -> dict[str, Any]:
    """One proposal and its story: the CLI's `proposal show --json`."""
    return lifecycle.get_proposal_story(db, proposal_id).as_json()


@v1.post("/proposals/{proposal_id}/reviews")
def post_review(proposal_id: str, body: ReviewBody, who: Caller = Depends(caller),
                db: Database = Depends(database)) -> dict[str, Any]:
    """Record a review (governor): the CLI's `review --json`."""
    with who.acting():
        return lifecycle.review_proposal(db, proposal_id, body.decision, by=who.by,
                                           notes=body.notes, totp=body.totp).as_json()


@v1.post("/proposals/{proposal_id}/veto")
def post_veto(proposal_id: str, body: VetoBody, who: Caller = Depends(caller),
              db: Database = Depends(database)) -> dict[str, Any]:
    """Veto a queued split or governance proposal (governor): the CLI's `proposal veto --json`."""
    with who.acting():
        return queue.veto(db, proposal_id, by=who.by, reason=body.reason,
                          totp=body.totp).as_json()


@v1.get("/governance/proposals")
def get_governance_proposals(status: str = Query(changes.WAITING), _: Caller = Depends(caller),
                             db: Database = Depends(database)) -> list[dict[str, Any]]:
    """Governance proposals: the CLI's `governance pending --json` (or those of one status)."""
    return [g.as_json() for g in changes.list_governance(db, status)]


@v1.post("/governance/proposals/{proposal_id}/reviews")
def post_governance_review(proposal_id: str, body: ReviewBody, who: Caller = Depends(caller),
                           db: Database = Depends(database)) -> dict[str, Any]:
    """Review a governance proposal (governor): the CLI's `governance review --json`."""
    with who.acting():
        return changes.review_governance(db, proposal_id, body.decision, by=who.by,
                                         notes=body.notes, totp=body.totp).as_json()


@v1.get("/history")
def get_history(limit: int | None = Query(None, ge=1), _: Caller = Depends(caller),
                db: Database = Depends(database)) -> list[dict[str, Any]]:
    """The allocation log, newest first: the CLI's `history --json`."""
    return [r.as_json() for r in lifecycle.get_allocation_history(db, limit)]


@v1.get("/activity")
def get_activity(limit: int = Query(50, ge=1), type: str | None = Query(None),  # noqa: A002
                 _: Caller = Depends(caller), db: Database = Depends(database)) -> list[dict[str, Any]]:
    """Rows of protocol_activity, newest first: the CLI's `activity --json`."""
    return [r.as_json() for r in list_activity(db, limit, type)]


@v1.get("/metrics")
def get_metrics(_: Caller = Depends(caller), db: Database = Depends(database)) -> dict[str, Any]:
    """Platform metrics: the CLI's `metrics --json`."""
    return metrics_store.metrics_document(db)


@v1.get("/compare")
def get_compare(date_from: str | None = Query(None, alias="from"),
                date_to: str | None = Query(None, alias="to"), _: Caller = Depends(caller),
                db: Database = Depends(database)) -> list[dict[str, Any]]:
    """Allocation periods against token performance: the CLI's `compare --json`."""
    start, stop = queries.parse_window(date_from, date_to)
    return queries.compare_performance(db, start, stop)


ROUTERS = (health, functions, money, v1)
