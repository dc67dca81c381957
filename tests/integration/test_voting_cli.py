"""`python -m core voting/vote ...` on SQLite and PostgreSQL: the contract's --json fields, exit
codes and one-line refusals, and `proposal execute-due --at` closing binding votes both ways."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.voting import merkle
from db import triggers
from db.engine import open_database
from db.types import utcnow
from tests.integration.cli_answers import ok, refused
from tests.integration.state import every_row
from tests.integration.voters import ADDRESS, BLOCK, KEYS, seconds, sign, snapshot_csv

MAJOR = ["--reinvestment", "64", "--dao", "30", "--lucky", "3", "--creator", "3"]


def binding(run: Any, tmp_path: Any) -> dict[str, Any]:
    loaded = ok(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                    str(BLOCK), "--json"))
    ok(run("policy", "set", "community_vote", "binding_major", "--by", "ada", "--json"))
    ok(run("policy", "set", "timelock_hours_major", "0", "--by", "ada", "--json"))
    return loaded


def cast_args(proposal: str, vote: dict[str, Any]) -> list[str]:
    return ["vote", "cast", proposal, "--address", vote["address"], "--support",
            vote["support"], "--timestamp", str(vote["timestamp"]), "--signature",
            vote["signature"], "--json"]


def test_a_snapshot_loads_with_the_contracts_fields(run, tmp_path):
    data = ok(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                  str(BLOCK), "--token", ADDRESS["alice"], "--json"))
    assert {"snapshot_id", "block", "holders", "total", "merkle_root"} <= set(data)
    assert (data["block"], data["holders"], data["total"]) == (BLOCK, 6, "1000")
    assert data["merkle_root"].startswith("0x") and len(data["merkle_root"]) == 66


def test_a_bad_snapshot_file_exits_3_naming_the_line_and_writes_nothing(run, team_url, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("address,balance\n0x12,5\n", encoding="utf-8")
    database = open_database(team_url)
    before = every_row(database)
    refused(run("voting", "snapshot", str(path), "--block", "1", "--json"), 3, "line 2, address:")
    assert every_row(database) == before
    database.engine.dispose()


BASE = 8453


def test_a_snapshot_on_base_gives_typed_data_on_base_and_takes_only_votes_signed_there(
        run, team_url, tmp_path):
    loaded = ok(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                    str(BLOCK), "--chain-id", str(BASE), "--json"))
    assert loaded["chain_id"] == BASE
    ok(run("policy", "set", "community_vote", "advisory", "--by", "ada", "--json"))
    proposal = ok(run("propose", *MAJOR, "--reasoning", "more DAO", "--by", "ann",
                      "--json"))["proposal_id"]
    now = seconds(utcnow())
    document = ok(run("vote", "typed-data", proposal, "--address", ADDRESS["alice"],
                      "--support", "for", "--timestamp", str(now), "--json"))
    assert document["domain"]["chainId"] == BASE
    ok(run(*cast_args(proposal, sign(proposal, "alice", "for", now, chain_id=BASE))))
    database = open_database(team_url)
    before = every_row(database)
    refused(run(*cast_args(proposal, sign(proposal, "bob", "for", now))), 3,
            f"over this vote (proposal {proposal} on chain {BASE},")
    assert every_row(database) == before
    database.engine.dispose()
    tally = ok(run("vote", "tally", proposal, "--json"))
    assert (tally["chain_id"], tally["for"], tally["voters"]) == (BASE, "400", 1)


@pytest.mark.parametrize("chain_id", ["0", "-1", str(2 ** 53), "abc"])
def test_a_bad_chain_id_exits_3_naming_chain_id_and_writes_nothing(run, team_url, tmp_path,
                                                                   chain_id):
    database = open_database(team_url)
    before = every_row(database)
    refused(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                str(BLOCK), "--chain-id", chain_id, "--json"), 3, "chain_id: ")
    assert every_row(database) == before
    database.engine.dispose()


def test_typed_data_cast_and_tally_follow_the_contract(run, tmp_path):
    loaded = binding(run, tmp_path)
    proposal = ok(run("propose", *MAJOR, "--reasoning", "more DAO", "--by", "ann",
                      "--json"))["proposal_id"]
    now = seconds(utcnow())
    document = ok(run("vote", "typed-data", proposal, "--address", ADDRESS["alice"].lower(),
                      "--support", "for", "--timestamp", str(now), "--json"))
    assert document["primaryType"] == "Vote" and "EIP712Domain" in document["types"]
    assert document["message"] == {"proposal": proposal, "support": "for",
                                   "address": ADDRESS["alice"], "timestamp": now}
    from eth_account.messages import encode_typed_data
    signature = "0x" + KEYS["alice"].sign_message(
        encode_typed_data(full_message=document)).signature.hex()
    cast = ok(run(*cast_args(proposal, {"address": ADDRESS["alice"], "support": "for",
                                        "timestamp": now, "signature": signature})))
    assert cast == {**cast, "proposal_id": proposal, "address": ADDRESS["alice"],
                    "support": "for", "weight": "400"}
    tally = ok(run("vote", "tally", proposal, "--json"))
    assert {k: tally[k] for k in ("proposal_id", "snapshot_id", "for", "against", "abstain",
                                  "quorum", "quorum_met", "passed", "voters", "status")} == {
        "proposal_id": proposal, "snapshot_id": loaded["snapshot_id"], "for": "400",
        "against": "0", "abstain": "0", "quorum": "40", "quorum_met": True, "passed": True,
        "voters": 1, "status": "open"}
    assert tally["closes_at"].startswith(str((utcnow() + timedelta(hours=72)).date()))


def test_bad_votes_exit_3_or_4_with_one_line_each(run, tmp_path):
    binding(run, tmp_path)
    proposal = ok(run("propose", *MAJOR, "--reasoning", "more DAO", "--by", "ann",
                      "--json"))["proposal_id"]
    now = seconds(utcnow())
    forged = sign(proposal, "alice", "for", now, key=KEYS["bob"])
    refused(run(*cast_args(proposal, forged)), 3, "signature: was not made by")
    refused(run(*cast_args(proposal, {**sign(proposal, "alice", "for", now),
                                      "support": "maybe"})), 3, "support: 'maybe' is not one of")
    refused(run(*cast_args("0c4a9a2e-0000-4000-8000-000000000000",
                           sign(proposal, "alice", "for", now))), 4, "proposal: no split proposal")
    refused(run("vote", "tally", "not-an-id", "--json"), 4, "is not a proposal id")


@pytest.mark.parametrize(("voters", "status"), [
    ((("alice", "for"), ("bob", "against")), "active"),
    ((("alice", "against"), ("bob", "for")), "rejected"),
])
def test_execute_due_at_the_close_lets_a_binding_vote_decide_a_major_change(run, tmp_path,
                                                                            voters, status):
    binding(run, tmp_path)
    proposal = ok(run("propose", *MAJOR, "--reasoning", "more DAO", "--by", "ann",
                      "--json"))["proposal_id"]
    now = seconds(utcnow())
    for name, support in voters:
        ok(run(*cast_args(proposal, sign(proposal, name, support, now))))
    for governor in ("gus", "gail"):
        assert ok(run("review", proposal, "--decision", "approved", "--by", governor,
                      "--json"))["status"] == "proposed"
    closes = ok(run("vote", "tally", proposal, "--json"))["closes_at"]
    early = ok(run("proposal", "execute-due", "--at", _before(closes), "--json"))
    assert early["votes_closed"] == []
    due = ok(run("proposal", "execute-due", "--at", closes, "--json"))
    assert [v["proposal_id"] for v in due["votes_closed"]] == [proposal]
    assert ok(run("proposal", "show", proposal, "--json"))["status"] == status
    assert ok(run("vote", "tally", proposal, "--json"))["status"] == "closed"


def _before(iso: str) -> str:
    from datetime import datetime
    return (datetime.fromisoformat(iso) - timedelta(minutes=1)).isoformat()


def test_a_holder_proves_their_weight_against_the_published_root(run, tmp_path):
    loaded = ok(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                    str(BLOCK), "--json"))
    proof = ok(run("voting", "proof", loaded["snapshot_id"], ADDRESS["bob"].lower(), "--json"))
    assert proof["address"] == ADDRESS["bob"] and proof["root"] == loaded["merkle_root"]
    assert proof["weight_units"] == str(300 * 10**18)
    # The check a holder runs without trusting this server: the leaf from their own address
    # and weight, folded with the proof, gives the published root.
    assert merkle.leaf_hash(ADDRESS["bob"], 300 * 10**18).hex() == proof["leaf"].removeprefix("0x")
    assert merkle.verify(proof["proof"], proof["leaf"], loaded["merkle_root"])
    assert not merkle.verify(proof["proof"], merkle.leaf_hash(ADDRESS["bob"], 301 * 10**18),
                             loaded["merkle_root"])
    refused(run("voting", "proof", loaded["snapshot_id"], "0x" + "12" * 20, "--json"), 4,
            "holds nothing in this snapshot")


def test_verify_recomputes_the_root_and_digest_and_exits_3_when_a_row_was_altered(
        run, team_url, tmp_path):
    loaded = ok(run("voting", "snapshot", str(snapshot_csv(tmp_path / "h.csv")), "--block",
                    str(BLOCK), "--json"))
    checked = ok(run("voting", "verify", loaded["snapshot_id"], "--json"))
    assert checked["ok"] is True and checked["holders"] == 6
    assert checked["recomputed_root"] == loaded["merkle_root"]
    # Someone with the database's owner rights sets the guards aside and raises a weight.
    database = open_database(team_url)
    with database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            for statement in triggers.drop_statements("sqlite", triggers.FIXED_TABLES):
                connection.exec_driver_sql(statement)
        else:
            connection.exec_driver_sql("ALTER TABLE snapshot_holders DISABLE TRIGGER ALL")
        connection.execute(sa.text("UPDATE snapshot_holders SET units = units * 2 "
                                   "WHERE address = :a"), {"a": ADDRESS["bob"]})
    database.engine.dispose()
    altered = run("voting", "verify", loaded["snapshot_id"], "--json")
    assert altered.exit_code == 3
    data = json.loads(altered.stdout)
    assert data["ok"] is False and data["recomputed_root"] != loaded["merkle_root"]
    refused(run("voting", "proof", loaded["snapshot_id"], ADDRESS["bob"], "--json"), 3,
            "has been altered")
