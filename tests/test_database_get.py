"""``db.get(key)``: one key read in a snapshot transaction of its own (fdb's ``db[key]``),
checked against the official binding on the same store."""

from __future__ import annotations

import asyncio
import random

import fdb
import pytest

import found
from found import errors


async def test_agrees_with_fdb_on_present_absent_and_changed_keys(
    db: found.Database, fdb_db: fdb.Database
) -> None:
    rng = random.Random(7)
    keys = [bytes(rng.randrange(255) for _ in range(rng.randrange(1, 12))) for _ in range(300)]
    for round_number in range(3):
        async with found.transaction(db) as tx:
            for key in rng.sample(keys, 100):
                if rng.random() < 0.3:
                    found.clear(tx, key)
                else:
                    found.set(tx, key, b"%d" % rng.randrange(10**6) * rng.randrange(1, 40))
        for key in keys + [b"", b"never written"]:
            expected = fdb_db[key]  # fdb 8: None when absent
            expected = None if expected is None else bytes(expected)
            assert await db.get(key) == expected, (round_number, key)


async def test_sees_a_commit_acknowledged_just_before(db: found.Database) -> None:
    for number in range(200):
        async with found.transaction(db) as tx:
            found.set(tx, b"counter", b"%d" % number)
        assert await db.get(b"counter") == b"%d" % number


async def test_a_value_of_the_largest_size_comes_back_whole(db: found.Database) -> None:
    value = bytes(random.Random(3).randrange(256) for _ in range(100_000))
    async with found.transaction(db) as tx:
        found.set(tx, b"big", value)
    assert await db.get(b"big") == value


async def test_bad_input_and_a_closed_database_are_typed_errors(store_name: str) -> None:
    db = await found.open(store_name)
    with pytest.raises(errors.InvalidType, match="key must be bytes"):
        await db.get("text")  # type: ignore[arg-type]
    with pytest.raises(errors.KeyOutsideLegalRange):  # system keys need an option, as in fdb
        await db.get(b"\xff/coordinators")
    assert await db.get(bytearray(b"absent")) is None  # bytes-like keys are accepted
    db.close()
    with pytest.raises(errors.DatabaseClosed, match="closed"):
        await db.get(b"k")


async def test_concurrent_gets_from_many_tasks(db: found.Database) -> None:
    async with found.transaction(db) as tx:
        for number in range(100):
            found.set(tx, b"k%03d" % number, b"v%d" % number)
    results = await asyncio.gather(*(db.get(b"k%03d" % (n % 120)) for n in range(600)))
    assert results == [b"v%d" % (n % 120) if n % 120 < 100 else None for n in range(600)]
