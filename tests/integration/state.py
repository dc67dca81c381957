"""What a refused write must leave untouched: a snapshot of the governance tables to compare."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from db.engine import Database

TABLES = ("profit_allocation_log", "proposal_reviews", "protocol_activity", "allocation_policy",
          "users", "profit_distributions", "sign_in_failures", "api_tokens", "outbox_events",
          "webhook_deliveries")


def snapshot(db: Database) -> dict[str, Any]:
    """Row counts of every governance table, plus the parts of rows a refused write could touch."""
    with db.engine.connect() as conn:
        state: dict[str, Any] = {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}
        state["users_rows"] = sorted(conn.execute(sa.text(
            "SELECT username, role, active, password_hash FROM users")).all())
        state["log_rows"] = sorted((str(i), s, str(u)) for i, s, u in conn.execute(sa.text(
            "SELECT id, status, effective_until FROM profit_allocation_log")).all())
    return state


# A team with one account of each role and three governors, made through core.
TEAM = (("gus", "governor"), ("gail", "governor"), ("gwen", "governor"), ("ann", "analyst"),
        ("vic", "viewer"))


def make_team(db: Database) -> Database:
    """`ada` (admin) first, which closes open mode, then the rest of TEAM, all single sign-on."""
    from core.governance.accounts import add_user

    add_user(db, "ada", "admin", None, email="ada@example.org")
    for name, role in TEAM:
        add_user(db, name, role, None, by="ada", email=f"{name}@example.org")
    return db


def file(db: Database, split: tuple[Any, ...] = (75, 15, 6, 4), by: str = "ann",
         **kw: Any) -> str:
    """File a proposal through core as `by`; returns its id."""
    from core.allocation.validation import ProposalInput
    from core.proposals.lifecycle import propose_allocation

    return propose_allocation(db, ProposalInput(*split, "Q1 strategy"), by=by, **kw).proposal_id


def every_row(db: Database) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table the database holds (the models' and Alembic's), as text, sorted:
    equal before and after means nothing at all was written."""
    with db.engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        return {t: sorted(tuple(str(v) for v in row)
                          for row in conn.execute(sa.text(f'SELECT * FROM "{t}"')).all())
                for t in tables}


def file_as_rebalancer(db: Database, proposal: Any, by: str | None = "system:scheduler") -> str:
    """File a proposal labelled `ai` or `system` the one way there is: the rebalancer's route,
    `file_proposal` inside a core transaction (core/rebalancer/service.py), acting as `by` (the
    built-in scheduler, or an account that runs the rebalancer). `propose_allocation`, the
    people's route, refuses those labels."""
    from core.governance.actors import Actor, resolve_actor
    from core.governance.policy_store import load_policy
    from core.proposals.lifecycle import file_proposal

    with db.sessions.begin() as session:
        actor = (Actor(by, "analyst") if by and by.startswith("system:")
                 else resolve_actor(session, by, "analyst", "running the rebalancer"))
        row, _ = file_proposal(session, proposal, actor, load_policy(session))
        return str(row.id)
