"""Accounts and the policy."""

from __future__ import annotations

import typer

from cli.common import JsonOption, database, emit, read_password_stdin, refusals, table

users_app = typer.Typer(help="Accounts and roles.")
policy_app = typer.Typer(help="The allocation policy (versioned).")
governance_app = typer.Typer(help="Sealed governance: its state and its proposals.")


def _emit_filed_or(result: object, as_json: bool, data: dict, human: str) -> None:
    """A command the sealed governance turns into a governance proposal prints that instead."""
    from core.governance.changes import GovernanceFiling

    if isinstance(result, GovernanceFiling):
        emit(result.as_json(), as_json, lambda: typer.echo(
            f"governance proposal {result.id} filed: {result.summary}; it takes effect after "
            "the governors' approvals and the timelock"))
    else:
        emit(data, as_json, lambda: typer.echo(human))


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
    """Change an account's role (sealed: granting or removing governor or admin is a
    governance proposal)."""
    from core.governance import changes

    result = changes.request_role_change(database(ctx), name, role, by=by)
    data = {} if isinstance(result, changes.GovernanceFiling) else {
        "username": result.username, "role": result.role}
    _emit_filed_or(result, as_json, data, f"{data.get('username')} is now {data.get('role')}")


@users_app.command("disable")
@refusals
def users_disable(ctx: typer.Context, name: str = typer.Argument(...),
                  by: str = typer.Option(None, "--by"), as_json: bool = JsonOption) -> None:
    """Disable an account (sealed: disabling a governor or admin is a governance proposal)."""
    from core.governance import changes

    result = changes.request_disable(database(ctx), name, by=by)
    data = {} if isinstance(result, changes.GovernanceFiling) else {
        "username": result.username, "active": result.active}
    _emit_filed_or(result, as_json, data, f"{data.get('username')} disabled")


@users_app.command("enable")
@refusals
def users_enable(ctx: typer.Context, name: str = typer.Argument(...),
                 by: str = typer.Option(None, "--by"), as_json: bool = JsonOption) -> None:
    """Enable a disabled account again (sealed: enabling a governor or admin is a governance
    proposal)."""
    from core.governance import changes

    result = changes.request_enable(database(ctx), name, by=by)
    data = {} if isinstance(result, changes.GovernanceFiling) else {
        "username": result.username, "active": result.active}
    _emit_filed_or(result, as_json, data, f"{data.get('username')} enabled")


@users_app.command("password")
@refusals
def users_password(ctx: typer.Context, name: str = typer.Argument(...),
                   password_stdin: bool = typer.Option(False, "--password-stdin",
                                                       help="Read the new password from standard "
                                                            "input."),
                   by: str = typer.Option(..., "--by", help="The account itself."),
                   as_json: bool = JsonOption) -> None:
    """Change your own password (never taken from the command line); every dashboard session
    of the account ends, its API tokens stay."""
    from core.governance import web_sessions

    if password_stdin:
        password = read_password_stdin()
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True,
                                err=True)
    changed = web_sessions.change_password(database(ctx), name, password, by=by)
    emit(changed.as_json(), as_json, lambda: typer.echo(
        f"{changed.account.username}: password changed; {changed.sessions_ended} dashboard "
        "session(s) ended"))


@users_app.command("sign-out-everywhere")
@refusals
def users_sign_out_everywhere(ctx: typer.Context, name: str = typer.Argument(...),
                              by: str = typer.Option(..., "--by", help="The account itself."),
                              as_json: bool = JsonOption) -> None:
    """End every dashboard session of your own account (API tokens stay as they are)."""
    from core.governance import web_sessions

    ended = web_sessions.sign_out_everywhere(database(ctx), name, by=by)
    emit(ended.as_json(), as_json, lambda: typer.echo(
        f"{ended.account.username}: {ended.sessions_ended} dashboard session(s) ended; API "
        "tokens are unchanged"))


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
    """The policy in force: bounds, steps, approvals, timelocks, expiry, auto-approval."""
    from core.governance import policy_store

    policy = policy_store.get_policy(database(ctx)).as_json()
    emit(policy, as_json, lambda: table([{"key": k, "value": v} for k, v in policy.items()],
                                        ["key", "value"]))


