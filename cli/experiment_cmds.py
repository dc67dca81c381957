"""`python -m core experiment ...`: switchback experiments (the experiments issue's contract).

Numbers are taken as text and read by core's own parsers, so `--blocks 2.5` and `--blocks x` are
refused with the same one-line message as in every other medium.
"""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, refusals, table
from core.base.formatting import count, percent

experiment_app = typer.Typer(help="Switchback experiments: two to four splits in turn on a "
                             "committed random schedule.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(experiment_app, name="experiment")


def _human_show(data: dict) -> None:
    typer.echo(f"experiment {data['experiment_id']}: {data['status']}, "
               f"{', '.join(data['arm_labels'])} (arm 0 is the control)")
    typer.echo(f"{data['blocks_planned']} blocks of {data['block_hours']} h from "
               f"{data['starts_at']} to {data['ends_at']}, burn-in {data['burn_in_hours']} h, "
               f"metric {data['metric']}; schedule sha256 {data['schedule_sha256']}")
    table([{"block": b["index"], "arm": b["arm"], "from": b["starts_at"][:16],
            "to": b["ends_at"][:16]} for b in data["blocks"]], ["block", "arm", "from", "to"])
    typer.echo(f"verdict: {data['results']['verdict']}")
    if "salt" in data:
        typer.echo(f"salt {data['salt']}, schedule {','.join(map(str, data['schedule']))}")


@experiment_app.command("create")
@refusals
def create_(ctx: typer.Context,
            arms: str = typer.Option(..., "--arms", help='The splits, the control first: '
                                     '"80/15/3/2,70/18/8/4".'),
            block_hours: str = typer.Option(..., "--block-hours", metavar="H"),
            blocks: str = typer.Option(..., "--blocks", metavar="N"),
            burn_in_hours: str = typer.Option("0", "--burn-in-hours", metavar="B"),
            metric: str = typer.Option(None, "--metric", metavar="M"),
            guardrail: list[str] = typer.Option(None, "--guardrail", metavar="METRIC:-PCT",
                                                help="May be given more than once."),
            starts_at: str = typer.Option(None, "--starts-at", metavar="ISO",
                                          help="In the future (default: the next whole hour)."),
            reasoning: str = typer.Option(..., "--reasoning"),
            by: str = typer.Option(..., "--by", help="The filing analyst."),
            as_json: bool = JsonOption) -> None:
    """File an experiment; the schedule is drawn now and only its SHA-256 is shown until the end."""
    from core.experiments.service import create_experiment

    filed = create_experiment(database(ctx), arms=arms, block_hours=block_hours, blocks=blocks,
                              burn_in_hours=burn_in_hours, metric=metric,
                              guardrails=tuple(guardrail or ()), starts_at=starts_at,
                              reasoning=reasoning, by=by)
    emit(filed.as_json(), as_json, lambda: typer.echo(
        f"experiment {filed.experiment_id} filed ({filed.status}), {filed.starts_at:%Y-%m-%d %H:%M}"
        f" .. {filed.ends_at:%Y-%m-%d %H:%M} UTC; schedule sha256 {filed.schedule_sha256}\n"
        f"{filed.detectable}"))


@experiment_app.command("review")
@refusals
def review_(ctx: typer.Context, experiment_id: str = typer.Argument(..., metavar="ID"),
            decision: str = typer.Option(..., "--decision", help="approved or rejected"),
            by: str = typer.Option(..., "--by", help="The reviewing governor."),
            notes: str = typer.Option(None, "--notes"),
            totp: str = typer.Option(None, "--totp", help="A current code of your authenticator "
                                     "app (when the policy requires TOTP)."),
            as_json: bool = JsonOption) -> None:
    """Review an experiment as a major change (approvals_required_major, four-eyes)."""
    from core.experiments.service import review_experiment

    outcome = review_experiment(database(ctx), experiment_id, decision, by=by, notes=notes,
                                totp=totp)
    moved = (f" (moved from {outcome.start_moved_from:%Y-%m-%d %H:%M} by the "
             f"{outcome.timelock_hours} h timelock)" if outcome.start_moved_from else "")
    starts = (f"; it starts at {outcome.starts_at:%Y-%m-%d %H:%M} UTC{moved} unless a governor "
              "stops it" if outcome.status == "approved" else "")
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"experiment {outcome.experiment_id} is {outcome.status} ({outcome.approvals} of "
        f"{outcome.approvals_required} approvals){starts}"))


