"""The product's own keys: derived from one master key kept outside the database."""

from __future__ import annotations

import os
import stat

import pytest

from core.base import keys
from core.base.errors import KeyUnavailable


def test_a_mac_tells_apart_parts_that_only_differ_in_where_they_split():
    k = keys.derive(b"m" * 32)
    assert k.mac("ab", "c") != k.mac("a", "bc")
    assert k.mac(None) != k.mac("None")
    assert k.verify(k.mac("x", 1), "x", 1) and not k.verify(k.mac("x", 1), "x", 2)
    assert not k.verify(None, "x")


def test_the_audit_and_box_keys_differ_and_follow_the_master_key():
    one, two = keys.derive(b"a" * 32), keys.derive(b"b" * 32)
    assert one.audit != one.box
    assert one.mac("row") != two.mac("row")


def test_a_sealed_secret_opens_only_with_its_own_key():
    one, two = keys.derive(b"a" * 32), keys.derive(b"b" * 32)
    sealed = one.seal("whsec_ünïcode")
    assert "whsec" not in sealed
    assert one.open(sealed) == "whsec_ünïcode"
    with pytest.raises(KeyUnavailable, match="cannot be opened"):
        two.open(sealed)
    with pytest.raises(KeyUnavailable):
        one.open(sealed[:-4] + "AAAA")


def test_a_missing_key_file_is_made_private_and_then_read_back(tmp_path):
    path = tmp_path / "sub" / "audit.key"
    first = keys._read_or_make(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys._read_or_make(path) == first and len(first) == 64


def test_a_key_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / "audit.key"
    keys._read_or_make(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyUnavailable, match="chmod 600"):
        keys._read_or_make(path)


def test_a_short_key_file_is_refused(tmp_path):
    path = tmp_path / "audit.key"
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(KeyUnavailable, match="fewer than 32"):
        keys._read_or_make(path)


def test_a_short_key_in_the_environment_is_refused():
    with pytest.raises(KeyUnavailable, match="PA_AUDIT_KEY: must be at least 32"):
        keys._keys("sqlite://", "too short")


def test_the_key_file_lies_beside_a_sqlite_database_and_in_data_otherwise(tmp_path):
    assert keys.key_file_for(f"sqlite:///{tmp_path}/x.db") == tmp_path / "audit.key"
    assert keys.key_file_for("postgresql+psycopg://u@h/db") == keys.FALLBACK_KEY_DIR / "audit.key"
    assert keys.key_file_for("sqlite://") == keys.FALLBACK_KEY_DIR / "audit.key"
