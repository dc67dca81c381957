"""How fast parallel password guessing against one account gets through the sign-in throttle.

    python benchmarks/sign_in_guessing.py [--threads 16] [--seconds 60] [--url DATABASE_URL]

Adds the account `target` (to a throwaway PostgreSQL server started for the run, or to the
database at --url, which must not have it yet), then --threads threads guess its password for
--seconds through `core.governance.accounts.authenticate`, all from one client address, as an attacker with
one machine would. It prints how many guesses reached password verification (answered "wrong
password") and how many the throttle turned away before it, as attempts a minute, and the failure
count the database holds at the end (which must equal the verified guesses).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "the right password, never guessed"


def failure_count(db) -> int:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        if "sign_in_failures" in tables:
            return conn.scalar(sa.text(
                "SELECT coalesce(sum(failures), 0) FROM sign_in_failures WHERE username = 'target'"))
        # The schema before the throttle moved to (account, client): a column of users.
        return conn.scalar(sa.text("SELECT failed_logins FROM users WHERE username = 'target'"))


def guess(url: str, threads: int, seconds: float) -> None:
    from core.base.errors import Refused
    from core.database import connect
    from core.governance.accounts import add_user, authenticate, count_accounts

    db = connect(url)
    if count_accounts(db) == 0:
        add_user(db, "bench-admin", "admin", "an admin password for the benchmark")
    add_user(db, "target", "admin", PASSWORD, by="bench-admin")
    takes_client = "client" in inspect.signature(authenticate).parameters
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def attacker(number: int) -> None:
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            kwargs = {"client": "203.0.113.7"} if takes_client else {}
            try:
                authenticate(db, "target", f"guess {number}-{attempt}", **kwargs)
                outcome = "signed in"
            except Refused as refusal:
                outcome = "verified" if "wrong password" in str(refusal) else "throttled"
            except Exception as error:  # noqa: BLE001 - a benchmark reports, it does not stop
                outcome = f"error: {type(error).__name__}"
            with lock:
                outcomes[outcome] += 1

    workers = [threading.Thread(target=attacker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    per_minute = {k: v * 60 / elapsed for k, v in outcomes.items()}
    print(f"{threads} threads, {elapsed:.1f} s, one account, one client")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:<12} {count:>6}  ({per_minute[outcome]:.1f} a minute)")
    print(f"  guesses that reached password verification: {per_minute.get('verified', 0):.1f} a minute")
    print(f"  failures counted by the database: {failure_count(db)} "
          f"(verified guesses: {outcomes['verified']})")
    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    if args.url:
        guess(args.url, args.threads, args.seconds)
        return
    import sqlalchemy as sa

    from tests.pg_server import start_pg_server

    server = start_pg_server()
    try:
        admin = sa.create_engine(server.base_url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE guessing")
        admin.dispose()
        guess(server.base_url + "/guessing", args.threads, args.seconds)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
