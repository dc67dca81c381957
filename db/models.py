"""The schema. Column names of `profit_allocation_log`, `protocol_activity` and `tokens` follow the
seed so that its SQL runs unchanged on PostgreSQL. Rules the database enforces itself (checks, the
one-current-row index) are declared here; triggers live in `db/triggers.py`, created by migrations.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from db.limits import (MAX_DAILY_COUNT, MAX_TOKEN_PRICE_USD, MAX_TOKEN_VOLUME_USD,
                       MAX_TREASURY_BALANCE_USD)
from db.tables import PCT
from db.types import ExactDecimal, JSONType, UTCDateTime, new_uuid, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES = ("proposed", "active", "rejected", "expired", "withdrawn", "superseded", "queued",
            "vetoed")
# `experiment`: a switch of a running switchback experiment (core/experiments), written by the
# schedule; no person or rebalancer files under it (core.allocation.validation.PROPOSERS).
PROPOSERS = ("ai", "manual", "system", "experiment")
ROLES = ("viewer", "analyst", "governor", "admin")
BUCKET_COLUMNS = ("reinvestment_pct", "dao_pct", "lucky_pct", "creator_pct")
ENGAGEMENT_COUNTS = ("wallet_connections", "trades_count", "page_views")


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _pct_checks() -> list[sa.CheckConstraint]:
    checks = [
        # round(..., 2): SQLite adds the percentages as doubles; on PostgreSQL it is a no-op.
        sa.CheckConstraint(f"round({' + '.join(BUCKET_COLUMNS)}, 2) = 100", name="valid_total_percentage"),
    ]
    for column in BUCKET_COLUMNS:
        checks.append(sa.CheckConstraint(
            f"{column} >= 0 AND {column} <= 100 AND round({column}, 2) = {column}",
            name=f"{column}_range"))
    return checks


def _chain_index(table: str) -> sa.Index:
    # A unique index, not a constraint: SQLite adds one without copying the table. Two writers can
    # then never fork a chain, even if one bypassed the lock (core/record/audit.py).
    return sa.Index(f"uq_{table}_chain_seq", "chain_seq", unique=True)


def _chain_seq() -> so.Mapped[int | None]:
    """A row's place in its table's audit chain (core/record/audit.py: `chain_mac` is the
    HMAC-SHA256 over it, the previous row's MAC and the row's content; `row_mac` one over a row's
    security fields, renewed on each change the application makes). Nullable, as the MACs are:
    a row written without the application has none, and `audit verify` names it."""
    return so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=True)


def _mac() -> so.Mapped[str | None]:
    return so.mapped_column(sa.String(64), nullable=True)


class AllocationLog(Base):
    """Append-only: proposals, the active split (and the replaced ones), rejected, expired,
    withdrawn and superseded ones."""

    __tablename__ = "profit_allocation_log"
    __table_args__ = (
        *_pct_checks(),
        sa.CheckConstraint(_in("status", STATUSES), name="valid_status"),
        sa.CheckConstraint(_in("proposed_by", PROPOSERS), name="valid_proposed_by"),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        sa.CheckConstraint("length(trim(reasoning)) > 0", name="reasoning_present"),
        sa.CheckConstraint(
            "status <> 'active' OR effective_from IS NOT NULL", name="active_has_effective_from"),
        sa.CheckConstraint(
            "effective_until IS NULL OR (status = 'active' AND effective_until >= effective_from)",
            name="effective_until_after_from"),
        # At most one current split: the active row whose period is still open.
        sa.Index("uq_profit_allocation_log_one_current", "status", unique=True,
                 sqlite_where=sa.text("status = 'active' AND effective_until IS NULL"),
                 postgresql_where=sa.text("status = 'active' AND effective_until IS NULL")),
        sa.Index("ix_profit_allocation_log_status_timestamp", "status", "timestamp"),
        sa.Index("ix_profit_allocation_log_effective_from", "effective_from"),
        _chain_index("profit_allocation_log"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    timestamp: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, server_default=sa.func.now())
    reinvestment_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    dao_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    lucky_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    creator_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="proposed")
    reasoning: so.Mapped[str] = so.mapped_column(sa.Text)
    confidence: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(5, 4), default=Decimal(1))
    input_metrics: so.Mapped[dict[str, Any] | None] = so.mapped_column(JSONType)
    proposed_by: so.Mapped[str] = so.mapped_column(sa.String(16), default="manual")
    proposer_username: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    based_on_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("profit_allocation_log.id"))
    effective_from: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    effective_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    reviewed_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    reviewed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    review_notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()
    row_mac: so.Mapped[str | None] = _mac()


class ProtocolActivity(Base):
    __tablename__ = "protocol_activity"
    __table_args__ = (sa.Index("ix_protocol_activity_type_timestamp", "activity_type", "timestamp"),
                      sa.Index("ix_protocol_activity_timestamp", "timestamp"),
                      _chain_index("protocol_activity"))

    id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    timestamp: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime, default=utcnow, server_default=sa.func.now())
    activity_type: so.Mapped[str] = so.mapped_column(sa.String(64))
    description: so.Mapped[str] = so.mapped_column(sa.Text)
    # `metadata` is reserved on declarative classes; the column keeps the seed's name.
    meta: so.Mapped[dict[str, Any] | None] = so.mapped_column("metadata", JSONType)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ProfitDistribution(Base):
    """The manage-profits ledger: one row per distribution, idempotent by key."""

    __tablename__ = "profit_distributions"
    __table_args__ = tuple(
        sa.CheckConstraint(f"CAST({c} AS NUMERIC) >= 0", name=f"{c}_not_negative")
        for c in ("total", "reinvestment_amount", "dao_amount", "lucky_amount", "creator_amount")
    ) + tuple(_pct_checks()) + (sa.Index("ix_profit_distributions_created_at", "created_at"),
                                 _chain_index("profit_distributions"))

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    idempotency_key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    total: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())
    allocation_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("profit_allocation_log.id"))
    reinvestment_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    dao_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    lucky_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    creator_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    reinvestment_amount: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())
    dao_amount: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())
    lucky_amount: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())
    creator_amount: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())
    created_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


# --- platform data (the rebalancer's inputs) ---------------------------------------------------

class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = (
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.CheckConstraint("volume_24h >= 0", name="volume_not_negative"),
        # Upper bounds also refuse NaN (on PostgreSQL NaN sorts above every number).
        sa.CheckConstraint(f"price <= {MAX_TOKEN_PRICE_USD}", name="price_bounded"),
        sa.CheckConstraint(f"volume_24h <= {MAX_TOKEN_VOLUME_USD}", name="volume_bounded"),
        # Covering: the performance comparison and the metrics read price and volume by launch
        # time from the index alone, never touching a million table rows.
        sa.Index("ix_tokens_created_at_price_volume", "created_at", "price", "volume_24h"),
    )

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                          primary_key=True, autoincrement=True)
    symbol: so.Mapped[str] = so.mapped_column(sa.String(32))
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # Market data, not money we hold: a double is the honest type for a quoted price.
    price: so.Mapped[float] = so.mapped_column(sa.Double)
    volume_24h: so.Mapped[float] = so.mapped_column(sa.Double)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)


class TokenActivityRollup(Base):
    """Token launches pre-aggregated per bucket, in three layers (minute, hour, day), so a read
    over any range sums a few buckets and scans only the partial minutes at its edges raw.

    Kept in the same transaction as every write to `tokens` (core/platform_data/rollup.py, per batch); the
    sums are exact: each price and volume counts as the decimal its double prints as (the
    shortest text that reads back as the same double)."""

    __tablename__ = "token_activity_rollup"
    __table_args__ = (
        sa.CheckConstraint("width IN (60, 3600, 86400)", name="valid_width"),
        sa.CheckConstraint("tokens >= 0", name="tokens_not_negative"),
    )

    width: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True)  # seconds
    bucket_start: so.Mapped[datetime] = so.mapped_column(UTCDateTime, primary_key=True)
    tokens: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    price_sum: so.Mapped[Decimal] = so.mapped_column(ExactDecimal(precision=None, scale=None))
    volume_sum: so.Mapped[Decimal] = so.mapped_column(ExactDecimal(precision=None, scale=None))


class EngagementDaily(Base):
    __tablename__ = "engagement_daily"
    __table_args__ = tuple(
        sa.CheckConstraint(f"{c} >= 0", name=f"{c}_not_negative")
        for c in ENGAGEMENT_COUNTS) + tuple(
        # SQLite would keep 1e308 in an INTEGER column as a REAL.
        sa.CheckConstraint(f"{c} <= {MAX_DAILY_COUNT}", name=f"{c}_bounded")
        for c in ENGAGEMENT_COUNTS)

    day: so.Mapped[date] = so.mapped_column(sa.Date, primary_key=True)
    wallet_connections: so.Mapped[int] = so.mapped_column(sa.Integer)
    trades_count: so.Mapped[int] = so.mapped_column(sa.Integer)
    page_views: so.Mapped[int] = so.mapped_column(sa.Integer)


class TreasurySnapshot(Base):
    __tablename__ = "dao_treasury_snapshots"
    __table_args__ = (
        sa.CheckConstraint("CAST(balance_usd AS NUMERIC) >= 0", name="balance_not_negative"),
        sa.CheckConstraint(f"CAST(balance_usd AS NUMERIC) <= {MAX_TREASURY_BALANCE_USD}",
                           name="balance_bounded"),
    )

    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, primary_key=True)
    balance_usd: so.Mapped[Decimal] = so.mapped_column(ExactDecimal())


# --- governance -------------------------------------------------------------------------------

class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(_in("role", ROLES), name="valid_role"),)

    username: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(320), unique=True)
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    active: so.Mapped[bool] = so.mapped_column(sa.Boolean, default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # Since when the account may approve (an active governor or admin without a break); NULL
    # when it may not. An approval counts only from accounts governing before the proposal was
    # filed (Llama's rule): an account made afterwards cannot tip a vote already open.
    governing_since: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    row_mac: so.Mapped[str | None] = _mac()


class SignInFailure(Base):
    """Failed sign-ins per (name, client): the throttle's count. Names with no account are
    counted the same way, so the answers do not tell which accounts exist."""

    __tablename__ = "sign_in_failures"

    username: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    client: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    failures: so.Mapped[int] = so.mapped_column(sa.Integer)
    last_failed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)


class AllocationPolicy(Base):
    """Versioned policy: every change is a new row; the highest version is in force."""

    __tablename__ = "allocation_policy"
    __table_args__ = (_chain_index("allocation_policy"),)

    version: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    settings: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)
    changed_key: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    old_value: so.Mapped[str | None] = so.mapped_column(sa.Text)
    new_value: so.Mapped[str | None] = so.mapped_column(sa.Text)
    changed_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    changed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ProposalReview(Base):
    """One decision per governor per proposal (M-of-N approvals)."""

    __tablename__ = "proposal_reviews"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "reviewer", name="uq_proposal_reviews_proposal_reviewer"),
        sa.CheckConstraint("decision IN ('approved', 'rejected')", name="valid_decision"),
        _chain_index("proposal_reviews"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("profit_allocation_log.id"), index=True)
    reviewer: so.Mapped[str] = so.mapped_column(sa.String(64))
    decision: so.Mapped[str] = so.mapped_column(sa.String(16))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    reviewed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


# --- sealed governance: governance proposals, the queue and vetoes ------------------------------

GOVERNANCE_KINDS = ("policy", "role", "disable", "enable", "unseal", "invite")
GOVERNANCE_STATUSES = ("proposed", "queued", "active", "rejected", "vetoed", "expired", "withdrawn")
PROPOSAL_KINDS = ("allocation", "governance")


class GovernanceSeal(Base):
    """Insert-only: each row seals or unseals the governance; the latest row is in force, none
    means unsealed (a new install)."""

    __tablename__ = "governance_seals"
    __table_args__ = (_chain_index("governance_seals"),)

    id: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    sealed: so.Mapped[bool] = so.mapped_column(sa.Boolean)
    by: so.Mapped[str] = so.mapped_column(sa.String(64))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    governance_proposal_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.Uuid)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class GovernanceProposal(Base):
    """A change to who governs or to the rules (a policy key, a role, disabling, unsealing),
    requested by an admin and taking effect only after approvals and the major timelock.
    Append-only like the allocation log: the change and who asked never change; only the
    lifecycle moves, once."""

    __tablename__ = "governance_proposals"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", GOVERNANCE_KINDS), name="valid_kind"),
        sa.CheckConstraint(_in("status", GOVERNANCE_STATUSES), name="valid_status"),
        sa.Index("ix_governance_proposals_status_created_at", "status", "created_at"),
        _chain_index("governance_proposals"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    change: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)
    summary: so.Mapped[str] = so.mapped_column(sa.Text)
    requested_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    # The account the change is about (a role, disabling): it may not approve its own change.
    subject: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="proposed")
    decided_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    decided_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    decision_notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class GovernanceReview(Base):
    """One decision per governor per governance proposal (insert-only)."""

    __tablename__ = "governance_reviews"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "reviewer", name="uq_governance_reviews_proposal_reviewer"),
        sa.CheckConstraint("decision IN ('approved', 'rejected')", name="valid_decision"),
        _chain_index("governance_reviews"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("governance_proposals.id"), index=True)
    reviewer: so.Mapped[str] = so.mapped_column(sa.String(64))
    decision: so.Mapped[str] = so.mapped_column(sa.String(16))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    reviewed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class TimelockEntry(Base):
    """Insert-only: when an approved change (a split or a governance proposal) may take effect.
    One row per proposal, never updated: raw SQL cannot move a change forward in the queue."""

    __tablename__ = "timelock_queue"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", PROPOSAL_KINDS), name="valid_kind"),
        sa.CheckConstraint("executes_at >= queued_at", name="executes_after_queued"),
        sa.Index("ix_timelock_queue_executes_at", "executes_at"),
        _chain_index("timelock_queue"),
    )

    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    queued_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    executes_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    delay_hours: so.Mapped[int] = so.mapped_column(sa.Integer)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ProposalVeto(Base):
    """Insert-only: one governor's veto of a queued change, with the reason."""

    __tablename__ = "proposal_vetoes"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "vetoed_by", name="uq_proposal_vetoes_proposal_vetoed_by"),
        sa.CheckConstraint(_in("kind", PROPOSAL_KINDS), name="valid_kind"),
        sa.CheckConstraint("length(trim(reason)) > 0", name="reason_present"),
        _chain_index("proposal_vetoes"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    vetoed_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    reason: so.Mapped[str] = so.mapped_column(sa.Text)
    vetoed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class WebSession(Base):
    """A signed-in browser: the dashboard's cookie carries a random token whose SHA-256 is the
    key here. The row is the authority: deleting it (sign-out) ends the session at once, wherever
    its cookie is; `password_mark` ties it to the password it was opened with."""

    __tablename__ = "web_sessions"

    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    username: so.Mapped[str] = so.mapped_column(
        sa.String(64), sa.ForeignKey("users.username", ondelete="CASCADE"), index=True)
    password_mark: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    row_mac: so.Mapped[str | None] = _mac()


# --- the HTTP API: tokens, webhooks and their outbox ---------------------------------------------

WEBHOOK_DELIVERY_STATUSES = ("pending", "delivered", "failed")


class ApiToken(Base):
    """A bearer token of one account. Only the token's SHA-256 is kept (see core/governance/api_tokens.py)."""

    __tablename__ = "api_tokens"

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    username: so.Mapped[str] = so.mapped_column(
        sa.String(64), sa.ForeignKey("users.username"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    created_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    row_mac: so.Mapped[str | None] = _mac()


class WebhookEndpoint(Base):
    """A receiver of events. Signing needs the secret back (unlike a token's), so it is kept sealed
    with the box key outside the database (core.base.keys), opened only to sign a delivery."""

    __tablename__ = "webhook_endpoints"

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    url: so.Mapped[str] = so.mapped_column(sa.String(2000))
    events: so.Mapped[list[str]] = so.mapped_column(JSONType)
    secret: so.Mapped[str] = so.mapped_column(sa.String(400))
    created_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    removed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    removed_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    row_mac: so.Mapped[str | None] = _mac()


class OutboxEvent(Base):
    """An event, written in the transaction of the change it reports. The integer id is the
    order the changes happened in (writers that emit events are serialised, see core/record/outbox.py)."""

    __tablename__ = "outbox_events"
    __table_args__ = (sa.Index("ix_outbox_events_created_at", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                          primary_key=True, autoincrement=True)
    type: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    data: so.Mapped[dict[str, Any]] = so.mapped_column(JSONType)


class WebhookDelivery(Base):
    """One event for one endpoint: its attempts and where it stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint(_in("status", WEBHOOK_DELIVERY_STATUSES), name="valid_status"),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        # The deliverer's question: the oldest unfinished delivery of each endpoint.
        sa.Index("ix_webhook_deliveries_endpoint_status_event", "endpoint_id", "status", "event_id"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    event_id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("outbox_events.id"))
    endpoint_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("webhook_endpoints.id"))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    attempts: so.Mapped[int] = so.mapped_column(sa.Integer, default=0)
    last_status_code: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    delivered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)


# --- the scheduler: one at a time, each fire time once ------------------------------------------

class SchedulerLease(Base):
    """Who runs the schedule now: the one row per lease name is held by one `schedule` process
    (`holder`: host:pid:random) until `expires_at`; the holder renews it every pass, and another
    process takes it over only once it has expired (its holder stopped renewing: it died)."""

    __tablename__ = "scheduler_leases"

    name: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(200))
    acquired_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)


class SchedulerRun(Base):
    """One fire time of one job, claimed before it runs: the key makes each fire time run at most
    once, whichever scheduler holds the lease and however late a takeover comes."""

    __tablename__ = "scheduler_runs"

    job: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    fired_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(200))
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    ok: so.Mapped[bool | None] = so.mapped_column(sa.Boolean)
    error_type: so.Mapped[str | None] = so.mapped_column(sa.String(100))


# --- invitations and the second factor (the trust issue) -----------------------------------------

INVITATION_KINDS = ("invite", "reset")


class AccountInvitation(Base):
    """A single-use code that lets someone set their own password: `invite` makes a new account
    (created only when it is accepted), `reset` gives an existing account a new password. Only the
    code's SHA-256 is kept (see core/governance/invitations.py)."""

    __tablename__ = "account_invitations"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", INVITATION_KINDS), name="valid_kind"),
        sa.CheckConstraint(f"role IS NULL OR {_in('role', ROLES)}", name="valid_role"),
        sa.CheckConstraint("kind <> 'invite' OR role IS NOT NULL", name="invite_has_role"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    # Not a foreign key: an invitation names an account that does not exist until it is accepted.
    username: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    role: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    created_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)


class TotpFactor(Base):
    """An account's TOTP second factor. The secret is sealed with the box key, which lives outside
    the database (core/base/keys.py); `last_step` is the 30 s step of the last code accepted, so
    the same code (or an older one) is never accepted twice."""

    __tablename__ = "totp_factors"

    username: so.Mapped[str] = so.mapped_column(
        sa.String(64), sa.ForeignKey("users.username", ondelete="CASCADE"), primary_key=True)
    secret_sealed: so.Mapped[str] = so.mapped_column(sa.String(300))
    last_step: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    enrolled_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


# --- switchback experiments (the experiments issue) ----------------------------------------------

EXPERIMENT_STATUSES = ("proposed", "approved", "rejected", "running", "finished", "stopped")
# The figures an experiment may measure: core.experiments.design.METRICS (a test holds the two
# equal; db never imports core).
EXPERIMENT_METRICS = ("tokens_per_day", "volume_per_day", "avg_price", "engagement_score",
                      "wallet_connections")
ENDED_EXPERIMENT = ("finished", "stopped")
# A switch's block index for the control restored when the experiment ends: one such row per
# experiment, as the (experiment, block) key allows (the blocks themselves count from 0).
RESTORE_BLOCK = -1


class Experiment(Base):
    """A switchback experiment: its design, its committed schedule and its lifecycle.

    The schedule (each block's arm) and its salt are kept sealed with the box key, which lives
    outside the database (core.base.keys), so nobody who reads the database can learn which arm
    comes next; only `schedule_sha256` is public. When the experiment ends (finished or stopped)
    both are written in the clear (`revealed_*`), and anyone can check them against the hash."""

    __tablename__ = "experiments"
    __table_args__ = (
        sa.CheckConstraint(_in("status", EXPERIMENT_STATUSES), name="valid_status"),
        sa.CheckConstraint(_in("metric", EXPERIMENT_METRICS), name="valid_metric"),
        sa.CheckConstraint("length(trim(arms)) > 0", name="arms_present"),
        sa.CheckConstraint("block_hours >= 1", name="block_hours_positive"),
        sa.CheckConstraint("blocks > 0", name="blocks_positive"),
        sa.CheckConstraint("burn_in_hours >= 0 AND burn_in_hours < block_hours",
                           name="burn_in_within_block"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("length(schedule_sha256) = 64", name="sha256_hex"),
        sa.CheckConstraint("length(trim(reasoning)) > 0", name="reasoning_present"),
        # Revealed only once it has ended: before, the arms to come stay secret.
        sa.CheckConstraint(f"(revealed_salt IS NULL AND revealed_schedule IS NULL) OR "
                           f"{_in('status', ENDED_EXPERIMENT)}", name="revealed_only_when_ended"),
        sa.CheckConstraint("status <> 'stopped' OR length(trim(stop_reason)) > 0",
                           name="stopped_has_reason"),
        sa.Index("ix_experiments_status_starts_at", "status", "starts_at"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    created_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    reasoning: so.Mapped[str] = so.mapped_column(sa.Text)
    # The splits as `--arms` takes them ("80/15/3/2,70/18/8/4"), the control first.
    arms: so.Mapped[str] = so.mapped_column(sa.String(200))
    block_hours: so.Mapped[int] = so.mapped_column(sa.Integer)
    blocks: so.Mapped[int] = so.mapped_column(sa.Integer)
    burn_in_hours: so.Mapped[int] = so.mapped_column(sa.Integer, default=0)
    metric: so.Mapped[str] = so.mapped_column(sa.String(32))
    guardrails: so.Mapped[list[str]] = so.mapped_column(JSONType)  # ["volume_per_day:-10", ...]
    starts_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    ends_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="proposed")
    schedule_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    schedule_sealed: so.Mapped[str] = so.mapped_column(sa.Text)
    revealed_salt: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    revealed_schedule: so.Mapped[str | None] = so.mapped_column(sa.Text)  # "0,1,1,0,..."
    # A statistic of recorded figures (the power simulation at filing), not money: a double.
    mde_pct: so.Mapped[float | None] = so.mapped_column(sa.Double)
    decided_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    decided_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    started_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    ended_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    stopped_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    stop_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    row_mac: so.Mapped[str | None] = _mac()


class ExperimentReview(Base):
    """One decision per governor per experiment (insert-only), counted like a major proposal's."""

    __tablename__ = "experiment_reviews"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "reviewer",
                            name="uq_experiment_reviews_experiment_reviewer"),
        sa.CheckConstraint("decision IN ('approved', 'rejected')", name="valid_decision"),
        _chain_index("experiment_reviews"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    experiment_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("experiments.id"), index=True)
    reviewer: so.Mapped[str] = so.mapped_column(sa.String(64))
    decision: so.Mapped[str] = so.mapped_column(sa.String(16))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    reviewed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ExperimentSwitch(Base):
    """Insert-only: the schedule put block `block_index`'s arm in force at `switched_at`, through
    the allocation log row `allocation_id` (NULL when the live split was that arm already). The
    key makes each block switch once, whichever scheduler gets there; `RESTORE_BLOCK` is the
    control restored at the end."""

    __tablename__ = "experiment_switches"
    __table_args__ = (
        sa.CheckConstraint(f"block_index >= {RESTORE_BLOCK}", name="valid_block_index"),
        sa.CheckConstraint("arm >= 0", name="arm_not_negative"),
        _chain_index("experiment_switches"),
    )

    experiment_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("experiments.id"), primary_key=True)
    block_index: so.Mapped[int] = so.mapped_column(sa.Integer, primary_key=True,
                                                   autoincrement=False)
    arm: so.Mapped[int] = so.mapped_column(sa.Integer)
    allocation_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("profit_allocation_log.id"))
    switched_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


# --- community voting (the voting issue) ---------------------------------------------------------

# What a vote does (core.allocation.policy.COMMUNITY_VOTE_MODES without `off`: a proposal filed
# with voting off has no vote at all; a test holds the two equal, db never imports core).
VOTE_MODES = ("advisory", "binding_major")
VOTE_SUPPORTS = ("for", "against", "abstain")  # core.voting.typed_data.SUPPORTS
ADDRESS_CHARS = 42  # 0x and 40 hex digits, kept in the EIP-55 checksummed form
SIGNATURE_CHARS = 132  # 0x and 65 bytes in hex
# Weights in the token's base units (balance x 10^18, core.voting.snapshot_file): whole numbers
# too large for BIGINT. NUMERIC(78, 0) holds any uint256 on PostgreSQL; text on SQLite.
UNITS_DIGITS = 78
# A snapshot's chain (EIP-155 chain id): 1 up to what a wallet's JavaScript holds exactly
# (core.voting.typed_data.MAX_CHAIN_ID; a test holds the two equal, db never imports core).
MAX_CHAIN_ID = 2 ** 53 - 1


def _units() -> ExactDecimal:
    return ExactDecimal(precision=UNITS_DIGITS, scale=0)


class VoteSnapshot(Base):
    """Insert-only: the holders of a token at a block of one chain (`chain_id`, which every vote
    on it signs), as loaded (all rows or none). The chain MAC covers the published Merkle root of
    the (address, weight) table and the SHA-256 of the whole holders table (delegates included),
    so a holder row changed or slipped in shows against them."""

    __tablename__ = "vote_snapshots"
    __table_args__ = (
        sa.CheckConstraint("block >= 0", name="block_not_negative"),
        sa.CheckConstraint("holders > 0", name="holders_positive"),
        sa.CheckConstraint("length(merkle_root) = 66", name="merkle_root_hex"),
        sa.CheckConstraint("length(holders_sha256) = 64", name="holders_sha256_hex"),
        sa.CheckConstraint(f"chain_id >= 1 AND chain_id <= {MAX_CHAIN_ID}", name="chain_id_range"),
        sa.Index("ix_vote_snapshots_created_at", "created_at"),
        _chain_index("vote_snapshots"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    block: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    token: so.Mapped[str | None] = so.mapped_column(sa.String(ADDRESS_CHARS))
    # The default is the chain of the snapshots loaded before revision 0018 (mainnet), which
    # SQLite cannot drop again without copying the table; every snapshot written names its chain.
    chain_id: so.Mapped[int] = so.mapped_column(sa.BigInteger, server_default=sa.text("1"))
    holders: so.Mapped[int] = so.mapped_column(sa.Integer)
    total_units: so.Mapped[Decimal] = so.mapped_column(_units())
    merkle_root: so.Mapped[str] = so.mapped_column(sa.String(66))
    holders_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    created_by: so.Mapped[str] = so.mapped_column(sa.String(64))
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class SnapshotHolder(Base):
    """One holder of a snapshot: fixed once written (guards refuse updates and deletes), but not
    chained row by row (a million MACs per snapshot): the snapshot's own chained row carries the
    digests of the whole table (core/voting/store.py)."""

    __tablename__ = "snapshot_holders"
    __table_args__ = (
        # The tally's question: who delegated to these voters.
        sa.Index("ix_snapshot_holders_snapshot_delegate", "snapshot_id", "delegate",
                 sqlite_where=sa.text("delegate IS NOT NULL"),
                 postgresql_where=sa.text("delegate IS NOT NULL")),
    )

    snapshot_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("vote_snapshots.id"), primary_key=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(ADDRESS_CHARS), primary_key=True)
    units: so.Mapped[Decimal] = so.mapped_column(_units())
    delegate: so.Mapped[str | None] = so.mapped_column(sa.String(ADDRESS_CHARS))


class ProposalVoteTerms(Base):
    """Insert-only, one per split proposal put to the community: the snapshot in force when it was
    filed, the voting period and the quorum checkpointed then (OpenZeppelin's
    GovernorVotesQuorumFraction: changing the policy does not touch open votes), and what the
    vote does (`mode`)."""

    __tablename__ = "proposal_vote_terms"
    __table_args__ = (
        sa.CheckConstraint(_in("mode", VOTE_MODES), name="valid_mode"),
        sa.CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        sa.CheckConstraint("quorum_pct >= 0 AND quorum_pct <= 100", name="quorum_pct_range"),
        sa.Index("ix_proposal_vote_terms_closes_at", "closes_at"),
        _chain_index("proposal_vote_terms"),
    )

    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("profit_allocation_log.id"), primary_key=True)
    snapshot_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, sa.ForeignKey("vote_snapshots.id"))
    mode: so.Mapped[str] = so.mapped_column(sa.String(16))
    opens_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    closes_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    quorum_pct: so.Mapped[Decimal] = so.mapped_column(PCT)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ProposalVote(Base):
    """Insert-only: a signed vote as cast. A later vote by the same address supersedes an earlier
    one by being newer (a greater `timestamp`, the signed one); every row is kept, so anyone can
    recount from the export. `weight_units` is the effective weight when it was cast, for the
    record; the tally recomputes weights from the snapshot."""

    __tablename__ = "proposal_votes"
    __table_args__ = (
        sa.CheckConstraint(_in("support", VOTE_SUPPORTS), name="valid_support"),
        sa.CheckConstraint("timestamp >= 0", name="timestamp_not_negative"),
        sa.UniqueConstraint("proposal_id", "address", "timestamp",
                            name="uq_proposal_votes_proposal_address_timestamp"),
        _chain_index("proposal_votes"),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("proposal_vote_terms.proposal_id"))
    address: so.Mapped[str] = so.mapped_column(sa.String(ADDRESS_CHARS))
    support: so.Mapped[str] = so.mapped_column(sa.String(16))
    timestamp: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    signature: so.Mapped[str] = so.mapped_column(sa.String(SIGNATURE_CHARS))
    weight_units: so.Mapped[Decimal] = so.mapped_column(_units())
    recorded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()


class ProposalVoteResult(Base):
    """Insert-only, one per closed vote: the tally when voting closed and what it did (`outcome`)."""

    __tablename__ = "proposal_vote_results"
    __table_args__ = (_chain_index("proposal_vote_results"),)

    proposal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.Uuid, sa.ForeignKey("proposal_vote_terms.proposal_id"), primary_key=True)
    closed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    for_units: so.Mapped[Decimal] = so.mapped_column(_units())
    against_units: so.Mapped[Decimal] = so.mapped_column(_units())
    abstain_units: so.Mapped[Decimal] = so.mapped_column(_units())
    voters: so.Mapped[int] = so.mapped_column(sa.Integer)
    quorum_met: so.Mapped[bool] = so.mapped_column(sa.Boolean)
    passed: so.Mapped[bool] = so.mapped_column(sa.Boolean)
    outcome: so.Mapped[str] = so.mapped_column(sa.Text)
    chain_seq: so.Mapped[int | None] = _chain_seq()
    chain_mac: so.Mapped[str | None] = _mac()
