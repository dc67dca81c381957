"""API tokens and webhook endpoints (the HTTP contract, ../shared/spec/api.md)."""

from __future__ import annotations

import logging
import sys
import time

import typer

from cli.common import JsonOption, database, emit, refusals, table

tokens_app = typer.Typer(help="API tokens: bearer credentials of an account.")
webhooks_app = typer.Typer(help="Webhook endpoints and their deliveries.")
DELIVERY_LOOP_SECONDS = 15.0


@tokens_app.command("create")
@refusals
def tokens_create(ctx: typer.Context, user: str = typer.Option(..., "--user"),
                  name: str = typer.Option(..., "--name", help="A label: what uses the token."),
                  expires_days: int = typer.Option(None, "--expires-days"),
                  by: str = typer.Option(..., "--by", help="The acting admin."),
                  as_json: bool = JsonOption) -> None:
    """Make a token for an account; it is printed once and only its hash is kept."""
    from core.governance import api_tokens

    issued = api_tokens.create_token(database(ctx), user, name, by=by, expires_days=expires_days)
    emit(issued.as_json(), as_json, lambda: typer.echo(
        f"token {issued.info.id} for {issued.info.username} (shown once, keep it now):\n"
        f"{issued.token}"))


@tokens_app.command("list")
@refusals
def tokens_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every token, newest first (never the token itself: it is not kept)."""
    from core.governance import api_tokens

    rows = [t.as_json() for t in api_tokens.list_tokens(database(ctx))]
    emit(rows, as_json, lambda: table(
        rows, ["id", "username", "name", "expires_at", "revoked", "last_used_at"]))


@tokens_app.command("revoke")
@refusals
def tokens_revoke(ctx: typer.Context, token_id: str = typer.Argument(..., metavar="ID"),
                  by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    """Stop a token for good."""
    from core.governance import api_tokens

    info = api_tokens.revoke_token(database(ctx), token_id, by=by)
    emit({"id": info.id, "revoked": info.revoked}, as_json,
         lambda: typer.echo(f"token {info.id} revoked"))


@webhooks_app.command("add")
@refusals
def webhooks_add(ctx: typer.Context, url: str = typer.Argument(...),
                 events: str = typer.Option(..., "--events", help="E1,E2 or all."),
                 by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    """Register an endpoint; its signing secret is printed once."""
    from core.jobs import webhooks

    added = webhooks.add_endpoint(database(ctx), url, events, by=by)
    emit(added.as_json(), as_json, lambda: typer.echo(
        f"endpoint {added.endpoint.id} for {', '.join(added.endpoint.events)}; signing secret "
        f"(shown once, keep it now):\n{added.secret}"))


@webhooks_app.command("list")
@refusals
def webhooks_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The registered endpoints (never their secrets)."""
    from core.jobs import webhooks

    rows = [e.as_json() for e in webhooks.list_endpoints(database(ctx))]
    emit(rows, as_json, lambda: table(
        [{**r, "events": ",".join(r["events"])} for r in rows],
        ["id", "url", "events", "created_by", "created_at"]))


@webhooks_app.command("remove")
@refusals
def webhooks_remove(ctx: typer.Context, endpoint_id: str = typer.Argument(..., metavar="ID"),
                    by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    """Stop sending to an endpoint (its delivery log stays)."""
    from core.jobs import webhooks

    endpoint = webhooks.remove_endpoint(database(ctx), endpoint_id, by=by)
    emit({"id": endpoint.id, "removed": True}, as_json,
         lambda: typer.echo(f"endpoint {endpoint.id} removed"))


@webhooks_app.command("deliver")
@refusals
def webhooks_deliver(ctx: typer.Context,
                     once: bool = typer.Option(False, "--once", help="One pass, then exit."),
                     as_json: bool = JsonOption) -> None:
    """Deliver what is due (`schedule` does this too); without --once, keep going."""
    from core.jobs import webhooks

    db = database(ctx)
    if once:
        result = webhooks.deliver_due(db)
        emit(result.as_json(), as_json, lambda: typer.echo(
            f"{result.delivered} delivered, {result.failed} failed, {result.pending} pending"))
        return
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("cli.webhooks")
    try:
        while True:
            result = webhooks.deliver_due(db)
            if result.delivered or result.failed:
                log.info("%s", result.as_json())
            time.sleep(DELIVERY_LOOP_SECONDS)
    except KeyboardInterrupt:
        log.info("stopped")


@webhooks_app.command("deliveries")
@refusals
def webhooks_deliveries(ctx: typer.Context,
                        limit: str = typer.Option("50", "--limit", metavar="N",
                                                  help="How many deliveries, newest first."),
                        as_json: bool = JsonOption) -> None:
    """The delivery log, newest first."""
    from core.jobs import webhooks

    rows = [d.as_json() for d in webhooks.list_deliveries(database(ctx), limit)]
    emit(rows, as_json, lambda: table(
        rows, ["id", "event_id", "type", "url", "status", "attempts", "last_status_code",
               "next_attempt_at"]))


@webhooks_app.command("prune")
@refusals
def webhooks_prune(ctx: typer.Context,
                   older_than_days: str = typer.Option(
                       None, "--older-than-days", metavar="N",
                       help="Keep events newer than N days (default PA_WEBHOOK_RETENTION_DAYS, "
                            "else 30)."),
                   at: str = typer.Option(None, "--at", help="The time to take as now "
                                          "(ISO 8601), for tests and replays."),
                   as_json: bool = JsonOption) -> None:
    """Delete events past the retention with their delivery log (`schedule` does it daily);
    an event with a pending delivery is kept."""
    from core.base.parsing import parse_instant
    from core.jobs import webhooks

    pruned = webhooks.prune_deliveries(database(ctx), parse_instant(at, "at") if at else None,
                                       older_than_days)
    emit(pruned.as_json(), as_json, lambda: typer.echo(
        f"{pruned.events} event(s) and {pruned.deliveries} delivery record(s) older than "
        f"{pruned.older_than_days} days deleted"))
