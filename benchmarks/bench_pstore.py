"""pstore on the embedded engine against SQLite FTS5, in one run.

    python benchmarks/bench_pstore.py [--quick] [--documents N]

Workload: 10,000 small synthetic documents (1,000 with --quick), 8–40 words drawn from a
Zipf-like vocabulary of 5,000 words.

- index: tokenize and index every document, 500 per transaction (found) / per commit
  (FTS5, which tokenizes inside SQLite);
- search: 500 queries of 1–3 words, top 10 by BM25, "any word" semantics
  (FTS5: `MATCH 'a OR b' ORDER BY bm25(docs) LIMIT 10`).

Both sides rank by BM25 with k1 = 1.2, b = 0.75, but FTS5's idf is ln((N - df + 0.5) /
(df + 0.5)) floored at 1e-6 where pstore's is ln(1 + (N - df + 0.5) / (df + 0.5)), so
the rankings differ slightly: the table reports how much the top-10 sets overlap.
SQLite runs in memory, found on `found:memory`. One run; read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
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
        for offset, text in enumerate(batch):
            await pstore.index(tx, store, first + offset, Counter(pstore.tokenize(text)))

    start = time.perf_counter()
    for first in range(0, len(documents), BATCH):
        await found.transactional(db, index, first, documents[first : first + BATCH])
    elapsed = time.perf_counter() - start
    results["index"] = len(documents) / elapsed

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
    arguments = parser.parse_args()
    count = arguments.documents or (1_000 if arguments.quick else 10_000)
    documents, queries = make_corpus(count)
    found_results: dict = {}
    sqlite_results: dict = {}
    theirs = run_sqlite(documents, queries, sqlite_results)
    ours = asyncio.run(run_found(documents, queries, found_results))
    overlap = sum(len(set(a) & set(b)) for a, b in zip(ours, theirs, strict=True))
    possible = sum(max(len(a), len(b)) for a, b in zip(ours, theirs, strict=True))

    print(f"pstore, {count:,} documents, {len(queries)} queries, found:memory vs"
          f" sqlite3 {sqlite3.sqlite_version} FTS5 :memory: (one run)")
    print(f"{'workload':<30}{'found':>12}{'fts5':>12}{'found/fts5':>12}")
    for key, label in [("index", "index (documents/s)"), ("search", "top-10 search (queries/s)")]:
        ours_rate, theirs_rate = found_results[key], sqlite_results[key]
        print(f"{label:<30}{ours_rate:>12,.0f}{theirs_rate:>12,.0f}"
              f"{ours_rate / theirs_rate:>11.2f}x")
    print(f"top-10 overlap with FTS5: {overlap / max(possible, 1):.0%}")


if __name__ == "__main__":
    main()
