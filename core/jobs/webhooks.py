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

Where a webhook may go: an `http(s)` URL with a host (and a port when given), whose every
address (after DNS resolution, at registration and again at each delivery) is public, unless
PA_WEBHOOK_ALLOW_PRIVATE=1. A delivery connects to the address it checked, so a DNS answer
that changes between the check and the use cannot point it inside the network. Redirects are
never followed (a 3xx is a failed attempt), and each request has a total deadline
(`TIMEOUT_SECONDS`), not one per read. Endpoints are delivered side by side by a few threads,
each endpoint's deliveries in order by one of them, so one slow receiver costs the others
nothing while threads are free, and any failure (a URL that no longer parses, a receiver that
trickles, an error of ours) is that delivery's failed attempt, never the deliverer's.

Delivery is at least once: a deliverer that dies after sending but before recording sends again
once its claim lapses, with the same `X-PA-Delivery` id, by which a receiver can tell.

Retention: an event and its deliveries are deleted once the event is older than
`RETENTION_DAYS` (PA_WEBHOOK_RETENTION_DAYS overrides) and none of its deliveries is pending
(`prune_deliveries`, daily by the schedule and `webhooks prune`): a pending delivery is never
pruned, however old, so nothing waiting to be sent is lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from core.base.errors import KeyUnavailable, ValidationFailed
from core.base.keys import keys_for
from core.base.lookups import get_by_id
from core.base.parsing import parse_limit, parse_whole
from core.base.sessions import reading, writing
from core.base.urls import redact_url
from core.governance.actors import resolve_actor
from core.record.activity import record_activity
from core.record.audit import honoured
from core.record.outbox import ALL_EVENTS, EVENT_TYPES
from db.engine import Database
from db.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from db.types import utcnow

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
# The total deadline of one request: connecting, sending, and the answer's status line and
# headers (the body is not read). Tests lower it.
TIMEOUT_SECONDS = 10.0
# Endpoints delivered at once. A slow receiver holds one thread for at most
# ENDPOINT_BUDGET_SECONDS + TIMEOUT_SECONDS per pass; the others go on in the rest.
DELIVERY_THREADS = 4
# An endpoint starts no new request after this long in one pass (a receiver that answers
# just inside the deadline, with a backlog, would otherwise hold its thread for hours); the
# rest of its backlog waits for the next pass, still in order.
ENDPOINT_BUDGET_SECONDS = 30.0
# Waits after the 1st..5th failed attempt; the 6th failure gives up.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=6))
# A claimed delivery is someone's for this long: longer than a request can take, so two
# deliverers (the schedule and `webhooks deliver`) never send the same delivery at once.
CLAIM = timedelta(seconds=60)
MAX_ERROR_LENGTH = 300
# The delivery log's words for an attempt without a usable answer: a fixed set, so the log
# tells no more about what sits at an address (open, closed or silent port) than these do.
ERROR_TIMEOUT = "timeout"
ERROR_REFUSED = "connection refused"
ERROR_CONNECTION = "connection failed"
ERROR_TLS = "TLS failed"
ERROR_NAME = "host not found"
ERROR_REDIRECT = "redirect not followed"
ERROR_NOT_ALLOWED = "destination not allowed"
ERROR_BAD_URL = "invalid URL"
ERROR_INTERNAL = "delivery error"
DELIVERY_ERRORS = (ERROR_TIMEOUT, ERROR_REFUSED, ERROR_CONNECTION, ERROR_TLS, ERROR_NAME,
                   ERROR_REDIRECT, ERROR_NOT_ALLOWED, ERROR_BAD_URL, ERROR_INTERNAL)
ALLOW_PRIVATE_VARIABLE = "PA_WEBHOOK_ALLOW_PRIVATE"
# A host as http.client will put it in a request line: a DNS name (or an IPv4 literal).
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?")


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

@dataclass(frozen=True)
class _Target:
    """A parsed webhook URL: what a request to it needs."""

    scheme: str
    host: str          # the name or address to resolve (no brackets), also the TLS server name
    port: int
    host_header: str   # `host[:port]` as the URL gave it, brackets kept
    path: str          # path and query
    username: str | None
    password: str | None


