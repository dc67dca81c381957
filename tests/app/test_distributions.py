"""Distributions: a run per key into the ledger (a rerun says so), the ledger, the totals."""

from __future__ import annotations

from core.governance.policy_store import set_policy
from core.proposals.distribution import list_distributions
from core.proposals.distribution import distribute
from tests.app.helpers import all_text, button, no_exception, open_page
from ui.format import plain

DISTRIBUTIONS = "pages/6_Distributions.py"


def _distribute(at, profit: str, key: str, *, confirmed: bool = True):
    """Fill the form and submit; then confirm in the dialog (unless told not to)."""
    at.text_input(key="dist_profit").input(profit)
    at.text_input(key="dist_key").input(key)
    at = button(at, "💸 Distribute…").click().run()
    no_exception(at)
    if confirmed and any(b.key == "confirm_distribute" for b in at.button):
        at = at.button(key="confirm_distribute").click().run()
    return at


def test_a_distribution_lands_in_the_ledger_with_exact_amounts(plain_db):
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "1000.03", "payout-1")
    no_exception(at)
    assert f"Distributed 1,000.03 under key {plain('payout-1')}" in all_text(at)
    [record] = list_distributions(plain_db)
    assert (record.key, str(record.total), record.amounts.as_json()) == (
        "payout-1", "1000.03",
        {"reinvestment": "800.02", "dao": "150.01", "lucky": "30.00", "creator": "20.00"})
    ledger = at.dataframe[0].value
    assert list(ledger["key"]) == ["payout-1"] and list(ledger["total"]) == ["1,000.03"]
    assert at.text_input(key="dist_profit").value == ""  # an empty form for the next payout
    assert {m.label: m.value for m in at.metric}["All distributed"] == "1,000.03"


def test_the_same_key_again_writes_nothing_and_says_so_without_a_dialog(plain_db):
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "500.00", "payout-2")
    at = _distribute(at, "500.00", "payout-2", confirmed=False)
    no_exception(at)
    assert not [b for b in at.button if b.key == "confirm_distribute"]  # nothing to confirm
    assert "was already used" in all_text(at) and "nothing new was written" in all_text(at)
    assert len(list_distributions(plain_db)) == 1


def test_the_same_key_with_another_profit_is_refused_before_any_dialog(plain_db):
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "500.00", "payout-3")
    at = _distribute(at, "600.00", "payout-3", confirmed=False)
    no_exception(at)
    assert not [b for b in at.button if b.key == "confirm_distribute"]
    assert "cannot be undone" not in all_text(at)
    assert "key: 'payout-3' was already used for a distribution of 500.00, not 600.00" in \
        [e.value for e in at.error]
    assert len(list_distributions(plain_db)) == 1


def test_a_bad_profit_is_explained_next_to_it_and_nothing_is_written(plain_db):
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "ten dollars", "payout-4")
    no_exception(at)
    assert "profit: 'ten dollars' is not a number" in [e.value for e in at.error]
    assert list_distributions(plain_db) == []


def test_a_viewer_reads_the_ledger_but_cannot_distribute(db):
    at = open_page(DISTRIBUTIONS, user="vic")
    no_exception(at)
    assert "💸 Distribute…" not in [b.label for b in at.button]
    assert len(at.dataframe[0].value) == len(list_distributions(db))
    assert len(at.get("plotly_chart")) == 1


def test_paused_distributions_are_not_offered(plain_db):
    set_policy(plain_db, "distributions_paused", "true", by="ada")
    at = open_page(DISTRIBUTIONS, user="ann")
    assert "Distributions are paused" in all_text(at)
    assert "💸 Distribute…" not in [b.label for b in at.button]


def test_distribute_shows_the_four_exact_amounts_and_writes_nothing_until_confirmed(plain_db):
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "1,000.03", "payout-5", confirmed=False)
    amounts = next(d.value for d in at.dataframe if "Amount" in d.value.columns)
    assert list(amounts["Amount"]) == ["800.02", "150.01", "30.00", "20.00", "1,000.03"]
    assert list_distributions(plain_db) == []
    at = at.button(key="cancel_distribute").click().run()
    assert list_distributions(plain_db) == []
    assert not [b for b in at.button if b.key == "confirm_distribute"]


def test_an_amount_over_ten_times_the_largest_so_far_must_be_typed_again(plain_db):
    set_policy(plain_db, "max_distribution", "off", by="ada")  # 1e15 is above the default cap
    distribute(plain_db, "100.00", "first", by="ann")
    at = _distribute(open_page(DISTRIBUTIONS, user="ann"), "1e15", "fat-finger", confirmed=False)
    assert "more than 10 times the largest distribution so far (100.00)" in all_text(at)
    assert at.button(key="confirm_distribute").disabled
    at.text_input(key="dist_retype").input("1,000")
    at = at.run()
    assert at.button(key="confirm_distribute").disabled  # not the same amount
    at.text_input(key="dist_retype").input("1000000000000000")
    at = at.run()
    at = at.button(key="confirm_distribute").click().run()
    no_exception(at)
    assert [str(d.total) for d in list_distributions(plain_db)] == ["1000000000000000.00", "100.00"]


def test_the_ledger_names_the_split_not_an_id(plain_db):
    distribute(plain_db, "100.00", "first", by="ann")
    at = open_page(DISTRIBUTIONS, user="vic")
    ledger = at.dataframe[0].value
    assert list(ledger["split"]) == ["80/15/3/2"]
