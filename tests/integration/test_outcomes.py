"""Outcomes of each change on synthetic data with a known effect, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.base.errors import ValidationFailed
from core.governance.policy_store import set_policy
from core.platform_data.csv_import import import_csv
from core.platform_data.outcomes import (FIGURES, MIN_DAYS, activation_outcomes, compare_periods,
                                         daily_figures, last_changes, scorecard)
from core.proposals.lifecycle import propose_allocation, review_proposal
from tests.integration.state import file_as_rebalancer

DAY = timedelta(days=1)
SPAN_DAYS = 30  # days of data on each side of the activation
TOKENS_PER_DAY = 20
OUTCOME_FIELDS = {"allocation_id", "split", "previous_split", "effective_from", "window_days",
                  "days_before", "days_after", "metrics"}


def activation_moment(db) -> datetime:
    """Noon two days after the install: later than the seeded default on every engine."""
    installed = get_current_allocation(db).effective_from
    return datetime.combine(installed.date() + 2 * DAY, time(12), tzinfo=UTC)


def activate(db, split: tuple[int, int, int, int], at: datetime, by: str = "ai") -> str:
    proposal = ProposalInput(*split, reasoning="synthetic change", confidence="0.8",
                             proposed_by=by)
    filed = (propose_allocation(db, proposal, by="ann").proposal_id if by == "manual"
             else file_as_rebalancer(db, proposal, by="ann"))
    review_proposal(db, filed, "approved", by="bob", notes="test", now=at)
    return filed


def load_platform(db, tmp_path: Path, at: datetime, volume_factor: float, seed: int = 1) -> None:
    """SPAN_DAYS days either side of `at`: the same launches, prices, engagement and treasury
    every day (with noise), and volume per token multiplied by `volume_factor` from `at` on."""
    rng = random.Random(seed)
    first = at.date() - SPAN_DAYS * DAY
    tokens, engagement, treasury = [], [], []
    for offset in range(2 * SPAN_DAYS):
        day = first + offset * DAY
        start = datetime.combine(day, time(), tzinfo=UTC)
        level = rng.lognormvariate(0, 0.1)  # the day's market mood, the same on both sides
        for n in range(TOKENS_PER_DAY):
            moment = start + timedelta(seconds=rng.randrange(86400))
            factor = volume_factor if moment >= at else 1.0
            volume = round(1000 * level * rng.lognormvariate(0, 0.2) * factor, 2)
            price = round(rng.lognormvariate(-2, 0.5), 6)
            tokens.append(f"S{offset}x{n},Token {offset} {n},{price},{volume},{moment.isoformat()}")
        engagement.append(f"{day.isoformat()},{rng.randint(480, 520)},{rng.randint(900, 1100)},"
                          f"{rng.randint(9000, 11000)}")
        treasury.append(f"{(start + timedelta(hours=12)).isoformat()},{rng.randint(99000, 101000)}.00")
    for kind, header, rows in (("tokens", "symbol,name,price,volume_24h,created_at", tokens),
                               ("engagement", "day,wallet_connections,trades_count,page_views",
                                engagement), ("treasury", "at,balance_usd", treasury)):
        path = tmp_path / f"{kind}.csv"
        path.write_text("\n".join([header, *rows]) + "\n")
        # The platform's clock at the end of the data: the activation lies after the install,
        # so its "after" days are later than the real now.
        import_csv(db, kind, path, now=at + (SPAN_DAYS + 1) * DAY)


def outcome_after(db, tmp_path, volume_factor: float, window_days: int = 14):
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at)
    load_platform(db, tmp_path, at, volume_factor)
    outcomes = activation_outcomes(db, window_days, now=at + (SPAN_DAYS + 1) * DAY)
    assert len(outcomes) == 2
    return outcomes[1]


def test_a_volume_jump_of_half_is_found_inside_the_interval_and_nothing_else_moves(db, tmp_path):
    outcome = outcome_after(db, tmp_path, volume_factor=1.5)
    volume = outcome.figures["volume_per_day"]
    low, high = volume.ci95
    assert low <= 50 <= high, volume
    assert low > 0  # the effect is big enough to be told apart from nothing
    assert volume.change_pct == pytest.approx(50, abs=15)
    for figure in ("tokens_per_day", "avg_price", "engagement_score", "wallet_connections",
                   "dao_treasury"):
        low, high = outcome.figures[figure].ci95
        assert low <= 0 <= high, (figure, outcome.figures[figure])


def test_a_change_with_no_effect_gets_intervals_containing_zero(db, tmp_path):
    outcome = outcome_after(db, tmp_path, volume_factor=1.0)
    for figure, change in outcome.figures.items():
        low, high = change.ci95
        assert low <= 0 <= high, (figure, change)
    assert outcome.figures["tokens_per_day"].change_pct == 0  # the same launches every day


def test_the_windows_are_whole_days_either_side_of_the_activation(db, tmp_path):
    at = activation_moment(db)
    outcome = outcome_after(db, tmp_path, 1.0, window_days=7)
    assert outcome.before_days == (at.date() - 7 * DAY, at.date() - DAY)
    assert outcome.after_days == (at.date() + DAY, at.date() + 7 * DAY)  # the mixed day is left out
    assert (outcome.days_before, outcome.days_after, outcome.open) == (7, 7, False)
    assert outcome.previous_split.label() == "80/15/3/2"
    assert outcome.figures["tokens_per_day"].before == TOKENS_PER_DAY


def test_the_open_period_uses_the_days_it_has_and_says_so(db, tmp_path):
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at)
    load_platform(db, tmp_path, at, 1.0)
    outcome = activation_outcomes(db, 14, now=at + 6 * DAY)[1]
    assert (outcome.days_before, outcome.days_after, outcome.open) == (14, 5, True)
    assert outcome.figures["volume_per_day"].ci95 is not None  # five days: just enough
    early = activation_outcomes(db, 14, now=at + 3 * DAY)[1]
    assert early.days_after == 2 < MIN_DAYS
    for change in early.figures.values():
        assert change.change_pct is None and change.ci95 is None  # not enough data


def test_the_last_changes_are_the_newest_and_the_newest_with_enough_days_after(db, tmp_path):
    set_policy(db, "proposal_lifetime_hours", str(30 * 24), by="ada")
    at = activation_moment(db)
    second = activate(db, (75, 15, 6, 4), at)
    third = activate(db, (70, 18, 8, 4), at + 10 * DAY)
    load_platform(db, tmp_path, at, 1.2)
    newest, measured = last_changes(db, now=at + 12 * DAY)  # the third has one whole day after
    assert (newest.allocation_id, measured.allocation_id) == (third, second)
    assert measured.figures == activation_outcomes(db, now=at + 12 * DAY)[1].figures
    newest, measured = last_changes(db, now=at + 20 * DAY)
    assert newest.allocation_id == measured.allocation_id == third


def test_a_window_stops_where_the_next_change_begins(db, tmp_path):
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at)
    activate(db, (70, 18, 8, 4), at + 3 * DAY)
    load_platform(db, tmp_path, at, 1.0)
    first, second, third = activation_outcomes(db, 14, now=at + 20 * DAY)
    assert second.after_days == (at.date() + DAY, at.date() + 2 * DAY)  # its period's whole days
    assert third.before_days == (at.date() + DAY, at.date() + 2 * DAY)
    assert first.before_days is None and first.previous_split is None
    assert all(c.change_pct is None for c in second.figures.values())


def test_an_install_without_data_has_outcomes_without_numbers(db):
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at)
    outcome = activation_outcomes(db, now=at + 40 * DAY)[1]
    assert all(c.before is None and c.ci95 is None for c in outcome.figures.values())
    newest, measured = last_changes(db, now=at + 40 * DAY)
    assert newest.allocation_id == measured.allocation_id == outcome.allocation_id


def test_a_window_outside_the_choices_is_refused(db):
    with pytest.raises(ValidationFailed, match="window_days: 10 is not one of 7, 14, 30"):
        activation_outcomes(db, 10)


def test_the_daily_figures_hold_each_figure_per_day(db, tmp_path):
    at = activation_moment(db)
    load_platform(db, tmp_path, at, 2.0)
    frame = daily_figures(db, at.date() - 3 * DAY, at.date() + 3 * DAY, now=at + 40 * DAY)
    assert list(frame.columns) == list(FIGURES)
    assert len(frame) == 6 and (frame["tokens_per_day"] == TOKENS_PER_DAY).all()
    assert frame.notna().all().all()


def test_the_scorecard_counts_each_kind_and_averages_its_approved_outcomes(db, tmp_path):
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at, by="ai")
    rejected = propose_allocation(db, ProposalInput(70, 20, 6, 4, reasoning="manual idea"), by="ann")
    review_proposal(db, rejected.proposal_id, "rejected", by="bob", now=at + DAY)
    load_platform(db, tmp_path, at, 1.5)
    now = at + (SPAN_DAYS + 1) * DAY
    outcome = activation_outcomes(db, now=now)[1]
    cards = {c["kind"]: c for c in scorecard(db, now=now)}
    assert (cards["ai"]["proposals"], cards["ai"]["approved"], cards["ai"]["avg_confidence"]) == (1, 1, 0.8)
    assert (cards["manual"]["proposals"], cards["manual"]["rejected"]) == (1, 1)
    assert cards["system"]["proposals"] == 0  # the seeded default is not a proposal
    assert cards["ai"]["avg_change_pct"]["volume_per_day"] == pytest.approx(
        outcome.figures["volume_per_day"].change_pct, abs=0.01)
    assert cards["manual"]["avg_change_pct"]["volume_per_day"] is None


def test_two_whole_periods_compared_with_intervals(db, tmp_path):
    set_policy(db, "proposal_lifetime_hours", str(30 * 24), by="ada")  # filed now, decided later
    at = activation_moment(db)
    second = activate(db, (75, 15, 6, 4), at)
    third = activate(db, (70, 18, 8, 4), at + 10 * DAY)
    load_platform(db, tmp_path, at + 10 * DAY, 2.0)  # volume doubles with the third split
    changes = compare_periods(db, second, third, now=at + 25 * DAY)
    volume = changes["volume_per_day"]
    assert (volume.n_before, volume.n_after) == (9, 14)  # the whole days of each period
    low, high = volume.ci95
    assert low <= 100 <= high and low > 0


def test_outcomes_are_the_same_on_sqlite_and_postgresql(sqlite_db, pg_db, tmp_path):
    at = max(activation_moment(sqlite_db), activation_moment(pg_db))
    found = []
    for index, database in enumerate((sqlite_db, pg_db)):
        activate(database, (75, 15, 6, 4), at)
        folder = tmp_path / str(index)
        folder.mkdir()
        load_platform(database, folder, at, 1.4)
        found.append([o.as_json() for o in activation_outcomes(database, 7, now=at + 20 * DAY)])
    lite, pg = found
    assert len(lite) == len(pg) == 2
    assert lite[1]["metrics"]["volume_per_day"]["ci95"] is not None  # numbers to compare
    for a, b in zip(lite, pg):
        for key in ("split", "previous_split", "window_days", "days_before", "days_after",
                    "before_window", "after_window"):
            assert a[key] == b[key]
        for name in FIGURES:
            x, y = a["metrics"][name], b["metrics"][name]
            assert x["days_with_data"] == y["days_with_data"]
            for key in ("before", "after", "change_pct"):
                assert x[key] == (None if y[key] is None else pytest.approx(y[key], rel=1e-9)), \
                    (name, key)
            assert (x["ci95"] is None) == (y["ci95"] is None)
            if x["ci95"]:
                assert x["ci95"] == pytest.approx(y["ci95"], rel=1e-6), name


def test_the_outcomes_command_prints_one_entry_per_activation(db_url, tmp_path):
    from core.database import connect

    db = connect(db_url)
    at = activation_moment(db)
    activate(db, (75, 15, 6, 4), at)
    db.engine.dispose()
    result = CliRunner().invoke(app, ["--db", db_url, "outcomes", "--window-days", "7", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2 and all(set(r) >= OUTCOME_FIELDS for r in rows)
    assert rows[1]["split"] == {"reinvestment": 75, "dao": 15, "lucky": 6, "creator": 4}
    assert rows[1]["previous_split"] == {"reinvestment": 80, "dao": 15, "lucky": 3, "creator": 2}
    assert set(rows[1]["metrics"]) == set(FIGURES)
    assert set(rows[1]["metrics"]["volume_per_day"]) >= {"before", "after", "change_pct", "ci95"}


def test_the_outcomes_command_refuses_another_window(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "outcomes", "--window-days", "10", "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {"ok": False,
                                         "errors": ["window_days: 10 is not one of 7, 14, 30"]}