@experiment_app.command("show")
@refusals
def show_(ctx: typer.Context, experiment_id: str = typer.Argument(..., metavar="ID"),
          as_json: bool = JsonOption) -> None:
    """The design, the blocks so far, the results; once ended, the salt and the whole schedule."""
    from core.experiments.service import show_experiment

    data = show_experiment(database(ctx), experiment_id).as_json()
    emit(data, as_json, lambda: _human_show(data))


@experiment_app.command("stop")
@refusals
def stop_(ctx: typer.Context, experiment_id: str = typer.Argument(..., metavar="ID"),
          by: str = typer.Option(..., "--by", help="Any governor."),
          reason: str = typer.Option(..., "--reason"),
          totp: str = typer.Option(None, "--totp"), as_json: bool = JsonOption) -> None:
    """Stop an experiment; the control arm's split comes back through the log."""
    from core.experiments.service import stop_experiment

    outcome = stop_experiment(database(ctx), experiment_id, by=by, reason=reason, totp=totp)
    emit(outcome.as_json(), as_json,
         lambda: typer.echo(f"experiment {outcome.experiment_id} is {outcome.status}"))


@experiment_app.command("adopt")
@refusals
def adopt_(ctx: typer.Context, experiment_id: str = typer.Argument(..., metavar="ID"),
           arm: str = typer.Option(..., "--arm", metavar="K", help="0 is the control."),
           by: str = typer.Option(..., "--by", help="The filing analyst."),
           as_json: bool = JsonOption) -> None:
    """File an ordinary proposal with arm K's split and the experiment's evidence."""
    from core.experiments.service import adopt_experiment

    outcome = adopt_experiment(database(ctx), experiment_id, arm, by=by)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"proposal {outcome.proposal_id} filed with arm {outcome.arm} of experiment "
        f"{outcome.experiment_id}"))


@experiment_app.command("list")
@refusals
def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every experiment, newest first."""
    from core.experiments.service import list_experiments

    data = [s.as_json() for s in list_experiments(database(ctx))]
    emit(data, as_json, lambda: table(
        [{"id": d["experiment_id"], "status": d["status"], "arms": ", ".join(d["arm_labels"]),
          "from": d["starts_at"][:16], "to": d["ends_at"][:16]} for d in data],
        ["id", "status", "arms", "from", "to"]))


@experiment_app.command("simulate")
@refusals
def simulate_(ctx: typer.Context,
              arms: str = typer.Option(..., "--arms"),
              block_hours: str = typer.Option(..., "--block-hours", metavar="H"),
              blocks: str = typer.Option(..., "--blocks", metavar="N"),
              burn_in_hours: str = typer.Option("0", "--burn-in-hours", metavar="B"),
              metric: str = typer.Option(None, "--metric", metavar="M"),
              from_: str = typer.Option(..., "--from", metavar="ISO"),
              effect_pct: str = typer.Option("0", "--effect-pct", metavar="X"),
              runs: str = typer.Option(None, "--runs", metavar="K"),
              seed: str = typer.Option(None, "--seed", metavar="S"),
              as_json: bool = JsonOption) -> None:
    """Power by simulation over the recorded figures; writes nothing."""
    from core.experiments.service import simulate_experiment

    estimate = simulate_experiment(database(ctx), arms=arms, block_hours=block_hours,
                                   blocks=blocks, burn_in_hours=burn_in_hours, metric=metric,
                                   from_=from_, effect_pct=effect_pct, runs=runs, seed=seed)
    data = estimate.as_json()
    emit(data, as_json, lambda: typer.echo(
        f"{count(data['runs'])} replays with an effect of {percent(data['effect_pct'])}: "
        f"power {percent(data['power_pct'])}, coverage {percent(data['coverage_pct'])}, "
        f"mean estimate {percent(data['mean_change_pct'], signed=True)}, minimum detectable "
        f"effect ±{percent(data['minimum_detectable_effect_pct'])}"))