@policy_app.command("set")
@refusals
def policy_set(ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...),
               by: str = typer.Option(..., "--by"), as_json: bool = JsonOption) -> None:
    """Change one policy key (an admin; sealed: a governance proposal, nothing changes yet)."""
    from core.governance import changes

    result = changes.request_policy_change(database(ctx), key, value, by=by)
    policy = {} if isinstance(result, changes.GovernanceFiling) else result.as_json()
    _emit_filed_or(result, as_json, policy, f"{key} = {policy.get(key)}")


@governance_app.command("status")
@refusals
def governance_status(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Whether the governance is sealed, and who governs."""
    from core.governance import sealing

    status = sealing.governance_status(database(ctx))
    emit(status.as_json(), as_json, lambda: typer.echo(
        f"{'sealed' if status.sealed else 'UNSEALED: one admin can change the policy and roles'}; "
        f"{status.governors} governor(s), {status.admins} admin(s); approvals "
        f"{status.approvals_required} (major {status.approvals_required_major})"))


@governance_app.command("seal")
@refusals
def governance_seal(ctx: typer.Context, by: str = typer.Option(..., "--by"),
                    as_json: bool = JsonOption) -> None:
    """Seal the governance for good: policy, role changes and unsealing become governance
    proposals."""
    from core.governance import sealing

    sealing.seal(database(ctx), by=by)
    emit({"sealed": True}, as_json, lambda: typer.echo(
        "sealed: policy and role changes now need the governors' approval and the timelock"))


@governance_app.command("unseal")
@refusals
def governance_unseal(ctx: typer.Context, by: str = typer.Option(..., "--by"),
                      as_json: bool = JsonOption) -> None:
    """File a governance proposal to unseal."""
    from core.governance import changes

    result = changes.request_unseal(database(ctx), by=by)
    _emit_filed_or(result, as_json, {}, "")


def _governance_rows(items: list) -> list[dict]:
    return [{"id": g.id, "kind": g.kind, "change": g.summary, "by": g.requested_by,
             "status": g.status, "approvals": f"{len(g.approvers)}/{g.approvals_required}",
             "executes_at": f"{g.executes_at:%Y-%m-%d %H:%M}" if g.executes_at else ""}
            for g in items]


@governance_app.command("pending")
@refusals
def governance_pending(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Governance proposals waiting for review or in the queue, newest first."""
    from core.governance import changes

    items = changes.pending_governance(database(ctx))
    emit([g.as_json() for g in items], as_json, lambda: table(
        _governance_rows(items), ["id", "kind", "change", "by", "status", "approvals",
                                  "executes_at"]))


@governance_app.command("show")
@refusals
def governance_show(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
                    as_json: bool = JsonOption) -> None:
    """One governance proposal and its story."""
    from core.governance import changes

    story = changes.governance_story(database(ctx), proposal_id)

    def human() -> None:
        typer.echo(f"governance proposal {story.id}: {story.summary}, {story.status}, "
                   f"{len(story.approvers)} of {story.approvals_required} approvals")
        table([{"at": e["at"][:19], "event": e["event"], "by": e["by"],
                "notes": (e["notes"] or "")[:60]} for e in story.timeline],
              ["at", "event", "by", "notes"])

    emit(story.as_json(with_timeline=True), as_json, human)


@governance_app.command("review")
@refusals
def governance_review(ctx: typer.Context, proposal_id: str = typer.Argument(..., metavar="ID"),
                      decision: str = typer.Option(..., "--decision", help="approved or rejected"),
                      by: str = typer.Option(..., "--by", help="The reviewing governor."),
                      notes: str = typer.Option(None, "--notes"),
                      totp: str = typer.Option(None, "--totp", help="A current code of your "
                                               "authenticator app (when the policy requires TOTP)."),
                      as_json: bool = JsonOption) -> None:
    """Review a governance proposal (never by its requester or the account it is about)."""
    from core.governance import changes

    outcome = changes.review_governance(database(ctx), proposal_id, decision, by=by, notes=notes,
                                        totp=totp)
    emit(outcome.as_json(), as_json, lambda: typer.echo(
        f"governance proposal {outcome.id} is {outcome.status} ({outcome.approvals} of "
        f"{outcome.approvals_required} approvals)"
        + (f"; takes effect at {outcome.executes_at:%Y-%m-%d %H:%M} UTC unless vetoed"
           if outcome.executes_at else "")))
