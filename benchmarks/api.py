"""Requests per second of the HTTP API, measured with wrk against a real `python -m api`.

    python benchmarks/api.py [--url DATABASE_URL | --postgres] [--seconds 10] [--connections 8]

Starts `python -m api` (one uvicorn process, as the README runs it) on a free port on a fresh
SQLite file (or the database at --url, or a throwaway PostgreSQL with --postgres), makes an
analyst with a token, then runs wrk (Debian's `wrk` package) for:

* GET /api/v1/allocation (the split in force; one indexed read per request plus the token check);
* POST /functions/v1/manage-profits with a new key on every request (a ledger write each);
* POST /functions/v1/manage-profits with one key again and again (the idempotent replay: a read).

Prints requests/s and the latency percentiles wrk reports.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEW_KEY_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) thread_id = id end
function request()
  counter = counter + 1
  local body = string.format('{"profit": "1000.03", "key": "bench-RUN-%d-%d"}', thread_id, counter)
  return wrk.format("POST", nil, nil, body)
end
"""
SAME_KEY_BODY = '{"profit": "1000.03", "key": "bench-replay"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str) -> str:
    """An analyst and its token on the database at `url` (upgraded to head)."""
    from core.database import connect
    from core.governance.accounts import add_user, count_accounts
    from core.governance.api_tokens import create_token

    db = connect(url)
    if count_accounts(db) == 0:
        add_user(db, "bench-admin", "admin", None, email="bench-admin@example.org")
    analyst = f"bench-{time.time_ns()}"
    add_user(db, analyst, "analyst", None, by="bench-admin", email=f"{analyst}@example.org")
    token = create_token(db, analyst, "benchmark", by="bench-admin").token
    db.engine.dispose()
    return token


def wrk(base: str, path: str, token: str, seconds: int, connections: int, *,
        body: str | None = None, script: str | None = None) -> dict[str, str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script.replace("RUN", str(time.time_ns())))  # keys new on every run
        elif body is not None:
            lua.write(f'wrk.method = "POST"\nwrk.body = \'{body}\'\n')
    if script or body is not None:
        command += ["-s", lua.name]
    out = subprocess.run(command + [base + path], capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    found = {"rps": re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        found[f"p{pct}"] = match.group(1) if match else "?"
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    found["non_2xx"] = errors.group(1) if errors else "0"
    found["requests"] = re.search(r"(\d+) requests in", out).group(1)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    server = None
    if args.postgres:
        from tests.pg_server import start_pg_server

        server = start_pg_server()
        import sqlalchemy as sa

        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench")
        admin.dispose()
        url = server.base_url + "/bench"
    else:
        url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    token = prepare(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "API_PORT": str(port)}
    api = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        engine = url.split(":")[0].split("+")[0]
        print(f"engine {engine}, one uvicorn process, wrk -t2 -c{args.connections} "
              f"-d{args.seconds}s")
        print(f"{'route':<52} {'req/s':>8} {'p50':>9} {'p90':>9} {'p99':>9} {'non-2xx':>8}")
        runs = [("GET /api/v1/allocation", "/api/v1/allocation", {}),
                ("POST manage-profits (a new key each)", "/functions/v1/manage-profits",
                 {"script": NEW_KEY_SCRIPT}),
                ("POST manage-profits (same key: replay, 200)", "/functions/v1/manage-profits",
                 {"body": SAME_KEY_BODY})]
        for label, path, extra in runs:
            r = wrk(base, path, token, args.seconds, args.connections, **extra)
            print(f"{label:<52} {r['rps']:>8} {r['p50']:>9} {r['p90']:>9} {r['p99']:>9} "
                  f"{r['non_2xx']:>8}")
    finally:
        api.terminate()
        api.wait(timeout=20)
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
