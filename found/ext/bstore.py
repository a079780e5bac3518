"""bstore: a content-addressed blob store; a blob's id is its blake2b-256 digest.

Blobs are cut into chunks (10,000 bytes by default, at most the 100,000-byte value
limit) stored under a random storage id `sid`; the blob becomes visible only when its
digest key is written, pointing at the sid:

| key (under prefix `B`)   | value                                                        |
|--------------------------|--------------------------------------------------------------|
| `B, "h", digest`         | `P((sid, size, chunk_size))` — published blob; presence = complete |
| `B, "c", sid, i`         | chunk i: `blob[i·chunk_size : (i+1)·chunk_size]`               |
| `B, "u", sid`            | `P((started_us, bytes_written))` — an upload in progress     |
| `B, "r", digest`         | reference count, int64 little-endian                          |

The design choice: readers find chunks only through `h`, and `h` is written in the
transaction that completes the blob, so a half-written blob is never visible — whether
it was written in one transaction (`get_or_create`, up to MAX_TRANSACTION_BLOB bytes) or
across many (`upload`, any size).

Upload protocol (`upload`), each step one transaction, each safe to retry:
  1. pick a fresh sid; write `u/sid`.
  2. write chunks in batches of about 1 MB under `sid`, hashing as they go; each batch
     checks that `u/sid` still exists (a collector may have reclaimed a stalled upload).
  3. publish: if `h/digest` exists (same content already stored), clear this upload's
     chunks and return the existing blob; else write `h/digest`. Either way clear `u/sid`
     and add one reference.
An upload that dies between steps leaves `u/sid` and its chunks, invisible to readers;
`collect(db, store, older_than)` clears them.

References: every `get_or_create` or `upload` of a blob adds one reference; `remove`
drops one, and the last `remove` deletes the blob. Each holder must call `remove`
exactly once per reference it obtained; the count never goes below zero (removing an
unknown digest returns False). A blob is readable with `get` in any transaction that
sees its `h` key; a multi-transaction `read` of a blob whose last reference is removed
meanwhile fails with BStoreException instead of returning a truncated blob.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import found
from found.errors import InvalidType, LayerError
from found.ext._prefix import prefix_bytes

__all__ = [
    "BStore",
    "BStoreException",
    "collect",
    "digest_of",
    "get",
    "get_or_create",
    "get_range",
    "make",
    "read",
    "references",
    "remove",
    "size",
    "upload",
]

DIGEST_SIZE = 32
MAX_VALUE_SIZE = 100_000
DEFAULT_CHUNK_SIZE = 10_000
# The largest blob `get_or_create` writes in one transaction: the 10 MB transaction
# limit minus room for chunk keys and the other writes; bigger blobs go through `upload`.
MAX_TRANSACTION_BLOB = 9_000_000
# Bytes of chunks written per transaction by `upload` and read per transaction by `read`.
BATCH_BYTES = 1_000_000

_ONE = struct.pack("<q", 1)
_MINUS_ONE = struct.pack("<q", -1)


class BStoreException(LayerError):
    """Bad input to a bstore call, or a blob that vanished or is inconsistent."""


@dataclass(frozen=True)
class BStore:
    """Handle of a blob store: a name (for debugging), a raw key prefix and a chunk size."""

    name: str
    prefix: bytes
    chunk_size: int


def make(name: str, prefix: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BStore:
    """Return the handle of a blob store under `prefix` (tuple, bytes or Subspace)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise InvalidType(f"chunk_size must be an int, got {type(chunk_size).__name__}")
    if not 1 <= chunk_size <= MAX_VALUE_SIZE:
        raise BStoreException(
            f"chunk_size must be between 1 and {MAX_VALUE_SIZE} bytes, got {chunk_size}"
        )
    return BStore(name, prefix_bytes(prefix, BStoreException), chunk_size)


# --- keys ------------------------------------------------------------------------------


def _head_key(store: BStore, digest: bytes) -> bytes:
    return store.prefix + found.pack(("h", digest))


def _references_key(store: BStore, digest: bytes) -> bytes:
    return store.prefix + found.pack(("r", digest))


