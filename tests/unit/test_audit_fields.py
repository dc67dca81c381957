"""What the audit MACs cover (core/record/audit.py), without a database: every column of an
audited table is a decision, and one value MACs alike however an engine hands it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from core.base.keys import derive
from core.record import audit
from db import triggers
from db.models import Base

KEYS = derive(b"unit-test-master-key-" + b"k" * 32)


def test_every_column_of_an_audited_table_is_signed_or_deliberately_left_out():
    for table in {*audit.CHAINED, *audit.ROW_SIGNED}:
        columns = {c.name for c in Base.metadata.tables[table].columns}
        covered = {*audit.CHAINED.get(table, ()), *audit.CHAINED_LATER.get(table, {}),
                   *audit.ROW_SIGNED.get(table, ()), *audit.UNSIGNED.get(table, ()),
                   *audit.MAC_COLUMNS}
        assert columns <= covered, (table, columns - covered)
        assert {*audit.CHAINED.get(table, ()), *audit.CHAINED_LATER.get(table, {}),
                *audit.ROW_SIGNED.get(table, ())} <= columns
        assert not set(audit.CHAINED_LATER.get(table, {})) & set(audit.CHAINED.get(table, ()))


def test_every_append_only_table_is_chained():
    assert set(audit.CHAINED) == set(triggers.APPEND_ONLY_TABLES)


def test_a_number_macs_alike_whatever_its_scale_or_type():
    assert audit.canonical(Decimal("80")) == audit.canonical(Decimal("80.00")) == audit.canonical(80)
    column = Base.metadata.tables["profit_allocation_log"].c.confidence  # NUMERIC(5, 4)
    assert audit.canonical(Decimal("0.123456"), column) == audit.canonical(Decimal("0.1235"), column)


def test_a_time_macs_alike_in_any_zone():
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    elsewhere = moment.astimezone(timezone(timedelta(hours=5)))
    assert audit.canonical(moment) == audit.canonical(elsewhere)


def test_json_macs_alike_in_any_key_order_and_number_spelling():
    assert audit.canonical({"b": 1, "a": [1.0, "x"]}) == audit.canonical({"a": [1, "x"], "b": 1.0})
    assert audit.canonical({"a": 1e20}) == audit.canonical({"a": 100000000000000000000})
    assert audit.canonical({"a": "1"}) != audit.canonical({"a": 1})


def test_a_changed_field_or_another_place_in_the_chain_changes_the_mac():
    row = {"id": uuid.uuid4(), "timestamp": datetime.now(UTC), "activity_type": "x",
           "description": "y", "metadata": {"by": "ada"}}
    first = audit.chain_mac(KEYS, "protocol_activity", 1, None, row)
    assert first != audit.chain_mac(KEYS, "protocol_activity", 2, None, row)
    assert first != audit.chain_mac(KEYS, "protocol_activity", 1, "0" * 64, row)
    assert first != audit.chain_mac(KEYS, "protocol_activity", 1, None, {**row, "description": "z"})
    assert first != audit.chain_mac(derive(b"another-master-key-" + b"k" * 32),
                                    "protocol_activity", 1, None, row)


def test_a_row_mac_ignores_the_columns_left_out_of_it():
    user = {"username": "ada", "role": "admin", "password_hash": "h", "active": True,
            "email": None, "display_name": "Ada"}
    mac = audit.row_mac(KEYS, "users", user)
    assert mac == audit.row_mac(KEYS, "users", {**user, "display_name": "Someone"})
    assert mac != audit.row_mac(KEYS, "users", {**user, "role": "viewer"})


def test_a_weight_in_base_units_beyond_28_digits_macs_exactly():
    column = Base.metadata.tables["vote_snapshots"].c.total_units  # NUMERIC(78, 0)
    big = 10 ** 60 + 1
    assert audit.canonical(big, column) == str(big)
    assert audit.canonical(Decimal(big), column) != audit.canonical(Decimal(big + 1), column)


def test_a_column_chained_later_leaves_the_earlier_rows_macs_as_they_were_and_shows_a_change():
    row = {"id": uuid.uuid4(), "block": 7, "token": None, "holders": 1, "total_units": 5,
           "merkle_root": "0x" + "a" * 64, "holders_sha256": "b" * 64,
           "created_at": datetime.now(UTC), "created_by": "ada"}
    before = audit.chain_mac(KEYS, "vote_snapshots", 1, None, row)  # read before 0018
    assert audit.chain_mac(KEYS, "vote_snapshots", 1, None, {**row, "chain_id": 1}) == before
    base = audit.chain_mac(KEYS, "vote_snapshots", 1, None, {**row, "chain_id": 8453})
    assert base != before
    assert base != audit.chain_mac(KEYS, "vote_snapshots", 1, None, {**row, "chain_id": 137})
