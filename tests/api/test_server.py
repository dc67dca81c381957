"""The design's quick start over HTTP, as written with only the host and key changed: a real
`python -m api` on a free port, driven with curl, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.platform_data.csv_import import import_csv
from core.platform_data.demo import generate_demo_data
from db.engine import open_database
from db.types import utcnow
from tests.api.conftest import seed_team

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(*args: str) -> tuple[int, dict | list]:
    """curl as a person would type it; returns the status and the JSON answer."""
    done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args], capture_output=True,
                          text=True, timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


@contextmanager
def api_server(db_url: str, *flags: str) -> Iterator[str]:
    """A real `python -m api` on a free port (its own environment: no OpenAI key, no trusted
    proxies), until the block ends; yields its base URL once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENAI") and k != "FORWARDED_ALLOW_IPS"}
    env.update(DATABASE_URL=db_url, API_PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "api", "--host", "127.0.0.1", *flags],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if curl(f"{base}/health")[0] == 200:
                    break
            except (subprocess.CalledProcessError, ValueError):
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the API did not start within 60 s"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db = open_database(db_url)
    tokens, _ = seed_team(db)
    generate_demo_data(db, seed=7, days=40, tokens=300)  # a platform with a story to read
    # ...whose DAO treasury just ran low: the rule engine will want to rebalance.
    treasury = tmp_path / "treasury.csv"
    treasury.write_text(f"at,balance_usd\n{utcnow().replace(microsecond=0).isoformat()},120.00\n")
    import_csv(db, "treasury", treasury)
    db.engine.dispose()
    with api_server(db_url) as base:
        yield base, tokens


def test_the_design_quick_start_runs_over_http(server):
    base, tokens = server
    status, health = curl(f"{base}/health")
    assert health["status"] == "ok"

    # 2. Run First Analysis: the design's curl, host and key changed.
    status, analysis = curl("-X", "POST", f"{base}/functions/v1/profit-rebalancer",
                            "-H", f"Authorization: Bearer {tokens['ann']}")
    assert status == 200, analysis
    assert analysis["success"] is True and analysis["engine"] == "rules"
    assert analysis["current_allocation"] == {"reinvestment": 80, "dao": 15, "lucky": 3, "creator": 2}
    assert analysis["should_rebalance"] is True, analysis["reasoning"]
    proposal_id = analysis["proposal_id"]

    # 3. Review Proposal, through the API.
    status, pending = curl(f"{base}/api/v1/proposals", "-H", f"Authorization: Bearer {tokens['gus']}")
    assert pending[0]["id"] == proposal_id  # newest first (the demo data has older ones)
    status, review = curl("-X", "POST", f"{base}/api/v1/proposals/{proposal_id}/reviews",
                          "-H", f"Authorization: Bearer {tokens['gus']}",
                          "-H", "Content-Type: application/json",
                          "-d", '{"decision": "approved", "notes": "Metrics support this change"}')
    assert (status, review["status"]) == (200, "active")

    # 4. Verify Active Allocation.
    status, current = curl(f"{base}/api/v1/allocation", "-H", f"Authorization: Bearer {tokens['vic']}")
    assert current["id"] == proposal_id
    assert {k: current[k] for k in ("reinvestment", "dao", "lucky", "creator")} \
        == analysis["suggested_allocation"]

    # 5. Profit Distribution Uses New Split; the same key again is answered, not repeated.
    distribute = ["-X", "POST", f"{base}/functions/v1/manage-profits",
                  "-H", f"Authorization: Bearer {tokens['ann']}",
                  "-H", "Content-Type: application/json",
                  "-d", '{"profit": "1000.03", "key": "2026-11-24"}']
    first_status, first = curl(*distribute)
    again_status, again = curl(*distribute)
    assert (first_status, again_status) == (201, 200)
    assert first["allocation_id"] == proposal_id and again == {**first, "created": False}
    assert sum(map(float, first["amounts"].values())) == pytest.approx(1000.03)
    status, refused = curl(*distribute[:-1], '{"profit": "999", "key": "2026-11-24"}')
    assert status == 409 and refused["errors"][0].startswith("key: '2026-11-24' was already used")


def test_the_server_refuses_to_start_on_an_unreachable_database_with_one_line():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    done = subprocess.run([sys.executable, "-m", "api"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: database: cannot be reached (")
    assert "Traceback" not in done.stderr
