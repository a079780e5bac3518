"""bstore: round trips, dedup, references, multi-transaction uploads, bad input, a model."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random

import pytest
from helpers import everything, run

import found
from found.errors import FoundException, InvalidType
from found.ext import bstore
from found.ext.bstore import BStoreException


@pytest.fixture
def store():
    return bstore.make("blobs", ("test", "blobs"))


async def keys_under(db, store, part: str) -> list[bytes]:
    prefix = store.prefix + found.pack((part,))
    return [key for key, _ in await everything(db) if key.startswith(prefix)]


async def put(db, store, blob):
    async def do(tx):
        return await bstore.get_or_create(tx, store, blob)

    return await run(db, do)


async def fetch(db, store, digest):
    async def do(tx):
        return await bstore.get(tx, store, digest)

    return await run(db, do)


async def references(db, store, digest):
    async def do(tx):
        return await bstore.references(tx, store, digest)

    return await run(db, do)


async def drop(db, store, digest):
    async def do(tx):
        return await bstore.remove(tx, store, digest)

    return await run(db, do)


CHUNK = bstore.DEFAULT_CHUNK_SIZE


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 100_000, 100_001, 3_000_000])
async def test_round_trip(db, store, size):
    blob = os.urandom(size)
    digest = await put(db, store, blob)
    assert digest == hashlib.blake2b(blob, digest_size=32).digest() == bstore.digest_of(blob)
    assert await fetch(db, store, digest) == blob

    async def measure(tx):
        return await bstore.size(tx, store, digest)

    assert await run(db, measure) == size
    assert len(await keys_under(db, store, "c")) == -(-size // CHUNK)


async def test_same_content_gives_the_same_id_and_is_stored_once(db, store):
    blob = b"hello" * 5000
    first = await put(db, store, blob)
    second = await put(db, store, blob)
    assert first == second
    assert await references(db, store, first) == 2
    assert len(await everything(db)) == 1 + 1 + 3  # head, references, 3 chunks


async def test_concurrent_creators_of_the_same_bytes_agree(db, store):
    blob = os.urandom(25_000)
    digests = await asyncio.gather(*(put(db, store, blob) for _ in range(8)))
    assert len(set(digests)) == 1
    assert await references(db, store, digests[0]) == 8
    assert await fetch(db, store, digests[0]) == blob
    assert len(await everything(db)) == 1 + 1 + 3  # one copy of the chunks


async def test_the_last_reference_deletes_the_blob(db, store):
    blob = os.urandom(30_000)
    digest = await put(db, store, blob)
    await put(db, store, blob)
    assert await drop(db, store, digest) is True
    assert await fetch(db, store, digest) == blob
    assert await drop(db, store, digest) is True
    assert await fetch(db, store, digest) is None
    assert await everything(db) == []
    # never negative: removing again is refused, nothing written
    assert await drop(db, store, digest) is False
    assert await references(db, store, digest) == 0
    assert await everything(db) == []


async def test_get_range_reads_slices(db):
    store = bstore.make("small-chunks", ("ranges",), chunk_size=100)
    blob = bytes(range(256)) * 4
    digest = await put(db, store, blob)

    async def read(tx, offset, length):
        return await bstore.get_range(tx, store, digest, offset, length)

    for offset, length in [
        (0, 0),
        (0, 1),
        (99, 2),
        (100, 100),
        (150, 500),
        (1000, 100),
        (1023, 5),
        (1024, 1),
        (5000, 10),
    ]:
        assert await run(db, read, offset, length) == blob[offset : offset + length]


async def test_upload_stores_a_blob_larger_than_one_transaction(db, store):
    blob = os.urandom(10_000_001)

    async def pieces():
        for start in range(0, len(blob), 777_777):
            yield blob[start : start + 777_777]

    digest = await bstore.upload(db, store, pieces())
    assert digest == bstore.digest_of(blob)
    streamed = b"".join([chunk async for chunk in bstore.read(db, store, digest)])
    assert streamed == blob
    assert await fetch(db, store, digest) == blob
    # no upload bookkeeping left
    assert await keys_under(db, store, "u") == []
    # the same bytes again, through either path, dedup to the same id
    assert await bstore.upload(db, store, [blob]) == digest
    assert await references(db, store, digest) == 2
    assert len(await keys_under(db, store, "c")) == -(-len(blob) // CHUNK)


async def test_get_or_create_refuses_blobs_over_one_transaction(db, store):
    with pytest.raises(BStoreException, match="upload"):
        await put(db, store, b"x" * (bstore.MAX_TRANSACTION_BLOB + 1))
    assert await everything(db) == []


async def test_an_interrupted_upload_is_never_readable(db, store):
    blob = os.urandom(2_500_000)

    async def failing():
        yield blob[:1_500_000]
        raise RuntimeError("network went away")

    with pytest.raises(RuntimeError):
        await bstore.upload(db, store, failing())
    assert await fetch(db, store, bstore.digest_of(blob)) is None
    assert await everything(db) == []  # the failed upload cleaned up after itself


async def test_a_crashed_upload_is_invisible_and_collected(db, store):
    blob = os.urandom(1_200_000)
    sid = bstore.uuid.uuid4()
    # the first two steps of the protocol, then the "process dies" before publishing
    await run(db, bstore._start, store, sid)
    await run(db, bstore._write_batch, store, sid, blob[:1_000_000], 0, 1_000_000)
    assert await fetch(db, store, bstore.digest_of(blob)) is None
    assert await bstore.collect(db, store, older_than=3600) == 0  # too young
    assert await bstore.collect(db, store, older_than=0) == 1
    assert await everything(db) == []
    # a collected upload cannot be published afterwards
    with pytest.raises(BStoreException, match="collected"):
        await run(db, bstore._publish, store, sid, bstore.digest_of(blob), len(blob))


async def test_a_streaming_read_fails_rather_than_truncates_when_removed(db, store):
    blob = os.urandom(3_000_000)
    digest = await put(db, store, blob)
    reader = bstore.read(db, store, digest)
    first = await reader.__anext__()
    assert first == blob[:CHUNK]
    await drop(db, store, digest)
    with pytest.raises(BStoreException, match="removed"):
        async for _ in reader:
            pass


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda tx, s: bstore.get_or_create(tx, s, "text"), InvalidType, "bytes"),
        (lambda tx, s: bstore.get_or_create(tx, s, bytearray(b"x")), InvalidType, "bytes"),
        (lambda tx, s: bstore.get_or_create(tx, s, None), InvalidType, "bytes"),
        (lambda tx, s: bstore.get(tx, s, "digest"), InvalidType, "digest"),
        (lambda tx, s: bstore.get(tx, s, b"short"), BStoreException, "32-byte"),
        (lambda tx, s: bstore.remove(tx, s, b"short"), BStoreException, "32-byte"),
        (lambda tx, s: bstore.get_range(tx, s, b"x" * 32, -1, 3), BStoreException, ">= 0"),
    ],
)
async def test_bad_input_raises_a_typed_error_and_writes_nothing(db, store, call, error, words):
    async def attempt(tx):
        with pytest.raises(error, match=words) as raised:
            await call(tx, store)
        assert isinstance(raised.value, FoundException)

    await run(db, attempt)
    assert await everything(db) == []


async def test_bad_upload_input(db, store):
    with pytest.raises(InvalidType, match="bytes"):
        await bstore.upload(db, store, [b"ok", "not bytes"])
    with pytest.raises(InvalidType):
        await bstore.upload(db, store, "a string")
    assert await everything(db) == []
    with pytest.raises(BStoreException, match="chunk_size"):
        bstore.make("x", ("x",), chunk_size=100_001)


async def test_randomized_against_a_python_model(db):
    """Random creates and removes of a pool of blobs; contents and reference counts must
    match a dict, and no key may survive a blob's last reference."""
    rng = random.Random(99)
    store = bstore.make("model", ("model",), chunk_size=1000)
    pool = [rng.randbytes(rng.choice([0, 1, 999, 1000, 1001, 5500])) for _ in range(10)]
    counts: dict[bytes, int] = {}
    for step in range(300):
        blob = rng.choice(pool)
        digest = bstore.digest_of(blob)
        if rng.random() < 0.55:
            assert await put(db, store, blob) == digest
            counts[digest] = counts.get(digest, 0) + 1
        else:
            assert await drop(db, store, digest) == (counts.get(digest, 0) > 0)
            if counts.get(digest):
                counts[digest] -= 1
        if step % 25 == 0 or step == 299:
            for blob in pool:
                digest = bstore.digest_of(blob)
                alive = counts.get(digest, 0) > 0
                assert await fetch(db, store, digest) == (blob if alive else None)
                assert await references(db, store, digest) == counts.get(digest, 0)
            expected_keys = sum(
                2 + -(-len(blob) // 1000)
                for blob in {bstore.digest_of(b): b for b in pool}.values()
                if counts.get(bstore.digest_of(blob), 0) > 0
            )
            keys = await everything(db)
            assert len(keys) == expected_keys
            assert all(key.startswith(store.prefix) for key, _ in keys)
