"""The bindingtester's stack machine on `found` (FoundationDB's binding test protocol).

    python -m found.tester <prefix> <api_version> [cluster_file]

Reads the program stored under the tuple range of ``(prefix,)`` and runs it with found's
async API; docs/tester.md says how to run it and how to point FDB's bindingtester at it.

| state                                   | scope                        |
|-----------------------------------------|------------------------------|
| transaction map ``name → Transaction``  | shared by every machine      |
| stack of ``Entry(number, item)``        | one per machine (thread)     |
| current transaction name, last version  | one per machine              |
| directory list, current and error index | one per machine              |

The design choice: an operation is *issued* when its instruction runs. A coroutine is
stepped by hand up to its first real wait, so its C call is made in program order, and
only the remainder becomes the pending result on the stack (``Pending``). Range reads and
``_DATABASE`` operations, which may make several C calls, are awaited in place instead.
START_THREAD runs another machine as an asyncio task on the same loop.
"""

from __future__ import annotations

import asyncio
import struct
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

import found
from found import errors
from found import tuple as tuple_layer
from found._capi import lib
from found.directory import DirectoryLayer

RESULT_NOT_PRESENT = b"RESULT_NOT_PRESENT"
LOG_VALUE_LIMIT = 40_000
LOG_BATCH = 100
_NEXT_WRITE_NO_WRITE_CONFLICT_RANGE = 30  # FDB transaction option code
_PROGRAM_BATCH = 5_000

# ATOMIC_OP names (the official bindings' method names, upper-cased) → mutation codes
MUTATIONS: dict[str, int] = {
    name: code for name, code in vars(found.MutationType).items() if name.isupper()
}
MUTATIONS.update(
    AND=found.MutationType.BIT_AND, OR=found.MutationType.BIT_OR, XOR=found.MutationType.BIT_XOR
)


class ProgramError(Exception):
    """The program cannot run: an unknown instruction or mutation name, or an operation
    before any NEW_TRANSACTION (aborts the run)."""


class SelfTestFailed(Exception):
    """UNIT_TESTS found found misbehaving (aborts the run, as the protocol requires)."""


def error_item(code: int) -> bytes:
    """The stack item standing for FDB error ``code``: ``pack((b"ERROR", b"<code>"))``."""
    return found.pack((b"ERROR", str(code).encode()))


def _result_item(value: object) -> object:
    return RESULT_NOT_PRESENT if value is None else value


# --- pending results ---------------------------------------------------------------------


