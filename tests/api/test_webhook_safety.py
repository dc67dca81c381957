"""Webhooks against receivers that misbehave or should not be reached, on SQLite and PostgreSQL:
URLs that cannot be sent to are refused at registration; a bad URL, a trickling receiver or a
redirect is that delivery's failed attempt and costs the other endpoints (almost) nothing;
destinations inside the network are refused unless PA_WEBHOOK_ALLOW_PRIVATE=1, at registration
and again at delivery; a URL's credentials never reach the activity log. Receivers are local
servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.base.errors import ValidationFailed
from core.governance import policy_store
from core.governance.accounts import add_user
from core.jobs import webhooks
from core.record.activity import list_activity, record_activity
from db.models import WebhookEndpoint
from db.types import utcnow
from settings import get_settings
from tests.api.receiver import Receiver


@pytest.fixture
def team(db):
    add_user(db, "ada", "admin", None, email="ada@example.org")
    return db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def private_webhooks_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PA_WEBHOOK_ALLOW_PRIVATE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class Trickler:
    """A receiver that answers `200 OK` one byte every `every` seconds, for `for_seconds`: a
    per-read timeout never fires on it."""

    def __init__(self, every: float = 0.2, for_seconds: float = 8.0) -> None:
        self.every, self.for_seconds = every, for_seconds
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"X-Slow: " + b"." * 1000
        ends = time.monotonic() + self.for_seconds
        with connection:
            connection.recv(65536)
            try:
                for byte in answer:
                    if time.monotonic() > ends or self.stopped.is_set():
                        break
                    connection.sendall(bytes([byte]))
                    time.sleep(self.every)
                connection.sendall(b"\r\n\r\n")
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.server.close()


def subscribe(db, url: str, secret_to: Receiver | None = None) -> str:
    added = webhooks.add_endpoint(db, url, "all", by="ada")
    if secret_to is not None:
        secret_to.secret = added.secret
    return added.endpoint.id


def log_of(db, endpoint_id: str):
    return [d for d in webhooks.list_deliveries(db) if d.endpoint_id == endpoint_id]


# --- registration ----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "says"), [
    ("http://127.0.0.1:9/a hook", "has spaces"),
    ("http://127.0.0.1:abc/hook", "Port could not be cast"),
    ("http://127.0.0.1:99999/hook", "Port out of range"),
    ("http://[::1/", "Invalid IPv6 URL"),
    ("http://exa%mple.org/hook", "neither a name nor an address"),
    ("http:///hook", "has no host"),
    ("ftp://127.0.0.1/hook", "is not an http"),
])
def test_a_url_a_request_could_not_be_made_to_is_refused_at_registration(
        team, private_webhooks_allowed, url, says):
    with pytest.raises(ValidationFailed, match=f"^url: .*{says}"):
        webhooks.add_endpoint(team, url, "all", by="ada")
    assert webhooks.list_endpoints(team) == []


def test_the_cli_refuses_a_bad_url_with_one_line_naming_url_and_exit_3(
        team, db_url, private_webhooks_allowed):
    for url in ("http://127.0.0.1:abc/hook", "http://[::1/", "http://a b/"):
        result = CliRunner().invoke(app, ["--db", db_url, "webhooks", "add", url, "--events",
                                          "all", "--by", "ada"])
        assert result.exit_code == 3, result.output
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: url: ")


@pytest.mark.parametrize("url", [
    "http://localhost/hook", "http://127.0.0.1:8080/hook", "http://0x7f000001/hook",
    "http://2130706433/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook", "http://192.168.0.1/hook",
    "http://172.16.0.1/hook", "http://100.64.0.1/hook", "http://224.0.0.1/hook",
    "http://0.0.0.0/hook", "http://[fe80::1]/hook", "http://[fd00::1]/hook",
    "http://240.0.0.1/hook", "http://[2002:7f00:1::]/hook",
])
def test_a_destination_inside_the_network_is_refused(team, private_webhooks_refused, url):
    with pytest.raises(ValidationFailed, match="^url: .*PA_WEBHOOK_ALLOW_PRIVATE=1"):
        webhooks.add_endpoint(team, url, "all", by="ada")


def test_public_addresses_are_allowed_and_private_ones_are_not():
    assert webhooks.address_allowed("93.184.216.34")
    assert webhooks.address_allowed("2606:2800:220:1:248:1893:25c8:1946")
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:10.0.0.1",
                    "fe80::1%eth0", "255.255.255.255", "198.18.0.1", "192.0.2.1"):
        assert not webhooks.address_allowed(address), address


def test_a_destination_allowed_at_registration_is_checked_again_at_delivery(
        team, receiver, monkeypatch):
    monkeypatch.setenv("PA_WEBHOOK_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    endpoint = subscribe(team, receiver.url, receiver)
    monkeypatch.delenv("PA_WEBHOOK_ALLOW_PRIVATE")
    get_settings.cache_clear()
    try:
        policy_store.set_policy(team, "max_step", "10", by="ada")
        assert webhooks.deliver_due(team).pending == 1
    finally:
        get_settings.cache_clear()
    [log] = log_of(team, endpoint)
    assert (log.status, log.attempts, log.last_error) == ("pending", 1, "destination not allowed")
    assert receiver.attempts == 0


# --- delivery: each failure is its own delivery's -------------------------------------------

def test_a_stored_url_that_cannot_be_sent_to_fails_its_delivery_and_not_the_others(
        team, receiver, db_url, private_webhooks_allowed):
    bad = subscribe(team, receiver.url)
    with team.sessions.begin() as session:  # stored before URLs were parsed at registration
        session.get(WebhookEndpoint, uuid.UUID(bad)).url = "http://127.0.0.1:abc/hook"
    good = subscribe(team, receiver.url, receiver)
    policy_store.set_policy(team, "max_step", "10", by="ada")
    now = utcnow()
    once = CliRunner().invoke(app, ["--db", db_url, "webhooks", "deliver", "--once", "--json"])
    assert once.exit_code == 0, once.output
    assert json.loads(once.stdout) == {"delivered": 1, "failed": 0, "pending": 1}
    assert [d.status for d in log_of(team, good)] == ["delivered"]
    [failed] = log_of(team, bad)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "invalid URL")
    assert now + timedelta(seconds=50) < failed.next_attempt_at < now + timedelta(minutes=2)
    assert receiver.types() == ["policy.changed"]


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
        team, receiver, private_webhooks_allowed):
    elsewhere = Receiver()
    try:
        endpoint = subscribe(team, receiver.url, receiver)
        receiver.statuses, receiver.location = [302], elsewhere.url
        policy_store.set_policy(team, "max_step", "10", by="ada")
        assert webhooks.deliver_due(team).as_json() == {"delivered": 0, "failed": 0, "pending": 1}
        [log] = log_of(team, endpoint)
        assert (log.attempts, log.last_status_code, log.last_error) == (
            1, 302, "redirect not followed")
        assert elsewhere.attempts == 0
    finally:
        elsewhere.stop()


def test_a_closed_port_is_logged_in_the_fixed_words(team, receiver, private_webhooks_allowed):
    endpoint = subscribe(team, receiver.url, receiver)
    receiver.stop()
    policy_store.set_policy(team, "max_step", "10", by="ada")
    webhooks.deliver_due(team)
    [log] = log_of(team, endpoint)
    assert log.last_error == "connection refused" and log.last_error in webhooks.DELIVERY_ERRORS


def test_a_trickling_receiver_times_out_at_the_total_deadline_and_delays_no_one_else(
        team, receiver, private_webhooks_allowed, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1.5)
    trickler = Trickler(every=0.2, for_seconds=8)
    try:
        slow = subscribe(team, trickler.url)
        subscribe(team, receiver.url, receiver)
        for value in ("10", "11", "12"):
            policy_store.set_policy(team, "max_step", value, by="ada")
        began = time.monotonic()
        result = webhooks.deliver_due(team)
        took = time.monotonic() - began
    finally:
        trickler.stop()
    assert result.as_json() == {"delivered": 3, "failed": 0, "pending": 3}
    # Per-read timeouts would have waited out all 8 s of trickle and called it delivered.
    assert took < 1.5 + 1.5, took
    [head] = [d for d in log_of(team, slow) if d.attempts]
    assert (head.status, head.last_error, head.last_status_code) == ("pending", "timeout", None)
    # The healthy endpoint got all three while the trickler was still trickling.
    assert len(receiver.received) == 3
    assert receiver.received[-1].at - began < 1.0, receiver.received[-1].at - began


# --- credentials stay with the admins -------------------------------------------------------

def test_a_urls_credentials_reach_the_receiver_but_not_the_activity_log(
        receiver, private_webhooks_allowed, api):
    team = api.db  # ada (admin) and vic (viewer) among its accounts
    secret_url = receiver.url.replace("http://", "http://hook:pw-s3cret@") + "?api_key=k-s3cret"
    endpoint = subscribe(team, secret_url, receiver)
    policy_store.set_policy(team, "max_step", "10", by="ada")
    webhooks.deliver_due(team)
    [got] = receiver.received
    assert got.headers["Authorization"] == "Basic aG9vazpwdy1zM2NyZXQ="  # hook:pw-s3cret
    webhooks.remove_endpoint(team, endpoint, by="ada")
    shown = api.get("vic", "/api/v1/activity").text
    assert "webhook_endpoint_added" in shown and "webhook_endpoint_removed" in shown
    assert "s3cret" not in shown and "***@127.0.0.1" in shown and "/hook?***" in shown
    assert webhooks.list_endpoints(team, include_removed=True)[0].url == secret_url  # admins


def test_activity_written_before_redaction_is_redacted_when_read(team):
    url = "https://hook:pw-s3cret@hooks.example.org/in?api_key=k-s3cret"
    with team.sessions.begin() as session:
        record_activity(session, "webhook_endpoint_added",
                        f"ada registered webhook endpoint {url} (all)", {"url": url})
    [entry] = [a for a in list_activity(team) if a.activity_type == "webhook_endpoint_added"]
    assert entry.description == ("ada registered webhook endpoint "
                                 "https://***@hooks.example.org/in?*** (all)")
    assert entry.metadata["url"] == "https://***@hooks.example.org/in?***"
    with team.engine.connect() as connection:  # the row itself is as it was written
        assert "s3cret" in connection.scalar(sa.text(
            "SELECT description FROM protocol_activity WHERE activity_type = "
            "'webhook_endpoint_added'"))


def test_the_readme_names_every_error_the_delivery_log_can_show_and_the_variable():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    flat = " ".join(readme.split())
    assert all(f"`{error}`" in flat for error in webhooks.DELIVERY_ERRORS)
    assert "`PA_WEBHOOK_ALLOW_PRIVATE`" in readme and "PA_WEBHOOK_ALLOW_PRIVATE=1" in flat
