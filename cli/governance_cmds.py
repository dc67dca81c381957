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


@users_app.command("invite")
@refusals
def users_invite(ctx: typer.Context, name: str = typer.Argument(...),
                 role: str = typer.Option(..., "--role"), by: str = typer.Option(..., "--by"),
                 as_json: bool = JsonOption) -> None:
    """Invite someone: a single-use code and link, valid 72 h, printed once; they choose their
    own password (`users accept CODE`)."""
    from core.governance import invitations

    issued = invitations.invite_user(database(ctx), name, role, by=by)
    emit(issued.as_json(), as_json, lambda: _print_code(issued, "invitation"))


@users_app.command("reset")
@refusals
def users_reset(ctx: typer.Context, name: str = typer.Argument(...),
                by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    """A password-reset code for an account, printed once: its owner sets a new password with
    `users accept CODE` (every dashboard session of the account then ends)."""
    from core.governance import invitations

    issued = invitations.issue_reset(database(ctx), name, by=by)
    emit(issued.as_json(), as_json, lambda: _print_code(issued, "password reset"))


def _print_code(issued, what: str) -> None:  # noqa: ANN001 - an IssuedInvitation
    typer.echo(f"{what} for {issued.username} ({issued.role}), valid until "
               f"{issued.expires_at:%Y-%m-%d %H:%M} UTC; shown this once:")
    typer.echo(f"  code: {issued.code}")
    typer.echo(f"  link: {issued.url}")


@users_app.command("accept")
@refusals
def users_accept(ctx: typer.Context, code: str = typer.Argument(..., metavar="CODE"),
                 password_stdin: bool = typer.Option(False, "--password-stdin",
                                                     help="Read the password from standard input."),
                 as_json: bool = JsonOption) -> None:
    """Accept an invitation or a reset code: choose your own password."""
    from core.governance import invitations

    if password_stdin:
        password = read_password_stdin()
    else:
        password = typer.prompt("Choose a password", hide_input=True, confirmation_prompt=True,
                                err=True)
    account = invitations.accept_invitation(database(ctx), code, password)
    emit({"username": account.username, "role": account.role, "active": account.active},
         as_json, lambda: typer.echo(f"{account.username} ({account.role}): password set; "
                                     "sign in with it"))


totp_app = typer.Typer(help="The second factor (TOTP) of one's own account.")
users_app.add_typer(totp_app, name="totp")


@totp_app.command("enroll")
@refusals
def totp_enroll(ctx: typer.Context, name: str = typer.Argument(...),
                by: str = typer.Option(..., "--by"),
                totp: str = typer.Option(None, "--totp", help="A current code of the factor being "
                                         "replaced (when the policy requires TOTP)."),
                as_json: bool = JsonOption) -> None:
    """A new TOTP secret for your own account, printed once as an otpauth:// URI (add it to an
    authenticator app; it replaces any earlier one)."""
    from core.governance import second_factor

    enrolled = second_factor.enroll_totp(database(ctx), name, by=by, code=totp)
    emit(enrolled.as_json(), as_json, lambda: typer.echo(
        f"second factor for {enrolled.username}; add this to your authenticator app (shown "
        f"this once):\n  {enrolled.otpauth_uri}"))


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
