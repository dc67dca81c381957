"""An experiment's whole life in a real browser against `streamlit run`: an analyst designs it and
sees its power, two governors approve it, the schedule is stepped through its blocks, and anyone
reads the verdict with the schedule revealed and verified. Screenshots go to
artifacts/screenshots/.

The page runs on the real clock, so the experiment is filed to start two days ahead; its blocks
are then stepped on a simulated clock (the `schedule --once --at` of each midnight), each day's
launches imported as of that day's end, as tests/integration/test_experiments.py does."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.database import connect
from core.experiments.service import list_experiments, show_experiment
from db.types import utcnow
from tests.e2e.test_browser import (WAIT_MS, _go, _serve, _set_number, _settled, _shot, _sign_in,
                                    _sign_out, page)  # noqa: F401
from tests.integration.test_experiments import load_day, run_days, tick

DAY = timedelta(days=1)
CONTROL, OTHER = "80/15/3/2", "70/18/8/4"
RECORDED_DAYS = 30


@pytest.fixture
def experiment_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two governors and an analyst, and a month of launches up to yesterday to replay."""
    for base, url in _serve(tmp_path, ("gus", "gil"), imported=True):
        db = connect(url)
        rng = random.Random(2)
        today = datetime.combine(utcnow().date(), time(), tzinfo=UTC)
        for back in range(RECORDED_DAYS, 0, -1):
            load_day(db, tmp_path, today - back * DAY, 20 + rng.randint(-3, 3))
        db.engine.dispose()
        yield base, url


def _type(page: Page, key: str, value: str) -> None:
    field = page.locator(f".st-key-{key} input")
    field.fill(value)
    field.press("Enter")
    _settled(page)


def _set_date(page: Page, key: str, day: datetime) -> None:
    """Streamlit's date input is three spin buttons (year, month, day): type into them in turn."""
    page.locator(f".st-key-{key} [data-type=year]").click()
    page.keyboard.type(day.strftime("%Y%m%d"))
    page.keyboard.press("Tab")
    _settled(page)


def _approve(page: Page, base: str, experiment_id: str, governor: str, says: str) -> None:
    _sign_in(page, governor)
    page.goto(f"{base}/Experiments?experiment={experiment_id}")
    expect(page.get_by_text("Waiting for review", exact=False)).to_be_visible(timeout=WAIT_MS)
    _settled(page)
    page.locator(".st-key-exp_approve button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Approve running", exact=False)).to_be_visible(timeout=WAIT_MS)
    dialog.locator(".st-key-confirm_exp_approve button").click()
    expect(page.get_by_text(says, exact=False)).to_be_visible(timeout=WAIT_MS)
    _shot(page, f"52_experiment_approved_by_{governor}")
    _signed_out(page)


def _signed_out(page: Page) -> None:
    """Sign out; the next sign-in may be typed at once (forgetting the cookie reruns nothing)."""
    _sign_out(page)
    expect(page.get_by_role("heading", name="🔐 Sign in")).to_be_visible(timeout=WAIT_MS)


@pytest.mark.e2e
def test_an_experiment_is_designed_approved_stepped_and_its_verdict_read(experiment_server,
                                                                        page, tmp_path):  # noqa: F811
    base, url = experiment_server
    page.goto(f"{base}/Experiments")
    _sign_in(page, "ann")
    expect(page.get_by_role("heading", name="🧪 Experiments")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".st-key-exp_arm_0 input")).to_have_value(CONTROL)
    _type(page, "exp_arm_1", "95/3/1/1")
    expect(page.get_by_text("arms: arm 2 (95/3/1/1): reinvestment: 95 is above the maximum 90")
           ).to_be_visible(timeout=WAIT_MS)
    _shot(page, "50_experiment_arm_refused")
    _type(page, "exp_arm_1", OTHER)
    _set_number(page, "exp_blocks", "4")
    # Two days ahead: the approvals must come before the start, whatever the hour now.
    start = datetime.combine(utcnow().date() + 2 * DAY, time(), tzinfo=UTC)
    _set_date(page, "exp_start_day", start)
    power = page.get_by_text("Power: with 4 blocks of 24 h you can detect a change of about ±",
                             exact=False)
    expect(power).to_be_visible(timeout=WAIT_MS)
    field = page.locator(".st-key-exp_reasoning textarea")
    field.fill("Does a bigger lottery bring more launches?")
    field.press("Control+Enter")
    _settled(page)
    _shot(page, "51_experiment_design_with_power")
    page.get_by_role("button", name="📨 File experiment…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Does a bigger lottery bring more launches?")).to_be_visible(
        timeout=WAIT_MS)
    db = connect(url)
    try:
        assert list_experiments(db) == []  # nothing before the confirmation
        dialog.locator(".st-key-confirm_file_experiment button").click()
        expect(page.get_by_text("Experiment filed (proposed)", exact=False)).to_be_visible(
            timeout=WAIT_MS)
        [filed] = list_experiments(db)
        assert filed.starts_at == start
        expect(page.get_by_role("button", name="📨 File experiment…")).to_be_disabled()
        _signed_out(page)

        _approve(page, base, filed.experiment_id, "gus", "Approval recorded: 1 of 2")
        _approve(page, base, filed.experiment_id, "gil", "Approved: it starts")
        assert list_experiments(db)[0].status == "approved"

        # The schedule's ticks at each midnight of the blocks, then after the last one.
        run_days(db, tmp_path, start, 4, lambda split: 30 if split == OTHER else 20)
        tick(db, start + 4 * DAY)
        ended = show_experiment(db, filed.experiment_id).as_json()
        assert ended["status"] == "finished"

        _sign_in(page, "ann")
        page.goto(f"{base}/Experiments?experiment={filed.experiment_id}")
        expect(page.get_by_role("button", name="🔄 Read again")).to_be_visible(timeout=WAIT_MS)
        _settled(page)
        page.get_by_role("button", name="🔄 Read again").click()
        _settled(page)
        expect(page.get_by_text(f"Verdict: {OTHER} raised tokens per day by", exact=False)
               ).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("Verified: the SHA-256 of salt:schedule", exact=False)
               ).to_be_visible()
        expect(page.get_by_text(ended["salt"]).first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        _shot(page, "53_experiment_verdict")

        _go(page, "Outcomes")
        chart = page.get_by_test_id("stPlotlyChart").first
        expect(chart).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_text("The strips along the top are experiment blocks",
                                exact=False)).to_be_visible()
        _shot(page, "54_outcomes_experiment_blocks")
    finally:
        db.engine.dispose()
