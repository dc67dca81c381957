"""Accounts and the fixes of the second browser walk, in a real browser against `streamlit run`:
a valid pending proposal shows no error on Review, a reused distribution key is refused before
the dialog, a password change in one browser ends the other browser's session, and the Admin
page's forms behave as they say. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.allocation.policy import POLICY_KEYS
from core.allocation.validation import ProposalInput
from core.database import connect
from core.governance.accounts import authenticate
from core.proposals.distribution import list_distributions
from core.proposals.lifecycle import propose_allocation
from tests.e2e.test_browser import (CHROMIUM, CHROMIUM_ARGS, WAIT_MS, _go, _serve, _settled,
                                    _shot, _sign_in, _wait_for_cookie)

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """ada (admin), ann (analyst), gus and gil (governors), imported data: no demo data."""
    yield from _serve(tmp_path, ("gus", "gil"), imported=True)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser: Browser) -> Page:
    """A page in a browser context of its own: its own cookies, as another computer's."""
    return browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


def _no_errors(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


@pytest.mark.e2e
def test_review_shows_a_valid_pending_proposal_without_any_error(server, browser):
    base, url = server
    db = connect(url)
    try:
        propose_allocation(db, ProposalInput(75, 15, 6, 4, reasoning="Q1 strategy",
                                             confidence=Decimal("0.9")), by="ann")
    finally:
        db.engine.dispose()
    page = _page(browser)
    page.goto(f"{base}/Review")
    _sign_in(page, "gus")
    expect(page.get_by_text("75/15/6/4 · proposed by ann")).to_be_visible(timeout=WAIT_MS)
    _settled(page)
    _no_errors(page)
    _shot(page, "30_review_valid_pending")


@pytest.mark.e2e
def test_a_key_reused_with_another_amount_is_refused_before_the_dialog(server, browser):
    base, url = server
    page = _page(browser)
    page.goto(f"{base}/Distributions")
    _sign_in(page, "ann")

    def submit(profit: str) -> None:
        page.locator(".st-key-dist_profit input").fill(profit)
        page.locator(".st-key-dist_key input").fill("payout-may")
        page.get_by_role("button", name="💸 Distribute…").click()
        _settled(page)

    submit("500")
    page.get_by_role("dialog").locator(".st-key-confirm_distribute button").click()
    expect(page.get_by_text("Distributed 500.00 under key")).to_be_visible(timeout=WAIT_MS)
    submit("600")
    expect(page.get_by_text("key: 'payout-may' was already used for a distribution of 500.00, "
                            "not 600.00")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("dialog")).to_have_count(0)  # no "cannot be undone" first
    _shot(page, "31_distribution_key_refused_before_dialog")
    db = connect(url)
    try:
        assert [str(d.total) for d in list_distributions(db)] == ["500.00"]
    finally:
        db.engine.dispose()


@pytest.mark.e2e
def test_a_password_change_in_one_browser_ends_the_session_in_another(server, browser):
    base, url = server
    here, elsewhere = _page(browser), _page(browser)
    for page in (here, elsewhere):
        page.goto(base)
        _sign_in(page, "gus")
        _wait_for_cookie(page.context)

    sidebar = here.get_by_test_id("stSidebar")
    sidebar.get_by_text("👤 My account").click()
    sidebar.locator(".st-key-password_current input").fill("correct horse battery")
    sidebar.locator(".st-key-password_new input").fill(NEW_PASSWORD)
    sidebar.locator(".st-key-password_again input").fill(NEW_PASSWORD)
    sidebar.get_by_role("button", name="🔑 Change my password").click()
    expect(here.get_by_text("Your password is changed; 1 other session(s) ended")).to_be_visible(
        timeout=WAIT_MS)
    _shot(here, "32_password_changed")

    elsewhere.reload()
    expect(elsewhere.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)
    _shot(elsewhere, "33_other_browser_signed_out")
    here.reload()  # the browser that changed it stays signed in
    expect(here.get_by_test_id("stSidebar").locator("code", has_text="gus")).to_be_visible(
        timeout=WAIT_MS)
    db = connect(url)
    try:
        assert authenticate(db, "gus", NEW_PASSWORD).username == "gus"
    finally:
        db.engine.dispose()


def _choose(page: Page, key: str, option: str) -> None:
    """Pick `option` in a select box; if a rerun lands while its list is open and closes it,
    open it again."""
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        _settled(page)
        page.locator(f".st-key-{key}").get_by_role("button", name="Open").click()
        try:
            wanted.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"could not choose {option!r} in {key}")


@pytest.mark.e2e
def test_the_admin_page_shows_every_policy_row_the_chosen_role_and_an_empty_invite_form(
        server, browser):
    base, _ = server
    page = _page(browser)
    page.goto(f"{base}/Admin")
    _sign_in(page, "ada")
    expect(page.get_by_role("heading", name="🛠️ Admin")).to_be_visible(timeout=WAIT_MS)
    # The policy table is as tall as its rows (about 35 px each, and the header): no inner scroll.
    table = page.get_by_test_id("stDataFrame").first  # the policy, first on the page
    expect(table).to_be_visible(timeout=WAIT_MS)
    assert table.bounding_box()["height"] >= 35 * (len(POLICY_KEYS) + 1) - 5

    # Streamlit's select boxes are combo boxes: the chosen value is their input's value.
    who = page.locator(".st-key-change_who input")
    role = page.locator(".st-key-change_role input")
    expect(role).to_have_value("analyst", timeout=WAIT_MS)  # ann, the first other account
    _choose(page, "change_who", "gus")
    _settled(page)
    expect(who).to_have_value("gus", timeout=WAIT_MS)
    expect(role).to_have_value("governor", timeout=WAIT_MS)

    page.locator(".st-key-invite_username input").fill("nia")
    page.get_by_role("button", name="✉️ Invite").click()
    expect(page.get_by_text("nia is invited as viewer")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".st-key-invite_username input")).to_have_value("")
    _shot(page, "34_admin_forms")
