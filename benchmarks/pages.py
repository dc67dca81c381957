"""How long each dashboard page's script run takes, at demo scale and at a million tokens.

    python benchmarks/pages.py [--tokens N] [--runs N] [--url DATABASE_URL]

Fills a fresh SQLite file (or the database at --url, which must hold no platform data) with
`core.platform_data.demo` data at the given scale, adds an admin, then runs every page with AppTest signed in
as that admin (an admin sees every section). For each page it prints the median of --runs script
runs twice over:

* cold: every cached read cleared before the run (what the first visitor after a TTL expiry
  waits for: all of the page's queries);
* warm: the cached reads in place (every other run: a click, a filter, a second visitor).

Budgets: 0.5 s a run on demo data (5,000 tokens), 1.5 s with 1,000,000 tokens. The process-wide
resources (the engine, the demo-data check) are made once before timing, as in a running server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["app.py", "pages/1_Review.py", "pages/2_Propose.py", "pages/3_Rebalancer.py",
         "pages/4_History.py", "pages/5_Performance.py", "pages/6_Distributions.py",
         "pages/7_Activity.py", "pages/8_Admin.py", "pages/9_Outcomes.py",
         "pages/10_Experiments.py"]


def fill(url: str, tokens: int) -> None:
    from core.database import connect
    from core.governance.accounts import add_user, count_accounts
    from core.platform_data.demo import generate_demo_data

    db = connect(url)
    started = time.perf_counter()
    generate_demo_data(db, tokens=tokens)
    print(f"demo data, {tokens:,} tokens: {time.perf_counter() - started:.1f} s")
    if count_accounts(db) == 0:
        add_user(db, "bench", "admin", "a benchmark password")
    db.engine.dispose()


def time_page(page: str, runs: int) -> tuple[float, float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.app.helpers import sign_in_as

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    sign_in_as(at, "bench")
    if page != "app.py":
        at.switch_page(page)
    at.run()  # imports, the engine, the first fill of the caches
    if at.exception:
        raise SystemExit(f"{page} failed: {[e.message for e in at.exception]}")

    def one(clear: bool) -> float:
        if clear:
            st.cache_data.clear()
        started = time.perf_counter()
        at.run()
        return time.perf_counter() - started

    cold = statistics.median(one(True) for _ in range(runs))
    warm = statistics.median(one(False) for _ in range(runs))
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="a database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    budget = 0.5 if args.tokens <= 5000 else 1.5
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'pages.db'}"
        fill(url, args.tokens)
        os.environ["DATABASE_URL"] = url
        from settings import get_settings

        get_settings.cache_clear()
        print(f"\n{args.tokens:,} tokens, median of {args.runs} runs, budget {budget:.1f} s a run\n")
        print(f"{'page':<26}{'cold (ms)':>11}{'warm (ms)':>11}  within budget")
        for page in PAGES:
            cold, warm = time_page(page, args.runs)
            verdict = "yes" if cold <= budget else ("warm only" if warm <= budget else "NO")
            print(f"{page:<26}{cold * 1000:>11.0f}{warm * 1000:>11.0f}  {verdict}")


if __name__ == "__main__":
    main()
