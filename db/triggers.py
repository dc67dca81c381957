"""Append-only guards, as triggers on both engines, created by the migrations.

They hold against any client, including raw SQL: the allocation log keeps every row and the
substance of each (percentages, reasoning, proposer, time); only the review lifecycle may move
(proposed -> active/rejected/expired/withdrawn/superseded/queued, queued -> active/vetoed/
expired/superseded, and an active row's period may be closed once). Governance proposals are
guarded the same way.
The activity log, the distribution ledger, policy versions, review records, the seal, the
timelock queue and vetoes are insert-only.

Two tricks of the engines themselves are guarded too. SQLite's `INSERT OR REPLACE` (`REPLACE
INTO`, and an UPSERT's update) deletes the row it collides with *without* firing delete
triggers (unless `PRAGMA recursive_triggers` is on, which no client is obliged to set): a
BEFORE INSERT trigger refuses any insert whose key (the primary key, each unique key, SQLite's
hidden rowid) is already taken, and it fires before REPLACE deletes anything. PostgreSQL's
TRUNCATE fires no row triggers: a statement-level BEFORE TRUNCATE trigger refuses it.

Since 0013 every append-only row carries its place in its table's audit chain and the chain's MAC
(core/record/audit.py). The `audit` guards keep those fixed on the allocation log (its other MAC,
`row_mac`, is renewed with each allowed update, so it stays writable) and refuse a REPLACE that
collides on a chain place. They name columns older revisions do not have, so migrations create
them only when asked (`audit=True`): every migration from 0013 on that re-creates guards asks.
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
GOVERNANCE = "governance_proposals"
IMMUTABLE_GOVERNANCE_COLUMNS = ("id", "kind", "change", "summary", "requested_by", "subject",
                                "created_at")
DECIDED_GOVERNANCE_COLUMNS = ("decided_by", "decided_at", "decision_notes")
# A queued change has been approved: it may still take effect, be vetoed, expire (found invalid
# when due) or be superseded (its split activated through another proposal), but nothing else.
QUEUED_ENDS = ("active", "vetoed", "expired", "superseded")
# The audit chain's columns (db/models.py), fixed once written.
CHAIN_COLUMNS = ("chain_seq", "chain_mac")
# Experiments (0016): their reviews, and each block's switch (its key keeps a block to one switch).
EXPERIMENT_TABLES = ("experiment_reviews", "experiment_switches")
# Community voting (0017): snapshots, each proposal's vote terms, the signed votes, the results.
VOTING_TABLES = ("vote_snapshots", "proposal_vote_terms", "proposal_votes",
                 "proposal_vote_results")
# Fixed once written like the insert-only tables, but outside the audit chain: a snapshot's
# million holder rows are covered as a whole by the digests on its chained `vote_snapshots` row.
SNAPSHOT_HOLDERS = "snapshot_holders"
FIXED_TABLES = (SNAPSHOT_HOLDERS,)
INSERT_ONLY_TABLES = ("protocol_activity", "profit_distributions", "allocation_policy",
                      "proposal_reviews", "governance_reviews", "governance_seals",
                      "timelock_queue", "proposal_vetoes", *EXPERIMENT_TABLES, *VOTING_TABLES)
APPEND_ONLY_TABLES = (LOG, GOVERNANCE, *INSERT_ONLY_TABLES)
# Every key an insert could collide with, per append-only table: the primary key and each unique
# constraint (a test holds this against db/models.py). REPLACE deletes the row holding any of them.
UNIQUE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    LOG: (("id",),),
    "protocol_activity": (("id",),),
    "profit_distributions": (("id",), ("idempotency_key",)),
    "allocation_policy": (("version",),),
    "proposal_reviews": (("id",), ("proposal_id", "reviewer")),
    GOVERNANCE: (("id",),),
    "governance_reviews": (("id",), ("proposal_id", "reviewer")),
    "governance_seals": (("id",),),
    "timelock_queue": (("proposal_id",),),
    "proposal_vetoes": (("id",), ("proposal_id", "vetoed_by")),
    "experiment_reviews": (("id",), ("experiment_id", "reviewer")),
    "experiment_switches": (("experiment_id", "block_index"),),
    "vote_snapshots": (("id",),),
    "proposal_vote_terms": (("proposal_id",),),
    "proposal_votes": (("id",), ("proposal_id", "address", "timestamp")),
    "proposal_vote_results": (("proposal_id",),),
    SNAPSHOT_HOLDERS: (("snapshot_id", "address"),),
}


@dataclass(frozen=True)
class Guard:
    name: str
    table: str
    event: str  # "INSERT", "UPDATE", "DELETE" or (PostgreSQL only) "TRUNCATE"
    condition: str | None  # written with {ne} for "is distinct from"
    message: str
    sqlite_only: bool = False  # PostgreSQL enforces the same rule with a constraint instead
    postgresql_only: bool = False
    timing: str = "BEFORE"
    audit: bool = False  # names the audit chain's columns (0013 and later; see the module's text)


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


def _decided_once(decided_columns: tuple[str, ...]) -> str:
    """A row's status moves from proposed to anything, or from queued to one of QUEUED_ENDS, and
    then never again; who decided (`decided_columns`) is fixed once the row is decided for good
    (a queued row's notes may still say why it expired when it fell due)."""
    ends = ", ".join(f"'{end}'" for end in QUEUED_ENDS)
    return ("(OLD.status NOT IN ('proposed', 'queued') AND NEW.status {ne} OLD.status)"
            f" OR (OLD.status = 'queued' AND NEW.status <> 'queued' AND NEW.status NOT IN ({ends}))"
            + "".join(f" OR (OLD.status NOT IN ('proposed', 'queued') AND NEW.{c} {{ne}} OLD.{c})"
                      for c in decided_columns))


def guards() -> list[Guard]:
    changed = " OR ".join(f"NEW.{c} {{ne}} OLD.{c}" for c in IMMUTABLE_LOG_COLUMNS)
    items = [
        Guard(f"{LOG}_no_delete", LOG, "DELETE", None,
              f"{LOG} is append-only: rows cannot be deleted"),
        Guard(f"{LOG}_immutable", LOG, "UPDATE", changed,
              f"{LOG} is append-only: percentages, reasoning, proposer and timestamp cannot change"),
        Guard(f"{LOG}_lifecycle", LOG, "UPDATE",
              _decided_once(DECIDED_LOG_COLUMNS)
              + " OR (OLD.effective_from IS NOT NULL AND NEW.effective_from {ne} OLD.effective_from)"
              " OR (OLD.effective_until IS NOT NULL AND NEW.effective_until {ne} OLD.effective_until)"
              " OR (OLD.reviewed_at IS NOT NULL AND NEW.reviewed_at {ne} OLD.reviewed_at)",
              f"{LOG}: a decided row cannot be decided again"),
        Guard(f"{GOVERNANCE}_no_delete", GOVERNANCE, "DELETE", None,
              f"{GOVERNANCE} is append-only: rows cannot be deleted"),
        Guard(f"{GOVERNANCE}_immutable", GOVERNANCE, "UPDATE",
              " OR ".join(f"NEW.{c} {{ne}} OLD.{c}" for c in IMMUTABLE_GOVERNANCE_COLUMNS),
              f"{GOVERNANCE} is append-only: the change and who asked for it cannot change"),
        Guard(f"{GOVERNANCE}_lifecycle", GOVERNANCE, "UPDATE",
              _decided_once(DECIDED_GOVERNANCE_COLUMNS),
              f"{GOVERNANCE}: a decided row cannot be decided again"),
        *(Guard(f"{LOG}_no_overlap_{event.lower()}", LOG, event, NO_OVERLAP,
                f"{LOG}: active periods cannot overlap", sqlite_only=True)
          for event in ("INSERT", "UPDATE")),
    ]
    for table in (*INSERT_ONLY_TABLES, *FIXED_TABLES):
        for event in ("UPDATE", "DELETE"):
            items.append(Guard(f"{table}_no_{event.lower()}", table, event, None,
                               f"{table} is insert-only: rows cannot be {event.lower()}d"))
    for table in (*APPEND_ONLY_TABLES, *FIXED_TABLES):
        items.extend(_engine_trick_guards(table))
    for table in (LOG, GOVERNANCE):  # the append-only tables whose rows may still move
        items.append(Guard(f"{table}_chain_fixed", table, "UPDATE",
                           " OR ".join(f"NEW.{c} {{ne}} OLD.{c}" for c in CHAIN_COLUMNS),
                           f"{table} is append-only: a row's place in the audit chain cannot "
                           "change", audit=True))
    for table in APPEND_ONLY_TABLES:
        items.append(Guard(f"{table}_no_replace_chain", table, "INSERT",
                           f"EXISTS (SELECT 1 FROM {table} existing "
                           "WHERE existing.chain_seq = NEW.chain_seq)",
                           f"{table} is append-only: an insert cannot replace a row already there "
                           "(same place in the audit chain)", sqlite_only=True, audit=True))
    return items


def _engine_trick_guards(table: str) -> list[Guard]:
    """The guards against REPLACE on SQLite and TRUNCATE on PostgreSQL (see the module's text)."""
    taken = [f"EXISTS (SELECT 1 FROM {table} existing WHERE "
             + " AND ".join(f"existing.{c} = NEW.{c}" for c in key) + ")"
             for key in UNIQUE_KEYS[table]]
    # An insert that names no rowid sees NEW.rowid = -1 here, so no row may ever hold a rowid
    # below 1 (the `positive_rowid` guard), or every later insert would look like a collision.
    taken.append(f"EXISTS (SELECT 1 FROM {table} existing WHERE existing.rowid = NEW.rowid)")
    items = [
        Guard(f"{table}_no_replace", table, "INSERT", " OR ".join(taken),
              f"{table} is append-only: an insert cannot replace a row already there "
              "(same key)", sqlite_only=True),
        Guard(f"{table}_positive_rowid", table, "INSERT", "NEW.rowid < 1",
              f"{table}: rowid must be positive", sqlite_only=True, timing="AFTER"),
        Guard(f"{table}_no_truncate", table, "TRUNCATE", None,
              f"{table} is append-only: it cannot be truncated", postgresql_only=True),
    ]
    if table not in (*INSERT_ONLY_TABLES, *FIXED_TABLES):  # those refuse every update already
        items.append(Guard(f"{table}_rowid_fixed", table, "UPDATE", "NEW.rowid {ne} OLD.rowid",
                           f"{table}: rowid cannot change", sqlite_only=True))
    return items


def applies(guard: Guard, dialect: str) -> bool:
    return not ((guard.sqlite_only and dialect == "postgresql")
                or (guard.postgresql_only and dialect != "postgresql"))


def _sqlite(guard: Guard) -> list[str]:
    when = f" WHEN {guard.condition.format(ne='IS NOT')}" if guard.condition else ""
    message = guard.message.replace("'", "''")
    return [f"CREATE TRIGGER {guard.name} {guard.timing} {guard.event} ON {guard.table} "
            f"FOR EACH ROW{when} BEGIN SELECT RAISE(ABORT, '{message}'); END"]


def _postgresql(guard: Guard) -> list[str]:
    when = f" WHEN ({guard.condition.format(ne='IS DISTINCT FROM')})" if guard.condition else ""
    message = guard.message.replace("'", "''")
    # input_metrics is jsonb, which has equality; json would not.
    level = "STATEMENT" if guard.event == "TRUNCATE" else "ROW"
    return [f"CREATE TRIGGER {guard.name} {guard.timing} {guard.event} ON {guard.table} "
            f"FOR EACH {level}{when} EXECUTE FUNCTION refuse_change('{message}')"]


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$
"""


def create_statements(dialect: str, tables: tuple[str, ...], *, audit: bool = False) -> list[str]:
    """DDL for the guards on `tables`, for `dialect` ('sqlite' or 'postgresql'); with `audit`
    also those on the audit chain's columns (which exist from revision 0013)."""
    statements: list[str] = [PG_FUNCTION] if dialect == "postgresql" else []
    render = _postgresql if dialect == "postgresql" else _sqlite
    for guard in guards():
        if guard.table in tables and applies(guard, dialect) and (audit or not guard.audit):
            statements.extend(render(guard))
    return statements


def drop_statements(dialect: str, tables: tuple[str, ...]) -> list[str]:
    selected = [g for g in guards() if g.table in tables]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {g.name} ON {g.table}" for g in selected]
    return [f"DROP TRIGGER IF EXISTS {g.name}" for g in selected]
