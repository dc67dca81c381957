"""The whole review loop in a real browser against `streamlit run`: an analyst files a proposal,
a governor approves it, the home page shows the new split. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.database import connect
from core.governance.accounts import add_user
from core.platform_data.csv_import import import_csv
from core.proposals.lifecycle import (get_pending_proposals, get_proposal, propose_allocation,
                                     review_proposal)
from core.proposals.queue import queued_changes
from db.types import utcnow

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
WAIT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tmp_path: Path, governors: tuple[str, ...] = ("gus",), *,
           imported: bool = False) -> Iterator[tuple[str, str]]:
    """`streamlit run app.py` on a fresh SQLite file holding an admin (ada), an analyst (ann) and
    `governors`; `imported`: a few weeks of imported engagement, so no demo data is loaded."""
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    db = connect(url)
    add_user(db, "ada", "admin", PASSWORD)
    add_user(db, "ann", "analyst", PASSWORD, by="ada")
    for name in governors:
        add_user(db, name, "governor", PASSWORD, by="ada")
    if imported:
        csv = tmp_path / "engagement.csv"
        today = utcnow().date()
        csv.write_text("day,wallet_connections,trades_count,page_views\n" + "".join(
            f"{today - timedelta(days=n)},10,20,300\n" for n in range(21, 0, -1)))
        import_csv(db, "engagement", csv)
    db.engine.dispose()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("OPENAI_API_KEY", None)
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.2)
        yield base, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The app on a fresh database holding an admin, an analyst, a governor (demo data loads)."""
    yield from _serve(tmp_path)


@pytest.fixture
def governed_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The app on a fresh database with two governors (gus, gil), enough for a major change, and
    imported engagement instead of demo data: the live split is the default 80/15/3/2."""
    yield from _serve(tmp_path, ("gus", "gil"), imported=True)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        browser.close()


def _settled(page: Page) -> None:
    """Wait until the script run in progress (if any) has finished."""
    page.wait_for_timeout(300)
    # The app root says whether a script run is in progress; the status widget only shows once
    # a run has lasted a moment, so a click could land in a short run and be lost with it.
    expect(page.get_by_test_id("stApp")).not_to_have_attribute(
        "data-test-script-state", "running", timeout=WAIT_MS)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)


def _shot(page: Page, name: str) -> None:
    _settled(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# This tab's session cookie (not HttpOnly: the page's own script writes it), or null.
SESSION_COOKIE_JS = "() => (document.cookie.match(/(?:^|; )pa_session=([^;]*)/) || [])[1] || null"


def _sign_in(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    page.locator(".st-key-signin_username input").fill(username)
    page.locator(".st-key-signin_password input").fill(PASSWORD)
    before = page.evaluate(SESSION_COOKIE_JS)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebar").locator("code", has_text=username)).to_be_visible(timeout=WAIT_MS)
    # The browser has the new session once the page's script has run (a moment after it shows):
    # a reload or a typed address may follow. No pause otherwise: writing the cookie runs the
    # page no extra time, so the next click (the invitation test's, at once) is never lost.
    page.wait_for_function(f"old => ({SESSION_COOKIE_JS})() !== old", arg=before,
                           timeout=WAIT_MS)


def _go(page: Page, label: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("link", name=label).click()
    _settled(page)


def _sign_out(page: Page) -> None:
    page.get_by_test_id("stSidebar").get_by_role("button", name="🚪 Sign out").click()
    _settled(page)


def _set_number(page: Page, key: str, value: str) -> None:
    field = page.locator(f".st-key-{key} input")
    field.fill(value)
    field.press("Enter")
    _settled(page)


def _fill_proposal(page: Page, reasoning: str) -> None:
    """With reinvestment at 75 already: lucky 6, creator 4 (75/15/6/4) and the reasoning."""
    _set_number(page, "propose_lucky", "6")
    _set_number(page, "propose_creator", "4")
    field = page.locator(".st-key-propose_reasoning textarea")
    field.fill(reasoning)
    field.press("Control+Enter")
    _settled(page)


@pytest.mark.e2e
def test_an_analyst_proposes_a_governor_approves_and_home_shows_the_new_split(server, page):
    base, url = server
    page.goto(base)
    expect(page.get_by_text("Demo data.")).to_be_visible(timeout=WAIT_MS)  # first start
    _shot(page, "00_sign_in")

    _sign_in(page, "ann")
    expect(page.get_by_text("Current split: 80/15/3/2")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "01_home_analyst")

    _go(page, "Propose")
    _set_number(page, "propose_reinvestment", "75")
    expect(page.get_by_text("total: the four sum to 95, not exactly 100")).to_be_visible()
    _fill_proposal(page, "Manual adjustment for Q1 strategy")
    expect(page.get_by_text("Valid: this proposal can be filed.")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "02_propose_form")
    page.get_by_role("button", name="📨 File proposal").click()
    expect(page.get_by_text("Proposal 75/15/6/4 filed")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "03_propose_filed")

    for label, name in (("Rebalancer", "04_rebalancer"), ("History", "05_history"),
                        ("Performance", "06_performance"), ("Distributions", "07_distributions"),
                        ("Activity", "08_activity")):
        _go(page, label)
        expect(page.get_by_role("heading", name=label)).to_be_visible(timeout=WAIT_MS)
        # showErrorDetails = "none" hides a traceback's text, not the exception box itself.
        expect(page.get_by_test_id("stException")).to_have_count(0)
        _shot(page, name)
    _go(page, "Rebalancer")
    page.get_by_role("button", name="🔍 Run analysis").click()
    expect(page.get_by_text("Reasoning:")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "09_rebalancer_analysis")
    _sign_out(page)

    db = connect(url)
    filed = next(p.record for p in get_pending_proposals(db) if p.record.proposer_username == "ann")
    _sign_in(page, "gus")
    _go(page, "Review")
    expect(page.get_by_text("75/15/6/4 · proposed by ann")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "10_review_pending")
    page.locator(f".st-key-approve_{filed.id} button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("against the live split")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "10b_review_confirm")
    assert get_pending_proposals(db)  # nothing written before the confirmation
    dialog.locator(".st-key-approve_notes input").fill("Metrics support this change")
    dialog.locator(".st-key-approve_notes input").press("Enter")
    _settled(page)
    dialog.locator(".st-key-confirm_approve button").click()
    expect(page.get_by_text("is now the live split")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "11_review_approved")

    _go(page, "Home")
    expect(page.get_by_text("Current split: 75/15/6/4")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Approved by gus", exact=False)).to_be_visible()
    _shot(page, "12_home_new_split")
    assert get_current_allocation(db).split.label() == "75/15/6/4"
    _sign_out(page)

    _sign_in(page, "ada")
    _go(page, "Admin")
    expect(page.get_by_role("heading", name="🛠️ Admin")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "13_admin")
    db.engine.dispose()


@pytest.fixture
def browser_context():
    """One browser, so that tabs share their cookies as a user's tabs do."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser.new_context(viewport={"width": 1400, "height": 1000})
        browser.close()


