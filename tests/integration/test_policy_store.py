"""The policy as versioned data, on SQLite and PostgreSQL: defaults, validation, versions, the log."""

from __future__ import annotations

from decimal import Decimal
import pytest
import sqlalchemy as sa

from core.allocation.policy import Policy
from core.base.errors import PermissionDenied, ValidationFailed
from core.governance.accounts import add_user
from core.governance.policy_store import get_policy, policy_versions, set_policy
from core.record.activity import list_activity
from db.engine import Database
from db.models import AllocationPolicy

TABLES = ("allocation_policy", "protocol_activity", "users", "profit_allocation_log")


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}


@pytest.fixture
def admin(db: Database) -> Database:
    add_user(db, "ada", "admin", None, email="ada@example.org")
    for name, role in (("gus", "governor"), ("ann", "analyst"), ("vic", "viewer")):
        add_user(db, name, role, None, by="ada", email=f"{name}@example.org")
    return db


def test_a_new_database_runs_on_the_issues_defaults(db):
    policy = get_policy(db)
    assert policy == Policy()
    data = policy.as_json()
    assert {k: data[k] for k in ("reinvestment_min", "reinvestment_max", "dao_min", "dao_max",
                                 "lucky_min", "lucky_max", "creator_min", "creator_max")} == {
        "reinvestment_min": 40, "reinvestment_max": 90, "dao_min": 5, "dao_max": 30,
        "lucky_min": 1, "lucky_max": 15, "creator_min": 1, "creator_max": 10}
    assert data["max_step"] == 15 and data["min_delta"] == 2
    assert data["approvals_required"] == 1
    assert data["proposal_lifetime_hours"] == 7 * 24
    assert data["auto_approve_min_confidence"] is None
    assert data["auto_approve_cooldown_hours"] == 72
    assert data["distributions_paused"] is False and data["rebalancing_paused"] is False
    assert policy_versions(db) == []


def test_each_change_is_a_new_version_with_who_and_the_old_and_new_value(admin):
    set_policy(admin, "approvals_required", "2", by="ada")
    set_policy(admin, "max_step", "10.5", by="ADA")
    set_policy(admin, "auto_approve_min_confidence", "0.85", by="ada")
    set_policy(admin, "auto_approve_min_confidence", "off", by="ada")
    set_policy(admin, "distributions_paused", "true", by="ada")
    versions = policy_versions(admin)
    assert [(v["version"], v["key"], v["old_value"], v["new_value"], v["changed_by"])
            for v in versions] == [
        (5, "distributions_paused", "false", "true", "ada"),
        (4, "auto_approve_min_confidence", "0.85", "off", "ada"),
        (3, "auto_approve_min_confidence", "off", "0.85", "ada"),
        (2, "max_step", "15", "10.5", "ada"),
        (1, "approvals_required", "1", "2", "ada"),
    ]
    policy = get_policy(admin)
    assert policy.approvals_required == 2
    assert policy.max_step == Decimal("10.5")
    assert policy.auto_approve_min_confidence is None
    assert policy.distributions_paused is True
    # Every earlier version stays as it was: each row holds the whole policy of its time.
    with admin.sessions() as session:
        settings = dict(session.execute(
            sa.select(AllocationPolicy.version, AllocationPolicy.settings)).all())
    assert settings[1]["approvals_required"] == 2 and settings[1]["max_step"] == 15
    assert settings[3]["auto_approve_min_confidence"] == 0.85


def test_each_change_is_logged_to_protocol_activity(admin):
    set_policy(admin, "auto_approve_min_confidence", "0.8", by="ada")
    set_policy(admin, "rebalancing_paused", "yes", by="ada")
    entries = list_activity(admin, activity_type="policy_changed")
    assert [(e.metadata["key"], e.metadata["old_value"], e.metadata["new_value"],
             e.metadata["version"], e.metadata["by"]) for e in entries] == [
        ("rebalancing_paused", False, True, 2, "ada"),
        ("auto_approve_min_confidence", None, 0.8, 1, "ada"),
    ]
    assert entries[1].description == "ada set auto_approve_min_confidence from off to 0.8"


def test_the_latest_version_is_the_one_in_force(admin):
    add_user(admin, "gil", "governor", None, by="ada", email="gil@example.org")  # 3 can approve
    set_policy(admin, "approvals_required_major", "3", by="ada")  # never below the minor count
    for value in ("2", "3", "1"):
        set_policy(admin, "approvals_required", value, by="ada")
    assert get_policy(admin).approvals_required == 1
    assert policy_versions(admin)[0]["version"] == 4


