"""Append-only guards, as triggers on both engines, created by the migrations.

They hold against any client, including raw SQL: the allocation log keeps every row and the
substance of each (percentages, reasoning, proposer, time); only the review lifecycle may move
(proposed -> active/rejected/expired/withdrawn/superseded, and an active row's period may be
closed once).
The activity log, the distribution ledger, policy versions and review records are insert-only.
"""

from __future__ import annotations

from dataclasses import dataclass

LOG = "profit_allocation_log"
IMMUTABLE_LOG_COLUMNS = (
    "id", "reinvestment_pct", "dao_pct", "lucky_pct", "creator_pct", "reasoning", "proposed_by",
    "proposer_username", "timestamp", "confidence", "input_metrics", "based_on_id",
)
# Once a row is decided (any status but proposed) who decided and why is part of the record.
DECIDED_LOG_COLUMNS = ("reviewed_by", "review_notes", "reviewed_at")
INSERT_ONLY_TABLES = ("protocol_activity", "profit_distributions", "allocation_policy",
                      "proposal_reviews")


@dataclass(frozen=True)
class Guard:
    name: str
    table: str
    event: str  # "UPDATE" or "DELETE"
    condition: str | None  # written with {ne} for "is distinct from"
    message: str
    sqlite_only: bool = False  # PostgreSQL enforces the same rule with a constraint instead


# SQLite stores times as ISO text, so '9999-12-31' stands for "still open".
NO_OVERLAP = (
    # Empty periods ([t, t): replaced the instant they began) overlap nothing, as in PostgreSQL.
    "NEW.status = 'active' AND (NEW.effective_until IS NULL OR NEW.effective_from < NEW.effective_until)"
    f" AND EXISTS (SELECT 1 FROM {LOG} other WHERE other.id <> NEW.id"
    " AND other.status = 'active'"
    " AND other.effective_from < COALESCE(NEW.effective_until, '9999-12-31')"
    " AND NEW.effective_from < COALESCE(other.effective_until, '9999-12-31'))"
)
# PostgreSQL: an exclusion constraint, which (unlike a trigger) also holds between two
# transactions running at the same moment. tstzrange is half-open, [from, until).
PG_NO_OVERLAP = f"ex_{LOG}_no_overlap"


def overlap_constraint_statements(dialect: str) -> list[str]:
    """PostgreSQL's exclusion constraint against overlapping active periods (none on SQLite,
    where the `no_overlap` triggers do it: SQLite has one writer at a time)."""
    if dialect != "postgresql":
        return []
    return [f"ALTER TABLE {LOG} DROP CONSTRAINT IF EXISTS {PG_NO_OVERLAP}",
            f"ALTER TABLE {LOG} ADD CONSTRAINT {PG_NO_OVERLAP} EXCLUDE USING gist "
            "(tstzrange(effective_from, effective_until) WITH &&) WHERE (status = 'active')"]


def guards() -> list[Guard]:
    changed = " OR ".join(f"NEW.{c} {{ne}} OLD.{c}" for c in IMMUTABLE_LOG_COLUMNS)
    items = [
        Guard(f"{LOG}_no_delete", LOG, "DELETE", None,
              f"{LOG} is append-only: rows cannot be deleted"),
        Guard(f"{LOG}_immutable", LOG, "UPDATE", changed,
              f"{LOG} is append-only: percentages, reasoning, proposer and timestamp cannot change"),
        Guard(f"{LOG}_lifecycle", LOG, "UPDATE",
              "(OLD.status <> 'proposed' AND NEW.status {ne} OLD.status)"
              " OR (OLD.effective_from IS NOT NULL AND NEW.effective_from {ne} OLD.effective_from)"
              " OR (OLD.effective_until IS NOT NULL AND NEW.effective_until {ne} OLD.effective_until)"
              " OR (OLD.reviewed_at IS NOT NULL AND NEW.reviewed_at {ne} OLD.reviewed_at)"
              + "".join(f" OR (OLD.status <> 'proposed' AND NEW.{c} {{ne}} OLD.{c})"
                        for c in DECIDED_LOG_COLUMNS),
              f"{LOG}: a decided row cannot be decided again"),
        *(Guard(f"{LOG}_no_overlap_{event.lower()}", LOG, event, NO_OVERLAP,
                f"{LOG}: active periods cannot overlap", sqlite_only=True)
          for event in ("INSERT", "UPDATE")),
    ]
    for table in INSERT_ONLY_TABLES:
        for event in ("UPDATE", "DELETE"):
            items.append(Guard(f"{table}_no_{event.lower()}", table, event, None,
                               f"{table} is insert-only: rows cannot be {event.lower()}d"))
    return items


def _sqlite(guard: Guard) -> list[str]:
    when = f" WHEN {guard.condition.format(ne='IS NOT')}" if guard.condition else ""
    message = guard.message.replace("'", "''")
    return [f"CREATE TRIGGER {guard.name} BEFORE {guard.event} ON {guard.table} FOR EACH ROW{when} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"]


def _postgresql(guard: Guard) -> list[str]:
    when = f" WHEN ({guard.condition.format(ne='IS DISTINCT FROM')})" if guard.condition else ""
    message = guard.message.replace("'", "''")
    # input_metrics is jsonb, which has equality; json would not.
    return [f"CREATE TRIGGER {guard.name} BEFORE {guard.event} ON {guard.table} FOR EACH ROW{when} "
            f"EXECUTE FUNCTION refuse_change('{message}')"]


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$
"""


def create_statements(dialect: str, tables: tuple[str, ...]) -> list[str]:
    """DDL for the guards on `tables`, for `dialect` ('sqlite' or 'postgresql')."""
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(PG_FUNCTION)
        for table in tables:
            if table == LOG:
                statements.append(
                    f"CREATE TRIGGER {LOG}_no_truncate BEFORE TRUNCATE ON {LOG} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('{LOG} is append-only')")
    render = _postgresql if dialect == "postgresql" else _sqlite
    for guard in guards():
        if guard.table in tables and not (guard.sqlite_only and dialect == "postgresql"):
            statements.extend(render(guard))
    return statements


def drop_statements(dialect: str, tables: tuple[str, ...]) -> list[str]:
    names = [g.name for g in guards() if g.table in tables]
    if dialect == "postgresql":
        if LOG in tables:
            names.append(f"{LOG}_no_truncate")
        out = []
        for guard in guards() + [Guard(f"{LOG}_no_truncate", LOG, "", None, "")]:
            if guard.name in names:
                out.append(f"DROP TRIGGER IF EXISTS {guard.name} ON {guard.table}")
        return out
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