@types.coroutine
def _continue(coroutine: Coroutine[Any, Any, Any], yielded: object) -> Generator[Any, Any, Any]:
    """Drives a coroutine that was already stepped once by hand, from inside a task."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # cancellation: the coroutine cancels its C future
            try:
                yielded = coroutine.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coroutine.send(sent)
            except StopIteration as stop:
                return stop.value


async def _finish(coroutine: Coroutine[Any, Any, Any], yielded: object) -> Any:
    return await _continue(coroutine, yielded)


_UNRESOLVED = object()


class Pending:
    """An issued operation whose result is not known yet; resolves once, on first use."""

    __slots__ = ("task", "_item")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self._item: object = _UNRESOLVED

    async def resolve(self) -> object:
        """The stack item: the value, ``RESULT_NOT_PRESENT`` for none, or the ERROR item."""
        if self._item is _UNRESOLVED:
            try:
                value = await self.task
            except errors.FDBError as error:
                self._item = error_item(error.code)
            else:
                self._item = _result_item(value)
        return self._item


def issue(coroutine: Coroutine[Any, Any, Any]) -> object:
    """Runs ``coroutine`` up to its first real wait, so its C calls are made now.

    Returns the item if it finished, else a Pending for the rest. Non-FDB errors propagate.
    """
    try:
        yielded = coroutine.send(None)
    except StopIteration as stop:
        return _result_item(stop.value)
    except errors.FDBError as error:
        return error_item(error.code)
    return Pending(asyncio.get_running_loop().create_task(_finish(coroutine, yielded)))


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


# --- reads the instructions use ------------------------------------------------------------


async def _key_within(tx: found.Transaction, selector: found.KeySelector, prefix: bytes) -> bytes:
    """GET_KEY: the selected key, clamped to the keys that start with ``prefix``."""
    key = await found.get_key(tx, selector)
    if key.startswith(prefix):
        return key
    if key < prefix:
        return prefix
    return found.next_prefix(prefix)


async def _packed_range(
    tx: found.Transaction,
    begin: bytes | found.KeySelector,
    end: bytes | found.KeySelector,
    limit: int,
    reverse: int,
    mode: int,
    prefix: bytes | None = None,
) -> bytes:
    """GET_RANGE*: ``pack((k1, v1, k2, v2, …))`` of the rows (those starting with ``prefix``).

    Key bounds are passed as ``gte`` selectors, as the official bindings pass them: found's
    own check of byte bounds (begin after end raises InvertedRange at the call) is skipped,
    so the database answers — no rows, or the error it reports first (2210, 1025…).
    """
    if not isinstance(begin, found.KeySelector):
        begin = found.gte(begin)
    if not isinstance(end, found.KeySelector):
        end = found.gte(end)
    flat: list[bytes] = []
    rows = found.query(tx, begin, end, limit=limit, reverse=bool(reverse), mode=mode)
    async for key, value in rows:
        if prefix is None or key.startswith(prefix):
            flat.append(key)
            flat.append(value)
    return found.pack(tuple(flat))


def _set(tx: found.Transaction, key: bytes, value: bytes) -> None:
    """SET: ``found.set``, except that an oversized key or value reaches the database as
    the official bindings pass it. found raises KeyTooLarge/ValueTooLarge at the call;
    FDB's C API takes the write and fails the transaction's later reads and its commit
    with that error, which is what the tester must report."""
    try:
        found.set(tx, key, value)
    except (errors.KeyTooLarge, errors.ValueTooLarge):
        lib.fdb_transaction_set_w(tx.pointer, key, len(key), value, len(value))


def _atomic(tx: found.Transaction, code: int, key: bytes, param: bytes) -> None:
    """ATOMIC_OP: ``found.atomic``, oversized keys and parameters passed on as in ``_set``."""
    try:
        found.atomic(tx, code, key, param)
    except (errors.KeyTooLarge, errors.ValueTooLarge):
        lib.fdb_transaction_atomic_op_w(tx.pointer, key, len(key), param, len(param), code)


def _clear_range(tx: found.Transaction, begin: bytes, end: bytes) -> None:
    """CLEAR_RANGE: ``found.clear``, except that a range whose begin is after its end
    reaches the database as fdb passes it (found raises InvertedRange at the call; FDB
    accepts the clear and fails the commit with 2005)."""
    try:
        found.clear(tx, begin, end)
    except errors.InvertedRange:
        lib.fdb_transaction_clear_range_w(tx.pointer, begin, len(begin), end, len(end))


async def _fail_unless_empty(tx: found.Transaction, prefix: bytes) -> None:
    """WAIT_EMPTY's body: a key under ``prefix`` makes the retry loop back off and retry."""
    rows = await found.all(found.query(tx, prefix, found.next_prefix(prefix), limit=1))
    if rows:
        raise errors.NotCommitted(f"keys remain under {prefix!r}")


async def _write_rows(tx: found.Transaction, rows: list[tuple[bytes, bytes]]) -> None:
    for key, value in rows:
        found.set(tx, key, value)


async def _rows_after(
    tx: found.Transaction, begin: bytes, end: bytes, limit: int
) -> list[tuple[bytes, bytes]]:
    return await found.all(found.query(tx, begin, end, limit=limit))


async def load_program(db: found.Database, prefix: bytes) -> list[tuple]:
    """The instructions stored under ``(prefix, i)``, in key order (a few reads of 5,000)."""
    begin, end = tuple_layer.range((prefix,))
    program: list[tuple] = []
    while True:
        rows = await found.transactional(db, _rows_after, begin, end, _PROGRAM_BATCH, snapshot=True)
        program.extend(found.unpack(value) for _, value in rows)
        if len(rows) < _PROGRAM_BATCH:
            return program
        begin = rows[-1][0] + b"\x00"


def _count_incomplete(items: tuple | list) -> int:
    count = 0
    for item in items:
        if isinstance(item, found.Versionstamp):
            count += not item.is_complete()
        elif isinstance(item, (tuple, list)):
            count += _count_incomplete(item)
    return count


# --- the machine ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One stack slot: the number of the instruction that pushed it, and the item."""

    number: int
    item: object


@dataclass
class Shared:
    """What every machine (thread) of one tester run shares."""

    db: found.Database
    transactions: dict[bytes, found.Transaction] = field(default_factory=dict)
    threads: list[asyncio.Task[None]] = field(default_factory=list)


Handler = Callable[["StackMachine", int, str], Awaitable[None]]
_HANDLERS: dict[str, tuple[Handler, tuple[str, ...]]] = {}


def _op(name: str, *suffixes: str) -> Callable[[Handler], Handler]:
    """Registers a handler for ``name`` and the suffixed forms it accepts."""

    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = (handler, ("",) + suffixes)
        return handler

    return register


def _directory_op(name: str, *suffixes: str, appends: bool = False) -> Callable[[Handler], Handler]:
    """Registers a directory-extension handler: any exception it raises pushes
    b"DIRECTORY_ERROR" (after appending None to the directory list if it ``appends``)."""

    def register(handler: Handler) -> Handler:
        async def guarded(machine: StackMachine, number: int, suffix: str) -> None:
            try:
                await handler(machine, number, suffix)
            except Exception:
                if appends:
                    machine.directories.append(None)
                machine.push(number, b"DIRECTORY_ERROR")

        _HANDLERS[name] = (guarded, ("",) + suffixes)
        return handler

    return register