def _upload_key(store: BStore, sid: uuid.UUID) -> bytes:
    return store.prefix + found.pack(("u", sid))


def _chunks_prefix(store: BStore, sid: uuid.UUID) -> bytes:
    return store.prefix + found.pack(("c", sid))


def _check_blob(blob: Any) -> bytes:
    if not isinstance(blob, bytes):
        raise InvalidType(f"a blob must be bytes, got {type(blob).__name__}")
    return blob


def _check_digest(digest: Any) -> bytes:
    if not isinstance(digest, bytes):
        raise InvalidType(f"a blob id is a bytes digest, got {type(digest).__name__}")
    if len(digest) != DIGEST_SIZE:
        raise BStoreException(
            f"a blob id is a {DIGEST_SIZE}-byte blake2b digest, got {len(digest)} bytes"
        )
    return digest


def digest_of(blob: bytes) -> bytes:
    """Return the id `get_or_create` gives `blob`: its blake2b digest, 32 bytes."""
    return hashlib.blake2b(_check_blob(blob), digest_size=DIGEST_SIZE).digest()


def _write_chunks(store: BStore, tx: Any, sid: uuid.UUID, data: bytes, first: int) -> int:
    """Write `data` as chunks first, first+1, …; return the next chunk number."""
    prefix = _chunks_prefix(store, sid)
    step = store.chunk_size
    view = memoryview(data)
    number = first
    for start in range(0, len(data), step):
        found.set(tx, prefix + found.pack((number,)), bytes(view[start : start + step]))
        number += 1
    return number


# --- one-transaction API ---------------------------------------------------------------


async def get_or_create(tx: Any, store: BStore, blob: bytes) -> bytes:
    """Store `blob` unless identical bytes are stored; add a reference; return its digest.

    Blobs over MAX_TRANSACTION_BLOB bytes do not fit one transaction: use `upload`.
    Two concurrent calls with the same new bytes conflict; the retried one finds the
    blob and returns the same digest.
    """
    _check_blob(blob)
    if len(blob) > MAX_TRANSACTION_BLOB:
        raise BStoreException(
            f"a blob of {len(blob)} bytes does not fit one transaction (limit"
            f" {MAX_TRANSACTION_BLOB}); write it with bstore.upload(db, store, blob)"
        )
    digest = digest_of(blob)
    head = await found.get(tx, _head_key(store, digest))
    if head is None:
        sid = uuid.uuid4()
        _write_chunks(store, tx, sid, blob, 0)
        found.set(tx, _head_key(store, digest), found.pack((sid, len(blob), store.chunk_size)))
    found.add(tx, _references_key(store, digest), _ONE)
    return digest


async def _head(tx: Any, store: BStore, digest: bytes) -> tuple[uuid.UUID, int, int] | None:
    value = await found.get(tx, _head_key(store, _check_digest(digest)))
    if value is None:
        return None
    sid, length, chunk_size = found.unpack(value)
    return sid, length, chunk_size


async def _read_chunks(
    tx: Any, store: BStore, sid: uuid.UUID, first: int, last: int, chunk_size: int
) -> list[bytes]:
    """Read chunks first … last - 1, checking none is missing."""
    prefix = _chunks_prefix(store, sid)
    chunks = []
    async for key, value in found.query(
        tx, prefix + found.pack((first,)), prefix + found.pack((last,))
    ):
        number = found.unpack(key[len(prefix) :])[0]
        if number != first + len(chunks) or (number < last - 1 and len(value) != chunk_size):
            raise BStoreException(f"blob chunks under {sid} are missing or damaged at {number}")
        chunks.append(value)
    if len(chunks) != last - first:
        raise BStoreException(f"blob chunks under {sid} are missing from {first + len(chunks)}")
    return chunks