def test_a_changed_threshold_survives_the_round_trip_exactly(admin):
    set_policy(admin, "auto_approve_min_confidence", "0.85", by="ada")
    assert get_policy(admin).auto_approve_min_confidence == Decimal("0.85")
    set_policy(admin, "lucky_max", "12.5", by="ada")
    assert get_policy(admin).bounds["lucky"] == (Decimal(1), Decimal("12.5"))


REFUSED = [
    ("reinvestment_min", "95", "reinvestment_min: 95 is above reinvestment_max 90"),
    ("dao_max", "4", "dao_min: 5 is above dao_max 4"),
    ("reinvestment_min", "95", "the minimums sum to more than 100"),
    ("reinvestment_max", "40", "the maximums sum to less than 100"),
    ("approvals_required", "0", "approvals_required: 0 is below the minimum 1"),
    ("approvals_required", "-1", "approvals_required: -1 is below the minimum 1"),
    ("approvals_required", "1.5", "approvals_required: 1.5 is not a whole number"),
    ("approvals_required", "two", "approvals_required: 'two' is not a number"),
    ("max_step", "0", "max_step: must be above 0"),
    ("lucky_max", "101", "lucky_max: 101 is outside 0..100"),
    ("lucky_max", "nan", "is not a finite number"),
    ("proposal_lifetime_hours", "0", "proposal_lifetime_hours: 0 is below the minimum 1"),
    ("auto_approve_cooldown_hours", "-1", "auto_approve_cooldown_hours: -1 is below the minimum 0"),
    ("auto_approve_min_confidence", "1.5", "auto_approve_min_confidence: 1.5 is outside 0..1"),
    ("auto_approve_min_confidence", "high", "is not a number"),
    ("distributions_paused", "maybe", "distributions_paused: 'maybe' is not true or false"),
    ("no_such_key", "1", "no_such_key: unknown policy key"),
]


@pytest.mark.parametrize("key, value, message", REFUSED)
def test_a_policy_no_split_could_meet_or_a_malformed_value_is_refused_and_nothing_written(
        admin, key, value, message):
    set_policy(admin, "approvals_required", "2", by="ada")  # a version to stay in force
    before, in_force = counts(admin), get_policy(admin)
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(admin, key, value, by="ada")
    assert any(message in p for p in refusal.value.problems), refusal.value.problems
    assert counts(admin) == before
    assert get_policy(admin) == in_force


def test_each_broken_rule_is_its_own_problem(admin):
    with pytest.raises(ValidationFailed) as refusal:
        set_policy(admin, "reinvestment_min", "95", by="ada")
    problems = refusal.value.problems
    assert len(problems) >= 2 and len(set(problems)) == len(problems)
    assert all(":" in p for p in problems)


@pytest.mark.parametrize("actor", ["gus", "ann", "vic"])
def test_only_an_admin_changes_the_policy(admin, actor):
    before = counts(admin)
    with pytest.raises(PermissionDenied, match="changing the policy needs the admin role"):
        set_policy(admin, "max_step", "10", by=actor)
    assert counts(admin) == before
    assert get_policy(admin) == Policy()


def test_an_unknown_acting_account_cannot_change_the_policy(admin):
    with pytest.raises(PermissionDenied, match="no account named 'eve'"):
        set_policy(admin, "max_step", "10", by="eve")
    assert policy_versions(admin) == []


def test_in_open_mode_the_named_operator_changes_the_policy_and_is_recorded(db):
    set_policy(db, "max_step", "12", by="installer")
    assert policy_versions(db)[0]["changed_by"] == "installer"


def test_a_bound_narrowed_to_exclude_the_80_15_3_2_baseline_is_accepted(admin):
    # The rule engine clamps its target into the bounds; the baseline need not lie inside them.
    set_policy(admin, "reinvestment_max", "75", by="ada")
    assert get_policy(admin).bounds["reinvestment"][1] == 75


def test_bounds_narrowed_within_the_baseline_are_accepted(admin):
    set_policy(admin, "reinvestment_min", "50", by="ada")
    set_policy(admin, "reinvestment_max", "85", by="ada")
    set_policy(admin, "dao_max", "20", by="ada")
    assert get_policy(admin).bounds["reinvestment"] == (50, 85)
