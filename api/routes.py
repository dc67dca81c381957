"""The routes of ../shared/spec/api.md: each reads its inputs, calls one core service and returns
the document the CLI prints for the same command. Each route names its response model and every
refusal it can answer (api/errors.py's problem details), so the OpenAPI document is the contract
a generated client can trust (tests/api/test_openapi_document.py holds live answers to it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from api import schemas as s
from api.auth import NEEDS, Caller, caller, database, needs, principal_of
from api.errors import MEANING, database_problems, documented, problem
from core.allocation.validation import ProposalInput
from core.base.errors import DatabaseUnavailable, Throttled
from core.database import schema_revision
from core.experiments import service as experiments
from core.governance import changes
from core.platform_data import metrics_store, queries
from core.proposals import distribution, lifecycle, queue
from core.rebalancer.service import ACTION as REBALANCING
from core.rebalancer.service import run_rebalance
from core.record.activity import list_activity
from db.engine import Database

S = HTTPStatus
# Every route behind a token: the Gate (api/app.py) answers these before the route runs.
TOKEN = (S.UNAUTHORIZED, S.REQUEST_ENTITY_TOO_LARGE, S.TOO_MANY_REQUESTS, S.SERVICE_UNAVAILABLE)
QUERY = (*TOKEN, S.UNPROCESSABLE_ENTITY)  # a read with query values
WRITE = (*QUERY, S.BAD_REQUEST, S.FORBIDDEN, S.CONFLICT)  # a write with a JSON body
BY_ID = (S.NOT_FOUND,)


class ExactJsonRequest(Request):
    """A request whose JSON numbers with a fraction are read as exact decimals, not doubles: money
    sent as 1234567890123456.78 stays that amount, and a number is taken exactly as the same
    digits in a string would be."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class GuardedRoute(APIRoute):
    """Who, then what: a route marked with `needs(role, ...)` refuses a junior token (403) before
    its body is parsed or validated, so a viewer learns nothing about a body it may not send.
    (FastAPI parses the JSON before it runs any dependency: a role dependency would come after a
    400.) The role is also written into the document as `x-required-role`."""

    exact_json = False

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.needs = NEEDS.get(endpoint)
        if self.needs is not None:
            kwargs["openapi_extra"] = {**(kwargs.get("openapi_extra") or {}),
                                       "x-required-role": self.needs.role}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        request_class = ExactJsonRequest if self.exact_json else Request

        async def guarded(request: Request) -> Response:
            if self.needs is not None:
                self.needs.check(principal_of(request))
            return await handler(request_class(request.scope, request.receive))

        return guarded


class ExactJsonRoute(GuardedRoute):
    """Routes whose bodies carry money (FastAPI's custom request class pattern)."""

    exact_json = True


health = APIRouter(tags=["health"])
functions = APIRouter(prefix="/functions/v1", tags=["the original design's functions"],
                      route_class=GuardedRoute)
money = APIRouter(prefix="/functions/v1", tags=["the original design's functions"],
                  route_class=ExactJsonRoute)
v1 = APIRouter(prefix="/api/v1", tags=["allocation"], route_class=GuardedRoute)



def query(default: Any, schema: dict[str, Any], alias: str | None = None) -> Any:
    """A query value read as text (core parses it and refuses it in its words), documented as
    `schema` says (in place of "a string, or null")."""

    def document(field_schema: dict[str, Any]) -> None:
        field_schema.clear()
        field_schema.update(schema)
        if default is not ... and default is not None:
            field_schema["default"] = default

    return Query(default, alias=alias, json_schema_extra=document)


HEALTH = {"response_model": s.Health,
          "responses": documented(S.REQUEST_ENTITY_TOO_LARGE, S.SERVICE_UNAVAILABLE)}


@health.head("/health", **HEALTH)
@health.get("/health", **HEALTH)
def get_health(db: Database = Depends(database)) -> Any:
    """Liveness and the database (no token needed). HEAD answers the same without a body; a 503
    adds `"database": "unreachable"`."""
    try:
        return {"status": "ok", "database": "ok", "revision": schema_revision(db)}
    except DatabaseUnavailable as error:
        return problem(503, database_problems(error), extra={"database": "unreachable"})


