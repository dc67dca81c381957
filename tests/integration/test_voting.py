"""Community voting through core on SQLite and PostgreSQL: snapshots all or nothing, signed votes
taken or refused with nothing written, the latest vote per address, delegation, the quorum fixed
at filing, advisory votes, and governance proposals never put to the vote. Simulated clock."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from eth_account.messages import encode_typed_data

from core.base.errors import NotFound, Refused, ValidationFailed
from core.governance.changes import request_policy_change
from core.governance.policy_store import set_policy
from core.governance.sealing import seal
from core.proposals.lifecycle import get_proposal, review_proposal
from core.proposals.queue import execute_due
from core.record.activity import list_activity
from core.record.audit import verify_record
from core.record.outbox import ACTIVITY_EVENTS
from core.voting.merkle import merkle_root
from core.voting.service import (cast_vote, get_snapshot, load_snapshot, proposal_tally,
                                 proposal_votes, vote_typed_data)
from core.voting.snapshot_file import snapshot_from_text, to_units
from core.voting.tally import tally_snapshot
from core.voting.typed_data import DEFAULT_CHAIN_ID, Vote, typed_data
from db.types import utcnow
from tests.integration.state import every_row, file
from tests.integration.voters import (ADDRESS, BLOCK, KEYS, OUTSIDER, later, seconds, sign,
                                      snapshot_csv, voting_on)

MINOR = (75, 15, 6, 4)
BASE = 8453  # Base, an L2: its tokens' holders sign on it


@pytest.fixture
def filed(team, tmp_path):
    """An advisory vote open on a minor proposal filed now; (db, proposal id, filing time)."""
    voting_on(team, tmp_path)
    now = utcnow()
    return team, file(team, MINOR, now=now), now


def cast(db, proposal, name, support, at, **kw):
    return cast_vote(db, proposal, now=at, **sign(proposal, name, support, seconds(at), **kw))


# --- snapshots ----------------------------------------------------------------------------------

def test_a_snapshot_keeps_every_holder_its_total_and_the_merkle_root_anyone_can_recompute(
        team, tmp_path):
    path = snapshot_csv(tmp_path / "holders.csv")
    facts = load_snapshot(team, path, block=BLOCK, token=ADDRESS["frank"].lower())
    assert (facts.block, facts.holders, facts.total) == (BLOCK, 6, Decimal(1000))
    assert facts.token == ADDRESS["frank"]  # kept checksummed
    expected = snapshot_from_text(path.read_text())
    assert facts.merkle_root == merkle_root((h.address, h.units) for h in expected.holders)
    assert get_snapshot(team, facts.snapshot_id) == facts
    with team.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT address, units, delegate FROM snapshot_holders")).all()
    assert sorted((a, int(Decimal(str(u))), d) for a, u, d in stored) == sorted(
        (h.address, h.units, h.delegate) for h in expected.holders)
    assert [a.activity_type for a in list_activity(team, limit=1)] == ["vote_snapshot_loaded"]


def test_a_snapshot_with_one_bad_row_is_refused_whole_and_writes_nothing(team, tmp_path):
    path = snapshot_csv(tmp_path / "holders.csv")
    path.write_text(path.read_text() + "0x12345,10,\n", encoding="utf-8")
    before = every_row(team)
    with pytest.raises(ValidationFailed, match="line 8, address: "):
        load_snapshot(team, path, block=BLOCK)
    assert every_row(team) == before


@pytest.mark.parametrize(("block", "token", "fragment"), [
    ("-1", None, "block: -1 is outside 0.."), ("12.5", None, "block: '12.5' is not a whole number"),
    ("5", "0xabc", "token: '0xabc' is not an address"),
])
def test_a_snapshot_with_a_bad_block_or_token_is_refused_before_the_file_is_read(
        team, tmp_path, block, token, fragment):
    before = every_row(team)
    with pytest.raises(ValidationFailed, match=fragment.replace(".", r"\.").replace("(", r"\(")):
        load_snapshot(team, snapshot_csv(tmp_path / "h.csv"), block=block, token=token)
    assert every_row(team) == before


def test_a_snapshot_whose_total_has_more_than_28_digits_in_base_units_is_kept_exactly(team,
                                                                                      tmp_path):
    huge = "123456789012.123456789012345678"  # 30 digits in base units
    facts = load_snapshot(team, snapshot_csv(tmp_path / "h.csv", {"alice": huge, "bob": "1"}, {}),
                          block=1)
    assert facts.total == Decimal("123456789013.123456789012345678")  # exact, past 28 digits
    set_policy(team, "community_vote", "advisory", by="ada")
    now = utcnow()
    proposal = file(team, MINOR, now=now)
    assert cast(team, proposal, "alice", "for", later(now, minutes=1)).weight == Decimal(huge)


def test_a_snapshot_is_on_mainnet_unless_it_names_its_chain(team, tmp_path):
    mainnet = load_snapshot(team, snapshot_csv(tmp_path / "a.csv"), block=BLOCK)
    base = load_snapshot(team, snapshot_csv(tmp_path / "b.csv"), block=BLOCK, chain_id="8453")
    assert (mainnet.chain_id, base.chain_id) == (DEFAULT_CHAIN_ID, BASE)
    assert get_snapshot(team, base.snapshot_id).as_json()["chain_id"] == BASE
    assert verify_record(team).ok  # the chain MAC covers the chain id


@pytest.mark.parametrize("chain_id", ["0", "-1", str(2 ** 53), "abc"])
def test_a_chain_id_outside_1_to_2_53_minus_1_is_refused_naming_chain_id_and_writes_nothing(
        team, tmp_path, chain_id):
    before = every_row(team)
    with pytest.raises(ValidationFailed, match="^chain_id: "):
        load_snapshot(team, snapshot_csv(tmp_path / "h.csv"), block=BLOCK, chain_id=chain_id)
    assert every_row(team) == before


def test_the_database_refuses_a_snapshot_chain_id_out_of_range_and_any_change_of_it(team,
                                                                                  tmp_path):
    voting_on(team, tmp_path, chain_id=BASE)
    for statement in ("UPDATE vote_snapshots SET chain_id = 1",
                      "UPDATE vote_snapshots SET chain_id = 0"):
        with pytest.raises(sa.exc.DatabaseError), team.engine.begin() as conn:
            conn.execute(sa.text(statement))
    with team.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT chain_id FROM vote_snapshots")) == BASE


def test_on_a_base_snapshot_votes_signed_on_base_count_and_one_signed_on_mainnet_is_refused(
        team, tmp_path):
    voting_on(team, tmp_path, chain_id=BASE)
    now = utcnow()
    proposal = file(team, MINOR, now=now)
    document = vote_typed_data(team, proposal, address=ADDRESS["alice"], support="for")
    assert document["domain"]["chainId"] == BASE
    first = cast(team, proposal, "alice", "for", later(now, minutes=1), chain_id=BASE)
    assert first.weight == Decimal(400)
    at = later(now, minutes=2)
    before = every_row(team)
    with pytest.raises(ValidationFailed) as refused:
        cast_vote(team, proposal, now=at,
                  **sign(proposal, "bob", "against", seconds(at), chain_id=DEFAULT_CHAIN_ID))
    assert every_row(team) == before
    assert refused.value.problems[0].startswith(
        f"signature: was not made by {ADDRESS['bob']} over this vote (proposal {proposal} on "
        f"chain {BASE},")
    assert "a wallet signs for the chain it is connected to" in refused.value.problems[0]
    view = proposal_tally(team, proposal, now=later(now, minutes=3)).as_json()
    assert (view["chain_id"], view["for"], view["against"], view["voters"]) == (BASE, "400", "0",
                                                                                1)


def test_the_holder_rows_of_a_snapshot_cannot_be_changed_or_deleted(team, tmp_path):
    voting_on(team, tmp_path)  # on SQLite the load sets the guards aside and puts them back
    replace = ("INSERT OR REPLACE INTO snapshot_holders SELECT * FROM snapshot_holders"
               if team.dialect == "sqlite" else "TRUNCATE snapshot_holders CASCADE")
    for statement in ("UPDATE snapshot_holders SET units = 1",
                      "DELETE FROM snapshot_holders", replace):
        with pytest.raises(sa.exc.DatabaseError), team.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_the_vote_cannot_be_switched_on_before_any_snapshot_is_loaded(team):
    with pytest.raises(Refused, match="community_vote: no holders snapshot is loaded"):
        set_policy(team, "community_vote", "advisory", by="ada")


# --- casting ------------------------------------------------------------------------------------

def test_a_signed_vote_counts_with_the_holders_weight_at_the_snapshot(filed):
    db, proposal, now = filed
    outcome = cast(db, proposal, "alice", "for", later(now, minutes=1))
    assert (outcome.address, outcome.support, outcome.weight) == (ADDRESS["alice"], "for",
                                                                 Decimal(400))
    view = proposal_tally(db, proposal, now=later(now, minutes=2)).as_json()
    assert (view["for"], view["against"], view["voters"], view["status"]) == ("400", "0", 1, "open")
    assert (view["quorum"], view["quorum_met"], view["passed"]) == ("40", True, True)
    [activity] = [a for a in list_activity(db, limit=3) if a.activity_type == "vote_cast"]
    assert activity.metadata["by"] == ADDRESS["alice"]
    assert ACTIVITY_EVENTS["vote_cast"][0] == "vote.cast"


@pytest.mark.parametrize(("tamper", "fragment"), [
    ("wrong key", "was not made by"),
    ("another proposal", "was not made by"),
    ("changed support", "was not made by"),
])
def test_a_vote_whose_signature_does_not_recover_the_address_is_refused_and_writes_nothing(
        filed, tamper, fragment):
    db, proposal, now = filed
    at = later(now, minutes=1)
    if tamper == "wrong key":
        vote = sign(proposal, "alice", "for", seconds(at), key=KEYS["bob"])
    elif tamper == "another proposal":
        other = file(db, (70, 18, 8, 4), now=now)
        vote = sign(other, "alice", "for", seconds(at))  # replayed onto `proposal`
    else:
        vote = {**sign(proposal, "alice", "for", seconds(at)), "support": "against"}
    before = every_row(db)
    with pytest.raises(ValidationFailed, match=fragment):
        cast_vote(db, proposal, now=at, **vote)
    assert every_row(db) == before


def test_an_address_with_no_weight_at_the_snapshot_cannot_vote(filed):
    db, proposal, now = filed
    at = later(now, minutes=1)
    document = typed_data(proposal, OUTSIDER.address, "for", seconds(at))
    signature = "0x" + OUTSIDER.sign_message(encode_typed_data(full_message=document)).signature.hex()
    before = every_row(db)
    with pytest.raises(Refused, match=f"address: {OUTSIDER.address} held nothing at snapshot"):
        cast_vote(db, proposal, now=at, address=OUTSIDER.address, support="for",
                  timestamp=seconds(at), signature=signature)
    assert every_row(db) == before


def test_votes_before_the_filing_or_after_the_period_are_refused(filed):
    db, proposal, now = filed
    closes = later(now, hours=72)
    before = every_row(db)
    with pytest.raises(Refused, match="closed at"):
        cast(db, proposal, "alice", "for", closes)
    with pytest.raises(Refused, match="is outside the voting period"):
        cast_vote(db, proposal, now=later(now, minutes=1),
                  **sign(proposal, "alice", "for", seconds(now) - 60))
    with pytest.raises(Refused, match="ahead of the clock"):
        cast_vote(db, proposal, now=later(now, minutes=1),
                  **sign(proposal, "alice", "for", seconds(later(now, hours=1))))
    assert every_row(db) == before


def test_a_later_vote_replaces_the_earlier_and_an_older_or_repeated_one_is_refused(filed):
    db, proposal, now = filed
    cast(db, proposal, "bob", "for", later(now, minutes=1))
    first = sign(proposal, "bob", "for", seconds(later(now, minutes=1)))
    changed = cast(db, proposal, "bob", "against", later(now, minutes=5))
    assert changed.replaced is True
    before = every_row(db)
    with pytest.raises(Refused, match="a vote replaces an earlier one only with a later"):
        cast_vote(db, proposal, now=later(now, minutes=6), **first)  # the old one, replayed
    with pytest.raises(Refused, match="this very vote"):
        cast(db, proposal, "bob", "against", later(now, minutes=5))
    assert every_row(db) == before
    view = proposal_tally(db, proposal, now=later(now, minutes=7)).as_json()
    assert (view["for"], view["against"], view["voters"]) == ("0", "300", 1)
    assert len(proposal_votes(db, proposal).votes) == 2  # both kept, the latest counts


def test_a_delegate_votes_with_the_weight_delegated_to_it_until_the_delegator_votes(filed):
    db, proposal, now = filed
    carol = cast(db, proposal, "carol", "for", later(now, minutes=1))
    assert carol.weight == Decimal(200)  # 150 of her own and Dave's 50
    assert proposal_tally(db, proposal, now=later(now, minutes=2)).tally.for_ == 200
    dave = cast(db, proposal, "dave", "against", later(now, minutes=3))
    assert dave.weight == Decimal(50)
    counted = proposal_tally(db, proposal, now=later(now, minutes=4)).tally
    assert (counted.for_, counted.against) == (150, 50)


def test_a_delegate_holding_nothing_itself_may_vote_with_what_was_delegated(team, tmp_path):
    load_snapshot(team, snapshot_csv(tmp_path / "h.csv", {"alice": "10", "bob": "0"},
                                     {"alice": "bob"}), block=1)
    set_policy(team, "community_vote", "advisory", by="ada")
    now = utcnow()
    proposal = file(team, MINOR, now=now)
    assert cast(team, proposal, "bob", "for", later(now, minutes=1)).weight == 10


def test_the_tally_is_the_one_anyone_recounts_from_the_export_and_the_snapshot_file(
        filed, tmp_path):
    db, proposal, now = filed
    for minute, (name, support) in enumerate([("alice", "against"), ("carol", "for"),
                                              ("erin", "abstain"), ("alice", "for")], start=1):
        cast(db, proposal, name, support, later(now, minutes=minute))
    export = proposal_votes(db, proposal, now=later(now, hours=1))
    snapshot = snapshot_from_text((tmp_path / "holders.csv").read_text())
    recount = tally_snapshot([Vote(proposal, v["address"], v["support"], v["timestamp"],
                                   v["signature"]) for v in export.votes], snapshot)
    assert recount == export.tally.tally
    assert (recount.for_units, recount.abstain_units) == (to_units(Decimal(600)),
                                                         to_units(Decimal("99.5")))


def test_changing_the_quorum_does_not_touch_an_open_vote_but_new_proposals_take_it(filed):
    db, proposal, now = filed
    set_policy(db, "vote_quorum_pct", "50", by="ada")
    cast(db, proposal, "erin", "for", later(now, minutes=1))  # 99.5 of 1,000: above 4%
    view = proposal_tally(db, proposal, now=later(now, minutes=2))
    assert (view.quorum_pct, view.tally.quorum, view.tally.quorum_met) == (4, 40, True)
    newer = file(db, (70, 18, 8, 4), now=later(now, minutes=3))
    assert proposal_tally(db, newer, now=later(now, minutes=4)).tally.quorum == 500


def test_an_advisory_vote_shows_its_tally_and_the_governors_decide(filed):
    db, proposal, now = filed
    cast(db, proposal, "alice", "against", later(now, minutes=1))
    assert review_proposal(db, proposal, "approved", by="gus",
                           now=later(now, minutes=2)).status == "active"
    closed = execute_due(db, later(now, hours=72))
    assert [(c.proposal_id, c.passed) for c in closed.votes_closed] == [(proposal, False)]
    assert get_proposal(db, proposal).status == "active"
    view = proposal_tally(db, proposal, now=later(now, hours=73)).as_json()
    assert (view["status"], view["against"]) == ("closed", "400")
    assert view["outcome"] == "recorded: proposal is active"
    assert execute_due(db, later(now, hours=74)).votes_closed == []  # closed once
    assert ACTIVITY_EVENTS["vote_closed"][0] == "vote.closed"
    assert "vote_closed" in [a.activity_type for a in list_activity(db, limit=5)]


def test_with_voting_off_a_proposal_has_no_vote(team):
    proposal = file(team, MINOR)
    with pytest.raises(Refused, match="is not put to a community vote"):
        vote_typed_data(team, proposal, address=ADDRESS["alice"], support="for")


def test_a_governance_proposal_is_never_put_to_the_community_vote(team, tmp_path):
    voting_on(team, tmp_path)
    seal(team, by="ada")
    filing = request_policy_change(team, "max_step", "20", by="ada")
    with team.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM proposal_vote_terms")) == 0
    with pytest.raises(NotFound, match="governance proposals are never put to the community"):
        vote_typed_data(team, filing.id, address=ADDRESS["alice"], support="for")
