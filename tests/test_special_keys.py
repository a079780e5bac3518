"""The special-key space (``\\xff\\xff…``) and unreadable versionstamp targets, through the
official `fdb` binding."""

from __future__ import annotations

import json
import struct

import fdb
import pytest


def error_code(operation) -> int:
    with pytest.raises(fdb.FDBError) as caught:
        operation()
    return caught.value.code


def test_status_json_and_connection_string(fdb_db, store_name):
    tr = fdb_db.create_transaction()
    status = json.loads(tr[b"\xff\xff/status/json"])
    assert status["client"]["database_status"] == {"available": True, "healthy": True}
    assert status["client"]["coordinators"]["quorum_reachable"] is True
    assert tr[b"\xff\xff/connection_string"] == store_name.encode()


def test_conflict_ranges_are_readable_as_special_keys(fdb_db):
    tr = fdb_db.create_transaction()
    tr[b"b"].wait()
    tr.get_range(b"d", b"f").to_list()
    tr[b"x"] = b"1"
    prefix = b"\xff\xff/transaction/read_conflict_range/"
    rows = [(kv.key[len(prefix) :], kv.value) for kv in tr.get_range_startswith(prefix)]
    assert rows == [(b"b", b"1"), (b"b\x00", b"0"), (b"d", b"1"), (b"f", b"0")]
    prefix = b"\xff\xff/transaction/write_conflict_range/"
    rows = [(kv.key[len(prefix) :], kv.value) for kv in tr.get_range_startswith(prefix)]
    assert rows == [(b"x", b"1"), (b"x\x00", b"0")]


def test_module_boundaries(fdb_db):
    tr = fdb_db.create_transaction()
    assert error_code(lambda: tr[b"\xff\xff/nothing/here"].wait()) == 2113
    assert error_code(lambda: tr.get_range(b"\xff\xff/a", b"\xff\xff/z").to_list()) == 2112
    tr = fdb_db.create_transaction()
    tr.options.set_special_key_space_relaxed()
    assert not tr[b"\xff\xff/nothing/here"].present()
    assert len(tr.get_range(b"\xff\xff/a", b"\xff\xff/z").to_list()) >= 4


def test_tracing_keys(fdb_db):
    tr = fdb_db.create_transaction()
    identifier = bytes(tr[b"\xff\xff/tracing/transaction_id"])
    assert len(identifier) == 32 and int(identifier, 16) != 0
    assert int(bytes(tr[b"\xff\xff/tracing/token"])) != 0
    rows = tr.get_range_startswith(b"\xff\xff/tracing/").to_list()
    assert [kv.key for kv in rows] == [
        b"\xff\xff/tracing/token",
        b"\xff\xff/tracing/transaction_id",
    ]
    tr.options.set_special_key_space_enable_writes()
    tr[b"\xff\xff/tracing/token"] = b"false"
    assert tr[b"\xff\xff/tracing/token"] == b"0"
    tr = fdb_db.create_transaction()
    tr[b"\xff\xff/tracing/token"] = b"false"
    assert error_code(lambda: tr.commit().wait()) == 2114


def test_versionstamped_key_target_is_unreadable(fdb_db):
    tr = fdb_db.create_transaction()
    tr.set_versionstamped_key(b"log/" + b"\x00" * 10 + struct.pack("<I", 4), b"v")
    assert error_code(lambda: tr.get_range(b"log/", b"log0").to_list()) == 1036
    assert error_code(lambda: tr[b"log/" + b"\x00" * 10].wait()) == 1036
    assert not tr[b"other"].present()  # elsewhere is fine
    tr = fdb_db.create_transaction()
    tr.set_versionstamped_value(b"stamped", b"\x00" * 10 + struct.pack("<I", 0))
    assert error_code(lambda: tr[b"stamped"].wait()) == 1036
    tr.options.set_bypass_unreadable()
    assert tr[b"stamped"] == b"\x00" * 10
