"""Home: the split in force, the week's metrics, reviews waiting, the amounts calculator."""

from __future__ import annotations

import re
from datetime import timedelta

from streamlit.testing.v1 import AppTest

from core.allocation.current import get_current_allocation
from core.allocation.money import calculate_amounts
from core.allocation.split import BUCKET_LABELS, BUCKETS
from core.platform_data.demo import has_platform_data
from core.platform_data.metrics_store import compute_metrics
from core.proposals.lifecycle import get_pending_proposals
from db.types import utcnow
from ui.format import count, number, pct, percent, price, usd

from tests.app.helpers import PASSWORD, ROOT, TIMEOUT, all_text, no_exception, open_page, sign_in_as


def _metric(at, label: str):
    """The metric so labelled after the four buckets' (the DAO treasury is a bucket too)."""
    found = [m for m in at.metric[len(BUCKETS):] if m.label == label]
    assert found, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return found[0]


def test_home_shows_the_split_the_database_holds(db):
    at = open_page(user="vic")
    no_exception(at)
    current = get_current_allocation(db)
    assert f"Current split: {current.split.label()}" in all_text(at)
    shown = [m.value for m in at.metric[:4]]
    assert shown == [pct(getattr(current.split, b)) for b in BUCKETS]
    assert [m.label for m in at.metric[:4]] == [BUCKET_LABELS[b] for b in BUCKETS]
    assert len(at.get("plotly_chart")) == 1
    assert current.reasoning in all_text(at)


def test_home_shows_the_metrics_and_their_change_over_the_week(db):
    at = open_page(user="vic")
    now = compute_metrics(db)
    week_ago = compute_metrics(db, now=utcnow() - timedelta(days=7))
    growth = _metric(at, "Community growth")
    assert growth.value == percent(now.growth_rate_pct, signed=True)
    growth_change = now.growth_rate_pct - week_ago.growth_rate_pct
    assert growth.delta == f"{number(growth_change, 1, signed=True)} pts"
    assert _metric(at, "Engagement score").value == f"{number(now.engagement_score)} / 100"
    treasury = _metric(at, "DAO treasury")
    assert treasury.value == usd(now.dao_balance_usd)
    assert treasury.delta == usd(now.dao_balance_usd - week_ago.dao_balance_usd, signed=True)
    token_price = _metric(at, "Avg token price")
    assert token_price.value == price(now.avg_token_price_usd)
    assert token_price.delta == price(now.avg_token_price_usd - week_ago.avg_token_price_usd,
                                      signed=True)
    assert f"{count(now.tokens_launched_7d)} tokens launched in the last 7 days" in all_text(at)


def test_home_writes_its_metrics_as_the_formatting_module_does(db):
    """The demo's figures, read the module's way: a sign on every change (before the `$`), a
    treasury to the cent, a price under a dollar to four significant digits."""
    at = open_page(user="vic")
    growth, treasury = _metric(at, "Community growth"), _metric(at, "DAO treasury")
    token_price = _metric(at, "Avg token price")
    assert re.fullmatch(r"[+-]\d+\.\d%", growth.value)
    assert re.fullmatch(r"[+-]\d+\.\d pts", growth.delta)
    assert re.fullmatch(r"\$[\d,]+\.\d\d", treasury.value)
    assert re.fullmatch(r"[+-]\$[\d,]+\.\d\d", treasury.delta)
    assert re.fullmatch(r"\$0\.0*[1-9]\d{3}", token_price.value)
    assert re.fullmatch(r"[+-]\$0\.0*[1-9]\d{3}", token_price.delta)


def test_home_counts_the_proposals_waiting_and_links_to_review(db):
    at = open_page(user="vic")
    assert _metric(at, "Proposals waiting for review").value == str(len(get_pending_proposals(db)))
    links = {link.proto.label: link.proto.page for link in at.main.get("page_link")}
    assert links["Go to Review"] == "Review"


def test_the_calculator_gives_exact_amounts_that_add_up(db):
    at = open_page(user="vic")
    at.text_input(key="calc_profit").input("1000.03").run()
    no_exception(at)
    rows = at.dataframe[0].value.to_dict("records")
    amounts = calculate_amounts("1000.03", get_current_allocation(db).split)
    assert [r["Amount"] for r in rows[:4]] == [f"{getattr(amounts, b):,f}" for b in BUCKETS]
    assert rows[4] == {"Bucket": "Total", "Share": "100%", "Amount": "1,000.03"}


def test_the_calculator_explains_a_bad_profit_and_shows_no_amounts(db):
    at = open_page(user="vic")
    at.text_input(key="calc_profit").input("12.345").run()
    no_exception(at)
    assert "profit: 12.345 has more than 2 decimal places" in all_text(at)
    at.text_input(key="calc_profit").input("-5").run()
    assert "profit: -5 is negative" in all_text(at)


def test_demo_data_is_labelled_as_demo_data(db):
    assert "Demo data." in all_text(open_page(user="vic"))


def test_imported_data_carries_no_demo_banner(plain_db):
    at = open_page(user="vic")
    no_exception(at)
    assert "Demo data." not in all_text(at)


def test_first_start_on_an_empty_embedded_database_loads_demo_data(empty_db, monkeypatch):
    monkeypatch.setenv("PA_SETUP_TOKEN", "tok")
    assert not has_platform_data(empty_db)
    at = open_page()
    no_exception(at)
    assert has_platform_data(empty_db)
    assert "Demo data." in all_text(at)


def test_an_unreachable_database_is_a_clear_message_not_a_traceback(db, monkeypatch):
    from settings import get_settings

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(at, "vic")  # signed in while the database was there
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone:secret@127.0.0.1:9/nowhere")
    get_settings.cache_clear()
    at = at.run()
    no_exception(at)
    message = all_text(at)
    assert "The database cannot be reached" in message
    assert "secret" not in message


def test_on_a_first_start_the_demos_last_approved_split_stays_the_current_one(tmp_path, monkeypatch):
    from core.database import connect
    from core.governance.accounts import add_user
    from settings import get_settings

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = connect(url, seed=False)  # as the dashboard opens it: the demo comes first
    add_user(fresh, "ada", "admin", PASSWORD)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    at = open_page(user="ada")
    no_exception(at)
    current = get_current_allocation(fresh)
    assert current.split.label() != "80/15/3/2" and current.reviewed_by
    assert f"Current split: {current.split.label()}" in all_text(at)
    assert f"**Approved by** {current.reviewed_by}" in all_text(at)
    fresh.engine.dispose()
    get_settings.cache_clear()
