"""Writes: ``set``, ``clear`` (a key or a range), every atomic operation, versionstamped
keys and values, explicit conflict ranges, watches and versionstamps.

Writes are buffered in the transaction until commit, so these functions are plain calls,
not coroutines. Sizes are checked here, eagerly, so a bad write raises at the line that
made it — and nothing of the transaction is written.
"""

from __future__ import annotations

import builtins
from array import array
from collections.abc import Generator, Iterable, Sequence
from typing import Any

from . import _hot_calls, _native, errors
from ._capi import ffi, lib
from .reads import KEY_SIZE_LIMIT, SYSTEM_KEY_SIZE_LIMIT, as_key
from .transaction import Transaction

VALUE_SIZE_LIMIT = 100_000


def _checked_key(key: object) -> bytes:
    key = as_key(key)
    length = len(key)
    if length > KEY_SIZE_LIMIT:
        limit = SYSTEM_KEY_SIZE_LIMIT if key[:1] == b"\xff" else KEY_SIZE_LIMIT
        if length > limit:
            raise errors.KeyTooLarge(f"key of {length} bytes exceeds the {limit:,}-byte limit")
    return key


def _checked_value(value: object, what: str = "value") -> bytes:
    value = as_key(value, what)
    if len(value) > VALUE_SIZE_LIMIT:
        raise errors.ValueTooLarge(
            f"{what} of {len(value)} bytes exceeds the {VALUE_SIZE_LIMIT:,}-byte limit"
        )
    return value


# A set in one call that holds the GIL (see hot_calls.c).
_hot_set = _hot_calls.set


def set(tx: Transaction, key: bytes, value: bytes) -> None:  # noqa: A001
    """Sets ``key`` to ``value``."""
    if type(key) is not bytes or len(key) > KEY_SIZE_LIMIT:
        key = _checked_key(key)
    if type(value) is not bytes or len(value) > VALUE_SIZE_LIMIT:
        value = _checked_value(value)
    address = tx._owner._address
    if not address:
        tx.pointer  # noqa: B018 — raises TransactionCancelled
    _hot_set(address, key, value)


def set_many(tx: Transaction, keys: Sequence[bytes], values: bytes | Sequence[bytes] = b"") -> None:
    """Sets each key of ``keys`` to its value, as a ``set`` per key would, in one call.

    ``values`` is one bytes value for every key (b"" by default: index entries), or a
    sequence holding one value per key. Every key and value is checked first: a bad one
    raises and nothing of the call is written.
    """
    if not isinstance(keys, (list, tuple)):
        keys = list(keys)
    joined_keys, key_lengths = _joined(keys, _checked_key, KEY_SIZE_LIMIT)
    if type(values) is bytes or isinstance(values, (bytearray, memoryview)):
        value = values if type(values) is bytes else bytes(values)
        if len(value) > VALUE_SIZE_LIMIT:
            _checked_value(value)
        lib.found_set_many(
            tx.pointer, joined_keys, key_lengths, len(keys), value, ffi.NULL, len(value)
        )
        return
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise errors.InvalidType(
            f"values must be bytes or a sequence of bytes, not {type(values).__name__}"
        )
    if not isinstance(values, (list, tuple)):
        values = list(values)
    if len(values) != len(keys):
        raise errors.InvalidArgument(f"{len(keys)} keys but {len(values)} values")
    joined_values, value_lengths = _joined(values, _checked_value, VALUE_SIZE_LIMIT)
    lib.found_set_many(
        tx.pointer, joined_keys, key_lengths, len(keys), joined_values, value_lengths, 0
    )


