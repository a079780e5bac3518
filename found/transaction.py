"""Transactions: the handle, the retry loop (``transactional``) and the one-shot context
manager (``transaction``).

``transactional`` follows FDB's retry protocol: run the function, commit, and on an error
ask the C API's ``on_error`` whether and when to retry (it backs off and resets the
transaction). The function must therefore be idempotent in its effects outside the
database — use fault injection (see README) to prove it.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from . import _native, errors
from ._capi import ffi, lib
from .database import Database, Tenant, _option_bytes
from .options import TRANSACTION_OPTIONS, encode

T = TypeVar("T")

# Largest value FDB stores (100,000 bytes): one buffer per thread receives read results.
_VALUE_BUFFER_SIZE = 100_000 + 16
_per_thread = threading.local()


def _address_of(pointer: object) -> int:
    """A C pointer as the int found._hot_calls takes; 0 for None (a closed transaction)."""
    return 0 if pointer is None else int(ffi.cast("uintptr_t", pointer))


def _thread_scratch() -> tuple[object, object]:
    """The calling thread's value buffer and future out-pointer (reused, never shared)."""
    try:
        return _per_thread.scratch
    except AttributeError:
        scratch = (ffi.new("char[]", _VALUE_BUFFER_SIZE), ffi.new("FDBFuture**"))
        _per_thread.scratch = scratch
        return scratch


class Transaction:
    """One FDB transaction. ``tx.snapshot`` is the same transaction reading at snapshot
    isolation (no read conflicts); ``tx.vars`` is a dict for per-attempt caching, cleared
    on every retry."""

    __slots__ = (
        "_pointer",
        "_address",
        "database",
        "_snapshot_view",
        "_snapshot_flag",
        "_buffer",
        "_out",
        "vars",
        "_owner",
    )

    def __init__(
        self, database: Database, pointer: object, *, snapshot_of: Transaction | None = None
    ) -> None:
        self.database = database
        self._pointer = pointer
        # The pointer as an int, what found._hot_calls takes; 0 once closed.
        self._address = _address_of(pointer)
        self._buffer, self._out = _thread_scratch()
        if snapshot_of is None:
            self._snapshot_flag = 0
            self.vars: dict[Any, Any] = {}
            self._owner = self
            self._snapshot_view: Transaction | None = None
        else:
            self._snapshot_flag = 1
            self.vars = snapshot_of.vars
            self._owner = snapshot_of
            self._snapshot_view = self

    @property
    def snapshot(self) -> Transaction:
        """This transaction reading at snapshot isolation (its reads add no conflicts)."""
        view = self._snapshot_view
        if view is None:
            view = self._snapshot_view = Transaction(self.database, self._pointer, snapshot_of=self)
        return view

    @property
    def pointer(self) -> object:
        """The C ``FDBTransaction*``; raises TransactionCancelled once destroyed."""
        pointer = self._owner._pointer
        if pointer is None:
            raise errors.TransactionCancelled("the transaction was closed")
        return pointer

    def set_option(self, code: int, value: bytes | int | str | None = None) -> None:
        """Sets a transaction option by FDB code (see ``found.options``)."""
        parameter = _option_bytes(value)
        _native.check(
            lib.fdb_transaction_set_option_w(self.pointer, code, parameter, len(parameter))
        )

    def close(self) -> None:
        """Destroys the C transaction (uncommitted writes are dropped)."""
        owner = self._owner
        if owner._pointer is not None:
            lib.fdb_transaction_destroy_w(owner._pointer)
            owner._pointer = None
            owner._address = 0
            if owner._snapshot_view is not None:
                owner._snapshot_view._pointer = None
                owner._snapshot_view._address = 0

    def __del__(self) -> None:
        if self._snapshot_flag == 0 and self._pointer is not None:
            lib.fdb_transaction_destroy_w(self._pointer)
            self._pointer = None
            self._address = 0

    def __repr__(self) -> str:
        kind = "snapshot view" if self._snapshot_flag else "transaction"
        return f"<found {kind} on {self.database.location!r}>"


# (name, type, value) -> (code, parameter bytes): options checked and encoded once, not
# on every transaction that names them.
_encoded_options: dict[tuple[str, type, Any], tuple[int, bytes]] = {}


