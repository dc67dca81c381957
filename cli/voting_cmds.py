"""`python -m core voting ...` and `vote ...`: community voting (the voting issue's contract).

Holders snapshots are loaded from the platform's CSV, or read from an EVM node (`--rpc`) for
the addresses a holders file lists. Votes are signed by the holder's wallet: `vote typed-data`
prints the EIP-712 document to sign, `vote cast` records the signature, `vote tally` counts.
"""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, refusals
from cli.errors import EXIT_REFUSED, EXIT_USAGE, fail
from core.base.formatting import count, exact_percent

voting_app = typer.Typer(help="Holders snapshots for community votes.", no_args_is_help=True)
vote_app = typer.Typer(help="Signed community votes on split proposals.", no_args_is_help=True)

SUPPORT_HELP = "for, against or abstain"


def register(root: typer.Typer) -> None:
    root.add_typer(voting_app, name="voting")
    root.add_typer(vote_app, name="vote")


@voting_app.command("snapshot")
@refusals
def snapshot_(ctx: typer.Context,
              file: str = typer.Argument(None, metavar="[FILE]",
                                         help="CSV: address,balance[,delegate]; all rows or none."),
              block: str = typer.Option(..., "--block", metavar="N",
                                        help="The block the balances were read at."),
              token: str = typer.Option(None, "--token", metavar="ADDRESS",
                                        help="The token contract whose balances these are."),
              rpc: str = typer.Option(None, "--rpc", metavar="URL",
                                      help="Read the balances from this EVM node instead of FILE."),
              holders: str = typer.Option(None, "--holders", metavar="FILE",
                                          help="With --rpc: the holders' addresses, one a line."),
              chain_id: str = typer.Option(None, "--chain-id", metavar="N",
                                           help="The chain the token lives on (EIP-155 id), "
                                                "which votes sign for: default 1, Ethereum "
                                                "mainnet; with --rpc the node's (another is "
                                                "refused)."),
              as_json: bool = JsonOption) -> None:
    """Load a holders snapshot from FILE, or (--rpc) each holder's balance at block N from an EVM
    node; new proposals take it when vote_snapshot is `latest` or its id. Holders sign their
    votes for the snapshot's chain (--chain-id, or the node's)."""
    from core.voting.service import load_chain_snapshot, load_snapshot

    if (file is None) == (rpc is None):
        fail(["give exactly one of FILE or --rpc URL"], EXIT_USAGE, as_json)
    if rpc is not None and (token is None or holders is None):
        fail(["--rpc needs --token ADDRESS and --holders FILE"], EXIT_USAGE, as_json)
    if rpc is None and holders is not None:
        fail(["--holders goes with --rpc; a CSV FILE carries its own balances"], EXIT_USAGE,
             as_json)
    if rpc is not None:
        facts = load_chain_snapshot(database(ctx), rpc, holders, block=block, token=token,
                                    chain_id=chain_id)
    else:
        facts = load_snapshot(database(ctx), file, block=block, token=token, chain_id=chain_id)
    emit(facts.as_json(), as_json, lambda: typer.echo(
        f"snapshot {facts.snapshot_id}: {count(facts.holders)} holders at block {facts.block} "
        f"of chain {facts.chain_id}, total {facts.total}\nMerkle root {facts.merkle_root}"))


@vote_app.command("typed-data")
@refusals
def typed_data_(ctx: typer.Context,
                proposal_id: str = typer.Argument(..., metavar="PROPOSAL_ID"),
                address: str = typer.Option(..., "--address", metavar="ADDR"),
                support: str = typer.Option(..., "--support", help=SUPPORT_HELP),
                timestamp: str = typer.Option(None, "--timestamp", metavar="T",
                                              help="Unix seconds (default: now)."),
                as_json: bool = JsonOption) -> None:
    """The EIP-712 typed data a wallet signs for this vote (eth_signTypedData_v4's argument)."""
    from core.voting.service import vote_typed_data

    document = vote_typed_data(database(ctx), proposal_id, address=address, support=support,
                               timestamp=timestamp)
    emit(document, as_json)


@vote_app.command("cast")
@refusals
def cast_(ctx: typer.Context,
          proposal_id: str = typer.Argument(..., metavar="PROPOSAL_ID"),
          address: str = typer.Option(..., "--address", metavar="ADDR"),
          support: str = typer.Option(..., "--support", help=SUPPORT_HELP),
          timestamp: str = typer.Option(..., "--timestamp", metavar="T",
                                        help="The message's timestamp (unix seconds)."),
          signature: str = typer.Option(..., "--signature", metavar="HEX"),
          as_json: bool = JsonOption) -> None:
    """Record a signed vote; a later vote (greater T) by the same address replaces the earlier."""
    from core.voting.service import cast_vote

    outcome = cast_vote(database(ctx), proposal_id, address=address, support=support,
                        timestamp=timestamp, signature=signature)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"{outcome.address} voted {outcome.support} on proposal {outcome.proposal_id} with "
        f"weight {outcome.weight}" + (" (replacing its earlier vote)" if outcome.replaced else "")))


@vote_app.command("tally")
@refusals
def tally_(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="PROPOSAL_ID"),
           as_json: bool = JsonOption) -> None:
    """The result so far, recomputed from the stored votes and the snapshot."""
    from core.voting.service import proposal_tally

    view = proposal_tally(database(ctx), proposal_id)
    data = view.as_json()
    emit(data, as_json, lambda: typer.echo(
        f"proposal {view.proposal_id} ({view.mode}, {data['status']}, closes "
        f"{view.closes_at:%Y-%m-%d %H:%M} UTC): for {data['for']}, against {data['against']}, "
        f"abstain {data['abstain']}; {data['voters']} voters; quorum {data['quorum']} "
        f"({exact_percent(view.quorum_pct)}) {'met' if data['quorum_met'] else 'not met'}; "
        f"{'passes' if data['passed'] else 'does not pass'}"
        + (f"\n{view.outcome}" if view.outcome else "")))


@voting_app.command("proof")
@refusals
def proof_(ctx: typer.Context, snapshot_id: str = typer.Argument(..., metavar="SNAPSHOT_ID"),
           address: str = typer.Argument(..., metavar="ADDR"), as_json: bool = JsonOption) -> None:
    """A holder's weight and its Merkle proof against the snapshot's published root."""
    from core.voting.service import snapshot_proof

    proof = snapshot_proof(database(ctx), snapshot_id, address)
    emit(proof.as_json(), as_json, lambda: typer.echo(
        f"{proof.address}: {proof.units} base units; leaf {proof.leaf}\nroot {proof.root}\n"
        + "\n".join(f"proof {step}" for step in proof.proof)))


@voting_app.command("verify")
@refusals
def verify_(ctx: typer.Context, snapshot_id: str = typer.Argument(..., metavar="SNAPSHOT_ID"),
            as_json: bool = JsonOption) -> None:
    """Recompute a snapshot's Merkle root and holders digest from its stored rows (exit 3 when
    they differ from the published ones)."""
    from core.voting.service import verify_snapshot

    check = verify_snapshot(database(ctx), snapshot_id)
    emit(check.as_json(), as_json, lambda: typer.echo(
        f"snapshot {check.snapshot_id}: {count(check.holders)} holders; root "
        f"{'matches' if check.merkle_root == check.recomputed_root else 'DIFFERS'}, digest "
        f"{'matches' if check.holders_sha256 == check.recomputed_sha256 else 'DIFFERS'}"))
    if not check.ok:
        raise typer.Exit(EXIT_REFUSED)