def _joined(items: Sequence[Any], check: Any, limit: int) -> tuple[bytes, Any]:
    """The byte strings `items` end to end, and their lengths as a C int array; each is
    checked with `check` (which raises the typed error) unless all are bytes within
    `limit`."""
    try:
        joined = b"".join(items)
        lengths = array("i", map(len, items))
    except (TypeError, OverflowError):
        joined, lengths = b"", array("i", [-1])
    if sum(lengths) != len(joined):  # not all bytes (or a multi-byte memoryview)
        items = [check(item) for item in items]
        joined, lengths = b"".join(items), array("i", map(len, items))
    if lengths and builtins.max(lengths) > limit:  # `max` is the atomic op here
        for item in items:
            check(item)
    return joined, ffi.from_buffer("int[]", lengths)


def clear(tx: Transaction, key: bytes, end: bytes | None = None) -> None:
    """Clears ``key``, or every key in ``[key, end)`` when ``end`` is given."""
    key = as_key(key)
    if end is None:
        lib.fdb_transaction_clear_w(tx.pointer, key, len(key))
        return
    end = as_key(end, "end")
    if key > end:
        raise errors.InvertedRange(f"clear range begin {key!r:.60} is after its end {end!r:.60}")
    lib.fdb_transaction_clear_range_w(tx.pointer, key, len(key), end, len(end))


class MutationType:
    """FDB atomic operation codes."""

    ADD = 2
    BIT_AND = 6
    BIT_OR = 7
    BIT_XOR = 8
    APPEND_IF_FITS = 9
    MAX = 12
    MIN = 13
    SET_VERSIONSTAMPED_KEY = 14
    SET_VERSIONSTAMPED_VALUE = 15
    BYTE_MIN = 16
    BYTE_MAX = 17
    COMPARE_AND_CLEAR = 20


def atomic(tx: Transaction, operation: int, key: bytes, param: bytes) -> None:
    """Applies atomic ``operation`` (a MutationType code) with ``param`` to ``key`` at
    commit. Adds no read conflict."""
    key = _checked_key(key)
    param = as_key(param, "param")
    if len(param) > VALUE_SIZE_LIMIT + (
        4 if operation == MutationType.SET_VERSIONSTAMPED_VALUE else 0
    ):
        raise errors.ValueTooLarge(
            f"param of {len(param)} bytes exceeds the {VALUE_SIZE_LIMIT:,}-byte limit"
        )
    lib.fdb_transaction_atomic_op_w(tx.pointer, key, len(key), param, len(param), operation)


def add(tx: Transaction, key: bytes, param: bytes) -> None:
    """Adds little-endian integer ``param`` to the value (missing counts as zero)."""
    atomic(tx, MutationType.ADD, key, param)


def bit_and(tx: Transaction, key: bytes, param: bytes) -> None:
    """Bitwise and with ``param`` (a missing value becomes ``param``)."""
    atomic(tx, MutationType.BIT_AND, key, param)


def bit_or(tx: Transaction, key: bytes, param: bytes) -> None:
    """Bitwise or with ``param``."""
    atomic(tx, MutationType.BIT_OR, key, param)


def bit_xor(tx: Transaction, key: bytes, param: bytes) -> None:
    """Bitwise xor with ``param``."""
    atomic(tx, MutationType.BIT_XOR, key, param)


def max(tx: Transaction, key: bytes, param: bytes) -> None:  # noqa: A001
    """Keeps the larger of the value and ``param`` as little-endian unsigned integers."""
    atomic(tx, MutationType.MAX, key, param)


def min(tx: Transaction, key: bytes, param: bytes) -> None:  # noqa: A001
    """Keeps the smaller of the value and ``param`` as little-endian unsigned integers."""
    atomic(tx, MutationType.MIN, key, param)


def byte_max(tx: Transaction, key: bytes, param: bytes) -> None:
    """Keeps the lexicographically larger of the value and ``param``."""
    atomic(tx, MutationType.BYTE_MAX, key, param)


def byte_min(tx: Transaction, key: bytes, param: bytes) -> None:
    """Keeps the lexicographically smaller of the value and ``param``."""
    atomic(tx, MutationType.BYTE_MIN, key, param)


