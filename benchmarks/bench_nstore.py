"""nstore (n=3) on the embedded engine against stdlib sqlite3, in one run.

    python benchmarks/bench_nstore.py [--quick] [--triples N] [--reps N]

Workload: a small social graph — per person a name, an age and 3 "follows" edges —
100,000 triples (10,000 with --quick).

- load: add every triple, 5,000 per transaction (found) / per commit (SQLite) — found
  with `add_many` per batch (SQLite: `executemany` per batch), and with one `add` per
  triple;
- join: (?a, "follows", ?b), (?b, "name", ?name) — 3 bindings per person, all read in
  one transaction;
- point: 10,000 `ask` of existing triples, 1,000 per transaction.

SQLite baseline: in memory, one table `triples(s, p, o)` WITHOUT ROWID with primary key
(s, p, o) and indexes (p, o, s) and (o, s, p) — the same three orders as nstore's
indices — loaded with executemany, queried with the equivalent self-join. found runs on
`found:memory`. Both run from scratch `--reps` times (3; 1 with --quick), alternating
which goes first; the table shows each system's median and the median of the
per-repetition ratios. Read the ratios, not the absolute figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import found  # noqa: E402
from found.ext import nstore  # noqa: E402
from found.ext.nstore import var  # noqa: E402

BATCH = 5_000


def make_triples(count: int) -> list[tuple]:
    rng = random.Random(42)
    people = count // 5
    triples = []
    for person in range(people):
        subject = f"person:{person}"
        triples.append((subject, "name", f"Name {person}"))
        triples.append((subject, "age", rng.randrange(18, 90)))
        for target in rng.sample(range(people), 3):
            triples.append((subject, "follows", f"person:{target}"))
    rng.shuffle(triples)
    return triples


def timed(label: str, results: dict, work: int):
    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            elapsed = time.perf_counter() - self.start
            results[label] = (work / elapsed, elapsed)

    return Timer()


# --- found -----------------------------------------------------------------------------


async def run_found(triples: list[tuple], results: dict) -> int:
    db = await found.open("found:memory")
    store = nstore.make("triples", ("bench", "triples"), 3)

    async def load(tx, batch):
        await nstore.add_many(tx, store, batch)

    with timed("load", results, len(triples)):
        for start in range(0, len(triples), BATCH):
            await found.transactional(db, load, triples[start : start + BATCH])

    async def join(tx):
        total = 0
        async for _ in nstore.query(
            tx, store, (var("a"), "follows", var("b")), (var("b"), "name", var("name"))
        ):
            total += 1
        return total

    expected = sum(1 for t in triples if t[1] == "follows")
    start = time.perf_counter()
    bindings = await found.transactional(db, join)
    elapsed = time.perf_counter() - start
    results["join"] = (bindings / elapsed, elapsed)
    assert bindings == expected, (bindings, expected)

    probes = random.Random(1).sample(triples, min(10_000, len(triples)))

    async def ask(tx, batch):
        for triple in batch:
            assert await nstore.ask(tx, store, *triple)

    with timed("point", results, len(probes)):
        for start in range(0, len(probes), 1_000):
            await found.transactional(db, ask, probes[start : start + 1_000])
    closing = db.close()
    if asyncio.iscoroutine(closing):
        await closing

    # the load again, into a fresh database, one `add` per triple
    other = await found.open("found:memory")

    async def load_one_by_one(tx, batch):
        for triple in batch:
            await nstore.add(tx, store, *triple)

    with timed("load_add", results, len(triples)):
        for start in range(0, len(triples), BATCH):
            await found.transactional(other, load_one_by_one, triples[start : start + BATCH])
    closing = other.close()
    if asyncio.iscoroutine(closing):
        await closing
    return bindings


# --- SQLite ----------------------------------------------------------------------------


def run_sqlite(triples: list[tuple], results: dict) -> int:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.executescript(
        """
        CREATE TABLE triples (s, p, o, value BLOB NOT NULL DEFAULT x'',
                              PRIMARY KEY (s, p, o)) WITHOUT ROWID;
        CREATE INDEX triples_pos ON triples (p, o, s);
        CREATE INDEX triples_osp ON triples (o, s, p);
        """
    )
    with timed("load", results, len(triples)):
        for start in range(0, len(triples), BATCH):
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT OR REPLACE INTO triples (s, p, o) VALUES (?, ?, ?)",
                triples[start : start + BATCH],
            )
            connection.execute("COMMIT")
    start = time.perf_counter()
    rows = connection.execute(
        "SELECT t1.s, t1.o, t2.o FROM triples t1 JOIN triples t2 ON t2.s = t1.o"
        " WHERE t1.p = 'follows' AND t2.p = 'name'"
    ).fetchall()
    elapsed = time.perf_counter() - start
    results["join"] = (len(rows) / elapsed, elapsed)
    probes = random.Random(1).sample(triples, min(10_000, len(triples)))
    with timed("point", results, len(probes)):
        for start in range(0, len(probes), 1_000):
            connection.execute("BEGIN")
            for triple in probes[start : start + 1_000]:
                row = connection.execute(
                    "SELECT 1 FROM triples WHERE s = ? AND p = ? AND o = ?", triple
                ).fetchone()
                assert row is not None
            connection.execute("COMMIT")
    connection.close()
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 triples, a smoke test")
    parser.add_argument("--triples", type=int, default=None)
    parser.add_argument("--reps", type=int, default=None, help="repetitions (3; 1 with --quick)")
    arguments = parser.parse_args()
    count = arguments.triples or (10_000 if arguments.quick else 100_000)
    reps = arguments.reps or (1 if arguments.quick else 3)
    triples = make_triples(count)
    runs: list[tuple[dict, dict]] = []
    for rep in range(reps):
        found_results: dict = {}
        sqlite_results: dict = {}
        if rep % 2 == 0:
            run_sqlite(triples, sqlite_results)
            asyncio.run(run_found(triples, found_results))
        else:
            asyncio.run(run_found(triples, found_results))
            run_sqlite(triples, sqlite_results)
        runs.append((found_results, sqlite_results))

    print(f"nstore n=3, {len(triples):,} triples, found:memory vs sqlite3 {sqlite3.sqlite_version}"
          f" :memory: (median of {reps} alternating run{'s' if reps > 1 else ''})")
    print(f"{'workload':<36}{'found':>12}{'sqlite':>12}{'found/sqlite':>14}")
    labels = {
        "load": ("load, add_many (triples/s)", "load"),
        "load_add": ("load, add per triple (triples/s)", "load"),
        "join": ("2-pattern join (bindings/s)", "join"),
        "point": ("ask, 1000 per txn (lookups/s)", "point"),
    }
    for key, (label, baseline) in labels.items():
        ours = statistics.median(mine[key][0] for mine, _ in runs)
        theirs = statistics.median(base[baseline][0] for _, base in runs)
        ratio = statistics.median(mine[key][0] / base[baseline][0] for mine, base in runs)
        print(f"{label:<36}{ours:>12,.0f}{theirs:>12,.0f}{ratio:>13.2f}x")


if __name__ == "__main__":
    main()
