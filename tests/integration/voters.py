"""Holders with known keys for the voting tests: their snapshot CSV and their signed votes, made
with eth-account as a wallet would make them (eth_signTypedData_v4 over the same document)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from core.governance.policy_store import set_policy
from core.voting.service import load_snapshot
from core.voting.typed_data import DEFAULT_CHAIN_ID, typed_data
from db.engine import Database
from db.types import utcnow

# Known keys (0x0101..01, 0x0202..02, ...), so a failure names the same addresses every run.
KEYS = {name: Account.from_key(bytes([i + 1]) * 32)
        for i, name in enumerate(("alice", "bob", "carol", "dave", "erin", "frank"))}
ADDRESS = {name: key.address for name, key in KEYS.items()}
OUTSIDER = Account.from_key(bytes([0x42]) * 32)  # holds nothing in any snapshot here
# Balances (tokens): 1,000 in all. Dave delegates his 50 to Carol.
BALANCES = {"alice": "400", "bob": "300", "carol": "150", "dave": "50", "erin": "99.5",
            "frank": "0.5"}
DELEGATES = {"dave": "carol"}
BLOCK = 19_000_000


def snapshot_csv(path: Path, balances: dict[str, str] | None = None,
                 delegates: dict[str, str] | None = None) -> Path:
    balances = BALANCES if balances is None else balances
    delegates = DELEGATES if delegates is None else delegates
    lines = ["address,balance,delegate"]
    for name, balance in balances.items():
        # Half lower-case, half checksummed: both are how exports write addresses.
        address = ADDRESS[name].lower() if len(lines) % 2 else ADDRESS[name]
        delegate = ADDRESS[delegates[name]] if name in delegates else ""
        lines.append(f"{address},{balance},{delegate}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def voting_on(db: Database, tmp_path: Path, mode: str = "advisory", chain_id: int | None = None,
              **policy: str) -> str:
    """A snapshot (of `chain_id`, mainnet when None) loaded and the community vote switched on
    (by the admin, `ada`); its id."""
    facts = load_snapshot(db, snapshot_csv(tmp_path / "holders.csv"), block=BLOCK,
                          chain_id=chain_id)
    for key, value in {"community_vote": mode, **policy}.items():
        set_policy(db, key, value, by="ada")
    return facts.snapshot_id


def sign(proposal_id: str, name: str, support: str, timestamp: int,
         key: Any = None, chain_id: int = DEFAULT_CHAIN_ID) -> dict[str, Any]:
    """The vote of holder `name` as `vote cast` takes it (signed by `key`, default theirs, by a
    wallet on chain `chain_id`)."""
    signer = key or KEYS[name]
    document = typed_data(proposal_id, ADDRESS[name], support, timestamp, chain_id)
    signature = "0x" + signer.sign_message(encode_typed_data(full_message=document)).signature.hex()
    return {"address": ADDRESS[name], "support": support, "timestamp": timestamp,
            "signature": signature}


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def later(moment: datetime | None = None, **delta: float) -> datetime:
    return (moment or utcnow()) + timedelta(**delta)