def _parse_url(url: str) -> _Target:
    """The URL's parts, or ValueError saying what is wrong with it. Everything a request needs
    is checked here, so a URL that passes registration cannot fail to be sent later."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)  # ValueError for an unclosed `[`
    if parts.scheme not in ("http", "https"):
        raise ValueError("is not an http(s) URL")
    if any(not 32 < ord(c) < 127 for c in url):
        raise ValueError("has spaces, control or non-ASCII characters (percent-encode them)")
    port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    host = parts.hostname or ""
    if not host:
        raise ValueError("has no host")
    if not _HOST_NAME.fullmatch(host):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has a host that is neither a name nor an address") from None
    if port == 0:
        raise ValueError("has port 0")
    host_header = parts.netloc.rpartition("@")[2]
    return _Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80),
                   host_header, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                   unquote(parts.username) if parts.username is not None else None,
                   unquote(parts.password) if parts.password is not None else None)


def private_allowed() -> bool:
    """PA_WEBHOOK_ALLOW_PRIVATE=1: endpoints inside the network (and tests' local receivers)."""
    from settings import get_settings  # pydantic-settings only when a webhook needs it

    return get_settings().pa_webhook_allow_private


def address_allowed(address: str) -> bool:
    """Whether a webhook may go to this IP address: a public one only (not loopback, private,
    link-local, multicast, reserved, unspecified or shared), looking inside IPv6 forms that
    carry an IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_allowed(str(embedded)):
            return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local
                                 or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _resolve(target: _Target) -> list[tuple[int, Any]]:
    """(family, socket address) for each address the host resolves to; OSError if none."""
    found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                               proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in found))


def _destination_allowed(addresses: list[tuple[int, Any]]) -> bool:
    # Every address must pass, not one: a name answering with a public and a private address
    # would otherwise be a way in.
    return private_allowed() or all(address_allowed(sockaddr[0]) for _, sockaddr in addresses)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    shown = redact_url(url)[:80]
    try:
        target = _parse_url(url)
    except ValueError as error:
        raise ValidationFailed(f"url: {shown!r} {error}") from None
    if not private_allowed():
        try:
            addresses = _resolve(target)
        except OSError:
            raise ValidationFailed(f"url: the host of {shown!r} does not resolve") from None
        if not _destination_allowed(addresses):
            raise ValidationFailed(
                f"url: {shown!r} is on a loopback, link-local, private, multicast or reserved "
                f"address (set {ALLOW_PRIVATE_VARIABLE}=1 to allow receivers inside the network)")
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
        # The URL's credentials and query (an API key) stay out of the log too: it is for
        # every viewer, the full URL for admins (webhooks list, the Admin page).
        record_activity(session, "webhook_endpoint_added",
                        f"{actor.username} registered webhook endpoint {redact_url(url)} "
                        f"({', '.join(names)})",
                        {"endpoint_id": row.id, "url": redact_url(url), "events": names,
                         "by": actor.username})
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
                            f"{actor.username} removed webhook endpoint {redact_url(row.url)}",
                            {"endpoint_id": row.id, "url": redact_url(row.url),
                             "by": actor.username})
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


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address already checked, not to whatever the name resolves to
    now; the URL's host still goes in the Host header."""

    def __init__(self, target: _Target, addresses: list[tuple[int, Any]], deadline: float):
        super().__init__(target.host, target.port, timeout=max(deadline - time.monotonic(), 0.01))
        self._addresses, self._deadline = addresses, deadline

    def _connect_pinned(self) -> socket.socket:
        last: OSError = ConnectionRefusedError()
        for family, sockaddr in self._addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(max(self._deadline - time.monotonic(), 0.01))
                sock.connect(sockaddr)
                return sock
            except OSError as error:
                sock.close()
                last = error
        raise last

    def connect(self) -> None:
        self.sock = self._connect_pinned()


class _PinnedHTTPS(_PinnedHTTP):
    """As _PinnedHTTP, with TLS: the certificate is checked against the URL's host name."""

    _tls = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self._tls.wrap_socket(self._connect_pinned(), server_hostname=self.host)


def _send(claim: _Claim, now: datetime, timeout: float) -> tuple[int | None, str | None]:
    """POST the event; (status code, None) on a 2xx or an error status, (3xx, "redirect not
    followed") on a redirect, (None, one of DELIVERY_ERRORS) when no usable answer came."""
    try:
        target = _parse_url(claim.url)
    except ValueError:
        return None, ERROR_BAD_URL  # stored before URLs were parsed at registration
    deadline = time.monotonic() + timeout
    try:
        addresses = _resolve(target)
    except OSError:
        return None, ERROR_NAME
    if not _destination_allowed(addresses):
        return None, ERROR_NOT_ALLOWED
    headers = {
        "Host": target.host_header, "Content-Type": "application/json",
        "User-Agent": "profit-allocation-webhooks/1", "X-PA-Event": claim.event_type,
        "X-PA-Delivery": str(claim.delivery_id),
        "X-PA-Signature": signature(claim.secret, int(now.timestamp()), claim.body)}
    if target.username is not None:
        pair = f"{target.username}:{target.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target, addresses, deadline)
    expired = threading.Event()

    def expire() -> None:
        # Socket timeouts are per read: a receiver sending a byte every few seconds would never
        # hit one. At the deadline the socket is shut, which ends whatever read is waiting.
        expired.set()
        if connection.sock is not None:
            try:
                socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)  # not TLS's close_notify
            except OSError:
                pass

    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=claim.body, headers=headers)
        code = connection.getresponse().status
    except Exception as error:  # noqa: BLE001 (every failure is this attempt's, in fixed words)
        return None, ERROR_TIMEOUT if expired.is_set() else _error_text(error)
    finally:
        watchdog.cancel()
        connection.close()
    if expired.is_set():
        return None, ERROR_TIMEOUT
    if 300 <= code < 400:
        return code, ERROR_REDIRECT
    return code, None


