"""A tiny social graph in an nstore (a triple store): add facts, then ask a join.

    python examples/layers_nstore.py [cluster-file]   (default: a fresh in-memory engine)
"""

import asyncio
import sys

import found
from found.ext import nstore
from found.ext.nstore import var

graph = nstore.make("graph", ("example", "graph"), 3)

FACTS = [
    ("alice", "name", "Alice"),
    ("bob", "name", "Bob"),
    ("carol", "name", "Carol"),
    ("alice", "follows", "bob"),
    ("alice", "follows", "carol"),
    ("bob", "follows", "carol"),
]


async def load(tx):
    for fact in FACTS:
        await nstore.add(tx, graph, *fact)


async def followed_by_alice(tx):
    # who does alice follow, and what are their names? (a 2-pattern join)
    return await found.all(
        nstore.query(
            tx,
            graph,
            ("alice", "follows", var("who")),
            (var("who"), "name", var("name")),
        )
    )


async def popularity(tx):
    return {
        person: await nstore.count(tx, graph, (var("x"), "follows", person))
        for person in ("alice", "bob", "carol")
    }


async def main(cluster_file: str) -> None:
    db = await found.open(cluster_file)
    await found.transactional(db, load)
    for binding in await found.transactional(db, followed_by_alice):
        print(f"alice follows {binding['who']} ({binding['name']})")
    print("followers:", await found.transactional(db, popularity))
    db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "found:memory"))
