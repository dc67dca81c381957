"""What a refused write must leave untouched: a snapshot of the governance tables to compare."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from db.engine import Database

TABLES = ("profit_allocation_log", "proposal_reviews", "protocol_activity", "allocation_policy",
          "users", "profit_distributions", "api_tokens", "outbox_events", "webhook_deliveries")


def snapshot(db: Database) -> dict[str, Any]:
    """Row counts of every governance table, plus the parts of rows a refused write could touch."""
    with db.engine.connect() as conn:
        state: dict[str, Any] = {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in TABLES}
        state["users_rows"] = sorted(conn.execute(sa.text(
            "SELECT username, role, active, failed_logins FROM users")).all())
        state["log_rows"] = sorted((str(i), s, str(u)) for i, s, u in conn.execute(sa.text(
            "SELECT id, status, effective_until FROM profit_allocation_log")).all())
    return state
