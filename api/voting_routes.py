"""Community voting over HTTP, with no token: the EIP-712 signature is the vote's credential
(core/voting/typed_data.py). `POST /api/v1/proposals/{id}/votes` records a signed vote (the
CLI's `vote cast --json`), `GET` lists every vote with its signature and the tally,
`GET /api/v1/voting/snapshots/{id}/proof/{address}` is a holder's weight with its Merkle proof
(the CLI's `voting proof --json`), and `GET /vote/{id}` is the public page holders vote on with
their wallet (api/static/vote.html).

The routes are public, so what slows a client down cannot be a token: each client (its address
as the server sees it; a proxy's `X-Forwarded-For` only from `--forwarded-allow-ips`, which
uvicorn applies before we read it) may send VOTES_PER_WINDOW votes per VOTE_WINDOW, then gets
429 with Retry-After. Kept in memory, as the bad-token count is: a client that cannot vote must
not be able to make the server write. Proofs are counted the same way with a count of their own
(`app.state.proof_limit`): asking for one's proof never uses up one's votes, and the 429 names
what was counted."""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from api import schemas as s
from api.auth import database
from api.errors import MEANING, documented, status_of
from core.allocation.backtest import backtest
from core.base.channel import acting_through
from core.base.errors import DomainError, Throttled
from core.proposals.lifecycle import get_proposal_story
from core.voting.service import cast_vote, proposal_votes, snapshot_proof, vote_typed_data
from core.voting.typed_data import FOR
from db.engine import Database
from db.types import utcnow

S = HTTPStatus
VOTES_PER_WINDOW = 20  # a holder votes once or twice; a page retrying a refusal, a few more
VOTE_WINDOW = timedelta(minutes=1)
MAX_CLIENTS = 10_000  # remembered at once; the oldest are forgotten past it
# The page's typed data: the server's own document with a placeholder voter, support and time,
# which the page fills in from the wallet's address, the button pressed and its clock.
PLACEHOLDER_ADDRESS = "0x" + "00" * 20
PAGE = FilePath(__file__).with_name("static") / "vote.html"
DATA_MARK, NONCE_MARK = "__VOTE_DATA__", "__NONCE__"

NOT_PUT_TO_A_VOTE = "the proposal is not put to a community vote"
PUBLIC_REFUSALS = (S.REQUEST_ENTITY_TOO_LARGE, S.SERVICE_UNAVAILABLE)
VOTE_REFUSALS = (*PUBLIC_REFUSALS, S.BAD_REQUEST, S.NOT_FOUND, S.CONFLICT,
                 S.UNPROCESSABLE_ENTITY, S.TOO_MANY_REQUESTS)


