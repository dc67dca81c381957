"""Webhooks: endpoints an admin registers, and delivering the outbox to them.

Each event goes to each subscribed endpoint as `POST URL` with a JSON body and the signature
`X-PA-Signature: t=UNIX_SECONDS,v1=HEX`, HEX = HMAC-SHA256(secret, f"{t}.{raw_body}") (Stripe's
scheme: the timestamp inside the signed text lets a receiver refuse replays). A 2xx answer is
success; anything else is retried after about 1 min, 5 min, 30 min, 2 h and 6 h, then given up
(`failed`). Per endpoint, events go out in the order they happened: an endpoint's next event
waits until the one before it is delivered or given up.

The signing secret is stored sealed with the box key kept beside the audit key, outside the
database (core.base.keys): a database reader cannot sign a webhook a receiver would believe. An
endpoint row written outside the application (its MAC fails) is sent nothing: its deliveries
are given up and the failure recorded (core.record.audit).

Delivery is at least once: a deliverer that dies after sending but before recording sends again
once its claim lapses, with the same `X-PA-Delivery` id, by which a receiver can tell.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from core.base.errors import KeyUnavailable, ValidationFailed
from core.base.keys import keys_for
from core.base.lookups import get_by_id
from core.base.sessions import reading, writing
from core.governance.actors import resolve_actor
from core.record.activity import record_activity
from core.record.audit import honoured
from core.record.outbox import ALL_EVENTS, EVENT_TYPES
from db.engine import Database
from db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from db.types import utcnow

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
TIMEOUT_SECONDS = 10.0
# Waits after the 1st..5th failed attempt; the 6th failure gives up.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=6))
# A claimed delivery is someone's for this long: longer than a request can take, so two
# deliverers (the schedule and `webhooks deliver`) never send the same delivery at once.
CLAIM = timedelta(seconds=60)
MAX_ERROR_LENGTH = 300


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: list[str]
    created_by: str
    created_at: datetime
    removed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": self.events,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "active": self.removed_at is None}


@dataclass(frozen=True)
class NewEndpoint:
    """A registered endpoint with its secret: the only time the secret is shown."""

    endpoint: Endpoint
    secret: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.endpoint.id, "url": self.endpoint.url,
                "events": self.endpoint.events, "secret": self.secret}


@dataclass(frozen=True)
class DeliveryInfo:
    id: str
    event_id: int
    type: str
    endpoint_id: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "event_id": self.event_id, "type": self.type,
                "endpoint_id": self.endpoint_id, "url": self.url, "status": self.status,
                "attempts": self.attempts, "last_status_code": self.last_status_code,
                "last_error": self.last_error,
                "next_attempt_at": _iso(self.next_attempt_at if self.status == "pending" else None),
                "delivered_at": _iso(self.delivered_at), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class DeliveryPass:
    delivered: int
    failed: int
    pending: int

    def as_json(self) -> dict[str, int]:
        return {"delivered": self.delivered, "failed": self.failed, "pending": self.pending}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _endpoint(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(str(row.id), row.url, list(row.events), row.created_by, row.created_at,
                    row.removed_at)


# --- signing ---------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-PA-Signature` header value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- endpoints ---------------------------------------------------------------------------------

def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"url: {url[:60]!r} is not an http(s) URL of at most "
                               f"{MAX_URL_LENGTH} characters")
    return url


def parse_events(events: str | list[str]) -> list[str]:
    """`all`, or event types (a list, or comma-separated text); unknown ones are refused."""
    items = events.split(",") if isinstance(events, str) else list(events)
    names = [str(e).strip() for e in items if str(e).strip()]
    if names == [ALL_EVENTS]:
        return [ALL_EVENTS]
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown or not names:
        raise ValidationFailed(f"events: {', '.join(unknown) or '(none)'} not among "
                               f"{ALL_EVENTS}, {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(names))


def add_endpoint(db: Database, url: str, events: str | list[str], *, by: str | None) -> NewEndpoint:
    url, names = _check_url(url), parse_events(events)
    with writing(db) as session:
        actor = resolve_actor(session, by, "admin", "registering a webhook endpoint")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = WebhookEndpoint(url=url, events=names, secret=keys_for(session).seal(secret),
                              created_by=actor.username, created_at=utcnow())
        session.add(row)
        session.flush()
        # The secret stays out of the log: it is in the answer only.
        record_activity(session, "webhook_endpoint_added",
                        f"{actor.username} registered webhook endpoint {url} ({', '.join(names)})",
                        {"endpoint_id": row.id, "url": url, "events": names, "by": actor.username})
        return NewEndpoint(_endpoint(row), secret)


def list_endpoints(db: Database, *, include_removed: bool = False) -> list[Endpoint]:
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)
    if not include_removed:
        query = query.where(WebhookEndpoint.removed_at.is_(None))
    with reading(db) as session:
        return [_endpoint(r) for r in session.scalars(query)]


def remove_endpoint(db: Database, endpoint_id: str, *, by: str | None) -> Endpoint:
    """Stop sending to an endpoint; what it has not received is marked failed. Its delivery log
    stays. Removing a removed endpoint changes nothing."""
    with writing(db) as session:
        actor = resolve_actor(session, by, "admin", "removing a webhook endpoint")
        row = get_by_id(session, WebhookEndpoint, endpoint_id, "endpoint", "a webhook endpoint")
        if row.removed_at is None:
            now = utcnow()
            row.removed_at, row.removed_by = now, actor.username
            session.execute(sa.update(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == row.id, WebhookDelivery.status == "pending")
                .values(status="failed", last_error="endpoint removed"))
            record_activity(session, "webhook_endpoint_removed",
                            f"{actor.username} removed webhook endpoint {row.url}",
                            {"endpoint_id": row.id, "url": row.url, "by": actor.username})
        return _endpoint(row)


# --- delivery ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claim:
    delivery_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    event_type: str
    body: bytes


def _body(event: OutboxEvent) -> bytes:
    return json.dumps({"id": event.id, "type": event.type, "created_at": event.created_at.isoformat(),
                       "data": event.data}, separators=(",", ":")).encode("utf-8")


def _claim_next(db: Database, endpoint_id: uuid.UUID, now: datetime) -> _Claim | None:
    """The endpoint's oldest unfinished delivery, claimed, if it is due; else None (the ones
    behind it wait: order per endpoint)."""
    with writing(db) as session:
        found = session.execute(
            sa.select(WebhookDelivery, OutboxEvent, WebhookEndpoint)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.event_id).limit(1)).one_or_none()
        if found is None:
            return None
        delivery, event, endpoint = found
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None
        secret = _usable_secret(session, endpoint)
        if secret is None:
            # Given up, not retried: the endpoint fails every time until an admin replaces it.
            session.execute(sa.update(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
                .values(status="failed", last_error="endpoint fails its audit check")
                .execution_options(synchronize_session=False))
            return None
        # Claimed only if nobody else claimed it since we read it (attempts is the version).
        claimed = session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.attempts == delivery.attempts,
                   WebhookDelivery.status == "pending")
            .values(attempts=delivery.attempts + 1, next_attempt_at=now + CLAIM)
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            return None
        return _Claim(delivery.id, delivery.attempts + 1, endpoint.url, secret,
                      event.type, _body(event))


def _usable_secret(session: sa.orm.Session, endpoint: WebhookEndpoint) -> str | None:
    """The endpoint's signing secret, opened; None when its row fails its MAC or its secret
    cannot be opened (both recorded as audit failures)."""
    if not honoured(session, endpoint, "a webhook delivery"):
        return None
    try:
        return keys_for(session).open(endpoint.secret)
    except KeyUnavailable:
        return None


def _send(claim: _Claim, now: datetime, timeout: float) -> tuple[int | None, str | None]:
    """POST the event; (status code, None) on any answer, (None, reason) when none came."""
    request = urllib.request.Request(claim.url, data=claim.body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "profit-allocation-webhooks/1",
        "X-PA-Event": claim.event_type, "X-PA-Delivery": str(claim.delivery_id),
        "X-PA-Signature": signature(claim.secret, int(now.timestamp()), claim.body)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (http(s) only)
            return answer.status, None
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return None, str(reason)[:MAX_ERROR_LENGTH]


def _record(db: Database, claim: _Claim, code: int | None, error: str | None,
            now: datetime) -> str:
    """Store the attempt's outcome; returns the delivery's status."""
    success = code is not None and 200 <= code < 300
    with writing(db) as session:
        row = session.get(WebhookDelivery, claim.delivery_id, populate_existing=True)
        assert row is not None
        if row.status != "pending" or row.attempts != claim.attempt:
            return row.status  # removed meanwhile, or the claim lapsed and another took it
        row.last_status_code = code
        row.last_error = error if error else (None if success else f"HTTP {code}")
        if success:
            row.status, row.delivered_at, row.next_attempt_at = "delivered", now, None
        elif claim.attempt > len(BACKOFF):
            row.status, row.next_attempt_at = "failed", None
            record_activity(session, "webhook_delivery_failed",
                            f"webhook {claim.event_type} to {claim.url} given up after "
                            f"{claim.attempt} attempts ({row.last_error})",
                            {"delivery_id": row.id, "event_id": row.event_id,
                             "endpoint_id": row.endpoint_id, "attempts": claim.attempt,
                             "last_status_code": code, "last_error": row.last_error})
        else:
            row.next_attempt_at = now + BACKOFF[claim.attempt - 1]
        return row.status


def deliver_due(db: Database, now: datetime | None = None, *,
                timeout: float = TIMEOUT_SECONDS) -> DeliveryPass:
    """One pass: each endpoint's due deliveries, oldest first, until one is not delivered.

    Each claim and each outcome is its own short transaction: no transaction (and on SQLite no
    write lock) is held while a receiver takes its time to answer. `now` is the clock the
    backoff runs on (tests move it instead of sleeping).
    """
    now = now or utcnow()
    delivered = failed = 0
    with reading(db) as session:
        endpoints = list(session.scalars(sa.select(WebhookDelivery.endpoint_id).where(
            WebhookDelivery.status == "pending").distinct()))
    for endpoint_id in endpoints:
        while (claim := _claim_next(db, endpoint_id, now)) is not None:
            code, error = _send(claim, now, timeout)
            status = _record(db, claim, code, error, now)
            delivered += status == "delivered"
            failed += status == "failed"
            if status == "pending":
                break  # retried later; the ones behind it wait, to keep the order
    with reading(db) as session:
        pending = session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == "pending"))
    return DeliveryPass(delivered, failed, pending)


def list_deliveries(db: Database, limit: int = 50) -> list[DeliveryInfo]:
    """The delivery log, newest event first."""
    query = (sa.select(WebhookDelivery, OutboxEvent.type, OutboxEvent.created_at, WebhookEndpoint.url)
             .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
             .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
             .order_by(WebhookDelivery.event_id.desc(), WebhookDelivery.endpoint_id).limit(limit))
    with reading(db) as session:
        return [DeliveryInfo(str(d.id), d.event_id, event_type, str(d.endpoint_id), url, d.status,
                             d.attempts, d.last_status_code, d.last_error, d.next_attempt_at,
                             d.delivered_at, created_at)
                for d, event_type, created_at, url in session.execute(query)]

