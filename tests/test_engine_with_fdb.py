"""The engine's FDB semantics, checked through the official `fdb` binding — a client we
did not write — and cross-checked against `found` on the same store."""

from __future__ import annotations

import random
import struct

import fdb
import fdb.tuple
import pytest

import found


def test_read_your_writes_and_snapshot_ryw(fdb_db):
    fdb_db[b"a"] = b"stored"
    tr = fdb_db.create_transaction()
    tr[b"a"] = b"mine"
    assert tr[b"a"] == b"mine"
    assert tr.snapshot[b"a"] == b"mine"
    tr.options.set_snapshot_ryw_disable()
    assert tr.snapshot[b"a"] == b"stored"
    assert tr[b"a"] == b"mine"


def test_conflict_exactly_one_commits_other_gets_1020_then_retries(fdb_db):
    fdb_db[b"x"] = b"0"
    t1, t2 = fdb_db.create_transaction(), fdb_db.create_transaction()
    t1[b"x"].wait()
    t2[b"x"].wait()
    t1[b"x"] = b"1"
    t2[b"x"] = b"2"
    t1.commit().wait()
    with pytest.raises(fdb.FDBError) as caught:
        t2.commit().wait()
    assert caught.value.code == 1020
    t2.on_error(caught.value).wait()
    assert t2[b"x"] == b"1"
    t2[b"x"] = b"2"
    t2.commit().wait()
    assert fdb_db[b"x"] == b"2"


def test_snapshot_read_does_not_conflict_but_serializable_does(fdb_db):
    fdb_db[b"x"] = b"0"
    snap, serial = fdb_db.create_transaction(), fdb_db.create_transaction()
    snap.snapshot[b"x"].wait()
    serial[b"x"].wait()
    snap[b"s"] = b"1"
    serial[b"t"] = b"1"
    fdb_db[b"x"] = b"changed"
    snap.commit().wait()
    with pytest.raises(fdb.FDBError) as caught:
        serial.commit().wait()
    assert caught.value.code == 1020


def test_key_selector_edges(fdb_db):
    for key in (b"a", b"bar", b"baz"):
        fdb_db[key] = b""
    tr = fdb_db.create_transaction()
    KS = fdb.KeySelector
    assert tr.get_key(KS.first_greater_than(b"a")).wait() == b"bar"
    assert tr.get_key(KS.last_less_than(b"a")).wait() == b""
    assert tr.get_key(KS.first_greater_or_equal(b"baz") + 1).wait() == b"\xff"
    assert tr.get_key(KS(b"", False, -1)).wait() == b""
    assert tr.get_key(KS.last_less_or_equal(b"bb")).wait() == b"baz"
    assert tr.get_key(KS.last_less_or_equal(b"bar")).wait() == b"bar"


def test_reverse_ranges_with_limits_and_exact_mode(fdb_db):
    for index in range(10):
        fdb_db[b"r%d" % index] = b"%d" % index
    tr = fdb_db.create_transaction()
    rows = list(tr.get_range(b"r", b"s", limit=3, reverse=True))
    assert [kv.key for kv in rows] == [b"r9", b"r8", b"r7"]
    rows = tr.get_range(b"r", b"s", limit=3, streaming_mode=fdb.StreamingMode.exact).to_list()
    assert [kv.key for kv in rows] == [b"r0", b"r1", b"r2"]


def test_size_limit_errors_leave_nothing_written(fdb_db):
    tr = fdb_db.create_transaction()
    tr[b"fine"] = b"1"
    tr[b"k" * 10_001] = b"v"
    with pytest.raises(fdb.FDBError) as caught:
        tr.commit().wait()
    assert caught.value.code == 2102
    tr = fdb_db.create_transaction()
    tr[b"fine"] = b"1"
    tr[b"k"] = b"v" * 100_001
    with pytest.raises(fdb.FDBError) as caught:
        tr.commit().wait()
    assert caught.value.code == 2103
    tr = fdb_db.create_transaction()
    tr.options.set_size_limit(32)
    tr[b"fine"] = b"x" * 33
    with pytest.raises(fdb.FDBError) as caught:
        tr.commit().wait()
    assert caught.value.code == 2101
    assert fdb_db[b"fine"] is None


@pytest.mark.parametrize(
    ("stored", "op", "param", "expected"),
    [
        (b"a", "bit_and", b"b", b"\x60"),
        (b"c", "bit_and", b"ad", b"a\x00"),
        (b"abc", "bit_and", b"e", b"a"),
        (b"b", "bit_or", b"ad", b"cd"),
        (b"abc", "bit_xor", b"d", b"\x05"),
        (b"b", "max", b"aa", b"aa"),
        (b"cba", "max", b"b", b"c"),
        (b"b", "min", b"aa", b"b\x00"),
        (b"cba", "byte_max", b"b", b"cba"),
        (b"abc", "byte_min", b"b", b"abc"),
        (b"f", "append_if_fits", b"db", b"fdb"),
        (None, "add", b"\x05", b"\x05"),
        (b"\xff", "add", b"\x01\x00", b"\x00\x01"),
        (b"same", "compare_and_clear", b"same", None),
        (b"other", "compare_and_clear", b"same", b"other"),
    ],
)
def test_atomic_ops_match_the_spec_examples(fdb_db, stored, op, param, expected):
    if stored is not None:
        fdb_db[b"atomic"] = stored
    tr = fdb_db.create_transaction()
    getattr(tr, op)(b"atomic", param)
    assert tr[b"atomic"] == expected  # read-your-writes applies the op
    tr.commit().wait()
    assert fdb_db[b"atomic"] == expected


