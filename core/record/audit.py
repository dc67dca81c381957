"""A record that proves itself: HMACs, under the audit key kept outside the database
(core.base.keys), over every row that decides something.

Two kinds of MAC:

- **The chain** (`chain_seq`, `chain_mac`), on the append-only tables (the allocation log,
  activity, the ledger, policy versions, reviews). Each row takes the next place in its table's
  chain, and its MAC covers the table, that place, the previous row's MAC and the row's content
  as it was inserted. A row slipped in, changed or taken out by raw SQL breaks its own MAC or the
  run of places, and `verify_record` names it.
- **The row MAC** (`row_mac`) over the security fields of a row that legitimately changes:
  accounts (role, password hash, email, active), API tokens, webhook endpoints, dashboard
  sessions, and the allocation log's review lifecycle (status, period, who decided; the chain
  covers the rest, and the row MAC covers the chain's MAC, tying the two). Renewed with every
  change the application makes.

One generic mechanism writes them: a `before_flush` listener on every ORM session signs each new
or changed row of these tables, so no service has to remember to. It fills the columns' Python
defaults first (the id, the time) so that the MAC covers what the INSERT will write. Taking a
chain's next place reads the previous row's MAC, and two writers must not both take it: the
listener first takes the application's one write lock (`serialize_writes`: a transaction-scoped
advisory lock on PostgreSQL, the write lock every SQLite write transaction holds), so chains
never fork, and the unique index on `chain_seq` makes a fork impossible even for a writer that
skipped the lock. One lock for every chain rather than one per table: most writers that append
already hold it, and a single lock cannot deadlock against itself. The bulk writer (demo data)
signs its rows with `sign_rows` before inserting them.

What each MAC covers is a fixed list of columns per table (`CHAINED`, `ROW_SIGNED`), not "every
column": a column added later must not change the MACs of rows signed before it, so adding one
to a MAC is a decision (tests/unit/test_audit_fields.py makes every column of these tables either
signed or listed in `UNSIGNED`). Values are written in one canonical text per type, so that what
the application holds in memory and what each engine gives back MAC alike (2 and 2.00, a JSON
document's key order, a time zone).

A row whose MAC does not verify is not honoured where it would decide something (sign-in, a
token, a session, the acting account, an approval, the policy in force, a webhook endpoint);
`report_failure` notes each such failure on the session, once an hour per row and process (a
forged row read on every page must not flood the log); core/record/activity.py writes it as
`audit_failed` activity (and so the `audit.failed` webhook): in the transaction that found it
when that one commits, else in a transaction of its own once it has ended (a read, or a refusal
that rolls back).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core.base.keys import Keys, keys_for
from core.base.locking import serialize_writes
from core.base.sessions import connected
from db import triggers
from db.engine import Database
from db.models import Base

LOG = triggers.LOG
# What each chain MAC covers: the content as inserted. The allocation log's insert-time content
# is what its guards keep immutable.
CHAINED: dict[str, tuple[str, ...]] = {
    LOG: triggers.IMMUTABLE_LOG_COLUMNS,
    "protocol_activity": ("id", "timestamp", "activity_type", "description", "metadata"),
    "profit_distributions": ("id", "idempotency_key", "total", "allocation_id", "reinvestment_pct",
                             "dao_pct", "lucky_pct", "creator_pct", "reinvestment_amount",
                             "dao_amount", "lucky_amount", "creator_amount", "created_by",
                             "created_at"),
    "allocation_policy": ("version", "settings", "changed_key", "old_value", "new_value",
                          "changed_by", "changed_at"),
    "proposal_reviews": ("id", "proposal_id", "reviewer", "decision", "notes", "reviewed_at"),
    triggers.GOVERNANCE: triggers.IMMUTABLE_GOVERNANCE_COLUMNS,
    "governance_reviews": ("id", "proposal_id", "reviewer", "decision", "notes", "reviewed_at"),
    "governance_seals": ("id", "sealed", "by", "at", "governance_proposal_id"),
    "timelock_queue": ("proposal_id", "kind", "queued_at", "executes_at", "delay_hours"),
    "proposal_vetoes": ("id", "proposal_id", "kind", "vetoed_by", "reason", "vetoed_at"),
    "experiment_reviews": ("id", "experiment_id", "reviewer", "decision", "notes", "reviewed_at"),
    "experiment_switches": ("experiment_id", "block_index", "arm", "allocation_id",
                            "switched_at"),
    # Community voting: a snapshot's row covers its holders through their digests (the holder
    # rows themselves are fixed by guards, not chained one by one).
    "vote_snapshots": ("id", "block", "token", "holders", "total_units", "merkle_root",
                       "holders_sha256", "created_at", "created_by"),
    "proposal_vote_terms": ("proposal_id", "snapshot_id", "mode", "opens_at", "closes_at",
                            "quorum_pct"),
    "proposal_votes": ("id", "proposal_id", "address", "support", "timestamp", "signature",
                       "weight_units", "recorded_at"),
    "proposal_vote_results": ("proposal_id", "closed_at", "for_units", "against_units",
                              "abstain_units", "voters", "quorum_met", "passed", "outcome"),
}
# Columns a chain's MAC took in after its table already had rows, with the value those rows were
# given: the MAC covers such a column (its name and value, after the others) only when it holds
# something else, so the rows signed before it still verify and a changed value still shows.
CHAINED_LATER: dict[str, dict[str, Any]] = {
    # 0018: a snapshot's chain decides which signatures count; the earlier ones were mainnet's.
    "vote_snapshots": {"chain_id": 1},
}
# What each row MAC covers: the fields that decide who may do what.
ROW_SIGNED: dict[str, tuple[str, ...]] = {
    LOG: ("id", "chain_mac", "status", "effective_from", "effective_until", "reviewed_by",
          "reviewed_at", "review_notes"),
    "users": ("username", "role", "password_hash", "active", "email", "governing_since"),
    "api_tokens": ("id", "token_hash", "username", "expires_at", "revoked_at"),
    "webhook_endpoints": ("id", "url", "events", "secret", "removed_at"),
    "web_sessions": ("token_hash", "username", "password_mark", "expires_at"),
    # An experiment's design and commitment, and the state that lets the schedule switch the split.
    "experiments": ("id", "arms", "block_hours", "blocks", "burn_in_hours", "metric",
                    "guardrails", "starts_at", "ends_at", "status", "schedule_sha256",
                    "schedule_sealed", "revealed_salt", "revealed_schedule", "created_by",
                    "decided_at", "decided_by"),
}
# Columns deliberately outside every MAC: labels and bookkeeping that decide nothing.
UNSIGNED: dict[str, tuple[str, ...]] = {
    "users": ("display_name", "created_at"),
    "api_tokens": ("name", "created_by", "created_at", "revoked_by", "last_used_at"),
    "webhook_endpoints": ("created_by", "created_at", "removed_by"),
    "web_sessions": ("created_at",),
    # A governance proposal's lifecycle moves under its guards; what makes a change take effect is
    # signed apart: the approvals (governance_reviews) and the queue's entry (timelock_queue).
    triggers.GOVERNANCE: ("status", "decided_at", "decided_by", "decision_notes"),
    # The story told around the signed state; the approvals are signed apart (experiment_reviews).
    "experiments": ("created_at", "reasoning", "mde_pct", "started_at", "ended_at", "stopped_by",
                    "stop_reason"),
}
MAC_COLUMNS = ("chain_seq", "chain_mac", "row_mac")
# The order rows were written in, for the rows signed when the chain began (revision 0013).
WRITTEN_ORDER: dict[str, tuple[str, ...]] = {
    LOG: ("timestamp", "id"), "protocol_activity": ("timestamp", "id"),
    "profit_distributions": ("created_at", "id"), "allocation_policy": ("version",),
    "proposal_reviews": ("reviewed_at", "id"),
    triggers.GOVERNANCE: ("created_at", "id"), "governance_reviews": ("reviewed_at", "id"),
    "governance_seals": ("id",), "timelock_queue": ("queued_at", "proposal_id"),
    "proposal_vetoes": ("vetoed_at", "id"),
    "experiment_reviews": ("reviewed_at", "id"), "experiment_switches": ("switched_at",),
    "vote_snapshots": ("created_at", "id"), "proposal_vote_terms": ("opens_at", "proposal_id"),
    "proposal_votes": ("recorded_at", "id"), "proposal_vote_results": ("closed_at", "proposal_id"),
}
SEALED_SECRET_COLUMNS = {"webhook_endpoints": "secret"}
PLAIN_WEBHOOK_SECRET_PREFIX = "whsec_"  # core.jobs.webhooks.SECRET_PREFIX (jobs is above record)
AUDIT_FAILED = "audit_failed"
REPORT_AGAIN_AFTER_SECONDS = 3600.0
MAX_BROKEN_LISTED = 1000

BAD_MAC = "MAC does not verify: changed, or written without the audit key"
NO_MAC = "no MAC: written without the application"


# --- canonical text -------------------------------------------------------------------------

def _scale(column: sa.Column[Any]) -> int | None:
    scale = getattr(column.type, "scale", None)
    return scale if isinstance(scale, int) else None


def _number(value: Decimal | int | float, scale: int | None = None) -> str:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if scale is not None and number.is_finite():
        # What a NUMERIC(p, scale) column stores (PostgreSQL rounds half away from zero). With
        # the precision the column needs: Decimal's default 28 digits cannot hold a weight in
        # base units (NUMERIC(78, 0), the voting tables), where quantize would fail and
        # normalize round. Numbers that fit 28 digits MAC exactly as before.
        _, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)
        with localcontext() as context:
            context.prec = max(context.prec, len(digits) + max(exponent, 0) + max(scale, 0) + 2)
            number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
            return format(number.normalize(), "f")
    return format(number.normalize(), "f") if number.is_finite() else str(number)


def _json(value: Any) -> str:
    """JSON in one spelling: sorted keys, numbers as exact decimals (PostgreSQL's jsonb gives
    back 1e20 as 100000000000000000000, and orders keys its own way)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_json(v)}"
                              for k, v in sorted(value.items(), key=lambda i: str(i[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def canonical(value: Any, column: sa.Column[Any] | None = None) -> str | None:
    """`value` of `column` as the MACs read it, the same however it was stored or read back."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return _number(value, _scale(column) if column is not None else None)
    if isinstance(value, datetime):
        zoned = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return zoned.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (Mapping, list, tuple)):
        return _json(value)
    return str(value)


# --- the MACs -------------------------------------------------------------------------------

def _table(name: str) -> sa.Table:
    return Base.metadata.tables[name]


def _later_parts(table: str, values: Mapping[str, Any]) -> list[str | None]:
    """CHAINED_LATER's columns of `table` that hold other than their earlier rows' value (one
    absent from `values`, as in a row read before its revision, holds that value)."""
    columns = _table(table).c
    parts: list[str | None] = []
    for name, earlier in CHAINED_LATER.get(table, {}).items():
        value = values.get(name)
        if value is not None and canonical(value, columns[name]) != canonical(earlier,
                                                                               columns[name]):
            parts.extend((name, canonical(value, columns[name])))
    return parts


def chain_mac(keys: Keys, table: str, seq: int, previous: str | None,
              values: Mapping[str, Any]) -> str:
    columns = _table(table).c
    return keys.mac("chain", table, seq, previous,
                    *(canonical(values.get(c), columns[c]) for c in CHAINED[table]),
                    *_later_parts(table, values))


def row_mac(keys: Keys, table: str, values: Mapping[str, Any]) -> str:
    columns = _table(table).c
    return keys.mac("row", table, *(canonical(values.get(c), columns[c]) for c in ROW_SIGNED[table]))


def _attribute_keys(model: type) -> dict[str, str]:
    """Column name -> ORM attribute name (`metadata` is `meta` on ProtocolActivity)."""
    mapper = sa.inspect(model)
    return {column.name: mapper.get_property_by_column(column).key
            for column in mapper.local_table.columns}


_ATTRIBUTES: dict[type, dict[str, str]] = {}


def _values(obj: Any) -> dict[str, Any]:
    model = type(obj)
    if model not in _ATTRIBUTES:
        _ATTRIBUTES[model] = _attribute_keys(model)
    return {name: getattr(obj, key) for name, key in _ATTRIBUTES[model].items()}


def _table_of(obj: Any) -> str | None:
    return getattr(type(obj), "__tablename__", None)


def _fill_defaults(table: str, values: dict[str, Any], *, absent_only: bool = False) -> dict[str, Any]:
    """The Python-side defaults the INSERT would apply, applied now: the MAC covers them. (A
    bulk INSERT applies them to absent keys only; the ORM to attributes left None.)"""
    for column in _table(table).columns:
        default = column.default
        if default is None or (column.name in values if absent_only
                               else values.get(column.name) is not None):
            continue
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)  # zero-argument callables are wrapped
    return values


def _fill_object_defaults(obj: Any) -> None:
    table = _table_of(obj)
    assert table is not None
    keys = _ATTRIBUTES.setdefault(type(obj), _attribute_keys(type(obj)))
    filled = _fill_defaults(table, {name: getattr(obj, key) for name, key in keys.items()})
    for name, key in keys.items():
        if getattr(obj, key) is None and filled.get(name) is not None:
            setattr(obj, key, filled[name])


def _chain_head(connection: sa.Connection, table: str) -> tuple[int, str | None]:
    """The last place taken in `table`'s chain and its MAC ((0, None) for an empty chain)."""
    t = _table(table)
    found = connection.execute(sa.select(t.c.chain_seq, t.c.chain_mac)
                               .where(t.c.chain_seq.is_not(None))
                               .order_by(t.c.chain_seq.desc()).limit(1)).first()
    return (0, None) if found is None else (found.chain_seq, found.chain_mac)


def _committed_values(obj: Any) -> dict[str, Any] | None:
    """The row as it was loaded, before this flush's changes (None when that is unknown)."""
    state = sa.inspect(obj)
    values = {}
    for name, key in _ATTRIBUTES.setdefault(type(obj), _attribute_keys(type(obj))).items():
        value = state.committed_state.get(key, state.dict.get(key, sa.orm.attributes.NO_VALUE))
        if value is sa.orm.attributes.NO_VALUE:
            return None
        values[name] = value
    return values


def _sign_flush(session: so.Session, _context: Any, _instances: Any) -> None:
    new = [o for o in session.new if _table_of(o) in CHAINED or _table_of(o) in ROW_SIGNED]
    changed = [o for o in session.dirty
               if _table_of(o) in ROW_SIGNED and session.is_modified(o, include_collections=False)]
    if not new and not changed:
        return
    keys = keys_for(session)
    for obj in new:
        _fill_object_defaults(obj)
    chained: dict[str, list[Any]] = {}
    for obj in new:
        if _table_of(obj) in CHAINED:
            chained.setdefault(_table_of(obj), []).append(obj)
    if chained:
        serialize_writes(session)  # before the heads are read: see the module's text
        connection = session.connection()
        for table, rows in chained.items():
            seq, previous = _chain_head(connection, table)
            for obj in rows:
                seq += 1
                obj.chain_seq = seq
                obj.chain_mac = previous = chain_mac(keys, table, seq, previous, _values(obj))
    for obj in new:
        if _table_of(obj) in ROW_SIGNED:
            obj.row_mac = row_mac(keys, _table_of(obj), _values(obj))
    for obj in changed:
        table = _table_of(obj)
        before = _committed_values(obj)
        # A row that did not verify before this change keeps failing after it: re-signing it
        # would launder what raw SQL wrote (a forged password hash, kept through a role change).
        if before is not None and not keys.verify(before.get("row_mac"), *_row_parts(table, before)):
            continue
        obj.row_mac = row_mac(keys, table, _values(obj))


def _row_parts(table: str, values: Mapping[str, Any]) -> tuple[Any, ...]:
    columns = _table(table).c
    return ("row", table, *(canonical(values.get(c), columns[c]) for c in ROW_SIGNED[table]))


sa.event.listen(so.Session, "before_flush", _sign_flush)


def sign_rows(session: so.Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Sign rows a bulk INSERT will write (by column name), in the caller's transaction: the
    same MACs the listener gives rows written through the ORM."""
    if not rows or (table not in CHAINED and table not in ROW_SIGNED):
        return
    keys = keys_for(session)
    for values in rows:
        _fill_defaults(table, values, absent_only=True)
    if table in CHAINED:
        serialize_writes(session)
        seq, previous = _chain_head(session.connection(), table)
        for values in rows:
            seq += 1
            values["chain_seq"] = seq
            values["chain_mac"] = previous = chain_mac(keys, table, seq, previous, values)
    if table in ROW_SIGNED:
        for values in rows:
            values["row_mac"] = row_mac(keys, table, values)


# --- checking one row where it would be honoured --------------------------------------------

def row_verifies(session: so.Session, obj: Any) -> bool:
    """Whether `obj`'s row MAC holds (its security fields are as the application wrote them)."""
    table = _table_of(obj)
    assert table in ROW_SIGNED
    values = _values(obj)
    return keys_for(session).verify(values.get("row_mac"), *_row_parts(table, values))


def chain_verifies(session: so.Session, obj: Any) -> bool:
    """Whether `obj`'s chain MAC holds against the MAC of the row before it in its chain."""
    table = _table_of(obj)
    assert table in CHAINED
    if obj.chain_seq is None or obj.chain_mac is None:
        return False
    previous = None
    if obj.chain_seq > 1:
        t = _table(table)
        previous = session.scalar(sa.select(t.c.chain_mac).where(t.c.chain_seq == obj.chain_seq - 1))
        if previous is None:
            return False
    return _same(chain_mac(keys_for(session), table, obj.chain_seq, previous, _values(obj)),
                 obj.chain_mac)


def _same(expected: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(expected, stored)


def row_id(table: str, values: Mapping[str, Any]) -> str:
    """How a row is named in reports: its key, never a secret (a session's key is a token's
    hash, so a session is named by its account and when it was opened)."""
    if table == "web_sessions":
        return f"{values.get('username')} session opened {canonical(values.get('created_at'))}"
    key = [c.name for c in _table(table).primary_key.columns]
    return ",".join(str(values.get(c)) for c in key)


def honoured(session: so.Session, obj: Any, purpose: str) -> bool:
    """Whether `obj` verifies (both its MACs, where it has both); a failure is reported for
    `purpose` (what it was about to decide: "sign-in", "an approval", ...)."""
    table = _table_of(obj)
    failures = []
    if table in CHAINED and not chain_verifies(session, obj):
        failures.append("chain " + (BAD_MAC if obj.chain_mac else NO_MAC))
    if table in ROW_SIGNED and not row_verifies(session, obj):
        failures.append("row " + (BAD_MAC if obj.row_mac else NO_MAC))
    if failures:
        report_failure(session, table, row_id(table, _values(obj)), "; ".join(failures), purpose)
    return not failures


# --- reporting failures ---------------------------------------------------------------------

_PENDING = "audit_failures"
_reported: dict[tuple[str, str, str, str], float] = {}
_reported_lock = threading.Lock()


@dataclass(frozen=True)
class Failure:
    table: str
    id: str
    reason: str
    purpose: str

    def metadata(self) -> dict[str, str]:
        return {"table": self.table, "id": self.id, "reason": self.reason, "refused": self.purpose}

    def description(self) -> str:
        return (f"audit: {self.table} row {self.id} failed its check ({self.reason}); "
                f"not honoured for {self.purpose}")


def report_failure(session: so.Session, table: str, row: str, reason: str, purpose: str) -> None:
    """Note a row that was not honoured; written as `audit_failed` activity (module's text)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    key = (url, table, row, purpose)
    now = time.monotonic()
    with _reported_lock:
        last = _reported.get(key)
        if last is not None and now - last < REPORT_AGAIN_AFTER_SECONDS:
            return
        _reported[key] = now
    session.info.setdefault(_PENDING, []).append(Failure(table, row, reason, purpose))


def take_failures(session: so.Session) -> list[Failure]:
    """The failures noted in `session` and not yet written (core/record/activity.py writes them)."""
    return session.info.pop(_PENDING, None) or []


# --- checking everything --------------------------------------------------------------------

@dataclass(frozen=True)
class Broken:
    table: str
    id: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"table": self.table, "id": self.id, "reason": self.reason}


@dataclass
class AuditReport:
    rows: int = 0
    broken: list[Broken] = field(default_factory=list)
    more_broken: int = 0  # past MAX_BROKEN_LISTED

    @property
    def ok(self) -> bool:
        return not self.broken

    def add(self, table: str, row: str, reason: str) -> None:
        if len(self.broken) < MAX_BROKEN_LISTED:
            self.broken.append(Broken(table, row, reason))
        else:
            self.more_broken += 1

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "broken": [b.as_json() for b in self.broken]}


def _check_chain(connection: sa.Connection, keys: Keys, table: str, report: AuditReport) -> None:
    t = _table(table)
    query = sa.select(t).order_by(t.c.chain_seq.is_(None), t.c.chain_seq)
    expected, previous = 1, None
    for row in connection.execute(query.execution_options(yield_per=2000)).mappings():
        report.rows += 1
        name = row_id(table, row)
        if table in ROW_SIGNED and not keys.verify(row["row_mac"], *_row_parts(table, row)):
            report.add(table, name, "row " + (BAD_MAC if row["row_mac"] else NO_MAC))
        seq = row["chain_seq"]
        if seq is None or row["chain_mac"] is None:
            report.add(table, name, "chain: " + NO_MAC)
            continue
        if seq != expected:
            # Its MAC cannot be checked without the row before it; the next row is checked
            # against this one's, so one gap is named once.
            report.add(table, name, f"chain broken: place {seq} follows place {expected - 1} "
                                    "(rows taken out, or slipped in)")
        elif not _same(chain_mac(keys, table, seq, previous, row), row["chain_mac"]):
            report.add(table, name, "chain " + BAD_MAC)
        expected, previous = seq + 1, row["chain_mac"]


def _check_rows(connection: sa.Connection, keys: Keys, table: str, report: AuditReport) -> None:
    t = _table(table)
    for row in connection.execute(sa.select(t).execution_options(yield_per=2000)).mappings():
        report.rows += 1
        if not keys.verify(row["row_mac"], *_row_parts(table, row)):
            report.add(table, row_id(table, row), "row " + (BAD_MAC if row["row_mac"] else NO_MAC))


def verify_record(db: Database) -> AuditReport:
    """Check every chain and every row MAC; the report names each broken row, chain by chain in
    the order of its places (the first listed is the first broken). Writes nothing."""
    report = AuditReport()
    keys = keys_for(db.engine)
    with connected(db) as connection:
        for table in CHAINED:
            _check_chain(connection, keys, table, report)
        for table in ROW_SIGNED:
            if table not in CHAINED:
                _check_rows(connection, keys, table, report)
    return report


# --- the rows already there when the chain began (revision 0013) ----------------------------

def sign_existing(connection: sa.Connection) -> None:
    """Seal plaintext webhook secrets and sign every row revision 0013 found, in the order they
    were written; handed to that migration by `core.database.upgrade_database`. Runs inside the
    migration's transaction with the append-only guards down, so nothing else writes meanwhile.
    Reads only the columns the MACs cover (later revisions may add others)."""
    keys = keys_for(connection)
    endpoints = _table("webhook_endpoints")
    for endpoint_id, secret in connection.execute(sa.select(endpoints.c.id, endpoints.c.secret)).all():
        if secret.startswith(PLAIN_WEBHOOK_SECRET_PREFIX):
            connection.execute(sa.update(endpoints).where(endpoints.c.id == endpoint_id)
                               .values(secret=keys.seal(secret)))
    # Tables made by later revisions (experiments 0016, voting 0017) do not exist yet; their rows are signed
    # as they are written.
    present = set(sa.inspect(connection).get_table_names())
    for table, columns in CHAINED.items():
        if table not in present:
            continue
        t = _table(table)
        key = [c.name for c in t.primary_key.columns]
        wanted = dict.fromkeys([*key, *columns, *WRITTEN_ORDER[table]])
        seq, previous = _chain_head(connection, table)
        query = (sa.select(*(t.c[c] for c in wanted)).where(t.c.chain_seq.is_(None))
                 .order_by(*(t.c[c] for c in WRITTEN_ORDER[table])))
        for row in connection.execute(query).mappings().all():
            seq += 1
            previous = chain_mac(keys, table, seq, previous, row)
            connection.execute(sa.update(t).where(*(t.c[c] == row[c] for c in key))
                               .values(chain_seq=seq, chain_mac=previous))
    for table, columns in ROW_SIGNED.items():
        if table not in present:
            continue
        t = _table(table)
        key = [c.name for c in t.primary_key.columns]
        wanted = dict.fromkeys([*key, *columns])
        for row in connection.execute(sa.select(*(t.c[c] for c in wanted))).mappings().all():
            connection.execute(sa.update(t).where(*(t.c[c] == row[c] for c in key))
                               .values(row_mac=row_mac(keys, table, row)))
