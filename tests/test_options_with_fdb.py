"""Engine options, watches, transaction calls and fault injection, through the official
`fdb` binding (a client we did not write)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import fdb
import pytest


def code_of(operation) -> int:
    with pytest.raises(fdb.FDBError) as caught:
        operation()
    return caught.value.code


def test_watch_fires_on_another_transactions_change(fdb_db):
    fdb_db[b"w"] = b"0"
    tr = fdb_db.create_transaction()
    watch = tr.watch(b"w")
    tr.commit().wait()
    fired = threading.Event()
    watch.on_ready(lambda _: fired.set())
    assert not fired.wait(0.05)
    fdb_db[b"w"] = b"0"  # same value: no change
    assert not fired.wait(0.05)
    fdb_db[b"w"] = b"1"
    assert fired.wait(5)
    watch.wait()


def test_watch_cancel_and_limits(fdb_db):
    tr = fdb_db.create_transaction()
    watch = tr.watch(b"c")
    tr.commit().wait()
    watch.cancel()
    assert code_of(watch.wait) == 1101
    tr = fdb_db.create_transaction()
    tr.options.set_read_your_writes_disable()
    assert code_of(lambda: tr.watch(b"x").wait()) == 1034
    db = fdb_db
    db.options.set_max_watches(2)
    try:
        tr = db.create_transaction()
        first, second = tr.watch(b"a"), tr.watch(b"b")
        assert code_of(lambda: tr.watch(b"c").wait()) == 1032
        first.cancel()
        second.cancel()
    finally:
        db.options.set_max_watches(10_000)


def test_timeout_and_retry_limit(fdb_db):
    tr = fdb_db.create_transaction()
    tr.options.set_timeout(1)
    time.sleep(0.01)
    assert code_of(lambda: tr[b"k"].wait()) == 1031
    tr = fdb_db.create_transaction()
    tr.options.set_retry_limit(2)
    conflict = fdb.FDBError(1020)
    tr.on_error(conflict).wait()
    tr.on_error(conflict).wait()
    assert code_of(lambda: tr.on_error(conflict).wait()) == 1020  # limit reached
    assert code_of(lambda: tr[b"k"].wait()) == 1025  # and the transaction is cancelled


def test_max_retry_delay_caps_the_backoff(fdb_db):
    tr = fdb_db.create_transaction()
    tr.options.set_max_retry_delay(2)
    started = time.monotonic()
    for _ in range(8):  # unbounded, the back-off would reach 10 ms × 2^7
        tr.on_error(fdb.FDBError(1020)).wait()
    assert time.monotonic() - started < 0.5


def test_size_limits_at_database_and_transaction_level(fdb_db):
    fdb_db.options.set_transaction_size_limit(100)
    try:
        tr = fdb_db.create_transaction()
        tr[b"k"] = b"v" * 200
        assert code_of(lambda: tr.commit().wait()) == 2101
        tr = fdb_db.create_transaction()
        tr.options.set_size_limit(10_000)  # a per-transaction override…
        tr[b"k"] = b"v" * 200
        tr.on_error(fdb.FDBError(1020)).wait()  # …survives on_error, as in FDB
        tr[b"k"] = b"v" * 200
        tr.commit().wait()
    finally:
        fdb_db.options.set_transaction_size_limit(10_000_000)


def test_read_your_writes_disable_and_snapshot_ryw(fdb_db):
    fdb_db[b"r"] = b"stored"
    tr = fdb_db.create_transaction()
    tr.options.set_read_your_writes_disable()
    tr[b"r"] = b"mine"
    assert tr[b"r"] == b"stored"
    fdb_db.options.set_snapshot_ryw_disable()
    try:
        tr = fdb_db.create_transaction()
        tr[b"r"] = b"mine"
        assert tr.snapshot[b"r"] == b"stored"
        assert tr[b"r"] == b"mine"
    finally:
        fdb_db.options.set_snapshot_ryw_enable()


def test_next_write_no_write_conflict_range(fdb_db):
    fdb_db[b"n"] = b"0"
    reader = fdb_db.create_transaction()
    reader[b"n"].wait()
    reader[b"elsewhere"] = b"1"
    writer = fdb_db.create_transaction()
    writer.options.set_next_write_no_write_conflict_range()
    writer[b"n"] = b"1"
    writer.commit().wait()
    reader.commit().wait()  # no conflict: the write left no conflict range


def test_system_keys_writes_need_access_system_keys(fdb_db):
    tr = fdb_db.create_transaction()
    tr[b"\xff\x02"] = b"x"
    assert code_of(lambda: tr.commit().wait()) == 2004
    tr = fdb_db.create_transaction()
    tr.options.set_access_system_keys()
    tr[b"\xff\x02"] = b"x"
    tr.commit().wait()


def test_used_during_commit_and_read_only_commits(fdb_db):
    tr = fdb_db.create_transaction()
    tr[b"k"].wait()
    stamp = tr.get_versionstamp()
    tr.commit().wait()
    assert tr.get_committed_version() == -1
    assert code_of(stamp.wait) == 2021
    tr = fdb_db.create_transaction()
    tr[b"k"] = b"v"
    tr.commit()  # outstanding…
    assert code_of(lambda: tr[b"k"].wait()) == 2017


def test_sizes_and_split_points(fdb_db):
    @fdb.transactional
    def load(tr):
        for index in range(200):
            tr[b"s%03d" % index] = b"x" * 100

    load(fdb_db)
    tr = fdb_db.create_transaction()
    size = tr.get_estimated_range_size_bytes(b"s", b"t").wait()
    assert 200 * 100 <= size <= 200 * 110
    points = tr.get_range_split_points(b"s", b"t", 2000).wait()
    assert points[0] == b"s" and points[-1] == b"t" and 5 <= len(points) <= 20
    sizes = []
    for index in range(3):
        tr[b"grow%d" % index] = b"v"
        sizes.append(tr.get_approximate_size().wait())
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    status = json.loads(fdb_db.get_client_status().wait())
    assert status["Healthy"] is True


FAULTS = textwrap.dedent(
    """
    import ctypes, json, sys
    import found._native
    ctypes.CDLL(found._native.embedded_library_path())
    import fdb
    fdb.api_version(730)
    fdb.options.set_knob("found_fault_seed=" + sys.argv[1])
    fdb.options.set_knob("found_fault_probability=0.3")
    db = fdb.open("found:memory")
    outcomes = []
    for index in range(80):
        tr = db.create_transaction()
        tr[b"k%d" % index] = b"v"
        try:
            tr.commit().wait()
            outcomes.append(0)
        except fdb.FDBError as error:
            outcomes.append(error.code)
    print(json.dumps(outcomes))
    """
)


def run_faults(seed: int) -> list[int]:
    result = subprocess.run(
        [sys.executable, "-c", FAULTS, str(seed)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_fault_injection_through_fdb_is_reproducible():
    first, again, other = run_faults(3), run_faults(3), run_faults(4)
    assert first == again and first != other
    assert {1007, 1020, 1021} <= set(first) and 0 in first
