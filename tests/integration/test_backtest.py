"""The backtest over the ledger on SQLite and PostgreSQL, and its command."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli import app
from core.allocation.backtest import backtest, projection
from core.allocation.split import BUCKETS, Split
from core.proposals.distribution import distribute
from db.models import ProfitDistribution
from db.types import utcnow
from tests.unit.test_amounts import any_valid_split

BACKTEST_FIELDS = {"days", "distributions", "total", "actual", "proposed", "difference"}
_keys = itertools.count()

def _no_cap(db) -> None:
    """Turn the default `max_distribution` off (open mode: any operator may), once."""
    from core.governance.policy_store import get_policy, set_policy

    if get_policy(db).max_distribution is not None:
        set_policy(db, "max_distribution", "off", by="operator")



def test_the_recorded_distributions_are_replayed_under_the_proposed_split(db):
    for total in ("1000.00", "0.03", "333.33"):
        distribute(db, total, f"run-{total}")
    result = backtest(db, Split.of(70, 20, 6, 4))
    assert (result.distributions, result.total) == (3, Decimal("1333.36"))
    assert result.actual == {"reinvestment": Decimal("1066.68"), "dao": Decimal("200.01"),
                             "lucky": Decimal("40.00"), "creator": Decimal("26.67")}
    assert result.proposed == {"reinvestment": Decimal("933.35"), "dao": Decimal("266.68"),
                               "lucky": Decimal("80.00"), "creator": Decimal("53.33")}
    assert sum(result.difference.values()) == 0
    assert result.rows()[-1] == {"bucket": "total", "actual": Decimal("1333.36"),
                                 "proposed": Decimal("1333.36"), "difference": Decimal("0.00")}


def test_only_the_last_days_are_replayed(db):
    distribute(db, "100.00", "recent")
    later = utcnow() + timedelta(days=10)
    assert backtest(db, Split.of(70, 20, 6, 4), days=9, now=later).distributions == 0
    assert backtest(db, Split.of(70, 20, 6, 4), days=11, now=later).distributions == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(totals=st.lists(st.integers(1, 10**12), min_size=1, max_size=4), proposed=any_valid_split())
def test_the_backtest_parts_sum_exactly_to_the_recorded_totals(db, totals, proposed):
    _no_cap(db)  # totals past the default max_distribution, on purpose
    for cents in totals:  # the ledger grows across examples; every row stays in the window
        distribute(db, Decimal(cents).scaleb(-2), f"h-{next(_keys)}")
    result = backtest(db, proposed)
    with db.reads() as session:
        recorded = session.scalars(sa.select(ProfitDistribution.total)).all()
    assert result.total == sum(recorded, Decimal(0))
    assert sum(result.actual.values()) == result.total == sum(result.proposed.values())
    assert sum(result.difference.values()) == 0


def test_a_projection_splits_a_typed_profit_under_both_splits():
    rows = projection("1000", Split.of(80, 15, 3, 2), Split.of(70, 20, 6, 4))
    assert rows[0] == {"bucket": "reinvestment", "live": Decimal("800.00"),
                       "proposed": Decimal("700.00"), "difference": Decimal("-100.00")}
    assert rows[-1]["live"] == rows[-1]["proposed"] == Decimal("1000.00")


def test_the_backtest_command_prints_money_as_strings(db_url):
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "distribute", "--profit", "1000",
                               "--key", "k1"]).exit_code == 0
    result = runner.invoke(app, ["--db", db_url, "backtest", "--reinvestment", "70", "--dao", "20",
                                 "--lucky", "6", "--creator", "4", "--days", "30", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= BACKTEST_FIELDS
    assert (data["days"], data["distributions"], data["total"]) == (30, 1, "1000.00")
    assert data["actual"] == {"reinvestment": "800.00", "dao": "150.00", "lucky": "30.00",
                              "creator": "20.00"}
    assert data["difference"] == {"reinvestment": "-100.00", "dao": "50.00", "lucky": "30.00",
                                  "creator": "20.00"}
    assert set(data["proposed"]) == set(BUCKETS)


def test_the_backtest_command_says_when_there_is_nothing_to_replay(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "backtest", "--reinvestment", "70", "--dao",
                                      "20", "--lucky", "6", "--creator", "4"])
    assert result.exit_code == 0
    assert "no distributions in the last 90 days" in result.stdout


def test_the_backtest_command_refuses_a_split_not_summing_to_100(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "backtest", "--reinvestment", "70", "--dao",
                                      "20", "--lucky", "6", "--creator", "5", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["errors"] == ["total: the four sum to 101, not exactly 100"]
    assert "Traceback" not in result.output
