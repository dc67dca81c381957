"""The public vote page in a real browser against a real `python -m api`: a test wallet injected
into the page (window.ethereum answering eth_requestAccounts, eth_chainId,
wallet_switchEthereumChain and eth_signTypedData_v4, signing in Python with eth-account from
known keys, as a wallet would) votes, the tally changes, it survives a reload, a second vote by
the same address replaces the first, and a refused vote (an address with no weight) is shown as
text. On a snapshot of another chain, a wallet that will not switch to it signs nothing and the
page says why; one that switches votes. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.messages import encode_typed_data
from playwright.sync_api import Page, expect

from core.database import connect
from tests.api.conftest import seed_team
from tests.api.test_server import api_server as running_api
from tests.e2e.test_browser import SHOTS, WAIT_MS, page  # noqa: F401
from tests.integration.state import file
from tests.integration.voters import ADDRESS, KEYS, OUTSIDER, voting_on

# The injected wallet: the page's own calls go to Python through exposed functions.
WALLET = """
window.ethereum = {
  isTestWallet: true,
  request: async ({method, params}) => {
    if (method === "eth_requestAccounts") { return [await window.testWalletAccount()]; }
    if (method === "eth_chainId") { return await window.testWalletChain(); }
    if (method === "wallet_switchEthereumChain") {
      if (await window.testWalletSwitch(params[0].chainId)) { return null; }
      throw Object.assign(new Error("User rejected the request."), {code: 4001});  // EIP-1193
    }
    if (method === "eth_signTypedData_v4") {
      return await window.testWalletSign(params[0], params[1]);
    }
    throw new Error("the test wallet does not answer " + method);
  },
};
"""


BASE = 8453  # an L2 whose token's holders vote here


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`python -m api` on a fresh SQLite file with the community vote on and one proposal put to
    it, its snapshot on mainnet; (base URL, proposal id)."""
    yield from _serve(tmp_path, chain_id=None)


