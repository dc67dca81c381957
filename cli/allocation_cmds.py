"""Commands of the allocation log, reviews, amounts and the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.common import JsonOption, database, emit, refusals, table
from core.allocation.split import format_pct
from settings import get_settings

if TYPE_CHECKING:
    from core.allocation.validation import ProposalInput

app = typer.Typer()
db_app = typer.Typer(help="Schema management.")
proposal_app = typer.Typer(help="One proposal and its story.")


def _owner_url(ctx: typer.Context) -> str:
    """Schema commands run as the owner: --db, else MIGRATION_DATABASE_URL, else DATABASE_URL."""
    settings = get_settings()
    return ((ctx.find_root().obj or {}).get("url") or settings.migration_database_url
            or settings.database_url)


@db_app.command("upgrade")
@refusals
def db_upgrade(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Upgrade the schema to head; seed the default 80/15/3/2 split on an empty log."""
    from core.database import connect, upgrade_database

    result = upgrade_database(connect(_owner_url(ctx), upgrade=False))
    emit(result.as_json(), as_json, lambda: typer.echo(
        f"database at revision {result.revision}"
        + ("; default split 80/15/3/2 seeded" if result.seeded_default else "")))


@db_app.command("grant-app-role")
@refusals
def db_grant_app_role(ctx: typer.Context, role: str = typer.Argument(..., help="The app's role."),
                      as_json: bool = JsonOption) -> None:
    """PostgreSQL: give ROLE what the app needs (no TRUNCATE, no DDL); run as the owner."""
    from core.database import connect, grant_app_role

    statements = grant_app_role(connect(_owner_url(ctx)), role)
    emit({"role": role.strip(), "statements": statements}, as_json,
         lambda: typer.echo(f"role {role.strip()} granted the app's privileges "
                            f"({len(statements)} statements)"))


@app.command()
@refusals
def current(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The split in force."""
    from core.allocation.current import get_current_allocation

    split = get_current_allocation(database(ctx))
    emit(split.as_json(), as_json, lambda: typer.echo(
        f"{split.split.label()}  (reinvestment/dao/lucky/creator, source: {split.source}"
        + (f", since {split.effective_from:%Y-%m-%d %H:%M} UTC" if split.effective_from else "")
        + ")"))


def _proposal(reinvestment: str, dao: str, lucky: str, creator: str, reasoning: str,
              confidence: str, proposed_by: str) -> ProposalInput:
    from core.allocation.validation import ProposalInput

    return ProposalInput(reinvestment, dao, lucky, creator, reasoning, confidence, proposed_by,
                         {"manual": True} if proposed_by == "manual" else None)


@app.command()
@refusals
def validate(ctx: typer.Context, reinvestment: str = typer.Option(...), dao: str = typer.Option(...),
             lucky: str = typer.Option(...), creator: str = typer.Option(...),
             reasoning: str = typer.Option(""), confidence: str = typer.Option("1.0"),
             proposed_by: str = typer.Option("manual", "--proposed-by"),
             as_json: bool = JsonOption) -> None:
    """Check a proposal against the policy and the live split; writes nothing."""
    from core.proposals import lifecycle

    result = lifecycle.validate_against_live(database(ctx), _proposal(
        reinvestment, dao, lucky, creator, reasoning, confidence, proposed_by))
    if as_json:
        emit(result.as_json(), True)
    else:
        typer.echo("valid" if result.valid else "invalid")
        for warning in result.warnings:
            typer.echo(f"warning: {warning}")
    for error in result.errors:
        typer.echo(f"error: {error}", err=True)
    if not result.valid:
        raise typer.Exit(3)


@app.command()
@refusals
def propose(ctx: typer.Context, reinvestment: str = typer.Option(...), dao: str = typer.Option(...),
            lucky: str = typer.Option(...), creator: str = typer.Option(...),
            reasoning: str = typer.Option(...), confidence: str = typer.Option("1.0"),
            proposed_by: str = typer.Option("manual", "--proposed-by", help="manual: ai and "
                                            "system are the rebalancer's own labels (refused)."),
            by: str = typer.Option(None, "--by", help="The acting account."),
            as_json: bool = JsonOption) -> None:
    """File a proposal (status proposed)."""
    from core.proposals import lifecycle

    result = lifecycle.propose_allocation(database(ctx), _proposal(
        reinvestment, dao, lucky, creator, reasoning, confidence, proposed_by), by=by)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    emit(result.as_json(), as_json, lambda: typer.echo(f"proposal {result.proposal_id} filed"))


@app.command()
@refusals
def pending(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Proposals waiting for review, newest first."""
    from core.proposals import lifecycle

    items = lifecycle.get_pending_proposals(database(ctx))
    emit([p.as_json() for p in items], as_json, lambda: table(
        [{"id": p.record.id, "split": p.record.split.label(), "confidence": p.record.confidence,
          "by": p.record.proposer_username or p.record.proposed_by,
          "approvals": f"{len(p.approvals)}/{p.approvals_required}", "tier": p.tier,
          "expires": f"{p.expires_at:%Y-%m-%d %H:%M}", "reasoning": p.record.reasoning[:60]}
         for p in items], ["id", "split", "confidence", "by", "approvals", "tier", "expires",
                           "reasoning"]))


@app.command()
@refusals
def review(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
           decision: str = typer.Option(..., "--decision", help="approved or rejected"),
           by: str = typer.Option(..., "--by", help="The reviewing account."),
           notes: str = typer.Option(None, "--notes"),
           totp: str = typer.Option(None, "--totp", help="A current code of your authenticator "
                                    "app (when the policy requires TOTP)."),
           as_json: bool = JsonOption) -> None:
    """Record a review; the approval completing the required count activates the proposal, or
    queues it when its tier has a timelock."""
    from core.proposals import lifecycle

    outcome = lifecycle.review_proposal(database(ctx), proposal_id, decision, by=by, notes=notes,
                                        totp=totp)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"proposal {outcome.proposal_id} is {outcome.status} "
        f"({outcome.approvals} of {outcome.approvals_required} approvals), a {outcome.tier} change"
        + (f"; takes effect at {outcome.executes_at:%Y-%m-%d %H:%M} UTC unless vetoed"
           if outcome.executes_at else "")))


