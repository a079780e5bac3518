"""A page-view counter under contention: many asyncio tasks increment a few shared
counters at once. Conflicting transactions fail with NotCommitted (1020) inside the
engine and `found.transactional` retries them, so no increment is lost. Run it twice:
the counts persist in the embedded engine's default data directory.

    python examples/counter.py [--tasks 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import found

PAGES = [b"/", b"/docs", b"/blog"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200, help="concurrent visits to record")
    parser.add_argument("--data-dir", default=None, help="data directory (default: found's)")
    arguments = parser.parse_args()

    db = await found.open(arguments.data_dir)
    prefix = found.pack(("views",))
    attempts = 0

    async def record_visit(tx: found.Transaction, page: bytes) -> None:
        nonlocal attempts
        attempts += 1  # runs again on every retry
        key = found.pack(("views", page))
        current = await found.get(tx, key)
        count = found.unpack(current)[0] if current else 0
        await asyncio.sleep(0)  # let other visits interleave: real contention
        found.set(tx, key, found.pack((count + 1,)))

    started = time.perf_counter()
    visits = [
        found.transactional(db, record_visit, PAGES[i % len(PAGES)]) for i in range(arguments.tasks)
    ]
    await asyncio.gather(*visits)
    elapsed = time.perf_counter() - started

    async def read_counts(tx: found.Transaction) -> list[tuple[bytes, bytes]]:
        return await found.all(found.query(tx, prefix, found.next_prefix(prefix)))

    print(
        f"recorded {arguments.tasks} visits in {elapsed * 1000:.0f} ms "
        f"({attempts - arguments.tasks} retries after conflicts)"
    )
    for key, value in await found.transactional(db, read_counts):
        print(f"  {found.unpack(key)[1].decode():8} {found.unpack(value)[0]:6} views")
    print(f"data directory: {arguments.data_dir or found.default_data_directory()}")
    db.close()


if __name__ == "__main__":
    asyncio.run(main())
