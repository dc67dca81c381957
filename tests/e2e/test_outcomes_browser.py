"""An analyst in a real browser sees on one chart where every split changed and what followed;
a governor sees on a proposal what it would have paid out and what the last change did."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.platform_data.outcomes import FIGURES

from tests.e2e.test_browser import WAIT_MS, _go, _settled, _shot, _sign_in, page, server  # noqa: F401


@pytest.mark.e2e
def test_an_analyst_sees_every_split_change_and_a_governor_the_backtest(server, page):  # noqa: F811
    base, _ = server
    page.goto(base)
    _sign_in(page, "ann")
    _go(page, "Outcomes")
    expect(page.get_by_role("heading", name="🎯 Outcomes")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible(timeout=WAIT_MS)
    # Six activations in the demo history: six markers, six labelled bands.
    markers = chart.locator(".scatterlayer .trace").last.locator("path.point")
    expect(markers).to_have_count(6, timeout=WAIT_MS)
    for label in ("75/15/6/4", "65/15/12/8", "80/12/5/3", "77/14/6/3"):
        expect(chart.get_by_text(label).first).to_be_attached()
    # Plotly's drag layer lies over the points: move the mouse there instead of hovering them.
    # Each drawn marker in turn until one shows its label (one may sit under the legend or at
    # the plot's edge, where the drag layer gives the hover to the band instead).
    hover = chart.get_by_text("approved by", exact=False)
    for index in range(6):
        box = markers.nth(index).bounding_box()
        if box is None:
            continue
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(500)
        if hover.count():
            break
    expect(hover.first).to_be_visible(timeout=WAIT_MS)
    _shot(page, "20_outcomes_hover")
    page.get_by_text("What followed each change").scroll_into_view_if_needed()
    expect(page.get_by_text("What followed each change")).to_be_visible()
    _shot(page, "20b_outcomes_table")
    # The CSV is written when the button is clicked (Streamlit's deferred download), not on
    # every run of the page: the click must still hand over the whole table.
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("button", name="⬇️ Download CSV").first.click()
    assert download.value.suggested_filename == "outcomes-14d.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 5 * len(FIGURES)  # a header, the demo's five changes by figure
    assert "75/15/6/4" in "".join(lines)
    page.get_by_text("Scorecard per proposer").scroll_into_view_if_needed()
    expect(page.get_by_text("Scorecard per proposer")).to_be_visible()
    _shot(page, "20c_outcomes_scorecard")
    page.get_by_text("30 days", exact=True).click()
    _settled(page)
    assert "window=30" in page.url
    _shot(page, "21_outcomes_30_days")
    page.get_by_test_id("stSidebar").get_by_role("button", name="🚪 Sign out").click()
    _settled(page)

    _sign_in(page, "gus")
    _go(page, "Review")
    expect(page.get_by_text("replayed under 74/16/6/4", exact=False)).to_be_visible(timeout=WAIT_MS)
    page.get_by_text("What the last change did").click()
    _settled(page)
    expect(page.get_by_text("Trading volume per day ($)").first).to_be_visible(timeout=WAIT_MS)
    _shot(page, "22_review_backtest_and_last_change")