def _encoded_option(name: str, value: Any) -> tuple[int, bytes]:
    key = (name, type(value), value)
    try:
        return _encoded_options[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable value: encode() names what is wrong with it
        key = None
    code, parameter = encode(TRANSACTION_OPTIONS, name, value)
    encoded = (code, _option_bytes(parameter))
    if key is not None and len(_encoded_options) < 1024:
        _encoded_options[key] = encoded
    return encoded


def create_transaction(db: Database | Tenant, **options: Any) -> Transaction:
    """Creates a bare transaction with named options (``timeout=500``,
    ``durability_risky=True``… see ``found.options``); most code wants ``transactional``
    or ``transaction``."""
    encoded = [_encoded_option(name, value) for name, value in options.items()] if options else ()
    out = _transaction_out()
    if type(db) is Tenant:
        code = lib.fdb_tenant_create_transaction_w(db.pointer, out)
    else:
        code = _create_w(db.pointer, out)
    if code:
        raise errors.from_code(code)
    pointer = out[0]
    tx = Transaction(db, pointer)
    for option, parameter in encoded:
        code = _set_option_w(pointer, option, parameter, len(parameter))
        if code:
            raise errors.from_code(code)
    return tx


def _transaction_out() -> object:
    """The calling thread's FDBTransaction** out-parameter (reused, never shared: each
    caller reads it right after the call that fills it)."""
    try:
        return _per_thread.transaction_out
    except AttributeError:
        out = _per_thread.transaction_out = ffi.new("FDBTransaction**")
        return out


# Bound once: the attribute lookups cost a few percent of a small transaction.
_create_w = lib.fdb_database_create_transaction_w
_set_option_w = lib.fdb_transaction_set_option_w
_commit_w = lib.fdb_transaction_commit_w
_is_ready_w = lib.fdb_future_is_ready_w
_take_error = _native.take_error


async def commit(tx: Transaction) -> None:
    """Commits; returns once the commit is durable. Raises the typed commit error."""
    future = _commit_w(tx.pointer)
    if not _is_ready_w(future):
        await _native.wait(future)
    code = _take_error(future)
    if code:
        raise errors.from_code(code)


async def on_error(tx: Transaction, error: errors.FDBError) -> None:
    """FDB's retry step: waits the back-off and resets ``tx`` if ``error`` is retryable,
    else raises ``error`` (or the error the C API reports instead, e.g.
    ``TransactionCancelled`` for a cancelled transaction)."""
    future = lib.fdb_transaction_on_error_w(tx.pointer, error.code)
    if not lib.fdb_future_is_ready_w(future):
        await _native.wait(future)
    code = _native.take_error(future)
    if code == error.code:
        raise error  # not retryable (or out of retries): the original error, as raised
    if code:
        raise errors.from_code(code)  # e.g. 2000 for code 0, 1025 once cancelled
    tx.vars.clear()


def cancel(tx: Transaction) -> None:
    """Cancels the transaction: pending and later operations fail TransactionCancelled."""
    lib.fdb_transaction_cancel_w(tx.pointer)


def reset(tx: Transaction) -> None:
    """Resets the transaction to a fresh state (options back to the database defaults)."""
    lib.fdb_transaction_reset_w(tx.pointer)
    tx.vars.clear()


async def transactional(
    db: Database | Tenant,
    func: Callable[..., Awaitable[T]],
    *args: Any,
    snapshot: bool = False,
    **kwargs: Any,
) -> T:
    """Runs ``await func(tx, *args, **kwargs)`` in a transaction and commits, retrying on
    retryable errors (conflicts, too old, commit unknown result…) as FDB prescribes.

    With ``snapshot=True`` the function gets the snapshot view (reads add no conflicts)
    and nothing is committed: a read-only view that never conflicts.
    """
    tx = create_transaction(db)
    try:
        while True:
            try:
                if snapshot:
                    return await func(tx.snapshot, *args, **kwargs)
                result = await func(tx, *args, **kwargs)
                await commit(tx)
                return result
            except errors.FDBError as error:
                await on_error(tx, error)
    finally:
        tx.close()


class _TransactionBlock:
    """What ``transaction`` returns: a class rather than an ``asynccontextmanager``
    generator, which cost a few microseconds per transaction (~6% of a small one)."""

    __slots__ = ("_db", "_options", "_tx")

    def __init__(self, db: Database | Tenant, options: dict[str, Any]) -> None:
        self._db = db
        self._options = options
        self._tx: Transaction | None = None

    async def __aenter__(self) -> Transaction:
        if self._tx is not None:
            raise errors.InvalidArgument("a found.transaction(...) block can be entered only once")
        self._tx = tx = create_transaction(self._db, **self._options)
        return tx

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        tx = self._tx
        try:
            if kind is None:
                await commit(tx)
        finally:
            tx.close()


def transaction(db: Database | Tenant, **options: Any) -> AbstractAsyncContextManager[Transaction]:
    """``async with found.transaction(db) as tx:`` — commits on a clean exit, no retry;
    an exception inside the block discards the writes."""
    return _TransactionBlock(db, options)