def _error_text(error: BaseException) -> str:
    if isinstance(error, TimeoutError):  # socket.timeout too
        return ERROR_TIMEOUT
    if isinstance(error, ConnectionRefusedError):
        return ERROR_REFUSED
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return ERROR_TLS
    if isinstance(error, OSError | http.client.HTTPException):
        return ERROR_CONNECTION
    log.warning("webhook delivery: unexpected %s", type(error).__name__, exc_info=error)
    return ERROR_INTERNAL


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
                            f"webhook {claim.event_type} to {redact_url(claim.url)} given up after "
                            f"{claim.attempt} attempts ({row.last_error})",
                            {"delivery_id": row.id, "event_id": row.event_id,
                             "endpoint_id": row.endpoint_id, "attempts": claim.attempt,
                             "last_status_code": code, "last_error": row.last_error})
        else:
            row.next_attempt_at = now + BACKOFF[claim.attempt - 1]
        return row.status


def _deliver_endpoint(db: Database, endpoint_id: uuid.UUID, now: datetime,
                      timeout: float) -> tuple[int, int]:
    """One endpoint's due deliveries, oldest first, until one is not delivered or its budget
    for this pass is spent: (delivered, failed)."""
    delivered = failed = 0
    budget_ends = time.monotonic() + ENDPOINT_BUDGET_SECONDS
    while time.monotonic() < budget_ends and (claim := _claim_next(db, endpoint_id, now)):
        try:
            code, error = _send(claim, now, timeout)
        except Exception:  # a bug of ours fails this attempt (retried), not the pass
            log.exception("webhook delivery %s: unexpected error", claim.delivery_id)
            code, error = None, ERROR_INTERNAL
        status = _record(db, claim, code, error, now)
        delivered += status == "delivered"
        failed += status == "failed"
        if status == "pending":
            break  # retried later; the ones behind it wait, to keep the order
    return delivered, failed


def _deliver_endpoint_isolated(db: Database, endpoint_id: uuid.UUID, now: datetime,
                               timeout: float) -> tuple[int, int]:
    try:
        return _deliver_endpoint(db, endpoint_id, now, timeout)
    except Exception:  # e.g. the database failed mid-way: the other endpoints still go
        log.exception("webhook delivery to endpoint %s stopped", endpoint_id)
        return 0, 0