@app.command()
@refusals
def withdraw(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
             by: str = typer.Option(..., "--by", help="The proposer, or an admin."),
             notes: str = typer.Option(None, "--notes"), as_json: bool = JsonOption) -> None:
    """Withdraw a pending proposal (its proposer or an admin)."""
    from core.proposals import lifecycle

    outcome = lifecycle.withdraw_proposal(database(ctx), proposal_id, by=by, notes=notes)
    emit(outcome.as_json(), as_json,
         lambda: typer.echo(f"proposal {outcome.proposal_id} is {outcome.status}"))


@proposal_app.command("show")
@refusals
def proposal_show(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
                  as_json: bool = JsonOption) -> None:
    """One proposal: its split, status, tier, approvals and every event of its story."""
    from core.proposals import lifecycle

    story = lifecycle.get_proposal_story(database(ctx), proposal_id)

    def human() -> None:
        r = story.record
        typer.echo(f"proposal {r.id}: {r.split.label()} ({story.tier} change against "
                   f"{story.compared_with.label()}), {r.status}, {len(story.approvals)} of "
                   f"{story.approvals_required} approvals")
        table([{"at": f"{e.at:%Y-%m-%d %H:%M:%S}", "event": e.event, "by": e.by,
                "notes": (e.notes or "")[:60]} for e in story.timeline],
              ["at", "event", "by", "notes"])

    emit(story.as_json(), as_json, human)


@proposal_app.command("veto")
@refusals
def proposal_veto(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
                  by: str = typer.Option(..., "--by", help="The vetoing governor."),
                  reason: str = typer.Option(..., "--reason", help="Why it must not take effect."),
                  totp: str = typer.Option(None, "--totp", help="A current code of your "
                                           "authenticator app (when the policy requires TOTP)."),
                  as_json: bool = JsonOption) -> None:
    """Veto a queued change (a split or governance proposal waiting for its timelock)."""
    from core.proposals import queue

    outcome = queue.veto(database(ctx), proposal_id, by=by, reason=reason, totp=totp)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"proposal {outcome.proposal_id} is {outcome.status} ({outcome.vetoes} of "
        f"{outcome.vetoes_required} vetoes)"))


