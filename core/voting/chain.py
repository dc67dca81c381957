"""A holders snapshot read from an EVM node: each listed holder's weight at a block, over
JSON-RPC (web3.py's HTTP provider), handed to the same loader as the CSV (all rows or none, the
same Merkle root and storage).

The holders file names who to read, one address a line (checksummed or lower-case hex; blank
lines and `#` comments skipped; an optional `address` header, so the CSV's first column works
when cut out). A node cannot list a token's holders; the platform that knows them can.

The weight is the token's `getPastVotes(holder, N)` where the token has it (OpenZeppelin's
ERC20Votes: delegated voting power, so a holder who never delegated, even to themselves, has
none), else `balanceOf(holder)` read at block N. Amounts are the token's integers in its own
base units, `decimals()` read once, and scaled exactly to the snapshot's BALANCE_PLACES.

The snapshot is on the node's chain: its `eth_chainId` is read first and stored with it (every
vote on the snapshot signs for that chain); a chain id the caller names must be the node's.

Calls are raw `eth_call`s sent in JSON-RPC batches of CALL_BATCH: the three selectors are fixed
by the ERC-20 and IVotes interfaces (tests/unit check them against their Keccak-256), so no ABI
is needed, and a node answers a batch in one round trip instead of one per holder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core.base.errors import Refused, ValidationFailed
from core.base.formatting import count, money
from core.base.urls import redact_url
from core.voting.addresses import address_problem, normalise
from core.voting.snapshot_file import (BALANCE_PLACES, MAX_HOLDERS, MAX_REPORTED, MAX_UNITS,
                                       Holder, Snapshot, units_to_decimal)
from core.voting.typed_data import MAX_CHAIN_ID

BALANCE_OF = "0x70a08231"  # balanceOf(address)
DECIMALS = "0x313ce567"  # decimals()
GET_PAST_VOTES = "0x3a46b1a8"  # getPastVotes(address,uint256)
CALL_BATCH = 500  # eth_calls per JSON-RPC batch: public nodes cap a batch near 1,000
NODE_TIMEOUT_SECONDS = 30
MAX_DECIMALS = 77  # a uint8 above this leaves no uint256 amount a whole token
WORD_HEX = 64  # one ABI word: 32 bytes


class NodeUnavailable(Refused):
    """The node did not answer (unreachable, timed out, not JSON-RPC): nothing was read."""


# --- the holders file -----------------------------------------------------------------------

def read_holders(path: str | Path) -> list[str]:
    """The checksummed addresses in a holders file, in file order; every bad line is named."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ValidationFailed(f"holders: {path} cannot be read ({reason})") from None
    return parse_holders(lines)


def parse_holders(lines: Iterable[str]) -> list[str]:
    addresses: list[str] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    bad = 0
    for number, line in enumerate(lines, start=1):
        cell = line.split("#", 1)[0].split(",", 1)[0].strip()
        if not cell or (not addresses and not seen and cell.lower() == "address"):
            continue
        problem = address_problem(cell)
        if problem is None and normalise(cell) in seen:
            problem = f"{normalise(cell)} appears again (first on line {seen[normalise(cell)]})"
        if problem is not None:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(f"holders: line {number}, address: {problem}")
            continue
        seen[normalise(cell)] = number
        addresses.append(normalise(cell))
    if bad:
        if bad > len(problems):
            problems.append(f"holders: ... and {bad - len(problems)} more bad lines")
        raise ValidationFailed(*problems)
    if not addresses:
        raise ValidationFailed("holders: the file names no address; one address a line")
    if len(addresses) > MAX_HOLDERS:
        raise ValidationFailed(f"holders: {count(len(addresses))} addresses; at most "
                               f"{count(MAX_HOLDERS)}")
    return addresses


# --- JSON-RPC -------------------------------------------------------------------------------

def _word(value: int) -> str:
    return format(value, "x").rjust(WORD_HEX, "0")


def _address_word(address: str) -> str:
    return address[2:].lower().rjust(WORD_HEX, "0")


class _Node:
    """One node URL; every failure to get an answer becomes NodeUnavailable with the URL
    redacted (a provider's key often sits in the path or the query)."""

    def __init__(self, url: str) -> None:
        from web3 import HTTPProvider  # web3 is heavy: only this command loads it

        self.shown = redact_url(url)
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationFailed(f"rpc: {self.shown} is not an http(s) URL")
        # No retries: a node that is down is reported at once, not after a backoff.
        self.provider = HTTPProvider(url, request_kwargs={"timeout": NODE_TIMEOUT_SECONDS},
                                     exception_retry_configuration=None)

    def _failed(self, error: Exception) -> NodeUnavailable:
        reason = type(error).__name__
        return NodeUnavailable(f"rpc: the node at {self.shown} did not answer ({reason})")

    def request(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.provider.make_request(method, params)  # type: ignore[arg-type]
        except Exception as error:  # requests' and web3's many kinds: all mean no answer
            raise self._failed(error) from None
        return _result(response, method, self.shown)

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        try:
            responses = self.provider.make_batch_request(calls)  # type: ignore[arg-type]
        except Exception as error:
            raise self._failed(error) from None
        if not isinstance(responses, list) or len(responses) != len(calls):
            # A node that refuses batches answers with one error object.
            raise NodeUnavailable(f"rpc: the node at {self.shown} did not answer the batch "
                                  f"of {len(calls)} calls ({_error_text(responses)})")
        return [dict(r) for r in responses]


def _error_text(response: Any) -> str:
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:200]
    return str(error or "no result")[:200]


