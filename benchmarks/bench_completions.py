"""How much a future completed on another thread costs an awaiting task.

Commits on the embedded engine complete on its network thread and reach the event loop
through one eventfd wake-up per batch. This measures, in one run, the cost per commit with
1 and with 64 commits in flight (found:memory, so no disk sync is involved), next to the
baseline an asyncio program pays for the same hop: `loop.call_soon_threadsafe` from a
worker thread, 1 and 64 at a time.

    python benchmarks/bench_completions.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from queue import SimpleQueue

import found


async def commits(db: found.Database, in_flight: int, rounds: int) -> float:
    """µs per commit when `in_flight` commits are awaited together."""

    async def one(index: int) -> None:
        tx = found.create_transaction(db)
        found.set(tx, b"k%d" % index, b"v")
        await found.commit(tx)
        tx.close()

    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*[one(index) for index in range(in_flight)])
    return (time.perf_counter() - started) / (rounds * in_flight) * 1e6


async def watch_deliveries(db: found.Database, in_flight: int, rounds: int) -> float:
    """µs per future: `in_flight` watches, all fired by one commit on the network thread,
    delivered to their awaiting tasks (the time of that one commit included)."""
    total = 0.0
    for round_ in range(rounds):
        async with found.transaction(db) as tx:
            watches = [found.watch(tx, b"w%d" % index) for index in range(in_flight)]
        waiters = [asyncio.ensure_future(watch) for watch in watches]
        await asyncio.sleep(0)
        started = time.perf_counter()
        async with found.transaction(db) as tx:
            for index in range(in_flight):
                found.set(tx, b"w%d" % index, b"%d" % round_)
        await asyncio.gather(*waiters)
        total += time.perf_counter() - started
    return total / (rounds * in_flight) * 1e6


async def thread_hops(in_flight: int, rounds: int) -> float:
    """µs per future completed by a worker thread with call_soon_threadsafe."""
    loop = asyncio.get_running_loop()
    requests: SimpleQueue = SimpleQueue()

    def worker() -> None:
        while True:
            futures = requests.get()
            if futures is None:
                return
            for future in futures:
                loop.call_soon_threadsafe(future.set_result, None)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started = time.perf_counter()
    for _ in range(rounds):
        futures = [loop.create_future() for _ in range(in_flight)]
        requests.put(futures)
        await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    requests.put(None)
    thread.join()
    return elapsed / (rounds * in_flight) * 1e6


async def main(quick: bool) -> None:
    reps = 3 if quick else 5
    rounds = {1: 300 if quick else 2000, 64: 20 if quick else 100}
    db = await found.open("found:memory")
    rows: dict[str, list[float]] = {}
    for _ in range(reps):
        rows.setdefault("found watches, 64 fired by one commit", []).append(
            await watch_deliveries(db, 64, rounds[64])
        )
        for in_flight in (1, 64):
            rows.setdefault(f"found commit, {in_flight} in flight", []).append(
                await commits(db, in_flight, rounds[in_flight])
            )
            rows.setdefault(f"call_soon_threadsafe, {in_flight} in flight", []).append(
                await thread_hops(in_flight, rounds[in_flight])
            )
    db.close()
    print(f"# {sys.executable} benchmarks/bench_completions.py" + (" --quick" if quick else ""))
    print(f"{'figure':40} {'µs each (median)':>18}")
    for name, values in rows.items():
        print(f"{name:40} {statistics.median(values):18.2f}")
    delivered = statistics.median(rows["found watches, 64 fired by one commit"])
    hop_64 = statistics.median(rows["call_soon_threadsafe, 64 in flight"])
    verdict = "met" if delivered <= 10 else "missed"
    print(
        f"\n64 futures completed on the network thread: {delivered:.2f} µs each vs "
        f"{hop_64:.2f} µs per bare thread hop ({delivered / hop_64:.2f}x); "
        f"target <= 10 µs each: {verdict}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