@pytest.fixture
def base_api_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The same with the snapshot on Base."""
    yield from _serve(tmp_path, chain_id=BASE)


def _serve(tmp_path: Path, chain_id: int | None) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path / 'vote.db'}"
    db = connect(url)
    seed_team(db)
    voting_on(db, tmp_path, chain_id=chain_id)
    proposal = file(db, (75, 15, 6, 4))
    db.engine.dispose()
    with running_api(url) as base:  # the API's own process tests start it the same way
        yield base, proposal


class InjectedWallet:
    """The key the injected wallet signs with (switchable between holders), the chain it is on
    (mainnet at first) and whether it agrees to switch chains when the page asks."""

    def __init__(self, page: Page) -> None:
        self.key = KEYS["alice"]
        self.chain_id = 1
        self.agrees_to_switch = True
        self.signed: list[dict] = []
        self.switches_asked: list[int] = []
        page.expose_function("testWalletAccount", lambda: self.key.address)
        page.expose_function("testWalletChain", lambda: hex(self.chain_id))
        page.expose_function("testWalletSwitch", self.switch)
        page.expose_function("testWalletSign", self.sign)
        page.add_init_script(WALLET)

    def switch(self, chain_id: str) -> bool:
        self.switches_asked.append(int(chain_id, 16))
        if self.agrees_to_switch:
            self.chain_id = int(chain_id, 16)
        return self.agrees_to_switch

    def sign(self, address: str, document: str) -> str:
        assert address.lower() == self.key.address.lower(), "asked to sign for another account"
        typed = json.loads(document)
        # As MetaMask does: typed data for another chain than the wallet's is not signed.
        assert typed["domain"]["chainId"] == self.chain_id, "asked to sign for another chain"
        self.signed.append(typed)
        return "0x" + self.key.sign_message(encode_typed_data(full_message=typed)).signature.hex()


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _vote(page: Page, support: str) -> None:
    page.get_by_role("button", name="Sign with wallet").click()
    expect(page.locator("#wallet")).to_contain_text("Connected", timeout=WAIT_MS)
    page.get_by_role("button", name={"for": "Vote for", "against": "Vote against",
                                     "abstain": "Abstain"}[support]).click()


def test_a_holder_votes_with_an_injected_wallet_and_sees_the_tally(api_server, page):  # noqa: F811
    base, proposal = api_server
    wallet = InjectedWallet(page)
    page.goto(f"{base}/vote/{proposal}")
    expect(page.locator("#proposal-id")).to_have_text(proposal, timeout=WAIT_MS)
    expect(page.locator("#tally")).to_contain_text("For 0, against 0, abstain 0; 0 voters")
    expect(page.locator("#quorum-text")).to_contain_text("not met")
    expect(page.locator("#period")).to_contain_text("left")
    expect(page.locator("#backtest tbody tr")).to_have_count(4)
    _shot(page, "70_vote_page")

    _vote(page, "for")
    expect(page.locator("#done")).to_have_text(
        f"Recorded: {ADDRESS['alice']} voted for with weight 400", timeout=WAIT_MS)
    expect(page.locator("#tally")).to_contain_text("For 400, against 0, abstain 0; 1 voters")
    expect(page.locator("#votes tbody tr")).to_have_count(1)
    [signed] = wallet.signed
    assert signed["message"]["proposal"] == proposal and signed["primaryType"] == "Vote"
    _shot(page, "71_vote_recorded")

    page.reload()
    expect(page.locator("#tally")).to_contain_text("For 400", timeout=WAIT_MS)
    _vote(page, "against")  # the same address again: replaces, with a later timestamp
    expect(page.locator("#done")).to_contain_text("(replacing the earlier vote)", timeout=WAIT_MS)
    expect(page.locator("#tally")).to_contain_text("For 0, against 400, abstain 0; 1 voters")
    assert wallet.signed[1]["message"]["timestamp"] > wallet.signed[0]["message"]["timestamp"]

    wallet.key = OUTSIDER  # holds nothing at the snapshot
    page.reload()
    _vote(page, "for")
    expect(page.locator("#refusal")).to_contain_text("held nothing at snapshot", timeout=WAIT_MS)
    expect(page.locator("#done")).to_have_text("")
    expect(page.locator("#tally")).to_contain_text("against 400, abstain 0; 1 voters")
    _shot(page, "72_vote_refused")


def test_a_path_with_markup_is_refused_as_text_never_as_html(api_server, page):  # noqa: F811
    """A path that is not a proposal shows core's refusal, which echoes it, as text only."""
    base, _ = api_server
    page.goto(f"{base}/vote/<img src=x onerror=alert(1)>")
    expect(page.locator("#error")).to_contain_text("proposal:", timeout=WAIT_MS)
    expect(page.locator("img")).to_have_count(0)


def test_a_wallet_on_another_chain_that_will_not_switch_signs_nothing_and_is_told_why(
        base_api_server, page):  # noqa: F811
    base, proposal = base_api_server
    wallet = InjectedWallet(page)  # on mainnet
    wallet.agrees_to_switch = False
    page.goto(f"{base}/vote/{proposal}")
    expect(page.locator("#chain")).to_have_text(
        f"Votes on this proposal are signed on chain {BASE}.", timeout=WAIT_MS)
    _vote(page, "for")
    expect(page.locator("#refusal")).to_have_text(
        f"Your wallet is on chain 1; this vote is on chain {BASE}: switch networks in your "
        "wallet", timeout=WAIT_MS)
    assert wallet.switches_asked == [BASE] and wallet.signed == []
    expect(page.locator("#done")).to_have_text("")
    with urllib.request.urlopen(f"{base}/api/v1/proposals/{proposal}/votes", timeout=10) as r:
        assert json.load(r)["votes"] == []  # nothing was sent, so nothing written
    expect(page.locator("#tally")).to_contain_text("0 voters")
    _shot(page, "73_vote_wrong_chain")

    wallet.agrees_to_switch = True  # the holder accepts the switch this time
    page.get_by_role("button", name="Vote for").click()
    expect(page.locator("#done")).to_have_text(
        f"Recorded: {ADDRESS['alice']} voted for with weight 400", timeout=WAIT_MS)
    [signed] = wallet.signed
    assert signed["domain"]["chainId"] == BASE == wallet.chain_id
