"""The dashboard's reads and the loaders at scale, side by side with their floors.

    python benchmarks/scale.py --url URL [--tokens N] [--periods P] [--days D] [--runs R]
                               [--load-tokens N] [--skip-pages] [--skip-load]
                               [--import-tokens N [--import-runs R] [--imports-only]]

Builds the database at --url (or reuses it when it already holds exactly N tokens and P active
allocation periods; a database holding anything else is refused): P - 1 closed periods with
random edges (to the microsecond) laid out before the seeded current split, then `demo-data`
with N tokens over D days. Then it prints, in one run, medians of --runs interleaved runs:

* `compare_performance` (the Performance page's query: the roll-up plus the raw edges) against
  the full-scan floor (count, avg, sum over every token: the best a query without
  pre-aggregation can do), the original design's query (its GROUP BY fixed, its BETWEEN kept)
  and the raw half-open join the roll-up replaced; every variant's token counts are checked;
* `compute_metrics` and `outcomes --json` (every activation's outcome) in process;
* every page's cold (caches cleared) and warm script run through AppTest;
* the load rate of `demo-data` against the engine's own bulk path (executemany in one
  transaction on SQLite, COPY on PostgreSQL) for the same rows, on a scratch database, and
  against the same bulk path with the tokens' indexes dropped and built after the rows (what
  demo-data itself does on SQLite), so each ratio can be read against either floor;
* with --import-tokens N, `import tokens` of a CSV file of N such rows against the engine's bulk
  path for the same rows (issue 18's budget: at least half its rate), medians of interleaved
  runs; --imports-only measures only that (the URL names the server or folder, nothing is built):
    python benchmarks/scale.py --url sqlite:///data/x.db --imports-only --import-tokens 1000000

At 1M tokens (a few minutes):
    python benchmarks/scale.py --url sqlite:///data/scale-1m.db --tokens 1000000
At 10M tokens and 500 periods (build once, then rerun on the same URL to reuse it):
    python benchmarks/scale.py --url sqlite:////work/scale/10m.db --tokens 10000000
    python benchmarks/scale.py --url postgresql+psycopg://postgres@127.0.0.1:55439/scale \\
        --tokens 10000000

Budgets (issue 9, at 10M tokens and 500 periods): compare at most 0.1 x the floor on
PostgreSQL and 0.25 x on SQLite; metrics under 0.2 s; every page cold under 1 s and warm under
0.2 s; loading at least half the engine's bulk rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time as clock, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from core.database import connect  # noqa: E402
from core.platform_data import demo, queries  # noqa: E402
from core.platform_data.metrics_store import compute_metrics  # noqa: E402
from db import bulk  # noqa: E402
from db.engine import Database  # noqa: E402
from db.models import AllocationLog, Token  # noqa: E402
from db.types import UTCDateTime, utcnow  # noqa: E402

DESIGN_QUERY = """
WITH allocation_periods AS (
  SELECT id, effective_from, effective_until, reinvestment_pct, dao_pct
  FROM profit_allocation_log WHERE status = 'active'
)
SELECT a.reinvestment_pct || '/' || a.dao_pct AS split, COUNT(t.id) AS tokens_launched,
       AVG(t.price) AS avg_price, SUM(t.volume_24h) AS total_volume
