"""A webhook receiver for tests: a real HTTP server in a thread that checks each signature the
way a receiver following the contract would (HMAC-SHA256 of f"{t}.{body}" with the secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    event: dict[str, Any]
    headers: Any  # an email.message.Message: names are case-insensitive, as in HTTP
    signature_ok: bool
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class Receiver:
    """Answers `status` (a fixed code, or the next of a list) and records what it accepted;
    with `location`, each answer carries that `Location` header (a redirect, with a 3xx)."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    location: str | None = None

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if 200 <= status < 300:
                    receiver.received.append(Received(
                        json.loads(body), self.headers, receiver.check(self.headers, body),
                        time.monotonic()))
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check(self, headers: Any, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in headers["X-PA-Signature"].split(","))
        expected = hmac.new(self.secret.encode(), f"{parts['t']}.".encode() + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])

    def types(self) -> list[str]:
        return [r.event["type"] for r in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
