"""Reads: ``get``, ``get_key``, ``query`` (async range iteration), read versions and
range statistics. Reads answered at once by the library (the embedded engine answers
from memory) never touch the event loop; the others wait without blocking it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, TypeVar

from . import _hot_calls, _native, errors
from ._capi import ffi, lib
from ._rows import from_array as rows_from_array
from .selectors import KeySelector, gte
from .transaction import Transaction, _thread_scratch, _transaction_out, transactional

if TYPE_CHECKING:
    from .database import Database

T = TypeVar("T")

KEY_SIZE_LIMIT = 10_000
SYSTEM_KEY_SIZE_LIMIT = 30_000


class StreamingMode:
    """How many rows each range request fetches (FDB's streaming modes)."""

    WANT_ALL = -2
    ITERATOR = -1
    EXACT = 0
    SMALL = 1
    MEDIUM = 2
    LARGE = 3
    SERIAL = 4


def as_key(key: object, what: str = "key") -> bytes:
    """Returns ``key`` as bytes, or raises InvalidType naming the bad type."""
    if type(key) is bytes:
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    raise errors.InvalidType(f"{what} must be bytes, not {type(key).__name__}: {key!r:.60}")


# A point get in one call that holds the GIL and returns the value (see hot_calls.c).
_hot_get = _hot_calls.get


async def get(tx: Transaction, key: bytes) -> bytes | None:
    """The value of ``key``, or None when absent (adds a read conflict unless snapshot)."""
    if type(key) is not bytes:
        key = as_key(key)
    address = tx._owner._address
    if not address:
        raise errors.TransactionCancelled("the transaction was closed")
    result = _hot_get(address, key, tx._snapshot_flag)
    if type(result) is not int:  # the value or None, answered at once
        return result
    if result > 0:  # the pending future's address
        future = ffi.cast("FDBFuture*", result)
        await _native.wait(future)
        buffer = tx._buffer
        length = lib.found_take_value(future, buffer)
        if length >= 0:
            return ffi.unpack(buffer, length)
        if length == -1:
            return None
        raise errors.from_code(-length - 1000)
    raise errors.from_code(-result)


async def database_get(db: Database, key: bytes) -> bytes | None:
    """``db.get(key)``: one key in a snapshot transaction of its own, in one native call
    when the engine answers at once; retried on retryable errors."""
    if type(key) is not bytes:
        key = as_key(key)
    pointer = db._pointer
    if pointer is None:
        db.pointer  # noqa: B018 — raises DatabaseClosed naming the database
    buffer, out = _thread_scratch()
    out_transaction = _transaction_out()
    length = lib.found_database_get(pointer, key, len(key), buffer, out_transaction, out)
    if length >= 0:
        return ffi.unpack(buffer, length)
    if length == -1:
        return None
    if length == -2:
        transaction, future = out_transaction[0], out[0]
        try:
            await _native.wait(future)
            length = lib.found_take_value(future, buffer)
        finally:
            lib.fdb_transaction_destroy_w(transaction)
        if length >= 0:
            return ffi.unpack(buffer, length)
        if length == -1:
            return None
    error = errors.from_code(-length - 1000)
    if not error.retryable:
        raise error

    async def read(tx: Transaction) -> bytes | None:
        return await get(tx, key)

    return await transactional(db, read, snapshot=True)


async def _key_result(future: object) -> bytes:
    if not lib.fdb_future_is_ready_w(future):
        await _native.wait(future)
    out_key = ffi.new("uint8_t**")
    out_length = ffi.new("int*")
    code = lib.fdb_future_get_key_w(future, out_key, out_length)
    result = ffi.buffer(out_key[0], out_length[0])[:] if code == 0 else b""
    lib.fdb_future_destroy_w(future)
    _native.check(code)
    return result


async def get_key(tx: Transaction, selector: KeySelector) -> bytes:
    """Resolves a key selector (``found.gte(k)``…) to a key in the database."""
    if not isinstance(selector, KeySelector):
        raise errors.InvalidType(f"get_key takes a KeySelector, not {type(selector).__name__}")
    key = as_key(selector.key)
    future = lib.fdb_transaction_get_key_w(
        tx.pointer, key, len(key), selector.or_equal, selector.offset, tx._snapshot_flag
    )
    return await _key_result(future)


async def read_version(tx: Transaction) -> int:
    """The transaction's read version (taking one if it has none yet)."""
    version = ffi.new("int64_t*")
    code = lib.found_read_version(tx.pointer, version, tx._out)
    if code == -2:
        future = tx._out[0]
        await _native.wait(future)
        code = lib.fdb_future_get_int64_w(future, version)
        lib.fdb_future_destroy_w(future)
    _native.check(code)
    return version[0]


def set_read_version(tx: Transaction, version: int) -> None:
    """Reads of ``tx`` will see the database as of ``version``."""
    lib.fdb_transaction_set_read_version_w(tx.pointer, version)


def _selector(bound: bytes | KeySelector, what: str) -> KeySelector:
    if isinstance(bound, KeySelector):
        return KeySelector(as_key(bound.key, what), bound.or_equal, bound.offset)
    return gte(as_key(bound, what))


def _take_rows(
    future: object, out_kv: object, out_count: object, out_more: object
) -> list[tuple[bytes, bytes]]:
    """The rows of a ready range future (C builds the tuples; ``out_more[0]`` tells whether
    more remain); destroys the future and raises its error."""
    try:
        _native.check(lib.fdb_future_get_keyvalue_array_w(future, out_kv, out_count, out_more))
        return rows_from_array(int(ffi.cast("uintptr_t", out_kv[0])), out_count[0])
    finally:
        lib.fdb_future_destroy_w(future)


_per_thread = threading.local()


def _range_outputs() -> tuple[object, object, object]:
    """The calling thread's out-parameters for reading a range future. Shared by every
    query of the thread: they are filled and read with no await in between."""
    try:
        return _per_thread.range_outputs
    except AttributeError:
        outputs = (ffi.new("FDBKeyValue**"), ffi.new("int*"), ffi.new("int*"))
        _per_thread.range_outputs = outputs
        return outputs


class Query:
    """A range read: ``async for key, value in found.query(...)``, or the whole result at
    once with ``await found.all(found.query(...))`` (fetched in large batches, no per-row
    overhead). Arguments are checked when the query is made."""

    __slots__ = ("_tx", "_begin", "_end", "_limit", "_reverse", "_mode")

    def __init__(
        self,
        tx: Transaction,
        begin: bytes | KeySelector,
        end: bytes | KeySelector,
        limit: int,
        reverse: bool,
        mode: int,
    ) -> None:
        if limit < 0:
            raise errors.InvalidArgument(f"limit must be >= 0, not {limit}")
        self._begin = _selector(begin, "begin")
        self._end = _selector(end, "end")
        if (
            not isinstance(begin, KeySelector)
            and not isinstance(end, KeySelector)
            and self._begin.key > self._end.key
        ):
            raise errors.InvertedRange(
                f"range begin {self._begin.key!r:.60} is after its end {self._end.key!r:.60}"
            )
        self._tx = tx
        self._limit = limit
        self._reverse = reverse
        self._mode = mode

    def __aiter__(self) -> AsyncIterator[tuple[bytes, bytes]]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[tuple[bytes, bytes]]:
        async for batch in self._batches(self._mode):
            for row in batch:
                yield row

    async def to_list(self) -> list[tuple[bytes, bytes]]:
        """Every row, in as few requests as the database allows."""
        mode = self._mode
        if mode == StreamingMode.ITERATOR:
            mode = StreamingMode.EXACT if self._limit else StreamingMode.WANT_ALL
        rows: list[tuple[bytes, bytes]] = []
        async for batch in self._batches(mode):
            rows.extend(batch)
        return rows

    async def _batches(self, mode: int) -> AsyncIterator[list[tuple[bytes, bytes]]]:
        tx = self._tx
        pointer = tx.pointer
        snapshot = tx._snapshot_flag
        begin, end = self._begin, self._end
        limit = remaining = self._limit
        reverse = self._reverse
        iteration = 1
        out_kv, out_count, out_more = _range_outputs()

        def request() -> object:
            return lib.fdb_transaction_get_range_w(
                pointer,
                begin.key, len(begin.key), begin.or_equal, begin.offset,
                end.key, len(end.key), end.or_equal, end.offset,
                remaining, 0, mode, iteration, snapshot, reverse,
            )  # fmt: skip

        future = request()
        while True:
            if not lib.fdb_future_is_ready_w(future):
                await _native.wait(future)
            rows = _take_rows(future, out_kv, out_count, out_more)
            count = len(rows)
            more = out_more[0] and count > 0
            if limit:
                remaining -= count
                more = more and remaining > 0
            if more:
                last_key = rows[-1][0]
                if reverse:
                    end = gte(last_key)
                else:
                    begin = KeySelector(last_key, True, 1)
                iteration += 1
                future = request()  # prefetch while the caller consumes this batch
            try:
                yield rows
            except GeneratorExit:
                if more:
                    lib.fdb_future_destroy_w(future)
                raise
            if not more:
                return


def query(
    tx: Transaction,
    begin: bytes | KeySelector,
    end: bytes | KeySelector,
    *,
    limit: int = 0,
    reverse: bool = False,
    mode: int = StreamingMode.ITERATOR,
) -> Query:
    """The rows ``(key, value)`` for keys in ``[begin, end)`` (bytes or key selectors),
    ascending or, with ``reverse``, descending; at most ``limit`` rows when > 0.

    Iterate it with ``async for``; the next batch is requested before the current one is
    handed out, so the database works while the caller consumes.
    """
    return Query(tx, begin, end, limit, reverse, mode)


async def all(iterable: AsyncIterable[T]) -> list[T]:  # noqa: A001
    """Collects an async iterable (e.g. ``found.query(...)``) into a list."""
    if type(iterable) is Query:
        return await iterable.to_list()  # type: ignore[return-value]
    return [item async for item in iterable]


def next_prefix(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (FDB's strinc)."""
    prefix = as_key(prefix, "prefix").rstrip(b"\xff")
    if not prefix:
        raise errors.InvalidArgument("a prefix of only 0xff bytes has no next prefix")
    return prefix[:-1] + bytes([prefix[-1] + 1])


async def _int64_result(future: object) -> int:
    if not lib.fdb_future_is_ready_w(future):
        await _native.wait(future)
    out = ffi.new("int64_t*")
    code = lib.fdb_future_get_int64_w(future, out)
    lib.fdb_future_destroy_w(future)
    _native.check(code)
    return out[0]


async def estimated_size(tx: Transaction, begin: bytes, end: bytes) -> int:
    """Estimated bytes of keys and values stored in ``[begin, end)``."""
    begin, end = as_key(begin, "begin"), as_key(end, "end")
    future = lib.fdb_transaction_get_estimated_range_size_bytes_w(
        tx.pointer, begin, len(begin), end, len(end)
    )
    return await _int64_result(future)


async def approximate_size(tx: Transaction) -> int:
    """Approximate bytes this transaction's mutations and conflict ranges take."""
    return await _int64_result(lib.fdb_transaction_get_approximate_size_w(tx.pointer))


async def split_points(tx: Transaction, begin: bytes, end: bytes, chunk_size: int) -> list[bytes]:
    """Keys splitting ``[begin, end)`` into chunks of about ``chunk_size`` bytes
    (begin first, end last)."""
    begin, end = as_key(begin, "begin"), as_key(end, "end")
    future = lib.fdb_transaction_get_range_split_points_w(
        tx.pointer, begin, len(begin), end, len(end), chunk_size
    )
    if not lib.fdb_future_is_ready_w(future):
        await _native.wait(future)
    out_keys = ffi.new("FDBKey**")
    out_count = ffi.new("int*")
    code = lib.fdb_future_get_key_array_w(future, out_keys, out_count)
    keys = []
    if code == 0:
        for index in range(out_count[0]):
            item = out_keys[0][index]
            keys.append(ffi.buffer(item.key, item.key_length)[:])
    lib.fdb_future_destroy_w(future)
    _native.check(code)
    return keys
