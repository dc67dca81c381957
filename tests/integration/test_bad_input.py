"""Bad input, in general: every class the red-team pass found, across the commands, on SQLite and
PostgreSQL. Each case must exit 3 with exactly one line on stderr naming the field, no
traceback, and leave every row of every table as it was.

The rules themselves live in core (core/base/parsing.py and the services that call it), so the
dashboard's forms and the API refuse the same input with the same message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from core.allocation.validation import ProposalInput
from core.proposals.lifecycle import propose_allocation
from db.engine import open_database
from tests.integration.state import every_row
from tests.integration.test_cli_contract import cli

NUL, SURROGATE, MEGABYTE = "\x00", "\udcff", "x" * 1_000_000
PASSWORD = "correct horse battery"
TOKENS = b"symbol,name,price,volume_24h,created_at\n"
ENGAGEMENT = b"day,wallet_connections,trades_count,page_views\n"
METRICS = {"growth_rate_pct": 5.0, "engagement_score": 50.0, "dao_balance_usd": 1000.0,
           "avg_token_price_usd": 0.02, "tokens_launched_7d": 3, "days_of_data": 30}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # "{dir}" is the folder of `files`, "{proposal}" a pending proposal
    names: str  # what the one stderr line must name ("price:", "row 3:")
    stdin: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)


def split(reinvestment: str = "70", dao: str = "18", lucky: str = "8",
          creator: str = "4") -> tuple[str, ...]:
    return ("--reinvestment", reinvestment, "--dao", dao, "--lucky", lucky, "--creator", creator)


def propose(*extra: str, reasoning: str = "Q3 growth", **buckets: str) -> tuple[str, ...]:
    return ("propose", *split(**buckets), "--reasoning", reasoning, *extra)


def add_user(*extra: str) -> tuple[str, ...]:
    return ("users", "add", "alice", "--role", "admin", "--password-stdin", *extra)


def csv_case(kind: str, content: bytes, names: str) -> Case:
    return Case(("import", kind, "{dir}/data.csv"), names, files={"data.csv": content})


def metrics_case(content: str, names: str) -> Case:
    return Case(("rebalance", "--metrics", "{dir}/m.json", "--dry-run", "--engine", "rules"),
                names, files={"m.json": content.encode()})


CASES: dict[str, Case] = {
    # --- numbers: ASCII digits only, no underscores, no '+' ------------------------------------
    "arabic-indic digits in a percentage": Case(propose(reinvestment="٧٠"), "reinvestment:"),
    "fullwidth digits in a percentage": Case(propose(dao="１８"), "dao:"),
    "an underscore in a percentage": Case(propose(reinvestment="7_0"), "reinvestment:"),
    "a plus sign on a percentage": Case(propose(creator="+4"), "creator:"),
    "arabic-indic digits in a confidence": Case(
        ("validate", *split(), "--reasoning", "r", "--confidence", "٠.٩"), "confidence:"),
    "fullwidth digits in a profit": Case(("amounts", "--profit", "７８"), "profit:"),
    "an underscore in a profit": Case(("amounts", "--profit", "1_000"), "profit:"),
    "a plus sign on a profit": Case(("amounts", "--profit", "+100"), "profit:"),
    "arabic-indic digits in a distribution": Case(
        ("distribute", "--profit", "٧٨", "--key", "k"), "profit:"),
    "arabic-indic digits in a policy value": Case(
        ("policy", "set", "max_step", "٥", "--by", "op"), "max_step:"),
    "a plus sign on a policy count": Case(
        ("policy", "set", "approvals_required", "+2", "--by", "op"), "approvals_required:"),
    "an underscore in a policy count": Case(
        ("policy", "set", "proposal_lifetime_hours", "1_000", "--by", "op"),
        "proposal_lifetime_hours:"),
    # --- zero where a positive amount is due ---------------------------------------------------
    "minus zero as a profit": Case(("amounts", "--profit", "-0"), "profit:"),
    "zero as a profit": Case(("amounts", "--profit", "0"), "profit:"),
    "zero distributed": Case(("distribute", "--profit", "0", "--key", "k"), "profit:"),
    "minus zero distributed": Case(("distribute", "--profit", "-0.00", "--key", "k"), "profit:"),
    # --- limits far beyond any real value ------------------------------------------------------
    "history --limit 1e20": Case(("history", "--limit", "1e20"), "limit:"),
    "history --limit of 21 digits": Case(
        ("history", "--limit", "100000000000000000000"), "limit:"),
    "history --limit in arabic-indic digits": Case(("history", "--limit", "٧"), "limit:"),
    "activity --limit 1e20": Case(("activity", "--limit", "1e20"), "limit:"),
    "activity --limit negative": Case(("activity", "--limit", "-5"), "limit:"),
    "demo-data --tokens 1e20": Case(("demo-data", "--tokens", "1e20"), "tokens:"),
    "demo-data --days of 21 digits": Case(
        ("demo-data", "--days", "100000000000000000000"), "days:"),
    "demo-data --seed in fullwidth digits": Case(("demo-data", "--seed", "７"), "seed:"),
    # --- dates: ISO 8601 only, nothing far in the future ---------------------------------------
    "compare --to 9999-12-31": Case(("compare", "--to", "9999-12-31"), "to:"),
    "compare --from in the basic form": Case(("compare", "--from", "20261003"), "from:"),
    "compare --from in arabic-indic digits": Case(("compare", "--from", "٢٠٢٦-١٠-٠٣"), "from:"),
    "schedule --at in 9999": Case(("schedule", "--once", "--at", "9999-01-01T00:00:00"), "at:"),
    "schedule --at in the basic form": Case(
        ("schedule", "--once", "--at", "20261003T120000"), "at:"),
    "a token created in 9999": csv_case(
        "tokens", TOKENS + b"A,Alpha,1,1,9999-01-01T00:00:00Z\n", "created_at:"),
    "a token created in the basic form": csv_case(
        "tokens", TOKENS + b"A,Alpha,1,1,20261003T000000\n", "created_at:"),
    "an engagement day in 2099": csv_case(
        "engagement", ENGAGEMENT + b"2099-01-01,1,2,3\n", "day:"),
    "an engagement day in the basic form": csv_case(
        "engagement", ENGAGEMENT + b"20261003,1,2,3\n", "day:"),
    "a treasury snapshot in 9999": csv_case(
        "treasury", b"at,balance_usd\n9999-01-01T00:00:00Z,10\n", "at:"),
    # --- text: no NUL, no lone surrogate, a documented length ----------------------------------
    "a NUL in a reasoning": Case(propose(reasoning=f"fine{NUL}then"), "reasoning:"),
    "a lone surrogate in a reasoning": Case(propose(reasoning=f"fine{SURROGATE}"), "reasoning:"),
    "a 1 MB reasoning": Case(propose(reasoning=MEGABYTE), "reasoning:"),
    "a NUL in review notes": Case(
        ("review", "{proposal}", "--decision", "approved", "--by", "gus", "--notes", NUL),
        "notes:"),
    "a lone surrogate in review notes": Case(
        ("review", "{proposal}", "--decision", "rejected", "--by", "gus", "--notes", SURROGATE),
        "notes:"),
    "1 MB of review notes": Case(
        ("review", "{proposal}", "--decision", "approved", "--by", "gus", "--notes", MEGABYTE),
        "notes:"),
    "a NUL in a distribution key": Case(
        ("distribute", "--profit", "10", "--key", f"k{NUL}"), "key:"),
    "a lone surrogate in a distribution key": Case(
        ("distribute", "--profit", "10", "--key", SURROGATE), "key:"),
    "a lone surrogate in a user name": Case(
        ("users", "add", f"al{SURROGATE}", "--role", "admin", "--password-stdin"), "username:",
        stdin=PASSWORD + "\n"),
    "a NUL in a display name": Case(add_user("--display-name", f"Al{NUL}"), "display_name:",
                                    stdin=PASSWORD + "\n"),
    "a 1 MB display name": Case(add_user("--display-name", MEGABYTE), "display_name:",
                                stdin=PASSWORD + "\n"),
    "a lone surrogate in an email": Case(add_user("--email", f"a{SURROGATE}@example.org"),
                                         "email:", stdin=PASSWORD + "\n"),
    "a lone surrogate in the acting name": Case(propose("--by", SURROGATE), "by:"),
    "a NUL in an activity type": Case(("activity", "--type", f"x{NUL}"), "type:"),
    "a NUL in a policy value": Case(
        ("policy", "set", "baseline", f"80/15/3/2{NUL}", "--by", "op"), "baseline:"),
    "a password of spaces": Case(add_user(), "password:", stdin=" " * 16 + "\n"),
    "a NUL in a password": Case(add_user(), "password:", stdin=f"correct{NUL}horse battery\n"),
    # --- CSV files -----------------------------------------------------------------------------
    "a CSV with only carriage returns": csv_case(
        "tokens", TOKENS.replace(b"\n", b"\r") + b"A,Alpha,1,1,2026-01-01\r", "row 1:"),
    "a CSV with a byte-order mark inside": csv_case(
        "tokens", TOKENS + b"A,Alpha,1,1,2026-01-01\n\xef\xbb\xbf" + TOKENS, "row 3:"),
    "a CSV with a repeated header": csv_case(
        "tokens", TOKENS + b"A,Alpha,1,1,2026-01-01\n" + TOKENS, "row 3,"),
    "a CSV with a short row": csv_case("tokens", TOKENS + b"A,Alpha,1\n", "row 2,"),
    "a CSV with a NUL": csv_case("engagement", ENGAGEMENT + b"2026-01-01,1\x00,2,3\n", "row 2:"),
    "a CSV with an encoded lone surrogate": csv_case(
        "tokens", TOKENS + b"A,Al\xed\xb3\xbf,1,1,2026-01-01\n", "row 2:"),
    "a CSV with a 1 MB token name": csv_case(
        "tokens", TOKENS + b"A," + MEGABYTE.encode() + b",1,1,2026-01-01\n", "row 2:"),
    "a CSV with a token name over its limit": csv_case(
        "tokens", TOKENS + b"A," + b"n" * 201 + b",1,1,2026-01-01\n", "name:"),
    "a CSV price in arabic-indic digits": csv_case(
        "tokens", TOKENS + "A,Alpha,٧٨,1,2026-01-01\n".encode(), "price:"),
    "a CSV price of 1e308": csv_case("tokens", TOKENS + b"A,Alpha,1e308,1,2026-01-01\n", "price:"),
    "a CSV count with an underscore": csv_case(
        "engagement", ENGAGEMENT + b"2026-01-01,1_000,2,3\n", "wallet_connections:"),
    "a CSV count with a plus sign": csv_case(
        "engagement", ENGAGEMENT + b"2026-01-01,1,+2,3\n", "trades_count:"),
    # --- JSON (rebalance --metrics) ------------------------------------------------------------
    "a metrics file nested 100,000 deep": metrics_case("[" * 100_000, "metrics:"),
    "a metrics file nested 1,000 deep": metrics_case("[" * 1_000 + "]" * 1_000, "metrics:"),
    "a metrics file with an unknown key": metrics_case(
        json.dumps({**METRICS, "growth_rate": 50}), "metrics:"),
    "a metrics file with NaN": metrics_case(
        json.dumps({**METRICS, "avg_token_price_usd": float("nan")}), "avg_token_price_usd:"),
}


@pytest.fixture
def pending(db_url: str) -> str:
    """A proposal waiting for review (open mode: no accounts, any name may act), of another
    split than the cases propose, so that no case is also refused as a duplicate."""
    database = open_database(db_url)
    try:
        result = propose_allocation(database, ProposalInput(75, 15, 6, 4, "Q3 growth"), by="ann")
    finally:
        database.engine.dispose()
    return result.proposal_id


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_refused_with_one_line_naming_the_field_and_writes_nothing(
        db_url, pending, tmp_path, case):
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content)
    args = [a.replace("{dir}", str(tmp_path)).replace("{proposal}", pending) for a in case.args]
    database = open_database(db_url)
    try:
        before = every_row(database)
        run = cli(db_url, *args, stdin=case.stdin)
        after = every_row(database)
    finally:
        database.engine.dispose()
    assert run.code == 3, (run.code, run.stdout[:300], run.stderr[:300])
    assert len(run.error_lines) == 1, run.stderr
    [line] = run.error_lines
    assert line.startswith("error: ") and case.names in line, line
    assert len(line) < 300, line  # one clear line: input is never echoed whole
    assert after == before
