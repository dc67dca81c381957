"""The profit-rebalancer run: metrics -> suggestion -> (maybe) a proposal, always a log row.

The advisor may take seconds (or time out), so the engines run between a short read of the live
split and policy and the one write transaction; no write lock is held while the model thinks. If
the live split or the policy changed in between, the suggestion's target is clamped again against
what is in force at the moment of writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy.orm as so

from core.allocation.policy import Policy
from core.allocation.split import BUCKETS, Split
from core.allocation.validation import ProposalInput
from core.base.errors import Refused, ValidationFailed
from core.base.formatting import decimal_text
from core.base.locking import serialize_writes
from core.base.sessions import reading, writing
from core.experiments.store import RUNNING, holding_the_split
from core.governance.actors import Actor, resolve_actor
from core.governance.policy_store import load_policy
from core.platform_data.metrics_model import PlatformMetrics
from core.proposals.lifecycle import (auto_approve_if_allowed, file_proposal, live_split,
                                      pending_with_split)
from core.rebalancer.advisor import AdvisorUnavailable, suggest_by_ai
from core.rebalancer.rules import suggest_by_rules
from core.rebalancer.suggestion import Suggestion, clamp_to_policy, policy_gate
from core.record.activity import record_activity
from db.engine import Database
from db.models import Experiment
from db.types import utcnow
from settings import Settings, get_settings

ENGINE_CHOICES = ("auto", "rules", "ai")
SCHEDULER_ACTOR = "system:scheduler"
ACTION = "running the rebalancer"
PROPOSED_BY = {"ai": "ai", "rules": "system"}
# Where the run's metrics came from: the database's own figures, or a caller's (`--metrics FILE`,
# the API's `metrics` body), which nobody checked against the platform's data.
DATABASE_METRICS, CALLER_METRICS = "database", "caller"
CALLER_METRICS_NOTE = ("the metrics were supplied by the caller, not computed from the "
                       "database: a suggestion from them is filed for a governor, never "
                       "auto-approved")


@dataclass(frozen=True)
class RebalanceResult:
    suggestion: Suggestion
    current_allocation: Split
    metrics: PlatformMetrics
    outcome: str  # no_change, dry_run, paused, already_pending, filed, activated
    requested_engine: str
    actor: str
    dry_run: bool = False
    paused: bool = False
    proposal_id: str | None = None
    auto_approved: bool = False
    auto_approval_note: str | None = None  # why it was not auto-approved
    warnings: list[str] = field(default_factory=list)
    metrics_source: str = DATABASE_METRICS

    @property
    def should_rebalance(self) -> bool:
        return self.suggestion.should_rebalance

    @property
    def filed(self) -> bool:
        return self.outcome in ("filed", "activated")

    def as_json(self) -> dict[str, Any]:
        """The seed's profit-rebalancer response, plus how it was made and what happened."""
        s = self.suggestion
        return {
            "success": True,
            "should_rebalance": s.should_rebalance,
            "current_allocation": self.current_allocation.as_json(),
            "suggested_allocation": s.split.as_json(),
            "reasoning": s.reasoning,
            "confidence": float(s.confidence),
            "proposal_id": self.proposal_id,
            "engine": s.engine,
            "fallback_reason": s.fallback_reason,
            "metrics": self.metrics.as_json(),
            "metrics_source": self.metrics_source,
            "requested_engine": self.requested_engine,
            "target_allocation": s.target.as_json() if s.target else None,
            "rules_fired": list(s.rules_fired),
            "outcome": self.outcome,
            "filed": self.filed,
            "dry_run": self.dry_run,
            "rebalancing_paused": self.paused,
            "auto_approved": self.auto_approved,
            "auto_approval_note": self.auto_approval_note,
            "warnings": list(self.warnings),
            "by": self.actor,
        }


def suggest(metrics: PlatformMetrics, live: Split, policy: Policy, engine: str = "auto",
            settings: Settings | None = None) -> Suggestion:
    """Pure apart from the advisor's HTTP call: the suggestion the chosen engine makes.

    `auto` asks the AI advisor when an API key is configured, else the rule engine. Whenever the
    advisor is asked and gives no usable answer, the rule engine answers and says why.
    """
    if engine not in ENGINE_CHOICES:
        raise ValidationFailed(f"engine: {engine!r} is not one of {', '.join(ENGINE_CHOICES)}")
    settings = settings or get_settings()
    if engine == "rules" or (engine == "auto" and not settings.has_openai_key):
        return suggest_by_rules(metrics, live, policy)
    try:
        return suggest_by_ai(metrics, live, policy, settings)
    except AdvisorUnavailable as unavailable:
        reason = f"{unavailable.reason}; rule engine used"
        fallback = suggest_by_rules(metrics, live, policy)
        return replace(fallback, fallback_reason=reason,
                       reasoning=f"(Rule engine: {reason}.) {fallback.reasoning}")


