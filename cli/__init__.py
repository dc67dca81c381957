"""`python -m core`: the command-line contract in ../shared/spec/cli.md."""

from __future__ import annotations

import typer

from cli import allocation_cmds, governance_cmds
from cli import rebalance_cmds
from cli import platform_cmds
from cli import api_access_cmds
from cli import rollup_cmds
from cli import outcome_cmds
from cli import audit_cmds
from cli import experiment_cmds
from cli import voting_cmds

app = typer.Typer(help="Dynamic profit allocation: the allocation log, reviews and the ledger.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def main(ctx: typer.Context,
         db: str = typer.Option(None, "--db", help="Database URL (else DATABASE_URL, else "
                                "sqlite:///data/profit_allocation.db).")) -> None:
    from cli.common import cli_channel
    from core.base.channel import acting_through
    from settings import normalise_database_url

    ctx.obj = {"url": normalise_database_url(db) if db else None}
    # Every activity row the command writes names the channel, until the command ends.
    ctx.with_resource(acting_through(**cli_channel()))


for command in allocation_cmds.app.registered_commands:
    app.registered_commands.append(command)
app.add_typer(allocation_cmds.db_app, name="db")
app.add_typer(allocation_cmds.proposal_app, name="proposal")
app.add_typer(governance_cmds.users_app, name="users")
app.add_typer(governance_cmds.policy_app, name="policy")
app.add_typer(governance_cmds.governance_app, name="governance")
app.registered_commands.extend(rebalance_cmds.app.registered_commands)
platform_cmds.register(app)
app.add_typer(api_access_cmds.tokens_app, name="tokens")
app.add_typer(api_access_cmds.webhooks_app, name="webhooks")
app.add_typer(rollup_cmds.app, name="rollup")
outcome_cmds.register(app)
app.add_typer(audit_cmds.audit_app, name="audit")
experiment_cmds.register(app)
voting_cmds.register(app)
