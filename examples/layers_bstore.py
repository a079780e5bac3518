"""Content-addressed blobs: small ones in one transaction, large ones across many.

    python examples/layers_bstore.py [cluster-file]   (default: a fresh in-memory engine)
"""

import asyncio
import os
import sys

import found
from found.ext import bstore

blobs = bstore.make("blobs", ("example", "blobs"))


async def main(cluster_file: str) -> None:
    db = await found.open(cluster_file)

    async def put(tx, data):
        return await bstore.get_or_create(tx, blobs, data)

    async def get(tx, digest):
        return await bstore.get(tx, blobs, digest)

    digest = await found.transactional(db, put, b"hello world")
    again = await found.transactional(db, put, b"hello world")
    print("same bytes, same id:", digest == again, digest.hex()[:16])
    print("read back:", await found.transactional(db, get, digest))

    # 12 MB does not fit one transaction: upload streams it in ~1 MB transactions and
    # publishes it atomically at the end
    large = os.urandom(12_000_000)
    large_digest = await bstore.upload(db, blobs, large)
    size = 0
    async for chunk in bstore.read(db, blobs, large_digest):
        size += len(chunk)
    print(f"uploaded and streamed back {size:,} bytes")

    async def drop(tx, digest):
        return await bstore.remove(tx, blobs, digest)

    await found.transactional(db, drop, digest)  # one of two references
    await found.transactional(db, drop, digest)  # the last one deletes the blob
    print("after the last remove:", await found.transactional(db, get, digest))
    db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "found:memory"))