def append_if_fits(tx: Transaction, key: bytes, param: bytes) -> None:
    """Appends ``param`` unless the result would exceed the value size limit."""
    atomic(tx, MutationType.APPEND_IF_FITS, key, param)


def compare_and_clear(tx: Transaction, key: bytes, param: bytes) -> None:
    """Clears ``key`` if its value equals ``param``."""
    atomic(tx, MutationType.COMPARE_AND_CLEAR, key, param)


def set_versionstamped_key(tx: Transaction, key: bytes, value: bytes) -> None:
    """Sets a key whose 10 bytes at the offset in its last 4 bytes (little-endian) become
    the commit's versionstamp (see ``found.pack_with_versionstamp``)."""
    atomic(tx, MutationType.SET_VERSIONSTAMPED_KEY, key, value)


def set_versionstamped_value(tx: Transaction, key: bytes, value: bytes) -> None:
    """Sets ``key`` to ``value`` whose 10 bytes at the offset in its last 4 bytes become
    the commit's versionstamp."""
    atomic(tx, MutationType.SET_VERSIONSTAMPED_VALUE, key, value)


def add_conflict_range(tx: Transaction, begin: bytes, end: bytes, *, write: bool = False) -> None:
    """Adds ``[begin, end)`` as a read (or, with ``write=True``, write) conflict range."""
    begin, end = as_key(begin, "begin"), as_key(end, "end")
    if begin > end:
        raise errors.InvertedRange(f"conflict range begin {begin!r:.60} is after its end")
    _native.check(
        lib.fdb_transaction_add_conflict_range_w(
            tx.pointer, begin, len(begin), end, len(end), int(write)
        )
    )


def committed_version(tx: Transaction) -> int:
    """The version the transaction committed at; -1 for read-only or uncommitted ones."""
    out = ffi.new("int64_t*")
    _native.check(lib.fdb_transaction_get_committed_version_w(tx.pointer, out))
    return out[0]


class FutureResult:
    """A C future asked for now and awaited later (watches, versionstamps). Destroys the
    C future if it is never awaited."""

    __slots__ = ("_future", "_reader")

    def __init__(self, future: object, reader: str) -> None:
        self._future = future
        self._reader = reader

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result().__await__()

    async def _result(self) -> Any:
        future, self._future = self._future, None
        if future is None:
            raise errors.InvalidArgument("this result was already awaited")
        try:
            if not lib.fdb_future_is_ready_w(future):
                await _native.wait(future)
        except BaseException:
            raise
        if self._reader == "void":
            _native.check(_native.take_error(future))
            return None
        out_key = ffi.new("uint8_t**")
        out_length = ffi.new("int*")
        code = lib.fdb_future_get_key_w(future, out_key, out_length)
        result = ffi.buffer(out_key[0], out_length[0])[:] if code == 0 else b""
        lib.fdb_future_destroy_w(future)
        _native.check(code)
        return result

    def cancel(self) -> None:
        """Cancels the underlying operation (a watch stops waiting)."""
        if self._future is not None:
            lib.fdb_future_cancel_w(self._future)

    def __del__(self) -> None:
        if self._future is not None:
            lib.fdb_future_destroy_w(self._future)
            self._future = None


def watch(tx: Transaction, key: bytes) -> FutureResult:
    """Returns an awaitable that resolves once ``key`` changes after ``tx`` commits.

    Await it after the commit; cancelling the awaiting task cancels the watch.
    """
    key = _checked_key(key)
    return FutureResult(lib.fdb_transaction_watch_w(tx.pointer, key, len(key)), "void")


def get_versionstamp(tx: Transaction) -> FutureResult:
    """Returns an awaitable of the 10-byte versionstamp ``tx`` commits with. Call it before
    committing, await it after."""
    return FutureResult(lib.fdb_transaction_get_versionstamp_w(tx.pointer), "key")
