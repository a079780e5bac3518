"""No native object outlives its use: after heavy use — retries, early exits from range
iteration, cancelled awaits, results never awaited, exceptions — the engine's counts of
live futures, transactions and database handles return to where they started."""

from __future__ import annotations

import asyncio
import gc
import json

import found


async def live_objects(db: found.Database) -> dict:
    gc.collect()
    await asyncio.sleep(0.05)  # let the network thread finish what it still holds

    async def status(tx):
        return json.loads(await found.get(tx, b"\xff\xff/status/json"))

    return (await found.transactional(db, status))["found"]["live_objects"]


async def test_heavy_use_leaks_no_native_objects(db):
    before = await live_objects(db)

    async def work(tx, index):
        found.set(tx, b"k%04d" % index, b"v" * (index % 50))
        await found.get(tx, b"k%04d" % ((index * 7) % 300))
        async for _ in found.query(tx, b"k", b"l", mode=found.StreamingMode.SMALL):
            break  # leave the iterator early, with a prefetched batch pending
        found.add(tx, b"counter", b"\x01")

    for round_ in range(5):
        await asyncio.gather(*[found.transactional(db, work, i + 60 * round_) for i in range(60)])

    for _ in range(50):
        async with found.transaction(db) as tx:
            found.get_versionstamp(tx)  # never awaited
            found.set_versionstamped_value(tx, b"vs", b"\x00" * 14)
            found.watch(tx, b"never-awaited")

    async def failing(tx):
        found.set(tx, b"x", b"y")
        raise RuntimeError("boom")

    for _ in range(20):
        try:
            await found.transactional(db, failing)
        except RuntimeError:
            pass

    for _ in range(20):
        async with found.transaction(db) as tx:
            watch = found.watch(tx, b"cancelled")
        task = asyncio.ensure_future(watch)
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    del tx, watch, task
    after = await live_objects(db)
    assert after == before
