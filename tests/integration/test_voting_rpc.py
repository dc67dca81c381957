"""`voting snapshot --rpc` against an in-process chain (eth-tester on py-evm) served over HTTP
JSON-RPC by a small local node, with an ERC-20 deployed from the compiled artifact safe-eth-py
ships: balances at the snapshot block count, later transfers do not; refusals write nothing. On
SQLite and PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import functools
import importlib.resources
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

from core.voting import chain
from db.engine import open_database
from tests.integration import cli_answers
from tests.integration.cli_answers import ok
from tests.integration.state import every_row

DECIMALS = 6
TOKEN_UNIT = 10 ** DECIMALS
CALL_GAS = 5_000_000


class _Node(BaseHTTPRequestHandler):
    """The JSON-RPC methods the snapshot reads, answered from the tester's chain, batches too;
    a revert is answered as geth does (error code 3)."""

    tester: EthereumTester
    caller: str

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request["method"], request.get("params", [])
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            if method == "eth_chainId":  # EIP-695: the chain the tester's blocks are signed for
                reply["result"] = hex(self.tester.backend.chain.chain_id)
            elif method == "eth_blockNumber":
                reply["result"] = hex(self.tester.get_block_by_number("latest")["number"])
            elif method == "eth_getCode":
                reply["result"] = self.tester.get_code(params[0], int(params[1], 16))
            elif method == "eth_call":
                call = {"from": self.caller, "gas": CALL_GAS, **params[0]}
                reply["result"] = self.tester.call(call, int(params[1], 16))
            else:
                reply["error"] = {"code": -32601, "message": f"method {method} not found"}
        except TransactionFailed:
            reply["error"] = {"code": 3, "message": "execution reverted"}
        return reply

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = [self._answer(r) for r in body] if isinstance(body, list) else self._answer(body)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Chain:
    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        accounts = self.w3.eth.accounts
        self.owner, self.holders = accounts[0], accounts[1:4]
        self.chain_id = self.w3.eth.chain_id
        artifact = json.loads((importlib.resources.files("safe_eth") / "eth/contracts/abis"
                               / "ERC20TestToken.json").read_text())
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        sent = factory.constructor("Vote", "VOTE", DECIMALS, self.owner,
                                   10 ** 6 * TOKEN_UNIT).transact({"from": self.owner})
        self.token = self.w3.eth.get_transaction_receipt(sent)["contractAddress"]
        self.contract = self.w3.eth.contract(address=self.token, abi=artifact["abi"])
        first, second, third = self.holders
        self.send(self.owner, first, 1_500_000)  # 1.5 tokens
        self.send(self.owner, second, 250 * TOKEN_UNIT)
        self.block = self.w3.eth.block_number
        # After the snapshot block: none of these may count.
        self.send(first, third, TOKEN_UNIT)
        self.send(self.owner, second, 1_000 * TOKEN_UNIT)
        self.send(self.owner, third, 7 * TOKEN_UNIT)

    def send(self, sender: str, to: str, amount: int) -> None:
        self.contract.functions.transfer(to, amount).transact({"from": sender})


@pytest.fixture(scope="module")
def evm() -> Chain:
    return Chain()


@pytest.fixture(scope="module")
def node_url(evm: Chain) -> Iterator[str]:
    handler = type("Node", (_Node,), {"tester": evm.tester, "caller": evm.owner})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


# Refusals read in the human form (no `--json`): only the error line and the exit code.
refused = functools.partial(cli_answers.refused, answer_json=False)


@pytest.fixture
def holders_file(evm: Chain, tmp_path: Path) -> Path:
    path = tmp_path / "holders.txt"
    first, second, third = evm.holders
    # The optional header, a comment, a lower-case address: all as the module's note allows.
    path.write_text(f"address\n{first}\n# the second holder\n{second.lower()}\n\n{third}\n",
                    encoding="utf-8")
    return path


def test_the_selectors_are_the_interfaces_keccak():
    from eth_utils import function_signature_to_4byte_selector as selector

    assert chain.BALANCE_OF == "0x" + selector("balanceOf(address)").hex()
    assert chain.DECIMALS == "0x" + selector("decimals()").hex()
    assert chain.GET_PAST_VOTES == "0x" + selector("getPastVotes(address,uint256)").hex()


def test_a_snapshot_from_the_node_counts_the_balances_at_its_block_only(
        run, evm, node_url, holders_file, tmp_path):
    data = ok(run("voting", "snapshot", "--rpc", node_url, "--token", evm.token, "--block",
                  str(evm.block), "--holders", str(holders_file), "--json"))
    assert {"snapshot_id", "block", "holders", "total", "merkle_root"} <= set(data)
    # 1.5 + 250 + 0 at the block; the 1,008 tokens moved after it do not count.
    assert (data["block"], data["holders"], data["total"]) == (evm.block, 3, "251.5")
    # On the node's chain: the one its holders' wallets are on and sign their votes for.
    assert data["chain_id"] == evm.chain_id
    # The same balances from a CSV give the same Merkle root: one loader, one tree.
    first, second, third = evm.holders
    csv = tmp_path / "same.csv"
    csv.write_text(f"address,balance\n{first},1.5\n{second},250\n{third},0\n", encoding="utf-8")
    same = ok(run("voting", "snapshot", str(csv), "--block", str(evm.block), "--json"))
    assert same["merkle_root"] == data["merkle_root"]


def test_a_later_block_counts_the_later_balances(run, evm, node_url, holders_file):
    head = evm.w3.eth.block_number
    data = ok(run("voting", "snapshot", "--rpc", node_url, "--token", evm.token, "--block",
                  str(head), "--holders", str(holders_file), "--json"))
    assert data["total"] == "1258.5"  # 0.5 + 1,250 + 8


def test_an_unreachable_node_is_refused_with_its_url_redacted_and_nothing_written(
        run, team_url, evm, holders_file):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    database = open_database(team_url)
    before = every_row(database)
    stderr = refused(run("voting", "snapshot", "--rpc",
                         f"http://user:secret@127.0.0.1:{port}/v3?key=abc", "--token",
                         evm.token, "--block", "1", "--holders", str(holders_file), "--json"),
                     3, "rpc: the node at http://***@127.0.0.1")
    assert "secret" not in stderr and "abc" not in stderr
    assert every_row(database) == before
    database.engine.dispose()


@pytest.mark.parametrize(("token", "block", "fragment"), [
    ("holder", None, "is not a contract"),
    (None, "future", "block: "),
])
def test_a_bad_token_or_a_future_block_is_refused_and_nothing_written(
        run, team_url, evm, node_url, holders_file, token, block, fragment):
    address = evm.holders[2] if token == "holder" else evm.token
    number = evm.w3.eth.block_number + 5 if block == "future" else evm.block
    database = open_database(team_url)
    before = every_row(database)
    refused(run("voting", "snapshot", "--rpc", node_url, "--token", address, "--block",
                str(number), "--holders", str(holders_file), "--json"), 3, fragment)
    assert every_row(database) == before
    database.engine.dispose()


def test_a_bad_holders_line_is_named_and_nothing_written(run, evm, node_url, tmp_path):
    path = tmp_path / "holders.txt"
    path.write_text(f"{evm.holders[0]}\n0x12\n{evm.holders[0]}\n", encoding="utf-8")
    stderr = refused(run("voting", "snapshot", "--rpc", node_url, "--token", evm.token,
                         "--block", str(evm.block), "--holders", str(path), "--json"),
                     3, "holders: line 2, address:")
    assert "holders: line 3, address:" in stderr and "appears again" in stderr


def test_a_chain_id_that_is_the_nodes_is_taken_and_another_is_refused_naming_both(
        run, team_url, evm, node_url, holders_file):
    args = ("voting", "snapshot", "--rpc", node_url, "--token", evm.token, "--block",
            str(evm.block), "--holders", str(holders_file), "--json")
    assert ok(run(*args, "--chain-id", str(evm.chain_id)))["chain_id"] == evm.chain_id
    database = open_database(team_url)
    before = every_row(database)
    refused(run(*args, "--chain-id", "8453"), 3,
            f"chain_id: 8453 was given but the node at {node_url} is on chain {evm.chain_id}")
    refused(run(*args, "--chain-id", "0"), 3, "chain_id: ")
    assert every_row(database) == before
    database.engine.dispose()


def test_a_file_and_rpc_together_or_rpc_without_holders_is_bad_usage(run, evm, node_url,
                                                                    holders_file):
    refused(run("voting", "snapshot", str(holders_file), "--rpc", node_url, "--token",
                evm.token, "--block", "1", "--json"), 2, "exactly one of FILE or --rpc")
    refused(run("voting", "snapshot", "--rpc", node_url, "--token", evm.token, "--block", "1",
                "--json"), 2, "--rpc needs --token ADDRESS and --holders FILE")
