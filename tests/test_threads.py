"""Several event loops in several threads share one database handle: each loop gets its
own completion notifier, each thread its own scratch buffers, and the engine serialises
what must be serialised."""

from __future__ import annotations

import asyncio
import threading

import found


async def increment_many(db: found.Database, key: bytes, count: int) -> None:
    async def increment(tx):
        value = await found.get(tx, key)
        found.set(tx, key, str(int(value or b"0") + 1).encode())

    await asyncio.gather(*[found.transactional(db, increment) for _ in range(count)])


async def test_event_loops_in_threads_share_a_database(db):
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            asyncio.run(increment_many(db, b"shared", 100))
            asyncio.run(increment_many(db, b"own%d" % index, 50))
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    assert not errors
    rows = dict(await found.transactional(db, lambda tx: found.all(found.query(tx, b"", b"\xff"))))
    assert rows[b"shared"] == b"400"
    assert all(rows[b"own%d" % index] == b"50" for index in range(4))
