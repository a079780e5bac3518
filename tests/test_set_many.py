"""found.set_many: many keys, to one value or each to its own, in one call; read back by
the official binding."""

from __future__ import annotations

import random

import fdb
import pytest

import found
from found import errors


async def test_set_many_writes_what_a_set_per_key_writes(db: found.Database, fdb_db: fdb.Database):
    rng = random.Random(3)
    keys = [b"many/" + rng.randbytes(rng.randint(0, 40)) for _ in range(2_000)]
    keys += keys[:10]  # a key twice is set twice, harmlessly
    views = [memoryview(b"many/view"), bytearray(b"many/array")]
    pairs = {b"many/own/" + rng.randbytes(8): rng.randbytes(rng.randint(0, 300)) for _ in range(99)}

    async def write(tx):
        found.set_many(tx, keys, b"shared")
        found.set_many(tx, views)  # bytes-like keys, the default value b""
        found.set_many(tx, (key for key in [b"many/generated"]), b"g")
        found.set_many(tx, [], b"nothing")
        found.set_many(tx, pairs, [value for _, value in pairs.items()])
        found.set_many(tx, [b"many/tuple"], (bytearray(b"t"),))

    await found.transactional(db, write)
    expected = {key: b"shared" for key in keys}
    expected |= {b"many/view": b"", b"many/array": b"", b"many/generated": b"g"}
    expected |= pairs | {b"many/tuple": b"t"}
    stored = {kv.key: kv.value for kv in fdb_db.get_range(b"many/", b"many0")}
    assert stored == expected


@pytest.mark.parametrize(
    ("keys", "value", "error", "words"),
    [
        ([b"bad/a", "text", b"bad/b"], b"", errors.InvalidType, "key must be bytes"),
        ([b"bad/a", b"k" * 10_001], b"", errors.KeyTooLarge, "10001 bytes"),
        ([b"bad/a"], b"v" * 100_001, errors.ValueTooLarge, "100,000"),
        ([b"bad/a"], "text", errors.InvalidType, "values must be bytes or a sequence"),
        ([b"bad/a", b"bad/b"], [b"1", "2"], errors.InvalidType, "value must be bytes"),
        ([b"bad/a", b"bad/b"], [b"1", b"v" * 100_001], errors.ValueTooLarge, "100,000"),
        ([b"bad/a", b"bad/b"], [b"1"], errors.InvalidArgument, "2 keys but 1 values"),
        ([b"bad/a", None], b"", errors.InvalidType, "NoneType"),
    ],
)
async def test_set_many_checks_every_key_before_writing_any(
    db: found.Database, fdb_db: fdb.Database, keys, value, error, words
):
    async def write(tx):
        with pytest.raises(error, match=words):
            found.set_many(tx, keys, value)
        found.set(tx, b"bad/marker", b"the transaction still commits")

    await found.transactional(db, write)
    # none of the call's keys, not even those before the bad one
    assert [kv.key for kv in fdb_db.get_range(b"bad/", b"bad0")] == [b"bad/marker"]