@functions.post("/profit-rebalancer", response_model=s.RebalanceOut, responses=documented(*WRITE))
@needs("analyst", REBALANCING)
def profit_rebalancer(body: s.RebalanceBody | None = None, who: Caller = Depends(caller),
                      db: Database = Depends(database)) -> Any:
    """The rebalancer (analyst): the CLI's `rebalance --json` document."""
    body = body or s.RebalanceBody()
    with who.acting():
        result = run_rebalance(db, metrics=body.metrics, engine=body.engine,
                               dry_run=body.dry_run, by=who.by)
    return result.as_json()


@money.post("/manage-profits", status_code=201, response_model=s.DistributionOut,
            responses={200: {"description": "the key was already recorded with this amount",
                             "model": s.DistributionOut},
                       **documented(*WRITE)})
@needs("analyst", distribution.ACTION)
def manage_profits(body: s.DistributionBody, response: Response, who: Caller = Depends(caller),
                   db: Database = Depends(database)) -> Any:
    """A distribution with the active split (analyst), idempotent by key: the CLI's
    `distribute --json`; 201 recorded, 200 already recorded with this amount. An amount over ten
    times the largest distribution so far needs `confirm_total` repeating it."""
    with who.acting():
        record = distribution.distribute(db, body.profit, body.key, by=who.by, confirm_large=True,
                                         confirm_total=body.confirm_total)
    response.status_code = 201 if record.created else 200
    return record.as_json()