def test_found_and_fdb_read_the_same_data_the_same_way(fdb_db, store_name):
    rng = random.Random(11)
    keys = sorted(
        {bytes(rng.randrange(1, 255) for _ in range(rng.randint(1, 4))) for _ in range(300)}
    )

    @fdb.transactional
    def load(tr):
        for key in keys:
            tr[key] = key[::-1]

    load(fdb_db)

    async def through_found():
        db = await found.open(store_name)
        results = []
        for seed in range(80):
            r = random.Random(seed)
            key = r.choice(keys)
            offset = r.randint(-3, 3)
            or_equal = r.random() < 0.5
            selector = found.KeySelector(key, or_equal, offset)
            begin, end = sorted(r.sample(keys, 2))
            limit = r.choice([0, 1, 7])
            reverse = r.random() < 0.5

            async def read(tx, s=selector, b=begin, e=end, li=limit, rv=reverse):
                return (
                    await found.get_key(tx, s),
                    await found.all(found.query(tx, b, e, limit=li, reverse=rv)),
                )

            results.append(await found.transactional(db, read))
        db.close()
        return results

    import asyncio

    found_results = asyncio.run(through_found())
    for seed, (found_key, found_rows) in enumerate(found_results):
        r = random.Random(seed)
        key = r.choice(keys)
        offset = r.randint(-3, 3)
        or_equal = r.random() < 0.5
        begin, end = sorted(r.sample(keys, 2))
        limit = r.choice([0, 1, 7])
        reverse = r.random() < 0.5
        tr = fdb_db.create_transaction()
        assert tr.get_key(fdb.KeySelector(key, or_equal, offset)).wait() == found_key
        fdb_rows = [
            (kv.key, kv.value) for kv in tr.get_range(begin, end, limit=limit, reverse=reverse)
        ]
        assert fdb_rows == found_rows


def test_versionstamps_are_unique_and_ordered(fdb_db):
    stamps = []
    for _ in range(5):
        tr = fdb_db.create_transaction()
        tr.set_versionstamped_value(b"vs", b"\x00" * 10 + struct.pack("<I", 0))
        stamp = tr.get_versionstamp()
        tr.commit().wait()
        stamps.append(stamp.wait())
        assert fdb_db[b"vs"] == stamps[-1]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5


def test_set_read_version_too_old_and_future(fdb_db):
    tr = fdb_db.create_transaction()
    tr.set_read_version(1)
    with pytest.raises(fdb.FDBError) as caught:
        tr[b"k"].wait()
    assert caught.value.code == 1007
    tr = fdb_db.create_transaction()
    tr.set_read_version(2**62)
    with pytest.raises(fdb.FDBError) as caught:
        tr[b"k"].wait()
    assert caught.value.code == 1009


def test_system_keys_need_the_option(fdb_db):
    tr = fdb_db.create_transaction()
    with pytest.raises(fdb.FDBError) as caught:
        tr[b"\xff/coordinators"].wait()
    assert caught.value.code == 2004
    tr = fdb_db.create_transaction()
    tr.options.set_read_system_keys()
    assert tr[b"\xff/coordinators"].present()


def test_transaction_timeout_and_cancel(fdb_db):
    tr = fdb_db.create_transaction()
    tr.cancel()
    with pytest.raises(fdb.FDBError) as caught:
        tr[b"k"].wait()
    assert caught.value.code == 1025


def test_tuple_layer_is_byte_identical(fdb_db):
    rng = random.Random(5)
    for _ in range(2000):
        value = (
            rng.randint(-(2**70), 2**70),
            rng.randbytes(rng.randint(0, 5)),
            f"s{rng.random()}",
            None,
            (rng.random(), True, (b"\x00", None)),
        )
        packed = fdb.tuple.pack(value)
        assert found.pack(value) == packed
        assert found.unpack(packed) == fdb.tuple.unpack(packed)


def test_transaction_tags_are_limited(fdb_db):
    tr = fdb_db.create_transaction()
    for index in range(5):
        tr.options.set_tag(f"tag{index}")
    tr[b"k"] = b"v"
    tr.commit().wait()
    tr = fdb_db.create_transaction()
    for index in range(6):
        tr.options.set_tag(f"tag{index}")
    with pytest.raises(fdb.FDBError) as caught:
        tr.commit().wait()
    assert caught.value.code == 2109
    tr = fdb_db.create_transaction()
    tr.options.set_tag("x" * 256)
    with pytest.raises(fdb.FDBError) as caught:
        tr[b"k"].wait()
    assert caught.value.code == 2110
