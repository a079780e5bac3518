"""pstore on the embedded engine against SQLite FTS5, in one run.

    python benchmarks/bench_pstore.py [--quick] [--documents N] [--reps N]

Workload: 10,000 small synthetic documents (1,000 with --quick), 8–40 words drawn from a
Zipf-like vocabulary of 5,000 words.

- index: tokenize and index every document, 500 per transaction (found) / per commit
  (FTS5, which tokenizes inside SQLite, with `executemany`) — found with `index_many`
  per batch, and with one `index` per document;
- search: 500 queries of 1–3 words, top 10 by BM25, "any word" semantics
  (FTS5: `MATCH 'a OR b' ORDER BY bm25(docs) LIMIT 10`).

Both sides rank by BM25 with k1 = 1.2, b = 0.75, but FTS5's idf is ln((N - df + 0.5) /
(df + 0.5)) floored at 1e-6 where pstore's is ln(1 + (N - df + 0.5) / (df + 0.5)), so
the rankings differ slightly: the table reports how much the top-10 sets overlap.
SQLite runs in memory, found on `found:memory`. Both run from scratch `--reps` times (3;
1 with --quick), alternating which goes first; the table shows each system's median and
the median of the per-repetition ratios. Read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import found  # noqa: E402
from found.ext import pstore  # noqa: E402

BATCH = 500
QUERIES = 500


def make_corpus(count: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "xe", "zu", "pa", "do"]
    vocabulary = sorted(
        {"".join(rng.choices(syllables, k=rng.randrange(2, 5))) for _ in range(6_000)}
    )[:5_000]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    documents = [
        " ".join(rng.choices(vocabulary, weights, k=rng.randrange(8, 41))) for _ in range(count)
    ]
    queries = [
        rng.choices(vocabulary, weights, k=rng.randrange(1, 4)) for _ in range(QUERIES)
    ]
    return documents, queries


async def run_found(documents: list[str], queries: list[list[str]], results: dict) -> list:
    db = await found.open("found:memory")
    store = pstore.make("docs", ("bench", "docs"))

    async def index(tx, first, batch):
        counted = [
            (first + offset, Counter(pstore.tokenize(text))) for offset, text in enumerate(batch)
        ]
        await pstore.index_many(tx, store, counted)

    start = time.perf_counter()
    for first in range(0, len(documents), BATCH):
        await found.transactional(db, index, first, documents[first : first + BATCH])
    elapsed = time.perf_counter() - start
    results["index"] = len(documents) / elapsed

    # the same indexing into a database of its own, one `index` call per document
    other = await found.open("found:memory")

    async def index_one_by_one(tx, first, batch):
        for offset, text in enumerate(batch):
            await pstore.index(tx, store, first + offset, Counter(pstore.tokenize(text)))

    start = time.perf_counter()
    for first in range(0, len(documents), BATCH):
        await found.transactional(other, index_one_by_one, first, documents[first : first + BATCH])
    elapsed = time.perf_counter() - start
    results["index_one"] = len(documents) / elapsed
    closing = other.close()
    if asyncio.iscoroutine(closing):
        await closing

    async def search(tx, keywords):
        return await pstore.search(tx, store, keywords, 10)

    rankings = []
    start = time.perf_counter()
    for keywords in queries:
        rankings.append([docid for docid, _ in await found.transactional(db, search, keywords)])
    elapsed = time.perf_counter() - start
    results["search"] = len(queries) / elapsed
    closing = db.close()
    if asyncio.iscoroutine(closing):
        await closing
    return rankings


def run_sqlite(documents: list[str], queries: list[list[str]], results: dict) -> list:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
    start = time.perf_counter()
    for first in range(0, len(documents), BATCH):
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO docs (rowid, body) VALUES (?, ?)",
            [(first + offset, text) for offset, text in
             enumerate(documents[first : first + BATCH])],
        )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    results["index"] = len(documents) / elapsed
    rankings = []
    start = time.perf_counter()
    for keywords in queries:
        match = " OR ".join(f'"{word}"' for word in keywords)
        rows = connection.execute(
            "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10", (match,)
        ).fetchall()
        rankings.append([row[0] for row in rows])
    elapsed = time.perf_counter() - start
    results["search"] = len(queries) / elapsed
    connection.close()
    return rankings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 documents, a smoke test")
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--reps", type=int, default=None, help="repetitions (3; 1 with --quick)")
    arguments = parser.parse_args()
    count = arguments.documents or (1_000 if arguments.quick else 10_000)
    reps = arguments.reps or (1 if arguments.quick else 3)
    documents, queries = make_corpus(count)
    runs: list[tuple[dict, dict]] = []
    for rep in range(reps):
        found_results: dict = {}
        sqlite_results: dict = {}
        if rep % 2 == 0:
            theirs = run_sqlite(documents, queries, sqlite_results)
            ours = asyncio.run(run_found(documents, queries, found_results))
        else:
            ours = asyncio.run(run_found(documents, queries, found_results))
            theirs = run_sqlite(documents, queries, sqlite_results)
        runs.append((found_results, sqlite_results))
    overlap = sum(len(set(a) & set(b)) for a, b in zip(ours, theirs, strict=True))
    possible = sum(max(len(a), len(b)) for a, b in zip(ours, theirs, strict=True))

    print(f"pstore, {count:,} documents, {len(queries)} queries, found:memory vs"
          f" sqlite3 {sqlite3.sqlite_version} FTS5 :memory:"
          f" (median of {reps} alternating run{'s' if reps > 1 else ''})")
    print(f"{'workload':<34}{'found':>12}{'fts5':>12}{'found/fts5':>12}")
    labels = [
        ("index", "index", "index, index_many (documents/s)"),
        ("index_one", "index", "index, index per doc (documents/s)"),
        ("search", "search", "top-10 search (queries/s)"),
    ]
    for key, baseline, label in labels:
        ours_rate = statistics.median(mine[key] for mine, _ in runs)
        theirs_rate = statistics.median(base[baseline] for _, base in runs)
        ratio = statistics.median(mine[key] / base[baseline] for mine, base in runs)
        print(f"{label:<34}{ours_rate:>12,.0f}{theirs_rate:>12,.0f}{ratio:>11.2f}x")
    print(f"top-10 overlap with FTS5: {overlap / max(possible, 1):.0%}")


if __name__ == "__main__":
    main()
