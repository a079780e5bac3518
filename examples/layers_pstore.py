"""Keyword search ranked by BM25.

    python examples/layers_pstore.py [cluster-file]   (default: a fresh in-memory engine)
"""

import asyncio
import sys

import found
from found.ext import pstore

index = pstore.make("articles", ("example", "articles"))

ARTICLES = {
    "fdb": "FoundationDB is an ordered key-value store with ACID transactions.",
    "sqlite": "SQLite is an embedded SQL database engine; FTS5 adds full-text search.",
    "layers": "Layers map data models onto ordered keys: tuple stores, blobs, search.",
    "bm25": "BM25 ranks documents by term frequency, inverse document frequency and length.",
}


async def main(cluster_file: str) -> None:
    db = await found.open(cluster_file)

    async def load(tx):
        for docid, text in ARTICLES.items():
            await pstore.index_text(tx, index, docid, text)

    await found.transactional(db, load)

    async def search(tx, text, mode="any"):
        return await pstore.search(tx, index, pstore.tokenize(text), limit=3, mode=mode)

    for query in ["ordered keys", "search engine", "document frequency"]:
        hits = await found.transactional(db, search, query)
        print(f"{query!r}:", ", ".join(f"{docid} ({score:.2f})" for docid, score in hits))
    print("'ordered store' (all words):", await found.transactional(db, search,
                                                                   "ordered store", "all"))
    db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "found:memory"))