@v1.get("/allocation", response_model=s.CurrentAllocationOut, responses=documented(*TOKEN))
def get_allocation(_: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """The split in force: the CLI's `current --json`."""
    return lifecycle.get_current_allocation(db).as_json()


@v1.get("/allocation/amounts", response_model=s.AmountsDocument, responses=documented(*QUERY))
def get_amounts(profit: str = query(..., s.MONEY_IN), _: Caller = Depends(caller),
                db: Database = Depends(database)) -> Any:
    """Amounts per bucket from the active split: the CLI's `amounts --json`."""
    parts, current = distribution.amounts_for(db, profit)
    return distribution.amounts_as_json(parts, current)


@v1.get("/proposals", response_model=list[s.ProposalListed], responses=documented(*QUERY))
def get_proposals(status: str = query(lifecycle.WAITING, s.PROPOSAL_STATUS), _: Caller = Depends(caller),
                  db: Database = Depends(database)) -> Any:
    """Proposals (default: pending), newest first, as the CLI's `pending --json`."""
    return [p.as_json() for p in lifecycle.list_proposals(db, status)]


@v1.post("/proposals", status_code=201, response_model=s.ProposalFiled,
         responses=documented(*WRITE))
@needs("analyst", lifecycle.FILING)
def post_proposal(body: s.ProposalBody, who: Caller = Depends(caller),
                  db: Database = Depends(database)) -> Any:
    """File a proposal (analyst): `{"proposal_id", "warnings"}`."""
    proposal = ProposalInput(body.reinvestment, body.dao, body.lucky, body.creator, body.reasoning,
                             body.confidence, body.proposed_by,
                             {"manual": True} if body.proposed_by == "manual" else None)
    with who.acting():
        return lifecycle.propose_allocation(db, proposal, by=who.by).as_json()


@v1.get("/proposals/{proposal_id}", response_model=s.ProposalStoryOut,
        responses=documented(*TOKEN, *BY_ID))
def get_proposal(proposal_id: str, _: Caller = Depends(caller),
                 db: Database = Depends(database)) -> Any:
    """One proposal and its story: the CLI's `proposal show --json`."""
    return lifecycle.get_proposal_story(db, proposal_id).as_json()


@v1.post("/proposals/{proposal_id}/reviews", response_model=s.ReviewOutcomeOut,
         responses=documented(*WRITE, *BY_ID))
@needs("governor", lifecycle.REVIEWING)
def post_review(proposal_id: str, body: s.ReviewBody, who: Caller = Depends(caller),
                db: Database = Depends(database)) -> Any:
    """Record a review (governor): the CLI's `review --json`."""
    with who.acting():
        return lifecycle.review_proposal(db, proposal_id, body.decision, by=who.by,
                                         notes=body.notes, totp=body.totp).as_json()


@v1.post("/proposals/{proposal_id}/veto", response_model=s.VetoOutcomeOut,
         responses=documented(*WRITE, *BY_ID))
@needs("governor", queue.VETOING)
def post_veto(proposal_id: str, body: s.VetoBody, who: Caller = Depends(caller),
              db: Database = Depends(database)) -> Any:
    """Veto a queued split or governance proposal (governor): the CLI's `proposal veto --json`."""
    with who.acting():
        return queue.veto(db, proposal_id, by=who.by, reason=body.reason,
                          totp=body.totp).as_json()


@v1.get("/governance/proposals", response_model=list[s.GovernanceProposalOut],
        responses=documented(*QUERY))
def get_governance_proposals(status: str = query(changes.WAITING, s.GOVERNANCE_STATUS),
                             _: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """Governance proposals: the CLI's `governance pending --json` (or those of one status)."""
    return [g.as_json() for g in changes.list_governance(db, status)]


@v1.post("/governance/proposals/{proposal_id}/reviews", response_model=s.GovernanceReviewOut,
         responses=documented(*WRITE, *BY_ID))
@needs("governor", changes.REVIEWING)
def post_governance_review(proposal_id: str, body: s.ReviewBody, who: Caller = Depends(caller),
                           db: Database = Depends(database)) -> Any:
    """Review a governance proposal (governor): the CLI's `governance review --json`."""
    with who.acting():
        return changes.review_governance(db, proposal_id, body.decision, by=who.by,
                                         notes=body.notes, totp=body.totp).as_json()


@v1.get("/history", response_model=list[s.AllocationRecordOut], responses=documented(*QUERY))
def get_history(limit: str | None = query(None, s.LIMIT), _: Caller = Depends(caller),
                db: Database = Depends(database)) -> Any:
    """The allocation log, newest first: the CLI's `history --json`."""
    return [r.as_json() for r in lifecycle.get_allocation_history(db, limit)]


@v1.get("/activity", response_model=list[s.ActivityOut], responses=documented(*QUERY))
def get_activity(limit: str | int = query(50, s.LIMIT), type: str | None = query(None, s.text("activity_type", required=False)),  # noqa: A002
                 _: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """Rows of protocol_activity, newest first: the CLI's `activity --json`."""
    return [r.as_json() for r in list_activity(db, limit, type)]


@v1.get("/metrics", response_model=s.MetricsDocument, responses=documented(*TOKEN))
def get_metrics(_: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """Platform metrics: the CLI's `metrics --json`."""
    return metrics_store.metrics_document(db)


@v1.get("/compare", response_model=list[s.ComparePeriod], responses=documented(*QUERY))
def get_compare(date_from: str | None = query(None, s.DAY_ASKED, "from"),
                date_to: str | None = query(None, s.DAY_ASKED, "to"),
                _: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """Allocation periods against token performance: the CLI's `compare --json`."""
    start, stop = queries.parse_window(date_from, date_to)
    return queries.compare_performance(db, start, stop)


# --- experiments (the CLI's `experiment ...`) ---------------------------------------------------

lab = APIRouter(prefix="/api/v1/experiments", tags=["experiments"], route_class=GuardedRoute)
# Simulations: CPU for seconds, no lock, no write. One at a time per server process (a second
# meanwhile is told to come back, not queued: a queue would hold a worker thread each), and at
# most s.SIMULATION_RUNS_OVER_HTTP runs each; analysts only, as designing is theirs.
ONE_SIMULATION = threading.BoundedSemaphore(1)
SIMULATION_RETRY_SECONDS = 10
SIMULATION_BUSY = "simulate: another simulation is running on this server; try again shortly"


def _one_at_a_time() -> dict[int | str, dict[str, Any]]:
    answers = documented(*WRITE)
    answers[S.TOO_MANY_REQUESTS.value] = {
        **answers[S.TOO_MANY_REQUESTS.value],
        "description": f"{MEANING[S.TOO_MANY_REQUESTS]}; or another simulation is running"}
    return answers


@lab.post("", status_code=201, response_model=s.ExperimentFiledOut,
          responses=documented(*WRITE))
@needs("analyst", experiments.FILING)
def post_experiment(body: s.ExperimentBody, who: Caller = Depends(caller),
                    db: Database = Depends(database)) -> Any:
    """File an experiment (analyst): the CLI's `experiment create --json`. Its schedule is drawn
    now; only its SHA-256 is shown until it ends."""
    with who.acting():
        return experiments.create_experiment(
            db, arms=body.arms, block_hours=body.block_hours, blocks=body.blocks,
            burn_in_hours=body.burn_in_hours, metric=body.metric, guardrails=body.guardrails,
            starts_at=body.starts_at, reasoning=body.reasoning, by=who.by).as_json()


@lab.get("", response_model=list[s.ExperimentListed], responses=documented(*TOKEN))
def get_experiments(_: Caller = Depends(caller), db: Database = Depends(database)) -> Any:
    """Every experiment, newest first: the CLI's `experiment list --json`."""
    return [e.as_json() for e in experiments.list_experiments(db)]


@lab.post("/simulate", response_model=s.SimulationOut, responses=_one_at_a_time())
@needs("analyst", experiments.SIMULATING)
def post_simulation(body: s.SimulationBody, _: Caller = Depends(caller),
                    db: Database = Depends(database)) -> Any:
    """Power by simulation over the recorded figures (analyst): the CLI's `experiment simulate
    --json`; writes nothing. At most SIMULATION_RUNS_OVER_HTTP runs, one simulation at a time."""
    if not ONE_SIMULATION.acquire(blocking=False):
        raise Throttled(SIMULATION_RETRY_SECONDS, SIMULATION_BUSY)
    try:
        return experiments.simulate_experiment(
            db, arms=body.arms, block_hours=body.block_hours, blocks=body.blocks,
            burn_in_hours=body.burn_in_hours, metric=body.metric, from_=body.from_,
            effect_pct=body.effect_pct, runs=body.runs, seed=body.seed).as_json()
    finally:
        ONE_SIMULATION.release()


# `salt` and `schedule` are absent, not null, until it has ended (as the CLI prints it).
@lab.get("/{experiment_id}", response_model=s.ExperimentOut, response_model_exclude_unset=True,
         responses=documented(*TOKEN, *BY_ID))
def get_experiment(experiment_id: str, _: Caller = Depends(caller),
                   db: Database = Depends(database)) -> Any:
    """One experiment: the CLI's `experiment show --json` (the blocks that have begun, the
    results; once ended, the salt and the whole schedule)."""
    return experiments.show_experiment(db, experiment_id).as_json()


@lab.post("/{experiment_id}/reviews", response_model=s.ExperimentReviewOut,
          responses=documented(*WRITE, *BY_ID))
@needs("governor", experiments.REVIEWING)
def post_experiment_review(experiment_id: str, body: s.ReviewBody, who: Caller = Depends(caller),
                           db: Database = Depends(database)) -> Any:
    """Review an experiment as a major change (governor): the CLI's `experiment review --json`.
    The approval that completes the count queues it behind the major timelock: `starts_at` moves
    when it came sooner (`start_moved_from`)."""
    with who.acting():
        return experiments.review_experiment(db, experiment_id, body.decision, by=who.by,
                                             notes=body.notes, totp=body.totp).as_json()


@lab.post("/{experiment_id}/stop", response_model=s.ExperimentStoppedOut,
          responses=documented(*WRITE, *BY_ID))
@needs("governor", experiments.STOPPING)
def post_experiment_stop(experiment_id: str, body: s.StopBody, who: Caller = Depends(caller),
                         db: Database = Depends(database)) -> Any:
    """Stop an experiment (governor, with a reason): the CLI's `experiment stop --json`. A
    queued one never starts; a running one gives the control's split back through the log."""
    with who.acting():
        return experiments.stop_experiment(db, experiment_id, by=who.by, reason=body.reason,
                                           totp=body.totp).as_json()


@lab.post("/{experiment_id}/adopt", status_code=201, response_model=s.ExperimentAdoptedOut,
          responses=documented(*WRITE, *BY_ID))
@needs("analyst", experiments.ADOPTING)
def post_experiment_adoption(experiment_id: str, body: s.AdoptBody, who: Caller = Depends(caller),
                             db: Database = Depends(database)) -> Any:
    """File an ordinary proposal with an ended experiment's arm and its evidence (analyst, the
    token's account the filer): the CLI's `experiment adopt --json`. The proposal is reviewed
    like any other; nothing is adopted automatically."""
    with who.acting():
        return experiments.adopt_experiment(db, experiment_id, body.arm, by=who.by).as_json()


ROUTERS = (health, functions, money, v1, lab)
