"""A versioned triple store: changes are invisible until applied, and history is kept.

    python examples/layers_vnstore.py [cluster-file]   (default: a fresh in-memory engine)
"""

import asyncio
import sys

import found
from found.ext import vnstore
from found.ext.nstore import var

wiki = vnstore.make("wiki", ("example", "wiki"), ("subject", "predicate", "object"))


async def propose(tx, message, additions=(), removals=()):
    change = await vnstore.change_create(tx, wiki, message)
    for fact in additions:
        await vnstore.add(tx, wiki, *fact)
    for fact in removals:
        await vnstore.remove(tx, wiki, *fact)
    return change


async def apply(tx, change):
    return await vnstore.change_apply(tx, wiki, change)


async def capitals(tx, as_of=None):
    pattern = (var("country"), "capital", var("city"))
    return sorted(
        (b["country"], b["city"]) for b in await found.all(
            vnstore.select(tx, wiki, *pattern, as_of=as_of)
        )
    )


async def main(cluster_file: str) -> None:
    db = await found.open(cluster_file)
    first = await found.transactional(
        db, propose, "founding facts",
        additions=[("france", "capital", "paris"), ("germany", "capital", "bonn")],
    )
    print("before apply:", await found.transactional(db, capitals))
    version_one = await found.transactional(db, apply, first)
    fix = await found.transactional(
        db, propose, "Berlin since 1990",
        additions=[("germany", "capital", "berlin")],
        removals=[("germany", "capital", "bonn")],
    )
    await found.transactional(db, apply, fix)
    print("now:         ", await found.transactional(db, capitals))
    print("as of v1:    ", await found.transactional(db, capitals, version_one))

    async def history(tx):
        return await vnstore.change_list(tx, wiki)

    for change in await found.transactional(db, history):
        print(f"{change.significance}  {change.state:<8} {change.message}")
    db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "found:memory"))
