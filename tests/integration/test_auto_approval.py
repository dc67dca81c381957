"""Bounded auto-approval of rebalancer proposals, on SQLite and PostgreSQL.

Reached from the rebalancer through `auto_approve_if_allowed(session, row, policy, now)` in the
transaction that files the proposal; tested here the same way, and through `run_rebalance`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.governance.accounts import add_user
from core.governance.actors import Actor
from core.governance.policy_store import load_policy, set_policy
from core.proposals.lifecycle import (auto_approve_if_allowed, file_proposal,
                                      get_allocation_history, get_proposal, propose_allocation,
                                      review_proposal)
from core.record.activity import list_activity
from db.engine import Database
from db.models import AllocationLog
from db.types import utcnow
from tests.integration.launch_week import load_launch_week

REBALANCER = Actor("system:scheduler", "analyst")
STORY_ORDER = ("allocation_proposed", "allocation_approval_recorded", "allocation_approved",
               "allocation_auto_approved", "allocation_rejected", "allocation_expired",
               "allocation_activated")
TABLES = ("profit_allocation_log", "proposal_reviews", "protocol_activity", "allocation_policy")


def counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}


def story(db: Database, proposal_id: str) -> list[str]:
    entries = [e for e in list_activity(db, limit=10_000)
               if e.activity_type in STORY_ORDER
               and proposal_id in (str(e.metadata.get("proposal_id")),
                                   str(e.metadata.get("allocation_id")))]
    entries.sort(key=lambda e: (e.timestamp, STORY_ORDER.index(e.activity_type)))
    return [e.activity_type for e in entries]


def file_and_try(db: Database, split: tuple[Any, ...] = (74, 15, 6, 5), confidence: Any = "0.9",
                 proposed_by: str = "ai", now: datetime | None = None) -> tuple[str, str | None]:
    """File a proposal as the rebalancer does and try to auto-approve it in the same transaction."""
    with db.sessions.begin() as session:
        row, _ = file_proposal(session, ProposalInput(
            *split, reasoning="Strong community growth", confidence=confidence,
            proposed_by=proposed_by, input_metrics={"growth_rate_pct": 60}), REBALANCER,
            load_policy(session))
        why_not = auto_approve_if_allowed(session, row, load_policy(session), now)
        return str(row.id), why_not


def try_again(db: Database, proposal_id: str, now: datetime | None = None) -> str | None:
    """Try the auto-approval on an already filed proposal, in a transaction of its own."""
    with db.sessions.begin() as session:
        row = session.get(AllocationLog, uuid.UUID(proposal_id))
        return auto_approve_if_allowed(session, row, load_policy(session), now)


@pytest.fixture
def admin(db: Database) -> Database:
    add_user(db, "ada", "admin", None, email="ada@example.org")
    add_user(db, "gus", "governor", None, by="ada", email="gus@example.org")
    return db


def switch_on(db: Database, threshold: str = "0.8", cooldown: str | None = None) -> None:
    set_policy(db, "auto_approve_min_confidence", threshold, by="ada")
    if cooldown is not None:
        set_policy(db, "auto_approve_cooldown_hours", cooldown, by="ada")


def load_policy_of(db: Database) -> Any:
    with db.sessions() as session:
        return load_policy(session)


def test_auto_approval_is_off_by_default_and_the_proposal_waits(admin):
    assert load_policy_of(admin).auto_approve_min_confidence is None
    pid, why_not = file_and_try(admin, confidence="1")
    assert why_not == "auto-approval is off"
    assert get_proposal(admin, pid).status == "proposed"
    assert get_current_allocation(admin).split.label() == "80/15/3/2"
    assert story(admin, pid) == ["allocation_proposed"]


def test_a_confident_rebalancer_proposal_inside_bounds_and_step_is_activated_by_the_system(admin):
    switch_on(admin)
    seeded = get_current_allocation(admin)
    pid, why_not = file_and_try(admin, confidence="0.9")
    assert why_not is None
    current = get_current_allocation(admin)
    assert current.id == pid and current.split.label() == "74/15/6/5"
    assert current.reviewed_by == "system:auto-approval"
    record = get_proposal(admin, pid)
    assert "confidence 0.9" in record.review_notes and "threshold 0.8" in record.review_notes
    assert get_proposal(admin, seeded.id).effective_until == current.effective_from
    assert sum(1 for r in get_allocation_history(admin) if r.is_current) == 1
    assert story(admin, pid) == ["allocation_proposed", "allocation_auto_approved",
                                 "allocation_activated"]
    logged = list_activity(admin, activity_type="allocation_auto_approved")[0]
    assert logged.metadata["confidence"] == 0.9 and logged.metadata["threshold"] == 0.8
    assert "inside the bounds and the step limit" in logged.metadata["reason"]
    assert "cooldown" in logged.metadata["reason"]


@pytest.mark.parametrize("proposed_by", ["ai", "system"])
def test_confidence_exactly_at_the_threshold_is_enough(admin, proposed_by):
    switch_on(admin, "0.75")
    pid, why_not = file_and_try(admin, confidence="0.75", proposed_by=proposed_by)
    assert why_not is None and get_current_allocation(admin).id == pid


def test_under_the_threshold_the_proposal_waits_for_a_governor(admin):
    switch_on(admin, "0.8")
    pid, why_not = file_and_try(admin, confidence="0.79")
    assert "confidence 0.79" in why_not and "under the auto-approval threshold 0.8" in why_not
    assert get_proposal(admin, pid).status == "proposed"
    assert story(admin, pid) == ["allocation_proposed"]
    assert review_proposal(admin, pid, "approved", by="gus").status == "active"


def test_a_manual_proposal_is_never_auto_approved(admin):
    switch_on(admin, "0")
    pid = propose_allocation(admin, ProposalInput(74, 15, 6, 5, "manual", "1"), by="ada").proposal_id
    with admin.sessions.begin() as session:
        row = session.get(AllocationLog, uuid.UUID(pid))
        assert auto_approve_if_allowed(session, row, load_policy(session)) == \
            "only rebalancer proposals are auto-approved"
    assert get_proposal(admin, pid).status == "proposed"


def test_a_step_beyond_the_limit_is_not_auto_approved_and_nothing_of_the_attempt_is_kept(admin):
    switch_on(admin, "0.5")
    before = counts(admin)
    pid, why_not = file_and_try(admin, (60, 25, 10, 5), confidence="0.95")
    assert "reinvestment: moves 20 points" in why_not and "step limit 15" in why_not
    # A major change: refused before any activation is attempted.
    assert why_not.startswith("a major change is never auto-approved")
    assert get_proposal(admin, pid).status == "proposed"
    after = counts(admin)
    # Only the filing itself: one log row and its allocation_proposed activity.
    assert after == {**before, "profit_allocation_log": before["profit_allocation_log"] + 1,
                     "protocol_activity": before["protocol_activity"] + 1}
    assert story(admin, pid) == ["allocation_proposed"]


def test_a_smaller_step_limit_from_the_policy_applies(admin):
    switch_on(admin, "0.5")
    set_policy(admin, "max_step", "5", by="ada")
    pid, why_not = file_and_try(admin, (74, 15, 6, 5))  # reinvestment moves 6
    assert "reinvestment: moves 6 points" in why_not and "step limit 5" in why_not


def test_a_proposal_outside_bounds_narrowed_since_filing_is_not_auto_approved(admin):
    pid, _ = file_and_try(admin, (74, 15, 6, 5))  # filed while auto-approval is off
    switch_on(admin, "0.5")
    set_policy(admin, "lucky_max", "5", by="ada")
    before = counts(admin)
    why_not = try_again(admin, pid)
    assert why_not == "against the live split 80/15/3/2: lucky: 6 is above the maximum 5"
    assert counts(admin) == before
    assert get_proposal(admin, pid).status == "proposed"


def test_inside_the_cooldown_after_an_auto_approval_the_next_one_waits(admin):
    switch_on(admin, "0.8", cooldown="72")
    start = utcnow()
    first, why_not = file_and_try(admin, (74, 15, 6, 5), now=start)
    assert why_not is None
    second, why_not = file_and_try(admin, (70, 17, 8, 5), now=start + timedelta(hours=71))
    assert "inside the 72 h cooldown" in why_not
    assert get_proposal(admin, second).status == "proposed"
    assert get_current_allocation(admin).id == first
    # Outside the cooldown (and still inside the proposal's lifetime) it goes through.
    assert try_again(admin, second, now=start + timedelta(hours=72)) is None
    assert get_current_allocation(admin).id == second


def test_the_cooldown_also_runs_from_a_governors_activation(admin):
    switch_on(admin, "0.8", cooldown="72")
    manual = propose_allocation(admin, ProposalInput(78, 15, 4, 3, "manual"), by="ada")
    review_proposal(admin, manual.proposal_id, "approved", by="gus")
    activated_at = get_current_allocation(admin).effective_from
    pid, why_not = file_and_try(admin, (74, 15, 6, 5), now=activated_at + timedelta(hours=1))
    assert "inside the 72 h cooldown" in why_not
    assert try_again(admin, pid, now=activated_at + timedelta(hours=73)) is None


def test_the_seeded_default_does_not_start_the_cooldown(admin):
    switch_on(admin, "0.8", cooldown="72")
    assert file_and_try(admin)[1] is None


def test_a_zero_cooldown_allows_consecutive_auto_approvals(admin):
    switch_on(admin, "0.8", cooldown="0")
    assert file_and_try(admin, (74, 15, 6, 5))[1] is None
    assert file_and_try(admin, (70, 17, 8, 5))[1] is None
    assert get_current_allocation(admin).split.label() == "70/17/8/5"


def test_an_expired_or_decided_proposal_is_never_auto_approved(admin):
    pid, _ = file_and_try(admin, (74, 15, 6, 5))
    switch_on(admin, "0.5")
    filed_at = get_proposal(admin, pid).timestamp
    assert "expired" in try_again(admin, pid, now=filed_at + timedelta(days=8))
    review_proposal(admin, pid, "rejected", by="gus")
    before = counts(admin)
    assert "is rejected" in try_again(admin, pid)
    assert counts(admin) == before
    assert get_proposal(admin, pid).status == "rejected"


def test_switching_it_off_again_stops_it(admin):
    switch_on(admin, "0.5")
    set_policy(admin, "auto_approve_min_confidence", "off", by="ada")
    assert file_and_try(admin)[1] == "auto-approval is off"


# --- through the rebalancer --------------------------------------------------------------------

def _service() -> Any:
    from core.rebalancer import service

    return service


def _metrics(growth: float, engagement: float, dao: str, price: float) -> Any:
    from core.platform_data.metrics_model import PlatformMetrics
    return PlatformMetrics(growth, engagement, Decimal(dao), price, 15, 30)


LAUNCH_WEEK = (60.0, 85.0, "2500", 0.03)  # the rules answer 74/15/6/5 with confidence 0.9
LOW_ENGAGEMENT = (45.0, 20.0, "300", 0.005)  # the rules answer 72/15/7/6 with confidence 0.75


def test_the_rebalancer_run_auto_approves_a_confident_suggestion_when_on(admin, tmp_path):
    service = _service()
    load_launch_week(admin, tmp_path)  # the rules answer 74/15/6/5 with confidence 0.9
    switch_on(admin, "0.85")
    result = service.run_rebalance(admin, engine="rules", by="ada")
    assert result.outcome == "activated" and result.auto_approved
    current = get_current_allocation(admin)
    assert current.id == result.proposal_id and current.reviewed_by == "system:auto-approval"
    assert story(admin, result.proposal_id) == ["allocation_proposed", "allocation_auto_approved",
                                                "allocation_activated"]


def test_the_rebalancer_run_files_and_waits_when_auto_approval_is_off(admin, tmp_path):
    load_launch_week(admin, tmp_path)
    off = _service().run_rebalance(admin, engine="rules", by="ada")
    assert off.outcome == "filed" and off.auto_approval_note == "auto-approval is off"
    assert get_current_allocation(admin).split.label() == "80/15/3/2"
    assert get_proposal(admin, off.proposal_id).status == "proposed"


def test_the_rebalancer_run_files_and_waits_when_auto_approval_is_too_strict(admin, tmp_path):
    load_launch_week(admin, tmp_path)
    switch_on(admin, "0.95")
    strict = _service().run_rebalance(admin, engine="rules", by="ada")
    assert strict.outcome == "filed" and "under the auto-approval threshold" in \
        strict.auto_approval_note
    assert get_current_allocation(admin).split.label() == "80/15/3/2"
    assert get_proposal(admin, strict.proposal_id).status == "proposed"


def test_a_suggestion_from_the_callers_metrics_is_filed_but_never_auto_approved(admin):
    service = _service()
    switch_on(admin, "0.5")
    result = service.run_rebalance(admin, _metrics(*LAUNCH_WEEK), engine="rules", by="ada")
    assert result.outcome == "filed" and not result.auto_approved
    assert result.auto_approval_note == service.CALLER_METRICS_NOTE
    assert get_current_allocation(admin).split.label() == "80/15/3/2"
    (run,) = list_activity(admin, 10, "rebalance_run")
    assert run.metadata["metrics_source"] == "caller"
    assert run.metadata["auto_approval_note"] == service.CALLER_METRICS_NOTE