async def get(tx: Any, store: BStore, digest: bytes) -> bytes | None:
    """Return the blob with this digest, or None if it is not stored."""
    head = await _head(tx, store, digest)
    if head is None:
        return None
    sid, length, chunk_size = head
    chunks = await _read_chunks(tx, store, sid, 0, -(-length // chunk_size), chunk_size)
    blob = b"".join(chunks)
    if len(blob) != length:
        raise BStoreException(f"blob {digest.hex()} has {len(blob)} bytes, expected {length}")
    return blob


async def get_range(
    tx: Any, store: BStore, digest: bytes, offset: int, length: int
) -> bytes | None:
    """Return `length` bytes of the blob from `offset` (fewer at its end), reading only the
    chunks that hold them; None if the blob is not stored."""
    for name, number in (("offset", offset), ("length", length)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise InvalidType(f"{name} must be an int, got {type(number).__name__}")
        if number < 0:
            raise BStoreException(f"{name} must be >= 0, got {number}")
    head = await _head(tx, store, digest)
    if head is None:
        return None
    sid, size_, chunk_size = head
    end = min(offset + length, size_)
    if offset >= end:
        return b""
    first, last = offset // chunk_size, -(-end // chunk_size)
    data = b"".join(await _read_chunks(tx, store, sid, first, last, chunk_size))
    start = offset - first * chunk_size
    return data[start : start + end - offset]


async def size(tx: Any, store: BStore, digest: bytes) -> int | None:
    """Return the blob's size in bytes, or None if it is not stored."""
    head = await _head(tx, store, digest)
    return None if head is None else head[1]


async def references(tx: Any, store: BStore, digest: bytes) -> int:
    """Return how many references the blob has (0 if it is not stored)."""
    value = await found.get(tx, _references_key(store, _check_digest(digest)))
    return 0 if value is None else struct.unpack("<q", value)[0]


async def remove(tx: Any, store: BStore, digest: bytes) -> bool:
    """Drop one reference to the blob; the last one deletes it. False if it is not stored."""
    count = await references(tx, store, digest)
    if count <= 0:
        return False
    if count > 1:
        found.add(tx, _references_key(store, digest), _MINUS_ONE)
        return True
    head = await _head(tx, store, digest)
    if head is not None:
        prefix = _chunks_prefix(store, head[0])
        found.clear(tx, prefix, found.next_prefix(prefix))
    found.clear(tx, _head_key(store, digest))
    found.clear(tx, _references_key(store, digest))
    return True


# --- multi-transaction API -------------------------------------------------------------


async def _iterate(data: Any) -> AsyncIterator[bytes]:
    if isinstance(data, bytes):
        yield data
    elif isinstance(data, AsyncIterable):
        async for piece in data:
            yield _check_blob(piece)
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytearray, memoryview)):
        for piece in data:
            yield _check_blob(piece)
    else:
        raise InvalidType(
            f"upload takes bytes or an (async) iterable of bytes, got {type(data).__name__}"
        )


async def _start(tx: Any, store: BStore, sid: uuid.UUID) -> None:
    found.set(tx, _upload_key(store, sid), found.pack((time.time_ns() // 1000, 0)))


async def _require_upload(tx: Any, store: BStore, sid: uuid.UUID) -> tuple[int, int]:
    value = await found.get(tx, _upload_key(store, sid))
    if value is None:
        raise BStoreException(f"upload {sid} was collected or never started")
    started_us, written = found.unpack(value)
    return started_us, written


async def _write_batch(
    tx: Any, store: BStore, sid: uuid.UUID, data: bytes, first: int, written: int
) -> None:
    started_us, _ = await _require_upload(tx, store, sid)
    _write_chunks(store, tx, sid, data, first)
    found.set(tx, _upload_key(store, sid), found.pack((started_us, written)))


async def _publish(tx: Any, store: BStore, sid: uuid.UUID, digest: bytes, length: int) -> bytes:
    await _require_upload(tx, store, sid)
    if await found.get(tx, _head_key(store, digest)) is not None:
        prefix = _chunks_prefix(store, sid)
        found.clear(tx, prefix, found.next_prefix(prefix))
    else:
        found.set(tx, _head_key(store, digest), found.pack((sid, length, store.chunk_size)))
    found.clear(tx, _upload_key(store, sid))
    found.add(tx, _references_key(store, digest), _ONE)
    return digest


async def _abandon(tx: Any, store: BStore, sid: uuid.UUID) -> None:
    prefix = _chunks_prefix(store, sid)
    found.clear(tx, prefix, found.next_prefix(prefix))
    found.clear(tx, _upload_key(store, sid))


async def upload(db: Any, store: BStore, data: Any) -> bytes:
    """Store a blob of any size across several transactions; return its digest.

    `data` is bytes or an iterable / async iterable of bytes pieces. The blob becomes
    visible atomically in the last transaction (see the module docstring); on failure
    the partial upload is cleared (or left for `collect` if even that fails).
    """
    pieces = _iterate(data)
    sid = uuid.uuid4()
    await found.transactional(db, _start, store, sid)
    hasher = hashlib.blake2b(digest_size=DIGEST_SIZE)
    buffer = bytearray()
    written = 0
    chunk_number = 0
    batch = max(BATCH_BYTES // store.chunk_size, 1) * store.chunk_size
    try:
        async for piece in pieces:
            hasher.update(piece)
            buffer += piece
            while len(buffer) >= batch:
                part = bytes(buffer[:batch])
                del buffer[:batch]
                written += len(part)
                await found.transactional(db, _write_batch, store, sid, part, chunk_number, written)
                chunk_number += len(part) // store.chunk_size
        if buffer:
            written += len(buffer)
            await found.transactional(
                db, _write_batch, store, sid, bytes(buffer), chunk_number, written
            )
        return await found.transactional(db, _publish, store, sid, hasher.digest(), written)
    except BaseException:
        # best effort: if even this fails, collect() reclaims the upload later
        with contextlib.suppress(Exception):
            await found.transactional(db, _abandon, store, sid)
        raise


async def _read_head(tx: Any, store: BStore, digest: bytes) -> tuple[uuid.UUID, int, int]:
    head = await _head(tx, store, digest)
    if head is None:
        raise BStoreException(f"no blob with digest {digest.hex()}")
    return head


async def _read_batch(
    tx: Any, store: BStore, digest: bytes, sid: uuid.UUID, first: int, last: int, chunk_size: int
) -> list[bytes]:
    head = await _head(tx, store, digest)
    if head is None or head[0] != sid:
        raise BStoreException(f"blob {digest.hex()} was removed while it was being read")
    return await _read_chunks(tx, store, sid, first, last, chunk_size)


async def read(db: Any, store: BStore, digest: bytes) -> AsyncIterator[bytes]:
    """Yield the blob's chunks, reading about 1 MB per transaction (for blobs of any size).

    Raises BStoreException if the blob is not stored, or is removed before the last chunk.
    """
    sid, length, chunk_size = await found.transactional(db, _read_head, store, digest)
    total = -(-length // chunk_size)
    per_transaction = max(BATCH_BYTES // chunk_size, 1)
    for first in range(0, total, per_transaction):
        last = min(first + per_transaction, total)
        for chunk in await found.transactional(
            db, _read_batch, store, digest, sid, first, last, chunk_size
        ):
            yield chunk


async def _stale_uploads(tx: Any, store: BStore, before_us: int) -> list[uuid.UUID]:
    begin = store.prefix + found.pack(("u",))
    stale = []
    async for key, value in found.query(tx, begin, found.next_prefix(begin)):
        started_us, _ = found.unpack(value)
        if started_us < before_us:
            stale.append(found.unpack(key[len(begin) :])[0])
    return stale


async def _collect_one(tx: Any, store: BStore, sid: uuid.UUID, before_us: int) -> None:
    # re-check under this transaction: the upload may have finished meanwhile
    value = await found.get(tx, _upload_key(store, sid))
    if value is not None and found.unpack(value)[0] < before_us:
        await _abandon(tx, store, sid)


async def collect(db: Any, store: BStore, older_than: float = 3600.0) -> int:
    """Clear uploads started more than `older_than` seconds ago and never published.

    Returns how many were cleared. An upload still running past that age fails at its
    next batch with BStoreException rather than publishing a partial blob.
    """
    before_us = time.time_ns() // 1000 - int(older_than * 1_000_000)
    stale = await found.transactional(db, _stale_uploads, store, before_us)
    for sid in stale:
        await found.transactional(db, _collect_one, store, sid, before_us)
    return len(stale)