def _lookup(op: str) -> tuple[Handler, str]:
    """The handler and suffix (``""``, ``"_SNAPSHOT"``, ``"_DATABASE"``) for an op name."""
    entry = _HANDLERS.get(op)
    if entry is not None:
        return entry[0], ""
    for suffix in ("_SNAPSHOT", "_DATABASE"):
        if op.endswith(suffix):
            entry = _HANDLERS.get(op[: -len(suffix)])
            if entry is not None and suffix in entry[1]:
                return entry[0], suffix
    raise ProgramError(f"unknown instruction {op!r}")


class StackMachine:
    """One thread of the tester: runs the program stored under ``prefix``."""

    def __init__(self, shared: Shared, prefix: bytes) -> None:
        self.shared = shared
        self.prefix = prefix
        self.name = prefix
        self.stack: list[Entry] = []
        self.last_version = 0
        self.issued: list[Pending] = []
        # the directory extension: DirectoryLayer, DirectorySubspace, Subspace or None each
        self.directories: list[Any] = [found.directory]
        self.directory_index = 0
        self.error_index = 0

    # -- stack ------------------------------------------------------------------------------

    def push(self, number: int, item: object) -> None:
        if isinstance(item, Pending):
            self.issued.append(item)
        self.stack.append(Entry(number, item))

    async def pop(self) -> Any:
        """Pops the top item, resolving a pending one (an FDB error becomes the ERROR item)."""
        item = self.stack.pop().item
        if isinstance(item, Pending):
            return await item.resolve()
        return item

    async def pop_many(self, count: int) -> list[Any]:
        return [await self.pop() for _ in range(count)]

    @property
    def transaction(self) -> found.Transaction:
        """The current transaction (by this machine's current name)."""
        try:
            return self.shared.transactions[self.name]
        except KeyError:
            raise ProgramError(
                f"no transaction named {self.name!r} (the program needs NEW_TRANSACTION first)"
            ) from None

    # -- running ----------------------------------------------------------------------------

    async def run_program(self) -> None:
        """Loads and runs this machine's program; leftover pending results are cancelled."""
        program = await load_program(self.shared.db, self.prefix)
        try:
            for number, instruction in enumerate(program):
                try:
                    await self.execute(number, instruction)
                except Exception as failure:
                    failure.add_note(f"at instruction {number} {instruction!r} of {self.prefix!r}")
                    raise
        finally:
            for pending in self.issued:
                pending.task.cancel()

    async def execute(self, number: int, instruction: tuple) -> None:
        """Runs one instruction; an FDB error it raises is pushed as the ERROR item."""
        op = instruction[0]
        if op == "PUSH":
            self.push(number, instruction[1])
            return
        handler, suffix = _lookup(op)
        try:
            await handler(self, number, suffix)
        except errors.FDBError as error:
            self.push(number, error_item(error.code))

    async def _read(self, suffix: str, func: Callable[..., Any], *args: Any) -> object:
        """Awaits ``func(tx, *args)`` on the transaction, its snapshot or the database."""
        if suffix == "_DATABASE":
            return _result_item(await found.transactional(self.shared.db, func, *args))
        tx = self.transaction
        return _result_item(await func(tx.snapshot if suffix == "_SNAPSHOT" else tx, *args))

    def _issue_read(self, suffix: str, func: Callable[..., Any], *args: Any) -> object:
        """Issues a single-call read now and returns its item or Pending."""
        if suffix == "_DATABASE":
            return issue(found.transactional(self.shared.db, func, *args))
        tx = self.transaction
        return issue(func(tx.snapshot if suffix == "_SNAPSHOT" else tx, *args))

    async def _write(self, number: int, suffix: str, func: Callable[..., None], *args: Any) -> None:
        """Applies a mutation to the transaction, or commits it alone for ``_DATABASE``."""
        if suffix != "_DATABASE":
            func(self.transaction, *args)
            return

        async def apply(tx: found.Transaction) -> None:
            func(tx, *args)

        await found.transactional(self.shared.db, apply)
        self.push(number, RESULT_NOT_PRESENT)

    # -- 4.1 data ---------------------------------------------------------------------------

    @_op("DUP")
    async def _dup(self, number: int, suffix: str) -> None:
        self.stack.append(self.stack[-1])

    @_op("EMPTY_STACK")
    async def _empty_stack(self, number: int, suffix: str) -> None:
        self.stack.clear()

    @_op("SWAP")
    async def _swap(self, number: int, suffix: str) -> None:
        depth = await self.pop()
        top = len(self.stack) - 1
        other = top - depth
        if depth < 0 or other < 0:
            raise IndexError(f"SWAP {depth} on a stack of {len(self.stack)} items")
        self.stack[top], self.stack[other] = self.stack[other], self.stack[top]

    @_op("POP")
    async def _pop(self, number: int, suffix: str) -> None:
        await self.pop()

    @_op("SUB")
    async def _sub(self, number: int, suffix: str) -> None:
        a, b = await self.pop_many(2)
        self.push(number, a - b)

    @_op("CONCAT")
    async def _concat(self, number: int, suffix: str) -> None:
        a, b = await self.pop_many(2)
        self.push(number, a + b)

    @_op("WAIT_FUTURE")
    async def _wait_future(self, number: int, suffix: str) -> None:
        entry = self.stack[-1]
        item = await self.pop()
        self.stack.append(Entry(entry.number, item))

    @_op("LOG_STACK")
    async def _log_stack(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        rows: list[tuple[bytes, bytes]] = []
        while self.stack:
            index = len(self.stack) - 1
            entry_number = self.stack[-1].number
            item = await self.pop()
            packed = found.pack((item,))[:LOG_VALUE_LIMIT]
            rows.append((prefix + found.pack((index, entry_number)), packed))
        for start in range(0, len(rows), LOG_BATCH):
            await found.transactional(self.shared.db, _write_rows, rows[start : start + LOG_BATCH])

    # -- 4.2 database operations ------------------------------------------------------------

    @_op("NEW_TRANSACTION")
    async def _new_transaction(self, number: int, suffix: str) -> None:
        self.shared.transactions[self.name] = found.create_transaction(self.shared.db)

    @_op("USE_TRANSACTION")
    async def _use_transaction(self, number: int, suffix: str) -> None:
        self.name = await self.pop()
        if self.name not in self.shared.transactions:
            self.shared.transactions[self.name] = found.create_transaction(self.shared.db)

    @_op("ON_ERROR")
    async def _on_error(self, number: int, suffix: str) -> None:
        code = await self.pop()
        self.push(number, issue(found.on_error(self.transaction, errors.from_code(code))))

    @_op("GET", "_SNAPSHOT", "_DATABASE")
    async def _get(self, number: int, suffix: str) -> None:
        key = await self.pop()
        self.push(number, self._issue_read(suffix, found.get, key))

    @_op("GET_KEY", "_SNAPSHOT", "_DATABASE")
    async def _get_key(self, number: int, suffix: str) -> None:
        key, or_equal, offset, prefix = await self.pop_many(4)
        selector = found.KeySelector(key, bool(or_equal), offset)
        self.push(number, self._issue_read(suffix, _key_within, selector, prefix))

    @_op("GET_RANGE", "_SNAPSHOT", "_DATABASE")
    async def _get_range(self, number: int, suffix: str) -> None:
        begin, end, limit, reverse, mode = await self.pop_many(5)
        self.push(number, await self._read(suffix, _packed_range, begin, end, limit, reverse, mode))

    @_op("GET_RANGE_STARTS_WITH", "_SNAPSHOT", "_DATABASE")
    async def _get_range_starts_with(self, number: int, suffix: str) -> None:
        prefix, limit, reverse, mode = await self.pop_many(4)
        end = found.next_prefix(prefix)
        item = await self._read(suffix, _packed_range, prefix, end, limit, reverse, mode)
        self.push(number, item)

    @_op("GET_RANGE_SELECTOR", "_SNAPSHOT", "_DATABASE")
    async def _get_range_selector(self, number: int, suffix: str) -> None:
        arguments = await self.pop_many(10)
        begin = found.KeySelector(arguments[0], bool(arguments[1]), arguments[2])
        end = found.KeySelector(arguments[3], bool(arguments[4]), arguments[5])
        limit, reverse, mode, prefix = arguments[6:]
        item = await self._read(suffix, _packed_range, begin, end, limit, reverse, mode, prefix)
        self.push(number, item)

    @_op("GET_READ_VERSION", "_SNAPSHOT")
    async def _get_read_version(self, number: int, suffix: str) -> None:
        tx = self.transaction
        self.last_version = await found.read_version(tx.snapshot if suffix else tx)
        self.push(number, b"GOT_READ_VERSION")

    @_op("SET_READ_VERSION")
    async def _set_read_version(self, number: int, suffix: str) -> None:
        found.set_read_version(self.transaction, self.last_version)

    @_op("GET_COMMITTED_VERSION")
    async def _get_committed_version(self, number: int, suffix: str) -> None:
        self.last_version = found.committed_version(self.transaction)
        self.push(number, b"GOT_COMMITTED_VERSION")

    @_op("GET_APPROXIMATE_SIZE")
    async def _get_approximate_size(self, number: int, suffix: str) -> None:
        await found.approximate_size(self.transaction)
        self.push(number, b"GOT_APPROXIMATE_SIZE")

    @_op("GET_VERSIONSTAMP")
    async def _get_versionstamp(self, number: int, suffix: str) -> None:
        self.push(number, issue(_awaited(found.get_versionstamp(self.transaction))))

    @_op("GET_ESTIMATED_RANGE_SIZE")
    async def _get_estimated_range_size(self, number: int, suffix: str) -> None:
        begin, end = await self.pop_many(2)
        await found.estimated_size(self.transaction, begin, end)
        self.push(number, b"GOT_ESTIMATED_RANGE_SIZE")

    @_op("GET_RANGE_SPLIT_POINTS")
    async def _get_range_split_points(self, number: int, suffix: str) -> None:
        begin, end, chunk_size = await self.pop_many(3)
        await found.split_points(self.transaction, begin, end, chunk_size)
        self.push(number, b"GOT_RANGE_SPLIT_POINTS")

    @_op("SET", "_DATABASE")
    async def _set(self, number: int, suffix: str) -> None:
        key, value = await self.pop_many(2)
        await self._write(number, suffix, _set, key, value)

    @_op("CLEAR", "_DATABASE")
    async def _clear(self, number: int, suffix: str) -> None:
        key = await self.pop()
        await self._write(number, suffix, found.clear, key)

    @_op("CLEAR_RANGE", "_DATABASE")
    async def _clear_range(self, number: int, suffix: str) -> None:
        begin, end = await self.pop_many(2)
        await self._write(number, suffix, _clear_range, begin, end)

    @_op("CLEAR_RANGE_STARTS_WITH", "_DATABASE")
    async def _clear_range_starts_with(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        await self._write(number, suffix, found.clear, prefix, found.next_prefix(prefix))

    @_op("ATOMIC_OP", "_DATABASE")
    async def _atomic_op(self, number: int, suffix: str) -> None:
        name, key, value = await self.pop_many(3)
        if name not in MUTATIONS:
            raise ProgramError(f"unknown atomic operation {name!r}")
        await self._write(number, suffix, _atomic, MUTATIONS[name], key, value)

    @_op("READ_CONFLICT_RANGE")
    async def _read_conflict_range(self, number: int, suffix: str) -> None:
        begin, end = await self.pop_many(2)
        found.add_conflict_range(self.transaction, begin, end)
        self.push(number, b"SET_CONFLICT_RANGE")

    @_op("WRITE_CONFLICT_RANGE")
    async def _write_conflict_range(self, number: int, suffix: str) -> None:
        begin, end = await self.pop_many(2)
        found.add_conflict_range(self.transaction, begin, end, write=True)
        self.push(number, b"SET_CONFLICT_RANGE")

    @_op("READ_CONFLICT_KEY")
    async def _read_conflict_key(self, number: int, suffix: str) -> None:
        key = await self.pop()
        found.add_conflict_range(self.transaction, key, key + b"\x00")
        self.push(number, b"SET_CONFLICT_KEY")

    @_op("WRITE_CONFLICT_KEY")
    async def _write_conflict_key(self, number: int, suffix: str) -> None:
        key = await self.pop()
        found.add_conflict_range(self.transaction, key, key + b"\x00", write=True)
        self.push(number, b"SET_CONFLICT_KEY")

    @_op("DISABLE_WRITE_CONFLICT")
    async def _disable_write_conflict(self, number: int, suffix: str) -> None:
        self.transaction.set_option(_NEXT_WRITE_NO_WRITE_CONFLICT_RANGE)

    @_op("COMMIT")
    async def _commit(self, number: int, suffix: str) -> None:
        self.push(number, issue(found.commit(self.transaction)))

    @_op("RESET")
    async def _reset(self, number: int, suffix: str) -> None:
        found.reset(self.transaction)

    @_op("CANCEL")
    async def _cancel(self, number: int, suffix: str) -> None:
        found.cancel(self.transaction)

    # -- 4.3 tuples and floats --------------------------------------------------------------

    async def _pop_tuple(self) -> tuple:
        count = await self.pop()
        return tuple(await self.pop_many(count))

    @_op("TUPLE_PACK")
    async def _tuple_pack(self, number: int, suffix: str) -> None:
        self.push(number, found.pack(await self._pop_tuple()))

    @_op("TUPLE_PACK_WITH_VERSIONSTAMP")
    async def _tuple_pack_with_versionstamp(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        items = await self._pop_tuple()
        incomplete = _count_incomplete(items)
        if incomplete == 0:
            self.push(number, b"ERROR: NONE")
        elif incomplete > 1:
            self.push(number, b"ERROR: MULTIPLE")
        else:
            self.push(number, b"OK")
            self.push(number, found.pack_with_versionstamp(items, prefix))

    @_op("TUPLE_UNPACK")
    async def _tuple_unpack(self, number: int, suffix: str) -> None:
        for element in found.unpack(await self.pop()):
            self.push(number, found.pack((element,)))

    @_op("TUPLE_RANGE")
    async def _tuple_range(self, number: int, suffix: str) -> None:
        begin, end = tuple_layer.range(await self._pop_tuple())
        self.push(number, begin)
        self.push(number, end)

    @_op("TUPLE_SORT")
    async def _tuple_sort(self, number: int, suffix: str) -> None:
        tuples = [found.unpack(packed) for packed in await self._pop_tuple()]
        for packed in sorted(found.pack(items) for items in tuples):
            self.push(number, packed)

    @_op("ENCODE_FLOAT")
    async def _encode_float(self, number: int, suffix: str) -> None:
        data = await self.pop()
        self.push(number, tuple_layer.SingleFloat(struct.unpack(">f", data)[0]))

    @_op("ENCODE_DOUBLE")
    async def _encode_double(self, number: int, suffix: str) -> None:
        data = await self.pop()
        self.push(number, struct.unpack(">d", data)[0])

    @_op("DECODE_FLOAT")
    async def _decode_float(self, number: int, suffix: str) -> None:
        value = await self.pop()
        self.push(number, struct.pack(">f", value.value))

    @_op("DECODE_DOUBLE")
    async def _decode_double(self, number: int, suffix: str) -> None:
        value = await self.pop()
        self.push(number, struct.pack(">d", value))

    # -- 4.4 threads and misc ---------------------------------------------------------------

    @_op("START_THREAD")
    async def _start_thread(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        machine = StackMachine(self.shared, prefix)
        self.shared.threads.append(asyncio.get_running_loop().create_task(machine.run_program()))

    @_op("WAIT_EMPTY")
    async def _wait_empty(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        await found.transactional(self.shared.db, _fail_unless_empty, prefix)
        self.push(number, b"WAITED_FOR_EMPTY")

    @_op("UNIT_TESTS")
    async def _unit_tests(self, number: int, suffix: str) -> None:
        await unit_tests(self.shared.db)

    # -- 4.6 directory extension -----------------------------------------------------------
    # An exception in a directory instruction pushes b"DIRECTORY_ERROR" (and appends None
    # if the instruction appends): the directory layer reports misuse with typed errors,
    # and an entry of the wrong kind (None, a layer where a subspace is needed) fails with
    # AttributeError or TypeError, as with the official bindings. Arguments are popped
    # before the entry is used, so a failing instruction still consumes them.

    @property
    def directory(self) -> Any:
        """The directory list's current entry."""
        return self.directories[self.directory_index]

    async def _in(self, suffix: str, call: Callable[[found.Transaction], Awaitable[Any]]) -> Any:
        """``call(tx)`` on the transaction, its snapshot, or the database (retry loop)."""
        if suffix == "_DATABASE":
            return await found.transactional(self.shared.db, call)
        tx = self.transaction
        return await call(tx.snapshot if suffix == "_SNAPSHOT" else tx)

    async def _optional_path(self) -> tuple:
        """``COUNT`` then, when it is 1, a path (else the entry itself: the path ``()``)."""
        count = await self.pop()
        return await self._pop_tuple() if count == 1 else ()

    @_directory_op("DIRECTORY_CREATE_SUBSPACE", appends=True)
    async def _directory_create_subspace(self, number: int, suffix: str) -> None:
        path = await self._pop_tuple()
        raw_prefix = await self.pop()
        self.directories.append(found.Subspace(path, raw_prefix))

    @_directory_op("DIRECTORY_CREATE_LAYER", appends=True)
    async def _directory_create_layer(self, number: int, suffix: str) -> None:
        node_index, content_index, allow_manual_prefixes = await self.pop_many(3)
        node, content = self.directories[node_index], self.directories[content_index]
        if node is None or content is None:
            self.directories.append(None)
        else:
            self.directories.append(DirectoryLayer(node, content, allow_manual_prefixes == 1))

    @_directory_op("DIRECTORY_CREATE_OR_OPEN", "_DATABASE", appends=True)
    async def _directory_create_or_open(self, number: int, suffix: str) -> None:
        path = await self._pop_tuple()
        layer = await self.pop()
        directory = self.directory
        self.directories.append(
            await self._in(suffix, lambda tx: directory.create_or_open(tx, path, layer))
        )

    @_directory_op("DIRECTORY_CREATE", "_DATABASE", appends=True)
    async def _directory_create(self, number: int, suffix: str) -> None:
        path = await self._pop_tuple()
        layer, prefix = await self.pop_many(2)
        directory = self.directory
        self.directories.append(
            await self._in(suffix, lambda tx: directory.create(tx, path, layer, prefix))
        )

    @_directory_op("DIRECTORY_OPEN", "_DATABASE", "_SNAPSHOT", appends=True)
    async def _directory_open(self, number: int, suffix: str) -> None:
        path = await self._pop_tuple()
        layer = await self.pop()
        directory = self.directory
        self.directories.append(await self._in(suffix, lambda tx: directory.open(tx, path, layer)))

    @_directory_op("DIRECTORY_MOVE", "_DATABASE", appends=True)
    async def _directory_move(self, number: int, suffix: str) -> None:
        old_path = await self._pop_tuple()
        new_path = await self._pop_tuple()
        directory = self.directory
        self.directories.append(
            await self._in(suffix, lambda tx: directory.move(tx, old_path, new_path))
        )

    @_directory_op("DIRECTORY_MOVE_TO", "_DATABASE", appends=True)
    async def _directory_move_to(self, number: int, suffix: str) -> None:
        new_path = await self._pop_tuple()
        directory = self.directory
        self.directories.append(await self._in(suffix, lambda tx: directory.move_to(tx, new_path)))

    @_directory_op("DIRECTORY_CHANGE")
    async def _directory_change(self, number: int, suffix: str) -> None:
        index = await self.pop()
        self.directory_index = index if self.directories[index] is not None else self.error_index

    @_directory_op("DIRECTORY_SET_ERROR_INDEX")
    async def _directory_set_error_index(self, number: int, suffix: str) -> None:
        self.error_index = await self.pop()

    @_directory_op("DIRECTORY_REMOVE", "_DATABASE")
    async def _directory_remove(self, number: int, suffix: str) -> None:
        path = await self._optional_path()
        directory = self.directory
        await self._in(suffix, lambda tx: directory.remove(tx, path))

    @_directory_op("DIRECTORY_REMOVE_IF_EXISTS", "_DATABASE")
    async def _directory_remove_if_exists(self, number: int, suffix: str) -> None:
        path = await self._optional_path()
        directory = self.directory
        await self._in(suffix, lambda tx: directory.remove_if_exists(tx, path))

    @_directory_op("DIRECTORY_LIST", "_DATABASE", "_SNAPSHOT")
    async def _directory_list(self, number: int, suffix: str) -> None:
        path = await self._optional_path()
        directory = self.directory
        names = await self._in(suffix, lambda tx: directory.list(tx, path))
        self.push(number, found.pack(tuple(names)))

    @_directory_op("DIRECTORY_EXISTS", "_DATABASE", "_SNAPSHOT")
    async def _directory_exists(self, number: int, suffix: str) -> None:
        path = await self._optional_path()
        directory = self.directory
        exists = await self._in(suffix, lambda tx: directory.exists(tx, path))
        self.push(number, 1 if exists else 0)

    @_directory_op("DIRECTORY_PACK_KEY")
    async def _directory_pack_key(self, number: int, suffix: str) -> None:
        items = await self._pop_tuple()
        self.push(number, self.directory.pack(items))

    @_directory_op("DIRECTORY_UNPACK_KEY")
    async def _directory_unpack_key(self, number: int, suffix: str) -> None:
        key = await self.pop()
        for element in self.directory.unpack(key):
            self.push(number, element)

    @_directory_op("DIRECTORY_RANGE")
    async def _directory_range(self, number: int, suffix: str) -> None:
        items = await self._pop_tuple()
        begin, end = self.directory.range(items)
        self.push(number, begin)
        self.push(number, end)

    @_directory_op("DIRECTORY_CONTAINS")
    async def _directory_contains(self, number: int, suffix: str) -> None:
        key = await self.pop()
        self.push(number, 1 if self.directory.contains(key) else 0)

    @_directory_op("DIRECTORY_OPEN_SUBSPACE", appends=True)
    async def _directory_open_subspace(self, number: int, suffix: str) -> None:
        items = await self._pop_tuple()
        self.directories.append(self.directory.subspace(items))

    @_directory_op("DIRECTORY_LOG_SUBSPACE")
    async def _directory_log_subspace(self, number: int, suffix: str) -> None:
        prefix = await self.pop()
        key = prefix + found.pack((self.directory_index,))
        found.set(self.transaction, key, self.directory.key())

    @_directory_op("DIRECTORY_LOG_DIRECTORY")
    async def _directory_log_directory(self, number: int, suffix: str) -> None:
        log = found.Subspace((self.directory_index,), await self.pop())
        directory, tx = self.directory, self.transaction
        exists = await directory.exists(tx)
        children = tuple(await directory.list(tx)) if exists else ()
        found.set(tx, log.pack(("path",)), found.pack(directory.path))
        found.set(tx, log.pack(("layer",)), found.pack((getattr(directory, "layer", b""),)))
        found.set(tx, log.pack(("exists",)), found.pack((1 if exists else 0,)))
        found.set(tx, log.pack(("children",)), found.pack(children))

    @_directory_op("DIRECTORY_STRIP_PREFIX")
    async def _directory_strip_prefix(self, number: int, suffix: str) -> None:
        data = await self.pop()
        prefix = self.directory.key()
        if not data.startswith(prefix):
            raise errors.InvalidArgument(f"{data!r} does not start with {prefix!r}")
        self.push(number, data[len(prefix) :])


# --- UNIT_TESTS ---------------------------------------------------------------------------


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise SelfTestFailed(what)


async def _expect_error(awaitable: Awaitable[Any], error: type[errors.FDBError], what: str) -> None:
    try:
        await awaitable
    except error:
        return
    raise SelfTestFailed(f"{what}: expected {error.__name__}")


async def unit_tests(db: found.Database) -> None:
    """found's self-test (options, watches, cancellation, retry limits, timeouts, conflicts,
    sizes, split points, versionstamps); raises SelfTestFailed. Leaves no keys behind."""
    scratch = found.Subspace(("found.tester", "unit_tests"))
    key, other = scratch.pack(("key",)), scratch.pack(("other",))

    tx = found.create_transaction(
        db, timeout=60_000, retry_limit=50, max_retry_delay=1_000, size_limit=100_000
    )
    found.set(tx, key, b"1")
    await found.commit(tx)
    tx = found.create_transaction(db)
    _check(await found.get(tx, key) == b"1", "a committed write with options reads back")

    watching = found.create_transaction(db)
    change = found.watch(watching, key)
    await found.commit(watching)
    tx = found.create_transaction(db)
    found.set(tx, key, b"2")
    await found.commit(tx)
    await asyncio.wait_for(change, timeout=10)

    tx = found.create_transaction(db)
    found.cancel(tx)
    await _expect_error(found.get(tx, key), errors.TransactionCancelled, "read after cancel")

    tx = found.create_transaction(db, retry_limit=1)
    await found.on_error(tx, errors.NotCommitted())
    await _expect_error(
        found.on_error(tx, errors.NotCommitted()), errors.NotCommitted, "retry past the limit"
    )

    tx = found.create_transaction(db, timeout=1)
    await asyncio.sleep(0.02)
    await _expect_error(found.get(tx, key), errors.TransactionTimedOut, "read after timeout")

    reader, writer = found.create_transaction(db), found.create_transaction(db)
    await found.get(reader.snapshot, key)
    found.set(writer, key, b"3")
    await found.commit(writer)
    found.set(reader, other, b"")
    await found.commit(reader)  # a snapshot read takes no read conflict
    reader, writer = found.create_transaction(db), found.create_transaction(db)
    await found.get(reader, key)
    found.set(writer, key, b"4")
    await found.commit(writer)
    found.set(reader, other, b"")
    await _expect_error(found.commit(reader), errors.NotCommitted, "a read conflict")

    tx = found.create_transaction(db)
    before = await found.approximate_size(tx)
    found.set(tx, other, b"x" * 100)
    _check(await found.approximate_size(tx) > before, "approximate size grows with writes")
    begin, end = scratch.range()
    points = await found.split_points(tx, begin, end, 1_000)
    _check(points[0] == begin and points[-1] == end, "split points start and end the range")
    _check(await found.estimated_size(tx, begin, end) >= 0, "estimated range size")
    stamp = found.get_versionstamp(tx)
    await found.commit(tx)
    _check(len(await stamp) == 10, "a committed write has a 10-byte versionstamp")

    tx = found.create_transaction(db)
    await found.get(tx, key)
    stamp = found.get_versionstamp(tx)
    await found.commit(tx)
    await _expect_error(stamp, errors.NoCommitVersion, "versionstamp of a read-only commit")

    tx = found.create_transaction(db)
    found.clear(tx, *scratch.range())
    found.clear(tx, scratch.key())
    await found.commit(tx)


# --- process -----------------------------------------------------------------------------


async def run(db: found.Database, prefix: bytes) -> None:
    """Runs the program under ``prefix`` and every thread it starts; raises what aborts it."""
    state = Shared(db)
    try:
        await StackMachine(state, prefix).run_program()
        while state.threads:  # a thread may start threads of its own
            await state.threads.pop(0)
    finally:
        for thread in state.threads:
            thread.cancel()


async def _main(prefix: bytes, cluster_file: str | None) -> None:
    db = await found.open(cluster_file)
    try:
        await run(db, prefix)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m found.tester <prefix> <api_version> [cluster_file]``; 0 when the program
    ran to the end (FDB errors included), nonzero when it aborted."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) not in (2, 3) or not arguments[1].isdigit():
        print("usage: " + __doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    # found selects its own API version (found._native.API_VERSION) for the whole process;
    # the argument is accepted for the harness but cannot be honoured (see docs/tester.md).
    cluster_file = arguments[2] if len(arguments) == 3 else None
    asyncio.run(_main(arguments[0].encode(), cluster_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
