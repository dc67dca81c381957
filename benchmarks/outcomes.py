"""How long the outcomes take: `outcomes --json` in process and the Outcomes page's cold run.

    python benchmarks/outcomes.py [--tokens N] [--days N] [--periods N] [--runs N] [--url URL]

Fills a fresh SQLite file (or the empty database at --url) with `core.platform_data.demo` platform data over
--days days, then lays --periods closed allocation periods of equal length over those days,
ending where the default split seeded at install takes over (the demo's own history needs an
otherwise empty log, so it is left out). Then it times, as medians of --runs:

* `activation_outcomes` + the JSON the `outcomes --json` command prints (in process);
* the Outcomes page with AppTest, every cached read cleared before each run (cold) and not (warm).

Budgets (the outcomes issue): under 0.5 s for `outcomes --json` and 1 s for the page's cold run,
at 10 M tokens and 500 periods.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPLITS = ((80, 15, 3, 2), (75, 15, 6, 4), (65, 15, 12, 8), (80, 12, 5, 3), (77, 14, 6, 3))


def lay_periods(db, count: int, days: int) -> None:  # type: ignore[no-untyped-def]
    """`count` closed active periods over the `days` days before the seeded default."""
    import sqlalchemy as sa

    from db.models import AllocationLog

    with db.sessions.begin() as session:
        seeded = session.scalars(sa.select(AllocationLog)).one()
        end = seeded.effective_from
        step = timedelta(days=days) / count
        start = end - step * count
        rows = []
        for index in range(count):
            split = SPLITS[index % len(SPLITS)]
            begins = start + step * index
            rows.append({
                "id": uuid.uuid4(), "timestamp": begins, "status": "active",
                **{f"{b}_pct": Decimal(v) for b, v in zip(("reinvestment", "dao", "lucky", "creator"), split)},
                "reasoning": f"benchmark period {index}", "confidence": Decimal("0.8"),
                "input_metrics": {}, "proposed_by": ("ai", "system", "manual")[index % 3],
                "proposer_username": "bench", "reviewed_by": "bench", "reviewed_at": begins,
                "effective_from": begins, "effective_until": begins + step})
        session.execute(sa.insert(AllocationLog.__table__), rows)


def fill(url: str, tokens: int, days: int, periods: int) -> None:
    from core.database import connect
    from core.governance.accounts import add_user, count_accounts
    from core.platform_data.demo import generate_demo_data

    db = connect(url)
    started = time.perf_counter()
    lay_periods(db, periods, days)
    generate_demo_data(db, tokens=tokens, days=days)
    print(f"{periods} periods and demo data ({tokens:,} tokens, {days} days): "
          f"{time.perf_counter() - started:.1f} s")
    if count_accounts(db) == 0:
        add_user(db, "bench", "admin", "a benchmark password")
    db.engine.dispose()


def time_command(url: str, runs: int) -> float:
    from core.database import connect
    from core.platform_data.outcomes import activation_outcomes

    db = connect(url)
    activation_outcomes(db)  # imports, the engine's first connection

    def one() -> float:
        started = time.perf_counter()
        json.dumps([o.as_json() for o in activation_outcomes(db)])
        return time.perf_counter() - started

    result = statistics.median(one() for _ in range(runs))
    db.engine.dispose()
    return result


def time_page(runs: int) -> tuple[float, float]:
    """The Outcomes page's cold and warm runs, timed as `benchmarks/pages.py` times every page."""
    spec = importlib.util.spec_from_file_location("page_timing", ROOT / "benchmarks" / "pages.py")
    page_timing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page_timing)
    return page_timing.time_page("pages/9_Outcomes.py", runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--periods", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="a database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'outcomes.db'}"
        fill(url, args.tokens, args.days, args.periods)
        os.environ["DATABASE_URL"] = url
        from settings import get_settings

        get_settings.cache_clear()
        command = time_command(url, args.runs)
        cold, warm = time_page(args.runs)
        print(f"\n{args.tokens:,} tokens, {args.periods} periods over {args.days} days, "
              f"median of {args.runs} runs\n")
        print(f"{'measure':<34}{'ms':>8}{'budget':>9}")
        print(f"{'outcomes --json (in process)':<34}{command * 1000:>8.0f}{500:>9}")
        print(f"{'Outcomes page, cold':<34}{cold * 1000:>8.0f}{1000:>9}")
        print(f"{'Outcomes page, warm':<34}{warm * 1000:>8.0f}{'':>9}")


if __name__ == "__main__":
    main()
