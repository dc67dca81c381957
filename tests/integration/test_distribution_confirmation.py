"""`distribute --confirm-total` on SQLite and PostgreSQL: an amount over ten times the largest
distribution so far is a likely slip, refused (exit 3, one line naming confirm_total, nothing
written) unless the amount is typed again, as the API's `confirm_total` asks."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli import app
from core.proposals.distribution import CONFIRM_FACTOR, list_distributions
from tests.integration.state import snapshot


def distribute(db_url: str, *args: str):
    return CliRunner().invoke(app, ["--db", db_url, "distribute", "--by", "ann", "--json", *args])


def test_an_amount_over_ten_times_the_largest_needs_confirm_total_repeating_it(team, db_url):
    assert distribute(db_url, "--profit", "100", "--key", "first").exit_code == 0
    before = snapshot(team)
    refused = distribute(db_url, "--profit", "1000.01", "--key", "second")
    assert refused.exit_code == 3
    assert json.loads(refused.stdout)["errors"] == [
        f"confirm_total: 1,000.01 is more than {CONFIRM_FACTOR} times the largest distribution so "
        "far (100.00); send confirm_total with the same amount to record it"]
    assert refused.stderr.count("\n") == 1 and "confirm_total" in refused.stderr
    wrong = distribute(db_url, "--profit", "1000.01", "--key", "second", "--confirm-total", "1000")
    assert wrong.exit_code == 3
    assert json.loads(wrong.stdout)["errors"] == [
        "confirm_total: 1,000.00 is not the profit 1,000.01; it must repeat the amount exactly"]
    assert snapshot(team) == before
    confirmed = distribute(db_url, "--profit", "1000.01", "--key", "second",
                           "--confirm-total", "1,000.01")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert json.loads(confirmed.stdout)["total"] == "1000.01"
    assert [d.key for d in list_distributions(team)] == ["second", "first"]


def test_up_to_ten_times_the_largest_and_the_first_distribution_need_no_confirmation(team, db_url):
    assert distribute(db_url, "--profit", "5000", "--key", "first").exit_code == 0
    assert distribute(db_url, "--profit", "50000", "--key", "tenfold").exit_code == 0