class VoteRateLimit:
    """At most `limit` requests (`what`: votes, proofs) per `window` from one client (a sliding
    window of their times)."""

    def __init__(self, limit: int = VOTES_PER_WINDOW, window: timedelta = VOTE_WINDOW,
                 clock: Callable[[], datetime] = utcnow, max_clients: int = MAX_CLIENTS,
                 what: str = "votes") -> None:
        self.limit, self.window, self.clock, self._max = limit, window, clock, max_clients
        self.what = what
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, deque[datetime]] = OrderedDict()

    def take(self, client: str) -> None:
        """Count one vote from `client`, or raise Throttled when its window is full."""
        now = self.clock()
        with self._lock:
            times = self._clients.pop(client, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            self._clients[client] = times
            while len(self._clients) > self._max:
                self._clients.popitem(last=False)
            if len(times) >= self.limit:
                oldest = times[0] if times else now  # a limit of 0 shuts the door for a window
                wait = (oldest + self.window - now).total_seconds()
                raise Throttled(wait, f"{self.what}: more than {self.limit} from this client in "
                                      f"{int(self.window.total_seconds())} s; try again in "
                                      f"{max(1, round(wait))} s")
            times.append(now)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limited(request: Request) -> None:
    request.app.state.vote_limit.take(client_of(request))


def proofs_rate_limited(request: Request) -> None:
    request.app.state.proof_limit.take(client_of(request))


def _uuid_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(PROPOSAL_ID)


def _address_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(s.ADDRESS)


# A proposal's or a snapshot's id as the document describes it (core reads the text and refuses
# it in its words).
PROPOSAL_ID = {"type": "string", "format": "uuid",
               "pattern": "^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"}
ProposalId = Path(json_schema_extra=_uuid_schema)
SnapshotId = Path(json_schema_extra=_uuid_schema)
Address = Path(json_schema_extra=_address_schema)

votes = APIRouter(prefix="/api/v1/proposals", tags=["votes"])
snapshots = APIRouter(prefix="/api/v1/voting/snapshots", tags=["votes"])
page = APIRouter(tags=["votes"])


def _vote_answers() -> dict[int | str, dict[str, Any]]:
    answers = documented(*VOTE_REFUSALS)
    answers[S.TOO_MANY_REQUESTS.value] = {
        **answers[S.TOO_MANY_REQUESTS.value],
        "description": f"more than {VOTES_PER_WINDOW} votes from this client in "
                       f"{int(VOTE_WINDOW.total_seconds())} s; wait `Retry-After` seconds"}
    answers[S.NOT_FOUND.value]["description"] = "no such proposal"
    answers[S.CONFLICT.value]["description"] = (
        f"{NOT_PUT_TO_A_VOTE}; or the vote is refused: voting not open, no weight at the "
        "snapshot, or a timestamp not later than the address's latest vote")
    answers[S.UNPROCESSABLE_ENTITY.value]["description"] = (
        f"{MEANING[S.UNPROCESSABLE_ENTITY]}; or the signature does not recover the address")
    return answers


@votes.post("/{proposal_id}/votes", status_code=201, response_model=s.VoteCastOut,
            responses=_vote_answers(), dependencies=[Depends(rate_limited)])
def post_vote(body: s.VoteBody, proposal_id: str = ProposalId,
              db: Database = Depends(database)) -> Any:
    """A signed vote (no token: the signature is the credential): the CLI's `vote cast --json`.
    A later `timestamp` from the same address replaces its earlier vote."""
    with acting_through(channel="api"):
        return cast_vote(db, proposal_id, address=body.address, support=body.support,
                         timestamp=body.timestamp, signature=body.signature).as_json()


def _list_answers() -> dict[int | str, dict[str, Any]]:
    answers = documented(*PUBLIC_REFUSALS, S.NOT_FOUND, S.CONFLICT)
    answers[S.NOT_FOUND.value]["description"] = "no such proposal"
    answers[S.CONFLICT.value]["description"] = NOT_PUT_TO_A_VOTE
    return answers


@votes.get("/{proposal_id}/votes", response_model=s.VotesOut, responses=_list_answers())
def get_votes(proposal_id: str = ProposalId, db: Database = Depends(database)) -> Any:
    """Every vote as cast, with its signature, and the tally (no token): what anyone needs, with
    the published snapshot, to recount."""
    return proposal_votes(db, proposal_id).as_json()


def _proof_answers() -> dict[int | str, dict[str, Any]]:
    answers = documented(*PUBLIC_REFUSALS, S.NOT_FOUND, S.CONFLICT, S.UNPROCESSABLE_ENTITY,
                         S.TOO_MANY_REQUESTS)
    answers[S.TOO_MANY_REQUESTS.value] = {
        **answers[S.TOO_MANY_REQUESTS.value],
        "description": f"more than {VOTES_PER_WINDOW} proofs asked by this client in "
                       f"{int(VOTE_WINDOW.total_seconds())} s; wait `Retry-After` seconds"}
    answers[S.SERVICE_UNAVAILABLE.value] = {
        **answers[S.SERVICE_UNAVAILABLE.value],
        "description": "the database cannot be reached or is busy, or a proof tree is being built "
                       "(one at a time): nothing was decided; wait `Retry-After` seconds",
        "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}}
    answers[S.NOT_FOUND.value]["description"] = ("no such snapshot (`snapshot`), or the address "
                                                 "holds nothing in it (`address`)")
    answers[S.CONFLICT.value]["description"] = ("the snapshot's stored holders no longer give "
                                                "its published root")
    answers[S.UNPROCESSABLE_ENTITY.value]["description"] = (
        "`address` is not 0x and 40 hex digits, or its mixed case is not its EIP-55 checksum")
    return answers


@snapshots.get("/{snapshot_id}/proof/{address}", response_model=s.WeightProofOut,
               responses=_proof_answers(), dependencies=[Depends(proofs_rate_limited)])
def get_weight_proof(snapshot_id: str = SnapshotId, address: str = Address,
                     db: Database = Depends(database)) -> Any:
    """A holder's weight at a snapshot and its Merkle proof against the published root (no
    token: holders have no accounts): the CLI's `voting proof --json`. Check it with
    OpenZeppelin's `MerkleProof.verify` or core.voting.merkle.verify."""
    return snapshot_proof(db, snapshot_id, address).as_json()


def _script_json(data: Any) -> str:
    """JSON inside a <script type="application/json">: `<`, `>` and `&` as \\u escapes, so no
    value can close the element or open a comment."""
    text = json.dumps(data, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def vote_page_data(db: Database, proposal_id: str) -> dict[str, Any]:
    """What the page shows: the proposal, its backtest, the votes and tally, and the typed data
    the wallet signs (with the placeholder voter)."""
    export = proposal_votes(db, proposal_id)  # NotFound first for a proposal not put to a vote
    story = get_proposal_story(db, proposal_id)
    return {"proposal": story.as_json(), "backtest": backtest(db, story.record.split).as_json(),
            **export.as_json(),
            "typed_data": vote_typed_data(db, proposal_id, address=PLACEHOLDER_ADDRESS,
                                          support=FOR, timestamp=0),
            "votes_url": f"/api/v1/proposals/{export.tally.proposal_id}/votes"}


@page.get("/vote/{proposal_id}", response_class=HTMLResponse, include_in_schema=False)
def vote_page(proposal_id: str, db: Database = Depends(database)) -> HTMLResponse:
    """The public vote page: a static page whose data is one JSON element it reads itself."""
    try:
        data = vote_page_data(db, proposal_id)
        status = S.OK
    except DomainError as error:
        # A person reads this page: the refusal as text on it, with its status.
        data, status = {"error": "; ".join(error.problems)}, status_of(error)
    nonce = secrets.token_urlsafe(16)
    text = (PAGE.read_text(encoding="utf-8").replace(NONCE_MARK, nonce)
            .replace(DATA_MARK, _script_json(data)))
    return HTMLResponse(text, status_code=status.value,
                        headers={"Content-Security-Policy": CSP.format(nonce=nonce),
                                 "Cache-Control": "no-store"})


# The page runs only its own script (by nonce) and talks only to this server.
CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

ROUTERS = (votes, snapshots, page)