def _result(response: Any, method: str, shown: str) -> Any:
    if not isinstance(response, dict) or "result" not in response:
        raise NodeUnavailable(f"rpc: {method} at {shown} failed ({_error_text(response)})")
    return response["result"]


def _uint(result: Any) -> int | None:
    """One ABI uint256 from an eth_call's hex result; None for anything else (no such function,
    a revert answered as empty data)."""
    if not isinstance(result, str) or not result.startswith("0x") or len(result) != 2 + WORD_HEX:
        return None
    try:
        return int(result, 16)
    except ValueError:
        return None


# --- reading the balances -------------------------------------------------------------------

def _call(token: str, data: str, block: int) -> tuple[str, list[Any]]:
    return ("eth_call", [{"to": token, "data": data}, hex(block)])


def _scale(amount: int, decimals: int, holder: str) -> int:
    """The token's base units as the snapshot's (10^BALANCE_PLACES a token), exactly."""
    if decimals <= BALANCE_PLACES:
        units = amount * 10 ** (BALANCE_PLACES - decimals)
    else:
        units, rest = divmod(amount, 10 ** (decimals - BALANCE_PLACES))
        if rest:
            raise ValidationFailed(
                f"balance: {holder} holds {amount} base units of a token with {decimals} "
                f"decimals, finer than the {BALANCE_PLACES} places a snapshot keeps")
    if units > MAX_UNITS:
        raise ValidationFailed(f"balance: {holder} holds {money(units_to_decimal(units))} "
                               f"tokens, above the maximum {money(units_to_decimal(MAX_UNITS))}")
    return units


def _selector_in(code: str, selector: str) -> bool:
    # Solidity's dispatcher pushes each selector with PUSH4 (0x63): a revert of getPastVotes on
    # a contract that has it means the block is not yet in its past, not that it lacks it.
    return ("63" + selector[2:]) in code.lower()


def _chain_id(node: _Node, expected: int | None) -> int:
    """The node's chain id (`eth_chainId`, EIP-695); refused when the caller named another."""
    answer = node.request("eth_chainId", [])
    number = _quantity(answer)
    if number is None or not 1 <= number <= MAX_CHAIN_ID:
        raise NodeUnavailable(f"rpc: the node at {node.shown} answered eth_chainId with "
                              f"{str(answer)[:80]!r}, not a chain id (1 to {MAX_CHAIN_ID})")
    if expected is not None and expected != number:
        raise ValidationFailed(f"chain_id: {expected} was given but the node at {node.shown} is "
                               f"on chain {number}; a snapshot read from a node is on the node's "
                               "chain")
    return number


def _quantity(result: Any) -> int | None:
    """A JSON-RPC quantity (0x and hex digits), or None."""
    if not isinstance(result, str) or not result.startswith("0x") or len(result) > 2 + WORD_HEX:
        return None
    try:
        return int(result, 16)
    except ValueError:
        return None


def read_chain_snapshot(url: str, token: str, block: int, holders: Sequence[str],
                        chain_id: int | None = None) -> tuple[int, Snapshot]:
    """The node's chain id, and each holder's weight at `block` (see the module's note) as a
    Snapshot for the loader. `chain_id`, when given, must be the node's (checked first)."""
    node = _Node(url)
    node_chain = _chain_id(node, chain_id)
    head = int(node.request("eth_blockNumber", []), 16)
    if block > head:
        raise ValidationFailed(f"block: {block} is in the future; the node's latest block is "
                               f"{head}")
    code = node.request("eth_getCode", [token, hex(block)])
    if not isinstance(code, str) or code in ("0x", ""):
        raise ValidationFailed(f"token: {token} is not a contract at block {block} (no code)")
    decimals = _uint(node.request("eth_call", _call(token, DECIMALS, block)[1]))
    if decimals is None or decimals > MAX_DECIMALS:
        raise ValidationFailed(f"token: {token} has no ERC-20 decimals() at block {block}; "
                               "not a token contract")
    probe = node.batch([_call(token, GET_PAST_VOTES + _address_word(holders[0]) + _word(block),
                              block)])[0]
    votes = _uint(probe.get("result")) is not None
    if not votes and _selector_in(code, GET_PAST_VOTES):
        raise ValidationFailed(f"block: {block} is not yet past for {token}'s vote checkpoints "
                               f"(getPastVotes refused it); take a block below {head}")

    def data(holder: str) -> str:
        if votes:
            return GET_PAST_VOTES + _address_word(holder) + _word(block)
        return BALANCE_OF + _address_word(holder)

    read: list[Holder] = []
    total = 0
    for start in range(0, len(holders), CALL_BATCH):
        chunk = holders[start:start + CALL_BATCH]
        answers = node.batch([_call(token, data(h), block) for h in chunk])
        for holder, answer in zip(chunk, answers):
            amount = _uint(answer.get("result"))
            if amount is None:
                function = "getPastVotes" if votes else "balanceOf"
                raise ValidationFailed(f"token: {function}({holder}) at block {block} gave no "
                                       f"amount ({_error_text(answer)}); not an ERC-20 token?")
            units = _scale(amount, decimals, holder)
            read.append(Holder(holder, units))
            total += units
    if total == 0:
        raise ValidationFailed(f"holders: every listed holder held 0 at block {block}; a "
                               "snapshot needs some weight to vote with")
    return node_chain, Snapshot(tuple(read), total)
