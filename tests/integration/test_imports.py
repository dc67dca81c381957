"""CSV import: strict rows, all or nothing, upserts, streaming — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.base.errors import ValidationFailed
from core.platform_data.csv_import import ImportRejected, import_csv
from db.models import EngagementDaily, ProtocolActivity, Token, TreasurySnapshot

TOKENS_HEADER = "symbol,name,price,volume_24h,created_at"
ENGAGEMENT_HEADER = "day,wallet_connections,trades_count,page_views"


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_importing_tokens_loads_every_row(db, tmp_path):
    path = write(tmp_path, "tokens.csv", TOKENS_HEADER,
                 "PEPE,Pepe Coin,0.00001234,150000.5,2024-03-01T12:00:00Z",
                 "DOGE,Doge,0.15,2000000,2024-03-02T08:30:00+02:00",
                 "ZEN,Zen Token,3,0,2024-03-03")

    result = import_csv(db, "tokens", path)

    assert result.as_json() == {"table": "tokens", "rows": 3}
    with db.sessions() as session:
        rows = session.execute(sa.select(Token.symbol, Token.price, Token.created_at)
                               .order_by(Token.created_at)).all()
    assert [r.symbol for r in rows] == ["PEPE", "DOGE", "ZEN"]
    assert rows[0].price == pytest.approx(0.00001234)
    assert rows[1].created_at == datetime(2024, 3, 2, 6, 30, tzinfo=UTC)  # offset honoured
    assert rows[2].created_at == datetime(2024, 3, 3, tzinfo=UTC)  # no offset: UTC


def test_tokens_with_ids_keep_them_and_later_rows_get_fresh_ids(db, tmp_path):
    with_ids = write(tmp_path, "a.csv", "id," + TOKENS_HEADER,
                     "100,AAA,Alpha,1,10,2024-01-01T00:00:00Z",
                     "200,BBB,Beta,2,20,2024-01-02T00:00:00Z")
    without = write(tmp_path, "b.csv", TOKENS_HEADER, "CCC,Gamma,3,30,2024-01-03T00:00:00Z")
    import_csv(db, "tokens", with_ids)
    import_csv(db, "tokens", without)
    with db.sessions() as session:
        ids = dict(session.execute(sa.select(Token.symbol, Token.id)).all())
    assert ids["AAA"] == 100 and ids["BBB"] == 200
    assert ids["CCC"] > 200


def test_reimporting_a_token_id_updates_its_market_data(db, tmp_path):
    import_csv(db, "tokens", write(tmp_path, "a.csv", "id," + TOKENS_HEADER,
                                   "7,AAA,Alpha,1,10,2024-01-01T00:00:00Z"))
    import_csv(db, "tokens", write(tmp_path, "b.csv", "id," + TOKENS_HEADER,
                                   "7,AAA,Alpha,1.5,99,2024-01-01T00:00:00Z"))
    with db.sessions() as session:
        token = session.get(Token, 7)
        assert (token.price, token.volume_24h) == (1.5, 99)
    assert count(db, Token) == 1


def test_reimporting_an_engagement_day_updates_it(db, tmp_path):
    import_csv(db, "engagement", write(tmp_path, "a.csv", ENGAGEMENT_HEADER,
                                       "2024-05-01,10,20,30", "2024-05-02,11,21,31"))
    result = import_csv(db, "engagement", write(tmp_path, "b.csv", ENGAGEMENT_HEADER,
                                                "2024-05-02,50,60,70", "2024-05-03,1,2,3"))
    assert result.rows == 2
    with db.sessions() as session:
        rows = {r.day: (r.wallet_connections, r.trades_count, r.page_views)
                for r in session.scalars(sa.select(EngagementDaily))}
    assert rows == {date(2024, 5, 1): (10, 20, 30), date(2024, 5, 2): (50, 60, 70),
                    date(2024, 5, 3): (1, 2, 3)}


def test_treasury_balances_are_exact_and_the_same_instant_is_updated(db, tmp_path):
    import_csv(db, "treasury", write(tmp_path, "a.csv", "at,balance_usd",
                                     "2024-05-01T00:00:00Z,123456789012345.67"))
    import_csv(db, "treasury", write(tmp_path, "b.csv", "at,balance_usd",
                                     "2024-05-01T02:00:00+02:00,0.10",  # the same instant
                                     "2024-05-02T00:00:00Z,2000"))
    with db.sessions() as session:
        rows = session.execute(sa.select(TreasurySnapshot.at, TreasurySnapshot.balance_usd)
                               .order_by(TreasurySnapshot.at)).all()
    assert [r.balance_usd for r in rows] == [Decimal("0.10"), Decimal("2000")]
    assert isinstance(rows[0].balance_usd, Decimal)


def test_a_file_with_bad_rows_writes_nothing_and_names_each_bad_row(db, tmp_path):
    path = write(tmp_path, "bad.csv", TOKENS_HEADER,
                 "GOOD,Good,1,1,2024-01-01T00:00:00Z",
                 "NEG,Negative,-1,5,2024-01-01T00:00:00Z",
                 "TXT,Text,abc,5,2024-01-01T00:00:00Z",
                 "DAT,Date,1,5,2024-02-30",
                 ",No symbol,1,5,2024-01-01T00:00:00Z",
                 "NAN,Nan,nan,5,2024-01-01T00:00:00Z",
                 "FEW,Too few,1")
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "tokens", path)
    assert caught.value.problems == [
        "row 3, price: -1 is negative",
        "row 4, price: 'abc' is not a number",
        "row 5, created_at: '2024-02-30' is not an ISO 8601 date-time",
        "row 6, symbol: missing value",
        "row 7, price: nan is not a finite number",
        "row 8, *: has 3 fields, the header has 5",
    ]
    assert isinstance(caught.value, ValidationFailed)
    assert count(db, Token) == 0
    with db.sessions() as session:
        assert not session.scalar(sa.select(sa.func.count()).select_from(ProtocolActivity)
                                  .where(ProtocolActivity.activity_type == "platform_data_imported"))


def test_duplicate_keys_within_a_file_are_refused(db, tmp_path):
    path = write(tmp_path, "dup.csv", ENGAGEMENT_HEADER,
                 "2024-05-01,1,2,3", "2024-05-02,1,2,3", "2024-05-01,4,5,6")
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "engagement", path)
    assert caught.value.problems == ["row 4, day: 2024-05-01 appears again (first on row 2)"]
    assert count(db, EngagementDaily) == 0


def test_counts_must_be_whole_and_not_negative(db, tmp_path):
    path = write(tmp_path, "e.csv", ENGAGEMENT_HEADER, "2024-05-01,1.5,-2,x")
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "engagement", path)
    assert caught.value.problems == [
        "row 2, wallet_connections: '1.5' is not a whole number; trades_count: -2 is negative; "
        "page_views: 'x' is not a whole number"]


def test_a_balance_finer_than_a_cent_is_refused(db, tmp_path):
    path = write(tmp_path, "t.csv", "at,balance_usd", "2024-05-01T00:00:00Z,10.001")
    with pytest.raises(ImportRejected, match="balance_usd: '10.001' is not an amount"):
        import_csv(db, "treasury", path)


def test_the_report_lists_twenty_bad_rows_and_counts_the_rest(db, tmp_path):
    lines = [f"2024-01-{d:02d},-1,0,0" for d in range(1, 31)]
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "engagement", write(tmp_path, "e.csv", ENGAGEMENT_HEADER, *lines))
    assert len(caught.value.bad_rows) == 20 and caught.value.total_bad == 30
    assert caught.value.problems[-1] == ("... and 10 more bad rows (30 in all); nothing was "
                                         "imported into engagement_daily")


@pytest.mark.parametrize(("header", "problem"), [
    ("symbol,name,price,volume_24h,created_at,colour",
     "header: unexpected column 'colour' (allowed: id, symbol, name, price, volume_24h, created_at)"),
    ("symbol,name,price,created_at", "header: missing column 'volume_24h'"),
    ("symbol,symbol,name,price,volume_24h,created_at", "header: column 'symbol' appears more than once"),
])
def test_a_header_that_is_not_exactly_the_format_is_refused(sqlite_db, tmp_path, header, problem):
    with pytest.raises(ValidationFailed) as caught:
        import_csv(sqlite_db, "tokens", write(tmp_path, "t.csv", header))
    assert problem in caught.value.problems


def test_an_empty_file_is_refused_for_want_of_a_header(sqlite_db, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValidationFailed, match="header row is required"):
        import_csv(sqlite_db, "engagement", path)


def test_a_large_file_streams_in_batches_and_reports_progress(db, tmp_path):
    lines = [f"T{i},Token {i},{i / 1000},{i},2024-01-01T00:00:{i % 60:02d}Z" for i in range(2500)]
    path = write(tmp_path, "big.csv", TOKENS_HEADER, *lines)
    calls: list[tuple[int, int]] = []

    result = import_csv(db, "tokens", path, lambda done, total: calls.append((done, total)),
                        batch_size=1000)

    assert result.rows == 2500 and count(db, Token) == 2500
    size = path.stat().st_size
    assert len(calls) == 3  # two full batches, then the rest at the end
    assert calls[-1] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_a_bad_row_after_written_batches_still_leaves_nothing(db, tmp_path):
    lines = [f"T{i},Token {i},1,1,2024-01-01T00:00:00Z" for i in range(30)] + ["BAD,Bad,-1,1,2024-01-01"]
    with pytest.raises(ImportRejected):
        import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER, *lines), batch_size=10)
    assert count(db, Token) == 0


# --- the command line ---------------------------------------------------------------------------

def test_the_import_command_prints_table_and_rows_as_json(db_url, tmp_path):
    path = write(tmp_path, "e.csv", ENGAGEMENT_HEADER, "2024-05-01,1,2,3")
    result = CliRunner().invoke(app, ["--db", db_url, "import", "engagement", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"table": "engagement_daily", "rows": 1}


def test_the_import_command_refuses_bad_rows_with_exit_3_and_one_line_each(db_url, tmp_path):
    path = write(tmp_path, "e.csv", ENGAGEMENT_HEADER, "2024-05-01,-1,2,3", "2024-05-02,1,2,3",
                 "yesterday,1,2,3")
    result = CliRunner().invoke(app, ["--db", db_url, "import", "engagement", str(path), "--json"])
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "error: row 2, wallet_connections: -1 is negative",
        "error: row 4, day: 'yesterday' is not an ISO 8601 date (YYYY-MM-DD)"]
    assert json.loads(result.stdout)["ok"] is False


# --- the column-wise reader (issue 18): the same rules and messages whatever the file's shape ----

def test_a_bad_row_in_a_later_chunk_is_reported_by_its_line_and_nothing_is_written(db, tmp_path):
    lines = [f"T{i},Token {i},1,1,2024-01-01T00:00:00Z" for i in range(45)]
    lines[37] = "BAD,Bad,1,1,2024-02-30"  # line 39: a plain chunk, then this one's exact check
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER, *lines), batch_size=10)
    assert caught.value.problems == [
        "row 39, created_at: '2024-02-30' is not an ISO 8601 date-time"]
    assert count(db, Token) == 0


def test_a_duplicate_id_names_its_first_row_across_chunks_and_cell_shapes(db, tmp_path):
    lines = [f"{i},T{i},Token,1,1,2024-01-01T00:00:00Z" for i in range(1, 13)]
    lines[10] = " 3 ,T3,Token,1,1,2024-01-01T00:00:00Z"  # line 12: spaces, so parsed exactly
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "tokens", write(tmp_path, "t.csv", "id," + TOKENS_HEADER, *lines),
                   batch_size=5)
    assert caught.value.problems == ["row 12, id: 3 appears again (first on row 4)"]


def test_quoted_cells_blank_lines_and_ragged_rows_keep_their_line_numbers(db, tmp_path):
    lines = [f"T{i},Token {i},1,1,2024-01-01T00:00:00Z" for i in range(12)]
    lines[3] = ""  # line 5: blank, skipped
    lines[6] = "T6,Token 6,1"  # line 8: ragged
    lines[8] = 'Q,"Quoted, with a comma\nand a line break",2,2,2024-01-02T00:00:00Z'  # 10-11
    lines[10] = "N,Negative,-1,1,2024-01-01T00:00:00Z"  # line 13 after the two-line cell
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER, *lines), batch_size=4)
    assert caught.value.problems == ["row 8, *: has 3 fields, the header has 5",
                                     "row 13, price: -1 is negative"]


def test_a_quoted_file_imports_the_same_rows_as_a_plain_one(db, tmp_path):
    lines = [f'"T{i}","Token, {i}","{i}.5","{i}","2024-01-01T00:00:{i:02d}Z"' for i in range(30)]
    result = import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER, *lines),
                        batch_size=7)
    assert result.rows == 30
    with db.sessions() as session:
        rows = session.execute(sa.select(Token.name, Token.price).order_by(Token.id)).all()
    assert rows[29] == ("Token, 29", 29.5)


def test_prices_keep_every_digit_a_double_can_hold_and_names_keep_tabs_and_backslashes(
        db, tmp_path):
    price = "0.1000000000000000055511151231257827021181583404541015625"
    path = write(tmp_path, "t.csv", TOKENS_HEADER,
                 f"A,Tab\there \\ back,{price},1000000000000000,2024-01-01T00:00:00Z",
                 "B,At the maximum,1000000000,0,2024-01-01T00:00:00Z")
    import_csv(db, "tokens", path)
    with db.sessions() as session:
        rows = session.execute(sa.select(Token.name, Token.price, Token.volume_24h)
                               .order_by(Token.id)).all()
    assert rows == [("Tab\there \\ back", float(Decimal(price)), 1e15),
                    ("At the maximum", 1e9, 0.0)]


def test_a_price_a_hair_above_the_maximum_is_refused_though_its_double_is_the_maximum(
        db, tmp_path):
    path = write(tmp_path, "t.csv", TOKENS_HEADER,
                 "A,Alpha,1000000000.000000000001,1,2024-01-01T00:00:00Z")
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "tokens", path)
    assert caught.value.problems == [
        "row 2, price: 1000000000.000000000001 is above the maximum 1,000,000,000"]


def test_a_treasury_balance_of_many_digits_is_stored_to_the_cent(db, tmp_path):
    import_csv(db, "treasury", write(tmp_path, "t.csv", "at,balance_usd",
                                     "2024-05-01T00:00:00Z,999999999999999.99",
                                     "2024-05-02T00:00:00Z,1e3"))
    with db.sessions() as session:
        balances = session.scalars(sa.select(TreasurySnapshot.balance_usd)
                                   .order_by(TreasurySnapshot.at)).all()
    assert balances == [Decimal("999999999999999.99"), Decimal("1000.00")]


def test_an_imported_token_file_leaves_the_roll_up_equal_to_the_raw_table(db, tmp_path):
    from core.platform_data import rollup

    lines = [f"T{i},Token {i},{i / 7!r},{i * 1e9 / 3!r},2024-01-0{1 + i % 3}T0{i % 10}:{i % 60:02d}:00Z"
             for i in range(500)]
    import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER, *lines), batch_size=64)
    import_csv(db, "tokens", write(tmp_path, "u.csv", "id," + TOKENS_HEADER,
                                   "3,T3,Moved,2.5,7,2024-01-03T05:05:05Z"))
    assert rollup.check(db)["mismatches"] == 0


def test_a_spreadsheet_export_with_a_byte_order_mark_and_a_quoted_header_imports(sqlite_db,
                                                                                  tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"symbol","name","price","volume_24h","created_at"\r\n'
                     b'"A","Alpha","1.5","2","2024-01-01T00:00:00Z"\r\n'
                     b'"B","Beta","x","2","2024-01-01T00:00:00Z"\r\n')
    with pytest.raises(ImportRejected) as caught:
        import_csv(sqlite_db, "tokens", path)
    assert caught.value.problems == ["row 3, price: 'x' is not a number"]


def test_a_file_mixing_new_rows_and_rows_with_ids_keeps_the_roll_up_equal_to_the_raw_table(
        db, tmp_path):
    from core.platform_data import rollup

    import_csv(db, "tokens", write(tmp_path, "t.csv", TOKENS_HEADER,
                                   *(f"T{i},Token {i},{i},1,2024-01-01T00:0{i % 5}:00Z"
                                     for i in range(20))))
    # New rows, updates (ids 1 to 19) and new ids (far apart, so no new row takes one first)
    # alternate across batches, in minutes stored and not stored.
    ids = {i: str(i + 1 if i < 20 else 1000 * i) for i in range(0, 30, 3)}
    lines = [f"{ids.get(i, '')},M{i},Mixed {i},{i / 3!r},2,2024-01-01T00:0{i % 9}:30Z"
             for i in range(30)]
    result = import_csv(db, "tokens", write(tmp_path, "m.csv", "id," + TOKENS_HEADER, *lines),
                        batch_size=4)
    assert result.rows == 30
    assert count(db, Token) == 20 + 3 + 20
    assert rollup.check(db)["mismatches"] == 0
