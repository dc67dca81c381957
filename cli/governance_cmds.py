"""Accounts and the policy."""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, read_password_stdin, refusals, table

users_app = typer.Typer(help="Accounts and roles.")
policy_app = typer.Typer(help="The allocation policy (versioned).")


@users_app.command("add")
@refusals
def users_add(ctx: typer.Context, name: str = typer.Argument(...),
              role: str = typer.Option(..., "--role"),
              password_stdin: bool = typer.Option(False, "--password-stdin",
                                                  help="Read the password from standard input."),
              display_name: str = typer.Option(None, "--display-name"),
              email: str = typer.Option(None, "--email"),
              by: str = typer.Option(None, "--by"), as_json: bool = JsonOption) -> None:
    """Create an account (the password is never taken from the command line)."""
    from core.governance import accounts

    if password_stdin:
        password = read_password_stdin()
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    account = accounts.add_user(database(ctx), name, role, password, by=by,
                                display_name=display_name, email=email)
    emit({"username": account.username, "role": account.role}, as_json,
         lambda: typer.echo(f"account {account.username} ({account.role}) created"))


@users_app.command("list")
@refusals
def users_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Accounts and roles (never a password hash)."""
    from core.governance import accounts

    rows = [a.as_json() for a in accounts.list_users(database(ctx))]
    emit(rows, as_json, lambda: table(rows, ["username", "display_name", "role", "active", "email"]))


@users_app.command("set-role")
@refusals
def users_set_role(ctx: typer.Context, name: str = typer.Argument(...),
                   role: str = typer.Argument(...), by: str = typer.Option(None, "--by"),
                   as_json: bool = JsonOption) -> None:
    from core.governance import accounts

    account = accounts.set_role(database(ctx), name, role, by=by)
    emit({"username": account.username, "role": account.role}, as_json,
         lambda: typer.echo(f"{account.username} is now {account.role}"))


@users_app.command("disable")
@refusals
def users_disable(ctx: typer.Context, name: str = typer.Argument(...),
                  by: str = typer.Option(None, "--by"), as_json: bool = JsonOption) -> None:
    from core.governance import accounts

    account = accounts.disable_user(database(ctx), name, by=by)
    emit({"username": account.username, "active": account.active}, as_json,
         lambda: typer.echo(f"{account.username} disabled"))


@users_app.command("unlock")
@refusals
def users_unlock(ctx: typer.Context, name: str = typer.Argument(...),
                 by: str = typer.Option(None, "--by"), as_json: bool = JsonOption) -> None:
    """Clear an account's failed sign-ins from every client (its owner can sign in at once)."""
    from core.governance import accounts

    cleared = accounts.unlock_user(database(ctx), name, by=by)
    emit({"username": name.strip().lower(), "clients_cleared": cleared}, as_json,
         lambda: typer.echo(f"{name.strip().lower()}: failed sign-ins cleared ({cleared} client(s))"))


@policy_app.command("show")
@refusals
def policy_show(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    from core.governance import policy_store

    policy = policy_store.get_policy(database(ctx)).as_json()
    emit(policy, as_json, lambda: table([{"key": k, "value": v} for k, v in policy.items()],
                                        ["key", "value"]))


@policy_app.command("set")
@refusals
def policy_set(ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...),
               by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    from core.governance import policy_store

    policy = policy_store.set_policy(database(ctx), key, value, by=by).as_json()
    emit(policy, as_json, lambda: typer.echo(f"{key} = {policy.get(key)}"))
