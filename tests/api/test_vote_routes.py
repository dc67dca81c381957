"""Community votes over HTTP with no token, on SQLite and PostgreSQL: a signed vote is recorded
and listed with its signature, a later one replaces it, refusals are problem details that write
nothing, each client is rate-limited (429 with Retry-After, on a simulated clock), the public
vote page carries its data as JSON no value can break out of, and a holder's weight proof
verifies against the snapshot's published root, its tree built once per snapshot."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from eth_account.messages import encode_typed_data

from api.voting_routes import VoteRateLimit
from core.allocation.validation import ProposalInput
from core.proposals.lifecycle import propose_allocation
from core.record.activity import list_activity
from core.voting.merkle import MerkleTree, hex32, leaf_hash, verify
from core.voting.service import PROOF_TREES, get_snapshot
from core.voting.tree_cache import BUSY_RETRY_SECONDS
from core.voting.typed_data import typed_data
from db.types import utcnow
from tests.api.test_routes import problem_of
from tests.integration.state import file
from tests.integration.voters import ADDRESS, OUTSIDER, seconds, sign, voting_on

NOBODY = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def proposal(api, tmp_path) -> str:
    """A proposal put to an advisory vote, filed now by the analyst."""
    voting_on(api.db, tmp_path)
    return file(api.db, (75, 15, 6, 4))


def outsider_vote(proposal: str, timestamp: int) -> dict:
    document = typed_data(proposal, OUTSIDER.address, "for", timestamp)
    signed = OUTSIDER.sign_message(encode_typed_data(full_message=document))
    return {"address": OUTSIDER.address, "support": "for", "timestamp": timestamp,
            "signature": "0x" + signed.signature.hex()}


def votes_url(proposal: str) -> str:
    return f"/api/v1/proposals/{proposal}/votes"


def test_a_signed_vote_is_recorded_without_a_token_and_listed_with_its_signature(api, proposal):
    vote = sign(proposal, "alice", "for", seconds(utcnow()))
    answer = api.client.post(votes_url(proposal), json=vote)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"proposal_id": proposal, "address": ADDRESS["alice"],
                             "support": "for", "weight": "400", "timestamp": vote["timestamp"],
                             "replaced": False}
    listed = api.client.get(votes_url(proposal))
    assert listed.status_code == 200
    body = listed.json()
    assert body["votes"] == [{**vote, "weight": "400", "counts": True, "replaced_at": None}]
    assert (body["tally"]["for"], body["tally"]["voters"]) == ("400", 1)
    [row] = list_activity(api.db, 1, "vote_cast")
    assert row.metadata["by"] == ADDRESS["alice"] and row.metadata["via"]["channel"] == "api"


def test_a_later_vote_by_the_same_address_replaces_the_earlier_one(api, proposal):
    now = seconds(utcnow())
    first = api.client.post(votes_url(proposal), json=sign(proposal, "bob", "for", now))
    assert first.status_code == 201, first.text
    answer = api.client.post(votes_url(proposal), json=sign(proposal, "bob", "against", now + 1))
    assert (answer.status_code, answer.json()["replaced"]) == (201, True)
    tally = api.client.get(votes_url(proposal)).json()["tally"]
    assert (tally["for"], tally["against"], tally["voters"]) == ("0", "300", 1)


def test_a_replaced_vote_stays_listed_with_its_signature_marked_as_not_counting(api, proposal):
    now = seconds(utcnow())
    first, second = sign(proposal, "bob", "for", now), sign(proposal, "bob", "against", now + 5)
    alice = sign(proposal, "alice", "for", now + 2)
    for vote in (first, alice, second):
        assert api.client.post(votes_url(proposal), json=vote).status_code == 201
    body = api.client.get(votes_url(proposal)).json()
    assert body["votes"] == [
        {**first, "weight": "300", "counts": False, "replaced_at": now + 5},
        {**alice, "weight": "400", "counts": True, "replaced_at": None},
        {**second, "weight": "300", "counts": True, "replaced_at": None}]
    # Listed, never summed: the tally counts bob once, with his later vote.
    tally = body["tally"]
    assert (tally["for"], tally["against"], tally["voters"]) == ("400", "300", 2)


def test_refused_votes_are_problem_details_and_write_nothing(api, proposal):
    now = seconds(utcnow())
    # An address that held nothing signs its own vote correctly: refused for its weight. (The
    # API cuts any run past 40 characters in a message, the address included: api/errors.py.)
    [message] = problem_of(api.client.post(votes_url(proposal), json=outsider_vote(proposal, now)),
                           409)
    assert message.startswith(f"address: {OUTSIDER.address[:40]}… held nothing at snapshot")
    forged = sign(proposal, "alice", "for", now, key=OUTSIDER)  # alice's vote, another's key
    assert problem_of(api.client.post(votes_url(proposal), json=forged), 422)[0].startswith(
        "signature: was not made by")
    errors = problem_of(api.client.post(votes_url(proposal), json={
        **sign(proposal, "alice", "for", now), "support": "maybe", "extra": 1}), 422)
    assert "support: 'maybe' is not one of for, against, abstain" in errors
    assert "extra: is not a field of this request" in errors
    problem_of(api.client.post(votes_url(NOBODY), json=sign(NOBODY, "alice", "for", now)), 404)
    problem_of(api.client.get(votes_url(NOBODY)), 404)
    assert api.client.get(votes_url(proposal)).json()["votes"] == []


BASE = 8453


def test_on_a_base_snapshot_the_api_names_the_chain_and_takes_only_votes_signed_on_it(
        api, tmp_path):
    voting_on(api.db, tmp_path, chain_id=BASE)
    proposal = file(api.db, (75, 15, 6, 4))
    now = seconds(utcnow())
    assert api.client.get(votes_url(proposal)).json()["tally"]["chain_id"] == BASE
    on_mainnet = sign(proposal, "alice", "for", now)
    [message] = problem_of(api.client.post(votes_url(proposal), json=on_mainnet), 422)
    assert message.startswith("signature: was not made by") and f"on chain {BASE}" in message
    assert api.client.get(votes_url(proposal)).json()["votes"] == []
    answer = api.client.post(votes_url(proposal),
                             json=sign(proposal, "alice", "for", now, chain_id=BASE))
    assert answer.status_code == 201, answer.text
    page = api.client.get(f"/vote/{proposal}").text
    data = json.loads(re.search(r'id="vote-data">(.*?)</script>', page, re.S).group(1))
    assert data["typed_data"]["domain"]["chainId"] == data["tally"]["chain_id"] == BASE


def test_a_client_past_its_votes_per_window_waits_as_retry_after_says(api, proposal):
    clock = [utcnow()]
    api.client.app.state.vote_limit = VoteRateLimit(limit=2, window=timedelta(seconds=60),
                                                     clock=lambda: clock[0])
    now = seconds(clock[0])
    for name in ("alice", "bob"):
        assert api.client.post(votes_url(proposal),
                               json=sign(proposal, name, "for", now)).status_code == 201
    refused = api.client.post(votes_url(proposal), json=sign(proposal, "carol", "for", now))
    [message] = problem_of(refused, 429)
    assert refused.headers["Retry-After"] == "60"
    assert message == "votes: more than 2 from this client in 60 s; try again in 60 s"
    clock[0] += timedelta(seconds=45)
    assert api.client.post(votes_url(proposal), json=sign(proposal, "carol", "for", now)
                           ).headers["Retry-After"] == "15"
    clock[0] += timedelta(seconds=15)
    assert api.client.post(votes_url(proposal),
                           json=sign(proposal, "carol", "for", now)).status_code == 201
    assert api.client.get(votes_url(proposal)).json()["tally"]["voters"] == 3


def _page_data(text: str) -> dict:
    [raw] = re.findall(r'<script type="application/json" id="vote-data">(.*?)</script>', text,
                       re.S)
    return json.loads(raw)


def test_the_vote_page_is_public_and_its_data_cannot_break_out_of_its_script(api, tmp_path):
    voting_on(api.db, tmp_path)
    evil = "</script><script>alert(1)</script> & <!-- more"
    proposal = propose_allocation(api.db, ProposalInput(75, 15, 6, 4, evil), by="ann").proposal_id
    page = api.client.get(f"/vote/{proposal}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "</script><script>alert" not in page.text and "<!--" not in page.text.split(
        'id="vote-data">')[1].split("</script>")[0]
    data = _page_data(page.text)
    assert data["proposal"]["reasoning"] == evil
    assert data["typed_data"]["domain"]["salt"].endswith(proposal.replace("-", ""))
    assert data["votes_url"] == votes_url(proposal) and data["tally"]["status"] == "open"
    assert set(data["backtest"]["proposed"]) == {"reinvestment", "dao", "lucky", "creator"}
    [nonce] = re.findall(r'<script nonce="([^"]+)">', page.text)
    assert f"script-src 'nonce-{nonce}'" in page.headers["content-security-policy"]
    assert "https://" not in page.text and "http://" not in page.text  # no CDN


def test_the_vote_page_of_a_proposal_not_put_to_a_vote_says_so_with_404(api):
    page = api.client.get(f"/vote/{NOBODY}")
    assert page.status_code == 404
    assert _page_data(page.text)["error"].startswith("proposal:")


def test_the_html_page_is_not_in_the_api_document(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/vote/{proposal_id}" not in paths
    assert set(paths["/api/v1/proposals/{proposal_id}/votes"]) == {"get", "post"}


# --- a holder's weight proof ------------------------------------------------------------------

def proof_url(snapshot: str, address: str) -> str:
    return f"/api/v1/voting/snapshots/{snapshot}/proof/{address}"


@pytest.fixture
def snapshot(api, tmp_path) -> str:
    PROOF_TREES.cache_clear()  # kept by the process: each test starts from none built
    return voting_on(api.db, tmp_path)


def test_a_holder_s_proof_is_public_and_verifies_against_the_published_root(api, snapshot):
    published = get_snapshot(api.db, snapshot).merkle_root
    for name, units in (("alice", "400" + "0" * 18), ("frank", "5" + "0" * 17)):
        # Lower-case as exports write it: answered with the checksummed address.
        answer = api.client.get(proof_url(snapshot, ADDRESS[name].lower()))
        assert answer.status_code == 200, answer.text
        proof = answer.json()
        assert (proof["address"], proof["weight_units"], proof["root"]) == (
            ADDRESS[name], units, published)
        assert proof["leaf"] == hex32(leaf_hash(ADDRESS[name], int(units)))
        assert verify(proof["proof"], proof["leaf"], published)
        assert proof["leaf_encoding"] == ["address", "uint256"]


def test_a_second_proof_of_a_snapshot_is_served_without_rebuilding_its_tree(api, snapshot):
    first = api.client.get(proof_url(snapshot, ADDRESS["alice"]))
    second = api.client.get(proof_url(snapshot, ADDRESS["bob"]))
    assert (first.status_code, second.status_code) == (200, 200)
    info = PROOF_TREES.cache_info()
    assert (info.builds, info.hits, info.kept) == (1, 1, 1)
    assert verify(second.json()["proof"], second.json()["leaf"], first.json()["root"])


def test_an_unknown_snapshot_or_holder_is_404_and_a_malformed_address_422(api, snapshot):
    [error] = problem_of(api.client.get(proof_url(NOBODY, ADDRESS["alice"])), 404)
    assert error == f"snapshot: no holders snapshot with id {NOBODY}"
    [error] = problem_of(api.client.get(proof_url("not-an-id", ADDRESS["alice"])), 404)
    assert error.startswith("snapshot: 'not-an-id' is not a holders snapshot id")
    [error] = problem_of(api.client.get(proof_url(snapshot, OUTSIDER.address)), 404)
    assert error.startswith("address: ") and error.endswith("holds nothing in this snapshot")
    cases = [("0x1234", "address: '0x1234' is not an address: it has 4 characters after 0x; an "
                        "address has 40 hex digits"),
             ("1a642f0E3c3aF545E7AcBD38b07251B3990914F1", "must start with 0x"),
             ("0x" + "g" * 40, "only the hex digits 0-9 and a-f may follow 0x"),
             (ADDRESS["alice"].swapcase().replace("0X", "0x"), "checksum")]
    for address, message in cases:
        [error] = problem_of(api.client.get(proof_url(snapshot, address)), 422)
        assert error.startswith("address: ") and message in error, (address, error)
    # Only the outsider's lookup needed the tree; a malformed address is refused before it.
    assert PROOF_TREES.cache_info().builds == 1


def test_while_another_snapshot_s_tree_is_built_a_cold_proof_is_503_with_retry_after(
        api, snapshot):
    """One build at a time in the process: a holder asking meanwhile is told when to come back,
    and no request queues behind the build (a public route must not tie up the server)."""
    started, finish = threading.Event(), threading.Event()

    def held() -> MerkleTree:
        started.set()
        assert finish.wait(timeout=30)
        return MerkleTree([(ADDRESS["alice"], 1)])

    with ThreadPoolExecutor(1) as pool:
        building = pool.submit(PROOF_TREES.get, ("another snapshot", "its root"), held)
        assert started.wait(timeout=30)
        refused = api.client.get(proof_url(snapshot, ADDRESS["alice"]))
        finish.set()
        building.result()
    [error] = problem_of(refused, 503)
    assert error.startswith("snapshot: a proof tree is being built")
    assert refused.headers["Retry-After"] == str(BUSY_RETRY_SECONDS)
    assert api.client.get(proof_url(snapshot, ADDRESS["alice"])).status_code == 200


def test_a_client_past_its_proofs_per_window_waits_and_still_votes(api, snapshot, proposal):
    clock = [utcnow()]
    api.client.app.state.proof_limit = VoteRateLimit(limit=1, window=timedelta(seconds=60),
                                                      clock=lambda: clock[0], what="proofs")
    assert api.client.get(proof_url(snapshot, ADDRESS["alice"])).status_code == 200
    refused = api.client.get(proof_url(snapshot, ADDRESS["alice"]))
    assert problem_of(refused, 429) == ["proofs: more than 1 from this client in 60 s; try again "
                                        "in 60 s"]
    assert refused.headers["Retry-After"] == "60"
    vote = sign(proposal, "alice", "for", seconds(utcnow()))
    assert api.client.post(votes_url(proposal), json=vote).status_code == 201
    clock[0] += timedelta(seconds=60)
    assert api.client.get(proof_url(snapshot, ADDRESS["alice"])).status_code == 200