FROM allocation_periods a
LEFT JOIN tokens t ON t.created_at BETWEEN a.effective_from AND COALESCE(a.effective_until, :now)
GROUP BY a.id, split, a.effective_from
ORDER BY a.effective_from
"""
FLOOR_QUERY = "SELECT count(*), avg(price), sum(volume_24h) FROM tokens"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- building -------------------------------------------------------------------------------

def _counts(db: Database) -> tuple[int, int]:
    with db.reads() as session:
        tokens = session.scalar(sa.select(sa.func.count()).select_from(Token)) or 0
        periods = session.scalar(sa.select(sa.func.count()).select_from(AllocationLog)
                                 .where(AllocationLog.status == "active")) or 0
    return int(tokens), int(periods)


def _add_periods(db: Database, periods: int, start: datetime, seed: int) -> None:
    """periods - 1 closed active periods over [start, the seeded split's start), edges at
    random microseconds, so most period edges fall inside a minute."""
    rng = random.Random(f"{seed}/periods")
    with db.sessions.begin() as session:
        seeded = session.scalars(sa.select(AllocationLog)).one()
        end = seeded.effective_from
        span = int((end - start).total_seconds() * 1_000_000)
        cuts = sorted(rng.sample(range(1, span), periods - 2)) if periods > 2 else []
        edges = [start, *(start + timedelta(microseconds=c) for c in cuts), end]
        rows = []
        for number, (lo, hi) in enumerate(zip(edges, edges[1:])):
            shift = number % 3
            rows.append({"id": uuid.uuid4(), "timestamp": lo, "reinvestment_pct": Decimal(80 - shift),
                         "dao_pct": Decimal(15 + shift), "lucky_pct": Decimal(3),
                         "creator_pct": Decimal(2), "status": "active",
                         "reasoning": f"benchmark period {number}", "confidence": Decimal(1),
                         "input_metrics": {}, "proposed_by": "system",
                         "proposer_username": "bench", "effective_from": lo,
                         "effective_until": hi})
        session.execute(sa.insert(AllocationLog.__table__), rows)


def _progress(label: str) -> Callable[[int, int], None]:
    state = {"shown": -1, "started": time.perf_counter()}

    def show(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != state["shown"]:
            state["shown"] = tenth
            elapsed = time.perf_counter() - state["started"]
            log(f"  {label}: {done:,} of {total:,} ({elapsed:.0f} s)")
    return show


def vacuum(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE tokens")
            connection.exec_driver_sql("VACUUM ANALYZE token_activity_rollup")
            connection.exec_driver_sql("VACUUM ANALYZE profit_allocation_log")
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def build(url: str, tokens: int, periods: int, days: int, seed: int) -> tuple[Database, float | None]:
    """The database at `url` with `tokens` tokens and `periods` periods; the load's rows/s
    when it was built now (None when reused)."""
    db = connect(url)
    have = _counts(db)
    if have == (tokens, periods):
        log(f"reusing {db.engine.url.render_as_string(hide_password=True)}: "
            f"{tokens:,} tokens, {periods} periods")
        return db, None
    if have != (0, 1):
        raise SystemExit(f"the database holds {have[0]:,} tokens and {have[1]} periods, not "
                         f"{tokens:,} and {periods}: give an empty database or the matching one")
    start = datetime.combine(utcnow().date(), clock(), tzinfo=UTC) - timedelta(days=days)
    _add_periods(db, periods, start, seed)
    log(f"building {tokens:,} tokens over {days} days ...")
    started = time.perf_counter()
    demo.generate_demo_data(db, seed=seed, days=days, tokens=tokens, progress=_progress("tokens"))
    elapsed = time.perf_counter() - started
    log(f"built in {elapsed:.0f} s ({tokens / elapsed:,.0f} rows/s); vacuum/analyze ...")
    vacuum(db)
    return db, tokens / elapsed


# --- measuring ------------------------------------------------------------------------------

def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def floor_scan(db: Database) -> tuple[int, float, float]:
    with db.reads() as session:
        if db.dialect == "postgresql":
            session.execute(sa.text("SET LOCAL jit = off"))
        row = session.execute(sa.text(FLOOR_QUERY)).one()
    return int(row[0]), float(row[1] or 0), float(row[2] or 0)


def design_query(db: Database) -> list[tuple[int, float | None, float]]:
    query = sa.text(DESIGN_QUERY).bindparams(sa.bindparam("now", utcnow(), type_=UTCDateTime()))
    with db.reads() as session:
        return [(int(r.tokens_launched), r.avg_price, float(r.total_volume or 0))
                for r in session.execute(query)]


def raw_compare(db: Database) -> list[tuple[int, float | None, float]]:
    """The half-open join over the raw table that the roll-up replaced (issue 9's 5.6 s / 16 s)."""
    periods = queries._periods(None, None, utcnow())
    joined = periods.outerjoin(Token, sa.and_(Token.created_at >= periods.c.lo,
                                              Token.created_at < periods.c.hi))
    query = (sa.select(sa.func.count(Token.id), sa.func.avg(Token.price),
                       sa.func.coalesce(sa.func.sum(Token.volume_24h), 0.0))
             .select_from(joined).group_by(*periods.c).order_by(periods.c.effective_from))
    with db.reads() as session:
        return [(int(r[0]), r[1], float(r[2])) for r in session.execute(query)]


def project_compare(db: Database) -> list[tuple[int, float | None, float]]:
    return [(r["tokens_launched"], r["avg_price"], r["total_volume"])
            for r in queries.compare_performance(db)]


def same_figures(a: list[tuple[int, float | None, float]], b: list[tuple[int, float | None, float]]) -> bool:
    """Equal token counts; prices and volumes equal up to the last bits a double sum loses."""
    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is y
        return abs(float(x) - float(y)) <= 1e-9 * max(abs(float(x)), abs(float(y)), 1e-300)
    return len(a) == len(b) and all(
        p[0] == q[0] and close(p[1], q[1]) and close(p[2], q[2]) for p, q in zip(a, b))


def outcomes_json(db: Database) -> str:
    """What `outcomes --json` prints: every activation's windows, figures and intervals."""
    from core.platform_data.outcomes import DEFAULT_WINDOW_DAYS, activation_outcomes

    return json.dumps([o.as_json() for o in activation_outcomes(db, DEFAULT_WINDOW_DAYS)],
                      default=str)


def medians(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, Any]]:
    """Each variant `runs` times, interleaved (after one warm-up run each)."""
    results: dict[str, Any] = {}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, func in variants.items():
        results[name] = func()
    for _ in range(runs):
        for name, func in variants.items():
            times[name].append(timed(func)[0])
    return {name: (statistics.median(times[name]), results[name]) for name in variants}


def pages(url: str, runs: int) -> list[tuple[str, float, float]]:
    os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # AppTest's bare-mode warnings
    from benchmarks.pages import PAGES, time_page
    from core.governance.accounts import add_user, count_accounts
    from settings import get_settings

    db = connect(url)
    if count_accounts(db) == 0:
        add_user(db, "bench", "admin", "a benchmark password")
    db.engine.dispose()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return [(page, *time_page(page, runs)) for page in PAGES]


# --- load rate ------------------------------------------------------------------------------

def scratch_url(url: str, folder: Path, name: str) -> str:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///{folder / (name + '.db')}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_scratch(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {parsed.database}")
    admin.dispose()


def bulk_load(url: str, rows: list[Any], indexes_after: bool) -> float:
    """Seconds for the engine's own bulk path to load `rows` into an empty migrated database
    in one transaction; with `indexes_after`, the tokens' indexes dropped first and built after
    the rows (the engine's best for a load into an empty table)."""
    db = connect(url)
    columns = ", ".join(bulk.TOKEN_COLUMNS)
    indexes = sorted(Token.__table__.indexes, key=lambda index: str(index.name))
    with db.engine.begin() as connection:
        started = time.perf_counter()
        if indexes_after:
            for index in indexes:
                connection.execute(sa.schema.DropIndex(index))
        if db.dialect == "sqlite":
            connection.exec_driver_sql(
                f"INSERT INTO tokens ({columns}) VALUES (?, ?, ?, ?, ?)",
                [(s, n, p, v, bulk.sqlite_time(c)) for s, n, p, v, c in rows])
        else:
            driver = connection.connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(
                    f"COPY tokens ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        if indexes_after:
            for index in indexes:
                connection.execute(sa.schema.CreateIndex(index))
    seconds = time.perf_counter() - started
    db.engine.dispose()
    return seconds


def load_rates(url: str, tokens: int, days: int, folder: Path) -> tuple[float, float, float]:
    """(demo-data rows/s, the engine's bulk rows/s, the same with the indexes built after) for
    the same `tokens` rows, each into an empty migrated database."""
    demo_url = scratch_url(url, folder, "scale_load_demo")
    db = connect(demo_url)
    seconds, _ = timed(lambda: demo.generate_demo_data(db, days=days, tokens=tokens))
    db.engine.dispose()
    drop_scratch(demo_url)

    # The same rows the demo wrote, made before the clock starts: only the load is timed.
    rng = random.Random("7/tokens")
    start = datetime.combine(utcnow().date(), clock(), tzinfo=UTC) - timedelta(days=days)
    levels = demo._day_levels(random.Random("7/levels"), start.date(), days)
    cum_weights = list(demo._accumulate(levels))
    rows = demo._token_batch(rng, tokens, start, cum_weights, levels)
    rates = []
    for indexes_after in (False, True):
        bulk_url = scratch_url(url, folder, "scale_load_bulk" + ("_after" if indexes_after else ""))
        rates.append(tokens / bulk_load(bulk_url, rows, indexes_after))
        drop_scratch(bulk_url)
    return tokens / seconds, rates[0], rates[1]


def write_tokens_csv(path: Path, rows: list[Any]) -> None:
    """The rows as an export would write them: shortest decimals, ISO 8601 instants in UTC."""
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(bulk.TOKEN_COLUMNS) + "\n")
        out.writelines(f"{s},{n},{p!r},{v!r},{c.isoformat().replace('+00:00', 'Z')}\n"
                       for s, n, p, v, c in rows)


def import_rates(url: str, tokens: int, days: int, folder: Path, runs: int
                 ) -> tuple[float, float]:
    """(`import tokens` rows/s, the engine's bulk rows/s) for the same `tokens` rows, each into
    an empty migrated database, medians of `runs` interleaved runs. The import reads, checks,
    writes the roll-up and records the activity; the floor only writes the rows."""
    from core.platform_data.csv_import import import_csv

    rng = random.Random("7/tokens")
    start = datetime.combine(utcnow().date(), clock(), tzinfo=UTC) - timedelta(days=days)
    levels = demo._day_levels(random.Random("7/levels"), start.date(), days)
    rows = demo._token_batch(rng, tokens, start, list(demo._accumulate(levels)), levels)
    path = folder / "tokens.csv"
    write_tokens_csv(path, rows)
    imported, floor = [], []
    for run in range(runs):
        import_url = scratch_url(url, folder, f"scale_import_{run}")
        db = connect(import_url)
        seconds, result = timed(lambda: import_csv(db, "tokens", path))
        assert result.rows == tokens, result
        db.engine.dispose()
        drop_scratch(import_url)
        imported.append(tokens / seconds)
        bulk_url = scratch_url(url, folder, f"scale_import_bulk_{run}")
        floor.append(tokens / bulk_load(bulk_url, rows, False))
        drop_scratch(bulk_url)
        log(f"  run {run + 1}: import {imported[-1]:,.0f} rows/s, bulk {floor[-1]:,.0f} rows/s")
    return statistics.median(imported), statistics.median(floor)


def print_import_rates(engine: str, tokens: int, days: int, url: str, runs: int) -> None:
    import tempfile

    log(f"import rates at {tokens:,} rows ...")
    with tempfile.TemporaryDirectory() as folder:
        rate, floor = import_rates(url, tokens, days, Path(folder), runs)
    path = "COPY" if engine == "postgresql" else "executemany"
    print(f"\n| {engine}: import of {tokens:,} tokens (median of {runs}) | rows/s | x bulk "
          f"| budget |\n|---|---|---|---|")
    print(f"| `import tokens` (checks, roll-up, activity) | {rate:,.0f} | {rate / floor:.2f} "
          "| >= 0.5 |")
    print(f"| engine's bulk path ({path}, one transaction) | {floor:,.0f} | 1.00 | |")


# --- report ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="database URL (built, or reused)")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--periods", type=int, default=500)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--load-tokens", type=int, default=1_000_000,
                        help="rows for the load-rate comparison (0: skip)")
    parser.add_argument("--import-tokens", type=int, default=0,
                        help="rows for the import-rate comparison (0: skip)")
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--imports-only", action="store_true",
                        help="only the import-rate comparison: nothing built or read at --url")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-raw", action="store_true",
                        help="skip the raw half-open join (tens of seconds at 10M tokens)")
    parser.add_argument("--skip-design", action="store_true",
                        help="skip the original design's query (a minute at 10M tokens)")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()

    if args.imports_only:
        engine = sa.make_url(args.url).get_backend_name()
        print_import_rates(engine, args.import_tokens or 200_000, args.days, args.url,
                           args.import_runs)
        return
    db, built_rate = build(args.url, args.tokens, args.periods, args.days, args.seed)
    if args.build_only:
        return
    engine = db.dialect
    variants: dict[str, Callable[[], Any]] = {
        "floor": lambda: floor_scan(db), "compare": lambda: project_compare(db),
        "metrics": lambda: compute_metrics(db), "outcomes": lambda: outcomes_json(db)}
    if not args.skip_design:
        variants["design"] = lambda: design_query(db)
    if not args.skip_raw:
        variants["raw"] = lambda: raw_compare(db)
    log(f"timing {len(variants)} variants x {args.runs} runs ...")
    result = medians(variants, args.runs)
    floor = result["floor"][0]
    compare_rows = result["compare"][1]
    assert sum(r[0] for r in compare_rows) == result["floor"][1][0], "compare lost tokens"
    checks = {"raw": same_figures(compare_rows, result["raw"][1]) if "raw" in result else None}
    # The design's BETWEEN counts a token on an edge in both periods; nothing else differs.
    checks["design"] = (sum(r[0] for r in result["design"][1]) >= result["floor"][1][0]
                        if "design" in result else None)

    print(f"\n{engine}: {args.tokens:,} tokens, {len(compare_rows)} periods, "
          f"median of {args.runs} interleaved runs\n")
    print(f"| what | {engine} (s) | x floor | budget |")
    print("|---|---|---|---|")
    budget = 0.1 if engine == "postgresql" else 0.25
    rows = [("full-scan floor (count, avg, sum over every token)", "floor", ""),
            ("`compare_performance` (roll-up + raw edges)", "compare",
             f"<= {budget} x floor"),
            ("original design's query (GROUP BY fixed)", "design", ""),
            ("raw half-open join (before the roll-up)", "raw", ""),
            ("`compute_metrics` (in process)", "metrics", "< 0.2 s"),
            ("`outcomes --json` (in process, every activation)", "outcomes", "< 0.5 s")]
    for label, key, limit in rows:
        if key in result:
            seconds = result[key][0]
            print(f"| {label} | {seconds:.3f} | {seconds / floor:.3f} | {limit} |")
    print(f"\nsame figures as the raw join: {checks['raw']}; design query saw every token: "
          f"{checks['design']}")

    if not args.skip_pages:
        log("timing the pages ...")
        print("\n| page | cold (s) | warm (s) |\n|---|---|---|")
        for page, cold, warm in pages(args.url, args.runs):
            print(f"| {page} | {cold:.3f} | {warm:.3f} |")
    if built_rate is not None:
        print(f"\ndemo-data while building: {built_rate:,.0f} rows/s")
    if args.load_tokens:
        import tempfile

        log(f"load rates at {args.load_tokens:,} rows ...")
        with tempfile.TemporaryDirectory() as folder:
            demo_rate, bulk_rate, after_rate = load_rates(args.url, args.load_tokens, args.days,
                                                          Path(folder))
        path = "COPY" if engine == "postgresql" else "executemany"
        print(f"\n| load of {args.load_tokens:,} tokens | rows/s | x bulk |\n|---|---|---|")
        print(f"| `demo-data` (with the roll-up) | {demo_rate:,.0f} | {demo_rate / bulk_rate:.2f} |")
        print(f"| engine's bulk path ({path}, one transaction) | {bulk_rate:,.0f} | 1.00 |")
        print(f"| the same, indexes built after the rows | {after_rate:,.0f} | "
              f"{after_rate / bulk_rate:.2f} |")
    if args.import_tokens:
        print_import_rates(engine, args.import_tokens, args.days, args.url, args.import_runs)
    db.engine.dispose()


if __name__ == "__main__":
    main()
