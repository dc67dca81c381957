"""The largest distribution the policy allows (`max_distribution`), on SQLite and PostgreSQL:
above it `distribute` is refused and nothing is written; a new database starts with a cap of a
billion, which an admin raises or sets to `off`.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.policy import DEFAULT_MAX_DISTRIBUTION
from core.base.errors import Refused, ValidationFailed
from core.governance.policy_store import get_policy, set_policy
from core.proposals.distribution import distribute, list_distributions
from tests.integration.state import snapshot


def test_a_new_database_caps_a_distribution_at_a_billion_until_an_admin_sets_it_off(team):
    assert get_policy(team).max_distribution == DEFAULT_MAX_DISTRIBUTION == Decimal("1000000000")
    assert get_policy(team).as_json()["max_distribution"] == "1000000000.00"
    with pytest.raises(Refused):
        distribute(team, "1000000000000", "big", by="ann")
    assert distribute(team, "1000000000.00", "billion", by="ann").created
    set_policy(team, "max_distribution", "off", by="ada")
    assert get_policy(team).as_json()["max_distribution"] is None
    assert distribute(team, "1000000000000", "big", by="ann").created


def test_a_distribution_above_the_limit_is_refused_and_writes_nothing(team):
    set_policy(team, "max_distribution", "1000", by="ada")
    before = snapshot(team)
    with pytest.raises(Refused) as refusal:
        distribute(team, "1000.01", "k1", by="ann")
    assert refusal.value.problems == [
        "profit: 1,000.01 is above the policy's max_distribution 1,000.00; an admin may raise it "
        "or set it to off"]
    assert snapshot(team) == before
    assert distribute(team, "1000.00", "k1", by="ann").total == Decimal("1000.00")


def test_a_key_recorded_before_the_limit_was_lowered_still_returns_its_record(team):
    first = distribute(team, "5000", "k1", by="ann")
    set_policy(team, "max_distribution", "100", by="ada")
    again = distribute(team, "5000", "k1", by="ann")
    assert (again.id, again.created) == (first.id, False)


def test_off_removes_the_limit_again(team):
    set_policy(team, "max_distribution", "100", by="ada")
    set_policy(team, "max_distribution", "off", by="ada")
    assert distribute(team, "5000", "k1", by="ann").created
    assert len(list_distributions(team)) == 1


@pytest.mark.parametrize("value, fragment", [
    ("0", "max_distribution: 0 must be above 0 (or 'off')"),
    ("-5", "max_distribution: -5 is negative"),
    ("12.345", "max_distribution: 12.345 has more than 2 decimal places"),
    ("lots", "max_distribution: 'lots' is not a number"),
])
def test_a_bad_limit_is_refused(team, value, fragment):
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(team, "max_distribution", value, by="ada")
    assert refusal.value.problems == [fragment]


def test_the_limit_is_an_exact_string_in_policy_json_and_distribute_exits_3(team, db_url):
    runner = CliRunner()
    shown = runner.invoke(app, ["--db", db_url, "policy", "set", "max_distribution", "250.5",
                                "--by", "ada", "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["max_distribution"] == "250.50"
    before = snapshot(team)
    refused = runner.invoke(app, ["--db", db_url, "distribute", "--profit", "250.51", "--key",
                                  "k", "--by", "ann", "--json"])
    assert refused.exit_code == 3
    assert json.loads(refused.stdout)["errors"] == [
        "profit: 250.51 is above the policy's max_distribution 250.50; an admin may raise it or "
        "set it to off"]
    assert snapshot(team) == before
