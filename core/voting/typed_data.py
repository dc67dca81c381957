"""The EIP-712 typed data a holder's wallet signs to vote, and checking a signed vote with
eth-account. The signature is the credential: whoever holds the key of an address in the
snapshot can vote with its weight, with no account in the product.

The domain binds a signature to this product, one chain and one proposal: `name` (the product),
`version`, `chainId` and `salt`, the proposal's UUID right-aligned in 32 bytes (so the wallet
shows the proposal id in the domain too). EIP712Domain may hold only the fields EIP-712 names,
and `salt` is the one meant for telling apart domains that share the rest. The message repeats
the proposal (wallets show it to the signer), with the support, the voting address and the
time of the vote (unix seconds; a later vote by the same address replaces an earlier one).

Support is written as the word (`for`, `against`, `abstain`), not OpenZeppelin Governor's
uint8, because the person signing reads the message in their wallet.

A signature is 65 bytes, r || s || v, as `eth_signTypedData_v4` returns it; v may be 27/28 or
0/1. Only low-s signatures (EIP-2) are taken: every wallet makes those, and refusing the other
half keeps one vote from having two valid signatures.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from core.base.errors import ValidationFailed
from core.base.parsing import LATEST_DATE, parse_whole, shown
from core.voting.addresses import parse_address

# The product's name, as the README and the API's title call it; a wallet shows it as the
# domain being signed for.
DOMAIN_NAME = "Dynamic profit allocation"
DOMAIN_VERSION = "1"
# The chain a holders snapshot is on when it does not say (`voting snapshot FILE` without
# --chain-id, and every snapshot loaded before revision 0018): Ethereum mainnet. A snapshot read
# from a node is on the node's chain. Every vote signs for its snapshot's chain, and wallets
# refuse to sign for a chain they are not on.
DEFAULT_CHAIN_ID = 1
MAX_CHAIN_ID = 2 ** 53 - 1  # what a wallet's JavaScript can hold exactly (EIP-2294's bound)
PRIMARY_TYPE = "Vote"
FOR, AGAINST, ABSTAIN = "for", "against", "abstain"
SUPPORTS = (FOR, AGAINST, ABSTAIN)
# A vote's time: no earlier than the epoch, no later than the last day the product reads dates
# (core.base.parsing); the voting period is checked by the caller, which knows it.
MAX_TIMESTAMP = int(datetime.combine(LATEST_DATE, time.max, UTC).timestamp())
SIGNATURE_BYTES = 65
# secp256k1's group order; EIP-2: s must be at most half of it.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGNATURE = re.compile(rf"0x[0-9a-fA-F]{{{2 * SIGNATURE_BYTES}}}", re.ASCII)

TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "salt", "type": "bytes32"},
    ],
    PRIMARY_TYPE: [
        {"name": "proposal", "type": "string"},
        {"name": "support", "type": "string"},
        {"name": "address", "type": "address"},
        {"name": "timestamp", "type": "uint64"},
    ],
}


@dataclass(frozen=True)
class Vote:
    """A vote as signed: what it says, and the signature that says it."""

    proposal_id: str  # the UUID as text
    address: str  # checksummed
    support: str
    timestamp: int
    signature: str  # 0x + 130 hex digits, lower-case

    def as_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "address": self.address,
                "support": self.support, "timestamp": self.timestamp,
                "signature": self.signature}


# --- reading the parts -------------------------------------------------------------------------

def parse_proposal_id(value: Any, field: str = "proposal_id") -> str:
    """A proposal id (a UUID) as its canonical lower-case text."""
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, TypeError):
        raise ValidationFailed(f"{field}: {shown(value)} is not a proposal id (a UUID)") from None


def parse_support(value: Any, field: str = "support") -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in SUPPORTS:
        raise ValidationFailed(f"{field}: {shown(value)} is not one of {', '.join(SUPPORTS)}")
    return text


def parse_timestamp(value: Any, field: str = "timestamp") -> int:
    return parse_whole(value, field, minimum=0, maximum=MAX_TIMESTAMP)


def parse_chain_id(value: Any, field: str = "chain_id") -> int:
    return parse_whole(value, field, minimum=1, maximum=MAX_CHAIN_ID)


def parse_signature(value: Any, field: str = "signature") -> str:
    """0x and 130 hex digits, as lower-case text; the rule is named when it is not."""
    text = value.strip() if isinstance(value, str) else ""
    if not _SIGNATURE.fullmatch(text):
        raise ValidationFailed(
            f"{field}: {shown(value)} is not a signature: it must be 0x followed by "
            f"{2 * SIGNATURE_BYTES} hex digits ({SIGNATURE_BYTES} bytes: r, s and v)")
    raw = bytes.fromhex(text[2:])
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (0, 1, 27, 28):
        raise ValidationFailed(f"{field}: its last byte (v) is {v}; a signature's v is 27 or 28 "
                               "(or 0 or 1)")
    if not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise ValidationFailed(f"{field}: is not a valid secp256k1 signature (r or s out of "
                               "range; only low-s signatures, as wallets make them, are taken)")
    return text.lower()


# --- the typed data ----------------------------------------------------------------------------

def proposal_salt(proposal_id: str) -> str:
    """The domain's salt: the proposal's UUID (16 bytes) right-aligned in 32 bytes."""
    return "0x" + uuid.UUID(proposal_id).hex.rjust(64, "0")


def domain(proposal_id: Any, chain_id: int = DEFAULT_CHAIN_ID) -> dict[str, Any]:
    proposal = parse_proposal_id(proposal_id)
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION,
            "chainId": parse_chain_id(chain_id), "salt": proposal_salt(proposal)}


def typed_data(proposal_id: Any, address: Any, support: Any, timestamp: Any,
               chain_id: int = DEFAULT_CHAIN_ID) -> dict[str, Any]:
    """The full EIP-712 document (`eth_signTypedData_v4`'s argument) for one vote."""
    proposal = parse_proposal_id(proposal_id)
    return {
        "types": {name: [dict(f) for f in fields] for name, fields in TYPES.items()},
        "primaryType": PRIMARY_TYPE,
        "domain": domain(proposal, chain_id),
        "message": {"proposal": proposal, "support": parse_support(support),
                    "address": parse_address(address), "timestamp": parse_timestamp(timestamp)},
    }


def recover(document: dict[str, Any], signature: Any) -> str:
    """The checksummed address whose key signed `document` (EIP-712 typed data)."""
    signed = parse_signature(signature)
    try:
        return str(Account.recover_message(encode_typed_data(full_message=document),
                                           signature=signed))
    except Exception as error:  # eth-keys' BadSignature, ValidationError and kin
        raise ValidationFailed(f"signature: does not recover any address ({error})") from None


def verify_vote(for_proposal: Any, *, address: Any, support: Any, timestamp: Any,
                signature: Any, proposal: Any = None,
                chain_id: int = DEFAULT_CHAIN_ID) -> Vote:
    """A vote cast on `for_proposal`, checked: its parts well formed, the proposal it names (when
    it names one) the one it is cast on, and the signature made by `address`'s key over exactly
    this proposal, support and time. ValidationFailed with the reason otherwise."""
    target = parse_proposal_id(for_proposal, "proposal_id")
    if proposal is not None:
        named = parse_proposal_id(proposal, "proposal")
        if named != target:
            raise ValidationFailed(
                f"proposal: the vote was signed for proposal {named}, not {target}; a signed "
                "vote counts only for the proposal it names")
    voter = parse_address(address)
    choice = parse_support(support)
    moment = parse_timestamp(timestamp)
    signed = parse_signature(signature)
    recovered = recover(typed_data(target, voter, choice, moment, chain_id), signed)
    if recovered != voter:
        raise ValidationFailed(
            f"signature: was not made by {voter} over this vote (proposal {target} on chain "
            f"{parse_chain_id(chain_id)}, support {choice}, timestamp {moment}); it recovers "
            f"{recovered}, so it was signed by another key or over another proposal, chain, "
            "support or time (a wallet signs for the chain it is connected to)")
    return Vote(target, voter, choice, moment, signed)