@proposal_app.command("execute-due")
@refusals
def proposal_execute_due(ctx: typer.Context,
                         at: str = typer.Option(None, "--at", help="The time to take as now "
                                                "(ISO 8601), for tests and replays."),
                         as_json: bool = JsonOption) -> None:
    """Close the community votes whose time has come (applying a binding result) and make every
    queued change whose timelock has ended take effect (schedule does it every minute); what no
    longer holds expires, with the reason."""
    from core.base.parsing import parse_instant
    from core.proposals import queue

    outcome = queue.execute_due(database(ctx), parse_instant(at, "at") if at else None)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"{len(outcome.executed)} change(s) took effect, {len(outcome.expired)} expired"
        + "".join(f"\n  took effect: {pid}" for pid in outcome.executed)
        + "".join(f"\n  expired: {e['id']}: {e['reason']}" for e in outcome.expired)
        + "".join(f"\n  vote closed: {v.proposal_id}: {v.outcome}" for v in outcome.votes_closed)))


@app.command()
@refusals
def expire(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Mark proposals past their lifetime as expired (the daily schedule does this too)."""
    from core.proposals import lifecycle

    expired = lifecycle.expire_stale_proposals(database(ctx))
    emit({"expired": expired}, as_json, lambda: typer.echo(
        f"{len(expired)} proposal(s) expired" + "".join(f"\n  {pid}" for pid in expired)))


@app.command()
@refusals
def history(ctx: typer.Context, limit: str = typer.Option(None, "--limit", metavar="N"),
            as_json: bool = JsonOption) -> None:
    """Every row of the allocation log, newest first."""
    from core.proposals import lifecycle

    rows = lifecycle.get_allocation_history(database(ctx), limit)
    emit([r.as_json() for r in rows], as_json, lambda: table(
        [{"timestamp": f"{r.timestamp:%Y-%m-%d %H:%M}", "id": r.id, "split": r.split.label(),
          "status": r.status + (" (current)" if r.is_current else ""),
          "proposed_by": r.proposer_username or r.proposed_by, "reviewed_by": r.reviewed_by,
          "reasoning": r.reasoning[:50]} for r in rows],
        ["timestamp", "id", "split", "status", "proposed_by", "reviewed_by", "reasoning"]))


@app.command()
@refusals
def amounts(ctx: typer.Context, profit: str = typer.Option(..., "--profit"),
            as_json: bool = JsonOption) -> None:
    """Amounts per bucket from the active split; the parts sum exactly to the profit."""
    from core.proposals import distribution

    parts, current = distribution.amounts_for(database(ctx), profit)
    data = distribution.amounts_as_json(parts, current)
    emit(data, as_json, lambda: table(
        [{"bucket": k, "pct": format_pct(getattr(current.split, k)), "amount": v}
         for k, v in parts.as_json().items()] + [{"bucket": "total", "pct": "100",
                                                 "amount": str(parts.total)}],
        ["bucket", "pct", "amount"]))


@app.command()
@refusals
def distribute(ctx: typer.Context, profit: str = typer.Option(..., "--profit"),
               key: str = typer.Option(..., "--key"), by: str = typer.Option(None, "--by"),
               confirm_total: str = typer.Option(
                   None, "--confirm-total", metavar="AMOUNT",
                   help="The amount again, to record one over ten times the largest so far."),
               as_json: bool = JsonOption) -> None:
    """Record a distribution in the ledger with the active split (idempotent by key). An amount
    over ten times the largest distribution so far needs --confirm-total repeating it, as the
    API's confirm_total does."""
    from core.proposals import distribution

    record = distribution.distribute(database(ctx), profit, key, by=by, confirm_large=True,
                                     confirm_total=confirm_total)
    emit(record.as_json(), as_json, lambda: typer.echo(
        ("distributed " if record.created else "already distributed (nothing written): ")
        + f"{record.total} -> " + ", ".join(f"{k} {v}" for k, v in record.amounts.as_json().items())))


@app.command()
@refusals
def activity(ctx: typer.Context, limit: str = typer.Option("50", "--limit", metavar="N"),
             activity_type: str = typer.Option(None, "--type"), as_json: bool = JsonOption) -> None:
    """Rows of protocol_activity, newest first."""
    from core.record.activity import list_activity

    rows = list_activity(database(ctx), limit, activity_type)
    emit([r.as_json() for r in rows], as_json, lambda: table(
        [{"timestamp": f"{r.timestamp:%Y-%m-%d %H:%M:%S}", "type": r.activity_type,
          "description": r.description} for r in rows], ["timestamp", "type", "description"]))