def deliver_due(db: Database, now: datetime | None = None, *,
                timeout: float | None = None) -> DeliveryPass:
    """One pass: each endpoint's due deliveries, oldest first, until one is not delivered.

    Endpoints go side by side (DELIVERY_THREADS), each endpoint's deliveries one after another
    in one thread, so order per endpoint holds and a slow receiver delays only itself. Each
    claim and each outcome is its own short transaction: no transaction (and on SQLite no
    write lock) is held while a receiver takes its time to answer. `now` is the clock the
    backoff runs on (tests move it instead of sleeping); `timeout` defaults to TIMEOUT_SECONDS
    as it is when called.
    """
    now = now or utcnow()
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    with reading(db) as session:
        endpoints = list(session.scalars(sa.select(WebhookDelivery.endpoint_id).where(
            WebhookDelivery.status == "pending").distinct()))
    delivered = failed = 0
    if endpoints:
        with ThreadPoolExecutor(min(DELIVERY_THREADS, len(endpoints)),
                                thread_name_prefix="webhooks") as pool:
            for sent, gave_up in pool.map(
                    lambda endpoint_id: _deliver_endpoint_isolated(db, endpoint_id, now, timeout),
                    endpoints):
                delivered += sent
                failed += gave_up
    with reading(db) as session:
        pending = session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == "pending"))
    return DeliveryPass(delivered, failed, pending)


DEFAULT_DELIVERIES_LISTED = 50


def list_deliveries(db: Database, limit: Any = DEFAULT_DELIVERIES_LISTED) -> list[DeliveryInfo]:
    """The delivery log, newest event first (`limit` read as `--limit` is everywhere)."""
    limit = parse_limit(limit) or DEFAULT_DELIVERIES_LISTED
    query = (sa.select(WebhookDelivery, OutboxEvent.type, OutboxEvent.created_at, WebhookEndpoint.url)
             .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
             .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
             .order_by(WebhookDelivery.event_id.desc(), WebhookDelivery.endpoint_id).limit(limit))
    with reading(db) as session:
        return [DeliveryInfo(str(d.id), d.event_id, event_type, str(d.endpoint_id), url, d.status,
                             d.attempts, d.last_status_code, d.last_error, d.next_attempt_at,
                             d.delivered_at, created_at)
                for d, event_type, created_at, url in session.execute(query)]



# --- retention -----------------------------------------------------------------------------------

# Days an event and its delivery log are kept, counted from the event, once no delivery of it is
# pending. A month covers the questions a receiver's operator asks ("did you send it? when?")
# while the outbox stays the size of a month's subscribed events.
RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
RETENTION_FIELD = "older_than_days"


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted, and the moment events had to be older than."""

    deliveries: int
    events: int
    older_than: datetime
    older_than_days: int

    def as_json(self) -> dict[str, Any]:
        return {"deliveries": self.deliveries, "events": self.events,
                "older_than": self.older_than.isoformat(), "older_than_days": self.older_than_days}


def retention_days() -> int:
    """The configured retention: PA_WEBHOOK_RETENTION_DAYS, else RETENTION_DAYS."""
    from settings import get_settings  # pydantic-settings only when a prune needs it

    configured = get_settings().pa_webhook_retention_days
    return RETENTION_DAYS if configured is None else parse_whole(
        configured, "PA_WEBHOOK_RETENTION_DAYS", minimum=1, maximum=MAX_RETENTION_DAYS)


def prune_deliveries(db: Database, now: datetime | None = None,
                     older_than_days: Any = None) -> Pruned:
    """Delete every event older than the retention (`older_than_days`, default
    `retention_days()`) none of whose deliveries is pending, with its deliveries, in one
    transaction; recorded in activity when it deleted anything. `now` stands for the clock."""
    days = retention_days() if older_than_days is None else parse_whole(
        older_than_days, RETENTION_FIELD, minimum=1, maximum=MAX_RETENTION_DAYS)
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    # Decided per event, not per delivery: the log never shows half an event, and an event one
    # endpoint still waits for keeps its other endpoints' rows too.
    finished = (sa.select(OutboxEvent.id).where(
        OutboxEvent.created_at < cutoff,
        ~sa.exists().where(WebhookDelivery.event_id == OutboxEvent.id,
                           WebhookDelivery.status == "pending"))
        .scalar_subquery())
    with writing(db) as session:
        deliveries = session.execute(
            sa.delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(finished))
            .execution_options(synchronize_session=False)).rowcount
        events = session.execute(
            sa.delete(OutboxEvent).where(OutboxEvent.id.in_(finished))
            .execution_options(synchronize_session=False)).rowcount
        if deliveries or events:
            record_activity(session, "webhook_log_pruned",
                            f"webhook log pruned: {events} event(s) and {deliveries} delivery "
                            f"record(s) older than {days} days",
                            {"events": events, "deliveries": deliveries, "older_than_days": days,
                             "older_than": cutoff.isoformat()})
    return Pruned(deliveries, events, cutoff, days)
