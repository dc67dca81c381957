"""`python -m core current --json` as a whole process, side by side with its floors.

    python benchmarks/startup.py --url URL [--runs R]

Prints medians of R interleaved runs (wall and CPU seconds, from the OS's accounting of each
finished child) of:

* `current --json` against --url (it must already be at head: the run only reads);
* the library floor: a process that imports only what `current` cannot do without (Typer with
  the pydantic it validates parameters with, SQLAlchemy, the URL's driver) and exits as
  `python -m core` does (its heap frozen: core/__main__.py);
* the interpreter floor: `python -c pass`.

Budget (issue 9): `current --json` under 0.5 s as a whole process, on SQLite and PostgreSQL.
The size of the database does not matter: `current` reads the one current row of the log.
`python -X importtime -m core --db URL current --json` shows where the time goes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    driver = "psycopg" if args.url.startswith("postgres") else "sqlite3"
    commands = {
        "current --json": [sys.executable, "-m", "core", "--db", args.url, "current", "--json"],
        "library floor": [sys.executable, "-c",
                          f"import gc, typer, typer._adapters, sqlalchemy, {driver}; gc.freeze()"],
        "interpreter floor": [sys.executable, "-c", "pass"],
    }
    for command in commands.values():  # warm the OS's file cache and the bytecode caches
        timed_run(command)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            samples[name].append(timed_run(command))
    print(f"{os.path.basename(sys.executable)}, {args.runs} runs each, medians")
    print(f"{'':20} {'wall s':>8} {'cpu s':>8}")
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:20} {wall:8.3f} {cpu:8.3f}")


if __name__ == "__main__":
    main()
