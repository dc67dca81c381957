"""How long `demo-data --tokens 1000000` takes on a fresh SQLite file, and the reads after it.

    python benchmarks/demo_data.py [--tokens N] [--url DATABASE_URL]

The target is under a minute for a million tokens. Also times compute_metrics and
compare_performance on the result, the two reads the dashboard makes on every visit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.database import upgrade_database  # noqa: E402
from core.platform_data.demo import generate_demo_data  # noqa: E402
from core.platform_data.metrics_store import compute_metrics  # noqa: E402
from core.platform_data.queries import compare_performance  # noqa: E402
from db.engine import open_database  # noqa: E402


def timed(label: str, func):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = func()
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(args.url or f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade_database(db)
        counts = timed(f"generate_demo_data(tokens={args.tokens:,})",
                       lambda: generate_demo_data(db, tokens=args.tokens))
        print(f"rows written: {counts}")
        metrics = timed("compute_metrics", lambda: compute_metrics(db))
        print(f"  {metrics.as_json()}")
        rows = timed("compare_performance", lambda: compare_performance(db))
        print(f"  {len(rows)} periods, {sum(r['tokens_launched'] for r in rows):,} tokens")
        db.engine.dispose()


if __name__ == "__main__":
    main()
