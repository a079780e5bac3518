"""Entities as dicts, found again by any attribute's value.

    python examples/layers_eavstore.py [cluster-file]   (default: a fresh in-memory engine)
"""

import asyncio
import sys

import found
from found.ext import eavstore

people = eavstore.make("people", ("example", "people"))


async def main(cluster_file: str) -> None:
    db = await found.open(cluster_file)

    async def create(tx):
        alice = await eavstore.create(tx, people, {"name": "alice", "city": "Paris", "age": 31})
        bob = await eavstore.create(tx, people, {"name": "bob", "city": "Lyon", "age": 25})
        return alice, bob

    alice, bob = await found.transactional(db, create)

    async def in_city(tx, city):
        uids = await found.all(eavstore.query(tx, people, "city", city))
        return [(await eavstore.get(tx, people, uid))["name"] for uid in uids]

    print("in Paris:", await found.transactional(db, in_city, "Paris"))

    async def move(tx):
        await eavstore.set_attr(tx, people, bob, "city", "Paris")

    await found.transactional(db, move)
    print("in Paris after bob moved:", await found.transactional(db, in_city, "Paris"))
    print("in Lyon:", await found.transactional(db, in_city, "Lyon"))

    async def adults_under_30(tx):
        return [uid async for uid, _age in eavstore.query_range(tx, people, "age", 18, 30)]

    print("18 <= age < 30:", await found.transactional(db, adults_under_30) == [bob])
    db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "found:memory"))
