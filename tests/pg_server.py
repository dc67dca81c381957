"""A throwaway PostgreSQL server for the test session.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
`postgres` OS user (Debian's package creates it). Fast, not durable: fsync and friends off.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_pg_bin() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    bin_dir: Path
    data_dir: Path
    port: int
    user: str
    _run_as: dict

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                              **self._run_as)

    def stop(self) -> None:
        subprocess.run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                        "stop"], capture_output=True, **self._run_as)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_pg_server() -> PgServer:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found: install Debian's postgresql package "
                           "(bash .ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="pa-pg-"))
    data_dir = root / "data"
    run_as: dict = {}
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
        run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        user = "postgres"
    server = PgServer(bin_dir, data_dir, free_port(), user, run_as)
    server._run(bin_dir / "initdb", "-D", data_dir, "-U", user, "-A", "trust", "-E", "UTF8",
                "--no-sync", "--locale", "C")
    options = (f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    server._run(bin_dir / "pg_ctl", "-D", data_dir, "-o", options, "-l", root / "log", "-w", "start")
    return server