def _recheck(suggestion: Suggestion, live: Split, policy: Policy) -> Suggestion:
    """Clamp the suggestion's target again against a live split or policy that just changed."""
    assert suggestion.target is not None
    split, notes = clamp_to_policy(suggestion.target, live, policy)
    blocked = policy_gate(split, live, policy, suggestion.confidence)
    note = (f"The live split or the policy changed while this was prepared; re-checked against "
            f"the live {live.label()}: suggested {split.label()}"
            + (f" (no rebalance: {blocked})" if blocked else "") + ".")
    return replace(suggestion, split=split, notes=notes, reasoning=f"{suggestion.reasoning} {note}",
                   should_rebalance=suggestion.should_rebalance and blocked is None)


def _actor(session: so.Session, by: str | None, scheduled: bool) -> Actor:
    if scheduled:
        return Actor(SCHEDULER_ACTOR, "analyst")
    return resolve_actor(session, by, "analyst", ACTION)


def _describe(result: RebalanceResult) -> str:
    s = result.suggestion
    engine = s.engine + (" after fallback" if s.fallback_reason else "")
    head = f"rebalancer ({engine}, by {result.actor})"
    change = f"{result.current_allocation.label()} -> {s.split.label()}"
    return {
        "no_change": f"{head}: no rebalance needed, {s.split.label()} suggested "
                     f"(confidence {decimal_text(s.confidence.normalize())})",
        "dry_run": f"{head}: dry run, would propose {change}",
        "paused": f"{head}: would propose {change}, but rebalancing is paused; nothing filed",
        "already_pending": f"{head}: {s.split.label()} is already waiting for review as "
                           f"{result.proposal_id}; nothing filed",
        "filed": f"{head}: proposed {change} as {result.proposal_id}",
        "activated": f"{head}: proposed {change} as {result.proposal_id}, auto-approved",
    }[result.outcome]


def _log_run(session: so.Session, result: RebalanceResult, scheduled: bool) -> None:
    s = result.suggestion
    record_activity(session, "rebalance_run", _describe(result), {
        "engine": s.engine, "requested_engine": result.requested_engine,
        "fallback_reason": s.fallback_reason, "should_rebalance": s.should_rebalance,
        "proposal_id": result.proposal_id, "confidence": float(s.confidence),
        "metrics": result.metrics.as_json(), "metrics_source": result.metrics_source,
        "outcome": result.outcome,
        "current_allocation": result.current_allocation.as_json(),
        "suggested_allocation": s.split.as_json(),
        "target_allocation": s.target.as_json() if s.target else None,
        "rules_fired": list(s.rules_fired), "reasoning": s.reasoning,
        "auto_approved": result.auto_approved, "auto_approval_note": result.auto_approval_note,
        "dry_run": result.dry_run, "scheduled": scheduled, "by": result.actor})


def experiment_note(experiment: Experiment) -> str:
    """Why a rebalancer proposal is filed for a governor instead of auto-approved while an
    experiment holds the split (core.experiments.store.holding_the_split)."""
    state = ("running" if experiment.status == RUNNING
             else f"approved to start at {experiment.starts_at.isoformat()}")
    return (f"experiment {experiment.id} is {state} until {experiment.ends_at.isoformat()}: the "
            "split follows its schedule, so the rebalancer's proposal waits for a governor "
            "instead of being auto-approved")


