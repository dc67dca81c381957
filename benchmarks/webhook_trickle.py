"""What trickling webhook receivers cost a healthy one, at the real 10 s deadline.

    python benchmarks/webhook_trickle.py [--tricklers 1 5] [--deadline 10]

For each count N: a fresh SQLite file, N receivers that answer `200 OK` one byte every 0.5 s for
a minute (a per-read timeout never fires on them) and one healthy receiver, all on 127.0.0.1
(PA_WEBHOOK_ALLOW_PRIVATE=1), each subscribed to everything; three events; one delivery pass.
Prints when the healthy receiver had its three events, and how long the pass took. Before the
total deadline and the delivery threads, one trickler held the pass for its whole minute and was
recorded as delivered; the healthy endpoint waited behind it.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PA_WEBHOOK_ALLOW_PRIVATE"] = "1"
os.environ.setdefault("PA_AUDIT_KEY", "benchmark-only-master-key-" + "k" * 32)


def trickler(stop: threading.Event) -> str:
    server = socket.create_server(("127.0.0.1", 0))

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 120:
                    if stop.is_set():
                        return
                    connection.sendall(bytes([byte]))
                    time.sleep(0.5)
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook"


def healthy(arrivals: list[float]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


def run(tricklers: int, deadline: float) -> None:
    from core.database import connect
    from core.governance.accounts import add_user
    from core.governance.policy_store import set_policy
    from core.jobs import webhooks

    webhooks.TIMEOUT_SECONDS = deadline
    stop, arrivals = threading.Event(), []
    with tempfile.TemporaryDirectory() as folder:
        db = connect(f"sqlite:///{Path(folder) / 'bench.db'}")
        add_user(db, "ada", "admin", None, email="ada@example.org")
        for _ in range(tricklers):
            webhooks.add_endpoint(db, trickler(stop), "all", by="ada")
        server, url = healthy(arrivals)
        webhooks.add_endpoint(db, url, "all", by="ada")
        for value in ("10", "11", "12"):
            set_policy(db, "max_step", value, by="ada")
        began = time.monotonic()
        result = webhooks.deliver_due(db)
        took = time.monotonic() - began
        stop.set()
        server.shutdown()
        db.engine.dispose()
    last = f"{arrivals[-1] - began:.2f} s" if len(arrivals) == 3 else f"only {len(arrivals)} of 3"
    print(f"{tricklers} trickler(s), {webhooks.DELIVERY_THREADS} threads, deadline {deadline:g} s: "
          f"healthy endpoint had its 3 events after {last}; pass took {took:.2f} s; {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tricklers", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--deadline", type=float, default=10.0)
    args = parser.parse_args()
    for count in args.tricklers:
        run(count, args.deadline)


if __name__ == "__main__":
    main()