def _wait_for_cookie(context) -> None:
    """The session cookie is set by a script in the page the sign-in shows."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(c["name"] == "pa_session" for c in context.cookies()):
        assert time.monotonic() < deadline, "the session cookie was never set"
        time.sleep(0.2)


def _signed_in_as(page: Page, username: str) -> None:
    expect(page.get_by_test_id("stSidebar").locator("code", has_text=username)).to_be_visible(
        timeout=WAIT_MS)


@pytest.mark.e2e
def test_a_reload_and_a_new_tab_stay_signed_in_and_signing_out_in_one_tab_ends_the_other(
        server, browser_context):
    base, _ = server
    first = browser_context.new_page()
    first.goto(base)
    _sign_in(first, "gus")
    _wait_for_cookie(browser_context)
    [cookie] = [c for c in browser_context.cookies() if c["name"] == "pa_session"]
    # For the whole site, never sent with a request from another site, and for 12 hours.
    assert (cookie["path"], cookie["sameSite"]) == ("/", "Strict")
    assert 11.9 * 3600 < cookie["expires"] - time.time() <= 12 * 3600
    first.reload()
    _signed_in_as(first, "gus")
    expect(first.get_by_role("heading", name="🔐 Sign in")).to_have_count(0)

    second = browser_context.new_page()
    second.goto(f"{base}/History")
    _signed_in_as(second, "gus")
    expect(second.get_by_role("heading", name="📜 History")).to_be_visible(timeout=WAIT_MS)
    _shot(second, "20_new_tab_signed_in")

    _sign_out(first)
    expect(first.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    first.wait_for_function(f"() => ({SESSION_COOKIE_JS})() === null", timeout=WAIT_MS)
    # The other tab's next action finds its session over and asks for a sign-in.
    _go(second, "Activity")
    expect(second.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    second.reload()
    expect(second.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    _shot(second, "21_other_tab_signed_out")


@pytest.mark.e2e
def test_a_tab_signed_out_earlier_never_deletes_the_cookie_of_a_later_sign_in_in_another(
        server, browser_context):
    """The signed-out tab's forgetting script runs again whenever its element is drawn anew (a
    wrong password puts an error above it): it must delete only the session that tab ended."""
    base, _ = server
    first = browser_context.new_page()
    first.goto(base)
    _sign_in(first, "gus")
    _sign_out(first)
    expect(first.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    first.wait_for_function(f"() => ({SESSION_COOKIE_JS})() === null", timeout=WAIT_MS)

    second = browser_context.new_page()
    second.goto(base)
    _sign_in(second, "ann")
    ann_token = second.evaluate(SESSION_COOKIE_JS)

    first.locator(".st-key-signin_username input").fill("gus")
    first.locator(".st-key-signin_password input").fill("not the password")
    first.get_by_role("button", name="Sign in").click()
    expect(first.get_by_text("unknown account or wrong password", exact=False).first).to_be_visible(
        timeout=WAIT_MS)
    _settled(first)
    assert first.evaluate(SESSION_COOKIE_JS) == ann_token
    third = browser_context.new_page()
    third.goto(f"{base}/History")
    _signed_in_as(third, "ann")


@pytest.mark.e2e
def test_a_proposals_link_opens_its_page_in_a_new_tab_and_filing_twice_is_impossible(
        server, browser_context):
    base, url = server
    first = browser_context.new_page()
    first.goto(f"{base}/Propose")
    _sign_in(first, "ann")
    _set_number(first, "propose_reinvestment", "75")
    _fill_proposal(first, "A proposal to share")
    first.get_by_role("button", name="📨 File proposal").click()
    expect(first.get_by_text("Proposal 75/15/6/4 filed")).to_be_visible(timeout=WAIT_MS)
    # The form starts again from the live split: the same proposal cannot be filed by a 2nd click.
    expect(first.locator(".st-key-propose_reinvestment input")).to_have_value("80")
    expect(first.locator(".st-key-propose_reasoning textarea")).to_have_value("")
    link = first.get_by_role("link", name="Open the proposal you filed")
    href = link.get_attribute("href")
    db = connect(url)
    [filed] = [p.record for p in get_pending_proposals(db) if p.record.proposer_username == "ann"]
    db.engine.dispose()
    assert href.endswith(f"?proposal={filed.id}")
    _wait_for_cookie(browser_context)

    second = browser_context.new_page()
    second.goto(base + "/" + href.lstrip("/") if not href.startswith("http") else href)
    _signed_in_as(second, "ann")
    expect(second.get_by_text("Proposal 75/15/6/4 · proposed")).to_be_visible(timeout=WAIT_MS)
    expect(second.get_by_text("A proposal to share")).to_be_visible()
    _shot(second, "22_proposal_page_new_tab")


@pytest.mark.e2e
def test_a_stale_card_says_who_decided_and_the_queue_refreshes_by_itself(server, browser_context):
    base, url = server
    db = connect(url)
    from decimal import Decimal

    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation, review_proposal
    filed = propose_allocation(db, ProposalInput(75, 15, 6, 4, reasoning="stale soon",
                                                 confidence=Decimal("0.9")), by="ann")
    page = browser_context.new_page()
    page.goto(f"{base}/Review")
    _sign_in(page, "gus")
    expect(page.get_by_text("75/15/6/4 · proposed by ann")).to_be_visible(timeout=WAIT_MS)
    # Another governor rejects it while gus still looks at the card.
    review_proposal(db, filed.proposal_id, "rejected", by="ada", notes="Not this quarter")
    page.locator(f".st-key-approve_{filed.proposal_id} button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Someone decided first: ada rejected it")).to_be_visible(timeout=WAIT_MS)
    expect(dialog.locator(".st-key-confirm_approve button")).to_be_disabled()
    _shot(page, "23_stale_decision")
    dialog.locator(".st-key-cancel_approve button").click()
    # Without any click, the queue reads itself again (every 30 s) and says what changed.
    expect(page.get_by_text("Since you last looked")).to_be_visible(timeout=75_000)
    expect(page.get_by_text("75/15/6/4 · proposed by ann")).to_have_count(0)
    _shot(page, "24_queue_refreshed")
    db.engine.dispose()


@pytest.mark.e2e
def test_an_admin_invites_someone_who_chooses_a_password_by_the_link_and_signs_in(server, page):
    base, url = server
    page.goto(base)
    _sign_in(page, "ada")
    _go(page, "Admin")
    page.locator(".st-key-invite_username input").fill("nia")
    page.get_by_role("button", name="✉️ Invite").click()
    _settled(page)
    link = page.get_by_test_id("stCode").first.inner_text().strip()
    assert link.startswith(f"{base}/?invite=inv_")
    _shot(page, "20_admin_invitation_shown_once")
    _sign_out(page)

    page.goto(link)
    expect(page.get_by_role("heading", name="✉️ Choose your password")).to_be_visible(timeout=WAIT_MS)
    page.locator(".st-key-invite_password input").fill("nia's own long passphrase")
    page.locator(".st-key-invite_password_again input").fill("nia's own long passphrase")
    _shot(page, "21_invitation_link_form")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_text("Your password is set, nia: sign in with it.")).to_be_visible(timeout=WAIT_MS)
    assert "invite=" not in page.url  # the spent link leaves the address bar
    page.locator(".st-key-signin_password input").fill("nia's own long passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebar").locator("code", has_text="nia")).to_be_visible(timeout=WAIT_MS)
    _shot(page, "22_invitee_signed_in")
    db = connect(url)
    try:
        from core.governance.accounts import get_account

        assert get_account(db, "nia").role == "viewer"
    finally:
        db.engine.dispose()


@pytest.mark.e2e
def test_a_governor_vetoes_a_queued_major_change_with_a_reason_and_the_queue_empties(
        governed_server, page):
    base, url = governed_server
    db = connect(url)
    try:
        filed = propose_allocation(db, ProposalInput(64, 30, 3, 3, reasoning="Fund the DAO for "
                                                     "the audit", confidence=Decimal("0.8")),
                                   by="ann").proposal_id
        review_proposal(db, filed, "approved", by="gus")
        assert review_proposal(db, filed, "approved", by="gil").status == "queued"

        page.goto(f"{base}/Review")
        _sign_in(page, "gil")
        queued = page.locator(f".st-key-queued_{filed}")
        expect(queued.get_by_text("64/30/3/3: Fund the DAO for the audit")).to_be_visible(
            timeout=WAIT_MS)
        expect(queued.get_by_text(re.compile(r"\((23 h \d+ min|24 h 0 min) left\)"))).to_be_visible()
        expect(queued.get_by_text("approved by gus, gil")).to_be_visible()
        _shot(page, "30_review_queue_countdown")

        queued.get_by_role("button", name="🛑 Veto…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Write the reason to enable Veto.")).to_be_visible(timeout=WAIT_MS)
        confirm = dialog.locator(".st-key-confirm_veto button")
        expect(confirm).to_be_disabled()
        confirm.click(force=True)  # a disabled button: the click does nothing
        _settled(page)
        expect(dialog).to_be_visible()
        assert get_proposal(db, filed).status == "queued"
        _shot(page, "31_veto_needs_a_reason")

        reason = dialog.locator(".st-key-veto_reason textarea")
        reason.fill("Not before the audit")
        reason.press("Control+Enter")
        _settled(page)
        expect(confirm).to_be_enabled(timeout=WAIT_MS)
        _shot(page, "32_veto_with_reason")
        confirm.click()
        expect(page.get_by_text("Vetoed 64/30/3/3: Fund the DAO for the audit: it will not take "
                                "effect.")).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_role("dialog")).to_have_count(0)
        expect(page.locator(f".st-key-queued_{filed}")).to_have_count(0)
        assert get_proposal(db, filed).status == "vetoed"
        assert queued_changes(db) == []
        _shot(page, "33_vetoed")

        _wait_for_cookie(page.context)
        page.reload()
        _signed_in_as(page, "gil")
        expect(page.get_by_text("Nothing is waiting for review.")).to_be_visible(timeout=WAIT_MS)
        _settled(page)
        expect(page.get_by_text("In the queue")).to_have_count(0)
        expect(page.get_by_text("it will not take effect")).to_have_count(0)  # said once
        expect(page.get_by_test_id("stException")).to_have_count(0)
        assert get_current_allocation(db).split.label() == "80/15/3/2"
        _shot(page, "34_queue_empty_after_reload")
    finally:
        db.engine.dispose()