def _act(session: so.Session, result: RebalanceResult, actor: Actor, policy: Policy,
         now: datetime | None, *, refuse_duplicate: bool = False) -> RebalanceResult:
    """What a run that should rebalance does: nothing on a dry run or while paused, and nothing
    while the same split already waits for review (or `refuse_duplicate`: core refuses it);
    else file the proposal and try the bounded auto-approval."""
    if result.dry_run:
        return replace(result, outcome="dry_run")
    if policy.rebalancing_paused:
        return replace(result, outcome="paused")
    split = result.suggestion.split
    if not refuse_duplicate:
        waiting = pending_with_split(session, split, policy, now or utcnow())
        if waiting is not None:
            return replace(result, outcome="already_pending", proposal_id=str(waiting.id))
    row, checked = file_proposal(session, ProposalInput(
        *(getattr(split, b) for b in BUCKETS), reasoning=result.suggestion.reasoning,
        confidence=result.suggestion.confidence,
        proposed_by=PROPOSED_BY[result.suggestion.engine],
        input_metrics=result.metrics.as_json()), actor, policy)
    experiment = holding_the_split(session)
    if result.metrics_source == CALLER_METRICS:
        why_not: str | None = CALLER_METRICS_NOTE  # anyone could have written those figures
    elif experiment is not None:
        why_not = experiment_note(experiment)
    else:
        why_not = auto_approve_if_allowed(session, row, policy, now)
    return replace(result, outcome="filed" if why_not else "activated", proposal_id=str(row.id),
                   auto_approved=why_not is None, auto_approval_note=why_not,
                   warnings=checked.warnings)


def run_rebalance(db: Database, metrics: PlatformMetrics | None = None, engine: str = "auto",
                  dry_run: bool = False, by: str | None = None, scheduled: bool = False,
                  now: datetime | None = None, settings: Settings | None = None) -> RebalanceResult:
    """One run of the profit-rebalancer; files a proposal when it should (never on a dry run or
    while rebalancing is paused), tries the bounded auto-approval, and logs a `rebalance_run`.

    The acting account must be an analyst or above (`by`; in open mode anyone). A scheduled run
    acts as the built-in "system:scheduler" and names no account. No run files a split that is
    already waiting for review (outcome "already_pending", naming that proposal). `metrics`
    given by the caller (instead of the database's own) are the caller's word: what they
    suggest is filed but never auto-approved, and the run's log says so.
    """
    if engine not in ENGINE_CHOICES:
        raise ValidationFailed(f"engine: {engine!r} is not one of {', '.join(ENGINE_CHOICES)}")
    if scheduled and by:
        raise ValidationFailed(f"by: a scheduled run acts as {SCHEDULER_ACTOR}; name no account")
    settings = settings or get_settings()
    with reading(db) as session:
        _actor(session, by, scheduled)  # refuse before spending an advisor call
        policy, live = load_policy(session), live_split(session)
    if metrics is None:
        from core.platform_data.metrics_store import compute_metrics  # the database's own figures

        metrics, source = compute_metrics(db, now=now), DATABASE_METRICS
    else:
        source = CALLER_METRICS
    suggestion = suggest(metrics, live, policy, engine, settings)

    with writing(db) as session:
        actor = _actor(session, by, scheduled)
        serialize_writes(session)  # the live split read below stays the live split until commit
        policy_now, live_now = load_policy(session), live_split(session)
        if (policy_now, live_now) != (policy, live):
            suggestion = _recheck(suggestion, live_now, policy_now)
        result = RebalanceResult(suggestion, live_now, metrics, "no_change", engine,
                                 actor.username, dry_run=dry_run,
                                 paused=policy_now.rebalancing_paused, metrics_source=source)
        if suggestion.should_rebalance:
            result = _act(session, result, actor, policy_now, now)
        _log_run(session, result, scheduled)
        return result


def file_suggestion(db: Database, result: RebalanceResult, *, by: str | None,
                    now: datetime | None = None) -> RebalanceResult:
    """File the suggestion of an earlier dry run (a person read it, then chose to file it),
    exactly as a non-dry run would have: re-checked against the split and policy in force now,
    refused while rebalancing is paused, auto-approval tried, and the run logged."""
    with writing(db) as session:
        serialize_writes(session)
        actor = _actor(session, by, scheduled=False)
        policy, live = load_policy(session), live_split(session)
        if policy.rebalancing_paused:
            raise Refused("rebalancing: paused by the policy; nothing was filed")
        suggestion = result.suggestion
        if live != result.current_allocation and suggestion.target is not None:
            suggestion = _recheck(suggestion, live, policy)
        if not suggestion.should_rebalance:
            raise Refused(f"suggestion: {suggestion.split.label()} is no rebalance of the live "
                          f"split {live.label()}; nothing was filed")
        filing = replace(result, suggestion=suggestion, current_allocation=live, dry_run=False,
                         actor=actor.username, paused=False, outcome="no_change")
        # A person chose to file it: a duplicate is refused with core's message, not skipped.
        filed = _act(session, filing, actor, policy, now, refuse_duplicate=True)
        _log_run(session, filed, scheduled=False)
        return filed
