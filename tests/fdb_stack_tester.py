"""A reference stack machine on the official `fdb` binding, written from the protocol
(../shared/spec/bindingtester.md, docs/tester.md) to check `found.tester` against.

It implements the instructions `tests/tester_programs.py` generates — everything but
UNIT_TESTS — plainly and synchronously: an operation is issued
when its instruction runs (the binding's calls fire the C call at once) and its future is
pushed as a `Later`, resolved when popped. START_THREAD runs an OS thread.

    python tests/fdb_stack_tester.py <prefix> <api_version> [cluster_file]

loads found's embedded engine for `fdb` the same way tests/conftest.py does.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fdb
import fdb.tuple
from fdb.impl import strinc  # the first key after every key with a prefix

RESULT_NOT_PRESENT = b"RESULT_NOT_PRESENT"


def error_item(code: int) -> bytes:
    """``pack((b"ERROR", b"<code>"))``: what an FDB error becomes on the stack."""
    return fdb.tuple.pack((b"ERROR", str(code).encode()))


def _item(value: object) -> object:
    return RESULT_NOT_PRESENT if value is None else value


class Later:
    """A pushed future: ``resolve`` waits for it once and converts it to a stack item."""

    __slots__ = ("_wait", "_item", "_done")

    def __init__(self, wait: Callable[[], object]) -> None:
        self._wait = wait
        self._done = False
        self._item: object = None

    def resolve(self) -> object:
        if not self._done:
            try:
                self._item = _item(self._wait())
            except fdb.FDBError as error:
                self._item = error_item(error.code)
            self._done = True
        return self._item


@fdb.transactional
def _in_transaction(tr: Any, func: Callable[..., Any], args: tuple) -> Any:
    """``func(tr, *args)`` inside the binding's retry loop (commits at the end)."""
    return func(tr, *args)


def _clamped_key(tr: Any, selector: fdb.KeySelector, prefix: bytes) -> bytes:
    key = tr.get_key(selector).value
    if key.startswith(prefix):
        return key
    return prefix if key < prefix else strinc(prefix)


def _packed_range(
    tr: Any, begin: Any, end: Any, limit: int, reverse: int, mode: int, prefix: bytes | None = None
) -> bytes:
    flat: list[bytes] = []
    for key_value in tr.get_range(begin, end, limit, bool(reverse), mode):
        if prefix is None or key_value.key.startswith(prefix):
            flat += [key_value.key, key_value.value]
    return fdb.tuple.pack(tuple(flat))


def _value(tr: Any, key: bytes) -> bytes | None:
    return tr.get(key).value


def _check_empty(tr: Any, prefix: bytes) -> None:
    if list(tr.get_range(prefix, strinc(prefix), limit=1)):
        raise fdb.FDBError(1020)


def _write_rows(tr: Any, rows: list[tuple[bytes, bytes]]) -> None:
    for key, value in rows:
        tr[key] = value


def _incomplete_stamps(items: tuple | list) -> int:
    count = 0
    for item in items:
        if isinstance(item, fdb.tuple.Versionstamp):
            count += not item.is_complete()
        elif isinstance(item, (tuple, list)):
            count += _incomplete_stamps(item)
    return count


def load_program(db: Any, prefix: bytes) -> list[tuple]:
    """The instructions under ``(prefix, i)`` in key order."""
    rows = _in_transaction(db, lambda tr: list(tr[fdb.tuple.range((prefix,))]), ())
    return [fdb.tuple.unpack(row.value) for row in rows]


@dataclass
class Shared:
    """State every thread of a run shares."""

    db: Any
    transactions: dict[bytes, Any] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)


class Machine:
    """One thread: a stack of ``[number, item]``, a current transaction name, a version."""

    def __init__(self, shared: Shared, prefix: bytes) -> None:
        self.shared = shared
        self.prefix = prefix
        self.name = prefix
        self.stack: list[tuple[int, object]] = []
        self.last_version = 0
        self.directories: list[Any] = [fdb.directory]
        self.directory_index = 0
        self.error_index = 0

    # -- stack -----------------------------------------------------------------------------

    def push(self, number: int, item: object) -> None:
        self.stack.append((number, item))

    def pop(self, count: int | None = None) -> Any:
        if count is not None:
            return [self.pop() for _ in range(count)]
        item = self.stack.pop()[1]
        return item.resolve() if isinstance(item, Later) else item

    @property
    def tr(self) -> Any:
        return self.shared.transactions[self.name]

    def reader(self, suffix: str) -> Any:
        return self.tr.snapshot if suffix == "_SNAPSHOT" else self.tr

    def read(self, suffix: str, func: Callable[..., Any], *args: Any) -> object:
        if suffix == "_DATABASE":
            return _item(_in_transaction(self.shared.db, func, args))
        return _item(func(self.reader(suffix), *args))

    def write(self, number: int, suffix: str, func: Callable[..., None], *args: Any) -> None:
        if suffix == "_DATABASE":
            _in_transaction(self.shared.db, func, args)
            self.push(number, RESULT_NOT_PRESENT)
        else:
            func(self.tr, *args)

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        for number, instruction in enumerate(load_program(self.shared.db, self.prefix)):
            op = instruction[0]
            if op == "PUSH":
                self.push(number, instruction[1])
                continue
            suffix = ""
            for candidate in ("_SNAPSHOT", "_DATABASE"):
                if op.endswith(candidate):
                    op, suffix = op[: -len(candidate)], candidate
                    break
            handler = getattr(self, "op_" + op, None)
            if handler is None:
                raise ValueError(f"unknown instruction {instruction[0]!r}")
            try:
                if op.startswith("DIRECTORY_"):
                    self.directory_op(handler, op, number, suffix)
                else:
                    handler(number, suffix)
            except fdb.FDBError as error:
                self.push(number, error_item(error.code))
            except Exception as failure:
                failure.add_note(f"at instruction {number} {instruction!r} of {self.prefix!r}")
                raise

    def directory_op(
        self, handler: Callable[[int, str], None], op: str, number: int, suffix: str
    ) -> None:
        raise ValueError(f"{op}: the directory extension is in DirectoryMachine")

    # -- data ------------------------------------------------------------------------------

    def op_DUP(self, number: int, suffix: str) -> None:
        self.stack.append(self.stack[-1])

    def op_EMPTY_STACK(self, number: int, suffix: str) -> None:
        self.stack = []

    def op_SWAP(self, number: int, suffix: str) -> None:
        depth = self.pop()
        top, other = len(self.stack) - 1, len(self.stack) - 1 - depth
        if other < 0:
            raise IndexError(f"SWAP {depth} on {len(self.stack)} items")
        self.stack[top], self.stack[other] = self.stack[other], self.stack[top]

    def op_POP(self, number: int, suffix: str) -> None:
        self.pop()

    def op_SUB(self, number: int, suffix: str) -> None:
        a, b = self.pop(2)
        self.push(number, a - b)

    def op_CONCAT(self, number: int, suffix: str) -> None:
        a, b = self.pop(2)
        self.push(number, a + b)

    def op_WAIT_FUTURE(self, number: int, suffix: str) -> None:
        original = self.stack[-1][0]
        self.push(original, self.pop())

    def op_LOG_STACK(self, number: int, suffix: str) -> None:
        prefix = self.pop()
        rows = []
        while self.stack:
            index, original = len(self.stack) - 1, self.stack[-1][0]
            item = self.pop()
            key = prefix + fdb.tuple.pack((index, original))
            rows.append((key, fdb.tuple.pack((item,))[:40000]))
        for start in range(0, len(rows), 100):
            _in_transaction(self.shared.db, _write_rows, (rows[start : start + 100],))

    # -- database --------------------------------------------------------------------------

    def op_NEW_TRANSACTION(self, number: int, suffix: str) -> None:
        self.shared.transactions[self.name] = self.shared.db.create_transaction()

    def op_USE_TRANSACTION(self, number: int, suffix: str) -> None:
        self.name = self.pop()
        if self.name not in self.shared.transactions:
            self.shared.transactions[self.name] = self.shared.db.create_transaction()

    def op_ON_ERROR(self, number: int, suffix: str) -> None:
        future = self.tr.on_error(self.pop())
        self.push(number, Later(future.wait))

    def op_GET(self, number: int, suffix: str) -> None:
        key = self.pop()
        if suffix == "_DATABASE":
            self.push(number, self.read(suffix, _value, key))
        else:
            future = self.reader(suffix).get(key)
            self.push(number, Later(lambda: future.value))

    def op_GET_KEY(self, number: int, suffix: str) -> None:
        key, or_equal, offset, prefix = self.pop(4)
        selector = fdb.KeySelector(key, or_equal, offset)
        if suffix == "_DATABASE":
            self.push(number, self.read(suffix, _clamped_key, selector, prefix))
            return
        future = self.reader(suffix).get_key(selector)

        def clamp() -> bytes:
            key = future.value
            if key.startswith(prefix):
                return key
            return prefix if key < prefix else strinc(prefix)

        self.push(number, Later(clamp))

    def op_GET_RANGE(self, number: int, suffix: str) -> None:
        begin, end, limit, reverse, mode = self.pop(5)
        self.push(number, self.read(suffix, _packed_range, begin, end, limit, reverse, mode))

    def op_GET_RANGE_STARTS_WITH(self, number: int, suffix: str) -> None:
        prefix, limit, reverse, mode = self.pop(4)
        end = strinc(prefix)
        self.push(number, self.read(suffix, _packed_range, prefix, end, limit, reverse, mode))

    def op_GET_RANGE_SELECTOR(self, number: int, suffix: str) -> None:
        values = self.pop(10)
        begin = fdb.KeySelector(values[0], values[1], values[2])
        end = fdb.KeySelector(values[3], values[4], values[5])
        limit, reverse, mode, prefix = values[6:]
        item = self.read(suffix, _packed_range, begin, end, limit, reverse, mode, prefix)
        self.push(number, item)

    def op_GET_READ_VERSION(self, number: int, suffix: str) -> None:
        self.last_version = self.reader(suffix).get_read_version().wait()
        self.push(number, b"GOT_READ_VERSION")

    def op_SET_READ_VERSION(self, number: int, suffix: str) -> None:
        self.tr.set_read_version(self.last_version)

    def op_GET_COMMITTED_VERSION(self, number: int, suffix: str) -> None:
        self.last_version = self.tr.get_committed_version()
        self.push(number, b"GOT_COMMITTED_VERSION")

    def op_GET_APPROXIMATE_SIZE(self, number: int, suffix: str) -> None:
        self.tr.get_approximate_size().wait()
        self.push(number, b"GOT_APPROXIMATE_SIZE")

    def op_GET_VERSIONSTAMP(self, number: int, suffix: str) -> None:
        future = self.tr.get_versionstamp()
        self.push(number, Later(lambda: future.value))

    def op_GET_ESTIMATED_RANGE_SIZE(self, number: int, suffix: str) -> None:
        begin, end = self.pop(2)
        self.tr.get_estimated_range_size_bytes(begin, end).wait()
        self.push(number, b"GOT_ESTIMATED_RANGE_SIZE")

    def op_GET_RANGE_SPLIT_POINTS(self, number: int, suffix: str) -> None:
        begin, end, chunk_size = self.pop(3)
        self.tr.get_range_split_points(begin, end, chunk_size).wait()
        self.push(number, b"GOT_RANGE_SPLIT_POINTS")

    def op_SET(self, number: int, suffix: str) -> None:
        key, value = self.pop(2)
        self.write(number, suffix, lambda tr, k, v: tr.set(k, v), key, value)

    def op_CLEAR(self, number: int, suffix: str) -> None:
        self.write(number, suffix, lambda tr, k: tr.clear(k), self.pop())

    def op_CLEAR_RANGE(self, number: int, suffix: str) -> None:
        begin, end = self.pop(2)
        self.write(number, suffix, lambda tr, b, e: tr.clear_range(b, e), begin, end)

    def op_CLEAR_RANGE_STARTS_WITH(self, number: int, suffix: str) -> None:
        self.write(number, suffix, lambda tr, p: tr.clear_range_startswith(p), self.pop())

    def op_ATOMIC_OP(self, number: int, suffix: str) -> None:
        name, key, value = self.pop(3)
        operation = name.lower()
        self.write(number, suffix, lambda tr, k, v: getattr(tr, operation)(k, v), key, value)

    def op_READ_CONFLICT_RANGE(self, number: int, suffix: str) -> None:
        self.tr.add_read_conflict_range(*self.pop(2))
        self.push(number, b"SET_CONFLICT_RANGE")

    def op_WRITE_CONFLICT_RANGE(self, number: int, suffix: str) -> None:
        self.tr.add_write_conflict_range(*self.pop(2))
        self.push(number, b"SET_CONFLICT_RANGE")

    def op_READ_CONFLICT_KEY(self, number: int, suffix: str) -> None:
        self.tr.add_read_conflict_key(self.pop())
        self.push(number, b"SET_CONFLICT_KEY")

    def op_WRITE_CONFLICT_KEY(self, number: int, suffix: str) -> None:
        self.tr.add_write_conflict_key(self.pop())
        self.push(number, b"SET_CONFLICT_KEY")

    def op_DISABLE_WRITE_CONFLICT(self, number: int, suffix: str) -> None:
        self.tr.options.set_next_write_no_write_conflict_range()

    def op_COMMIT(self, number: int, suffix: str) -> None:
        future = self.tr.commit()
        self.push(number, Later(future.wait))

    def op_RESET(self, number: int, suffix: str) -> None:
        self.tr.reset()

    def op_CANCEL(self, number: int, suffix: str) -> None:
        self.tr.cancel()

    # -- tuples and floats -----------------------------------------------------------------

    def pop_tuple(self) -> tuple:
        return tuple(self.pop(self.pop()))

    def op_TUPLE_PACK(self, number: int, suffix: str) -> None:
        self.push(number, fdb.tuple.pack(self.pop_tuple()))

    def op_TUPLE_PACK_WITH_VERSIONSTAMP(self, number: int, suffix: str) -> None:
        prefix = self.pop()
        items = self.pop_tuple()
        stamps = _incomplete_stamps(items)
        if stamps == 0:
            self.push(number, b"ERROR: NONE")
        elif stamps > 1:
            self.push(number, b"ERROR: MULTIPLE")
        else:
            self.push(number, b"OK")
            self.push(number, fdb.tuple.pack_with_versionstamp(items, prefix=prefix))

    def op_TUPLE_UNPACK(self, number: int, suffix: str) -> None:
        for element in fdb.tuple.unpack(self.pop()):
            self.push(number, fdb.tuple.pack((element,)))

    def op_TUPLE_RANGE(self, number: int, suffix: str) -> None:
        span = fdb.tuple.range(self.pop_tuple())
        self.push(number, span.start)
        self.push(number, span.stop)

    def op_TUPLE_SORT(self, number: int, suffix: str) -> None:
        tuples = [fdb.tuple.unpack(packed) for packed in self.pop_tuple()]
        for items in sorted(tuples, key=fdb.tuple.pack):
            self.push(number, fdb.tuple.pack(items))

    def op_ENCODE_FLOAT(self, number: int, suffix: str) -> None:
        self.push(number, fdb.tuple.SingleFloat(struct.unpack(">f", self.pop())[0]))

    def op_ENCODE_DOUBLE(self, number: int, suffix: str) -> None:
        self.push(number, struct.unpack(">d", self.pop())[0])

    def op_DECODE_FLOAT(self, number: int, suffix: str) -> None:
        self.push(number, struct.pack(">f", self.pop().value))

    def op_DECODE_DOUBLE(self, number: int, suffix: str) -> None:
        self.push(number, struct.pack(">d", self.pop()))

    # -- threads ---------------------------------------------------------------------------

    def op_START_THREAD(self, number: int, suffix: str) -> None:
        machine = DirectoryMachine(self.shared, self.pop())

        def body() -> None:
            try:
                machine.run()
            except BaseException as failure:  # reported by run() in the starting thread
                self.shared.failures.append(failure)

        thread = threading.Thread(target=body, daemon=True)
        self.shared.threads.append(thread)
        thread.start()

    def op_WAIT_EMPTY(self, number: int, suffix: str) -> None:
        _in_transaction(self.shared.db, _check_empty, (self.pop(),))
        self.push(number, b"WAITED_FOR_EMPTY")


_APPENDS = {
    "DIRECTORY_CREATE_SUBSPACE", "DIRECTORY_CREATE_LAYER", "DIRECTORY_CREATE_OR_OPEN",
    "DIRECTORY_CREATE", "DIRECTORY_OPEN", "DIRECTORY_MOVE", "DIRECTORY_MOVE_TO",
    "DIRECTORY_OPEN_SUBSPACE",
}  # fmt: skip


class DirectoryMachine(Machine):
    """The directory extension (spec 4.6) on fdb.directory."""

    def directory_op(
        self, handler: Callable[[int, str], None], op: str, number: int, suffix: str
    ) -> None:
        """Any exception pushes DIRECTORY_ERROR (after a None entry if ``op`` appends)."""
        try:
            handler(number, suffix)
        except Exception:
            if op in _APPENDS:
                self.directories.append(None)
            self.push(number, b"DIRECTORY_ERROR")

    @property
    def entry(self) -> Any:
        return self.directories[self.directory_index]

    def context(self, suffix: str) -> Any:
        return self.shared.db if suffix == "_DATABASE" else self.reader(suffix)

    def optional_path(self) -> tuple:
        return self.pop_tuple() if self.pop() == 1 else ()

    def op_DIRECTORY_CREATE_SUBSPACE(self, number: int, suffix: str) -> None:
        path = self.pop_tuple()
        self.directories.append(fdb.Subspace(path, self.pop()))

    def op_DIRECTORY_CREATE_LAYER(self, number: int, suffix: str) -> None:
        node_index, content_index, allow_manual = self.pop(3)
        node, content = self.directories[node_index], self.directories[content_index]
        if node is None or content is None:
            self.directories.append(None)
        else:
            self.directories.append(fdb.DirectoryLayer(node, content, allow_manual == 1))

    def op_DIRECTORY_CREATE_OR_OPEN(self, number: int, suffix: str) -> None:
        path = self.pop_tuple()
        layer = self.pop()
        self.directories.append(self.entry.create_or_open(self.context(suffix), path, layer))

    def op_DIRECTORY_CREATE(self, number: int, suffix: str) -> None:
        path = self.pop_tuple()
        layer, prefix = self.pop(2)
        self.directories.append(self.entry.create(self.context(suffix), path, layer, prefix))

    def op_DIRECTORY_OPEN(self, number: int, suffix: str) -> None:
        path = self.pop_tuple()
        layer = self.pop()
        self.directories.append(self.entry.open(self.context(suffix), path, layer))

    def op_DIRECTORY_MOVE(self, number: int, suffix: str) -> None:
        old_path = self.pop_tuple()
        new_path = self.pop_tuple()
        self.directories.append(self.entry.move(self.context(suffix), old_path, new_path))

    def op_DIRECTORY_MOVE_TO(self, number: int, suffix: str) -> None:
        new_path = self.pop_tuple()
        self.directories.append(self.entry.move_to(self.context(suffix), new_path))

    def op_DIRECTORY_CHANGE(self, number: int, suffix: str) -> None:
        index = self.pop()
        self.directory_index = index if self.directories[index] is not None else self.error_index

    def op_DIRECTORY_SET_ERROR_INDEX(self, number: int, suffix: str) -> None:
        self.error_index = self.pop()

    def op_DIRECTORY_REMOVE(self, number: int, suffix: str) -> None:
        path = self.optional_path()
        self.entry.remove(self.context(suffix), path)

    def op_DIRECTORY_REMOVE_IF_EXISTS(self, number: int, suffix: str) -> None:
        path = self.optional_path()
        self.entry.remove_if_exists(self.context(suffix), path)

    def op_DIRECTORY_LIST(self, number: int, suffix: str) -> None:
        path = self.optional_path()
        self.push(number, fdb.tuple.pack(tuple(self.entry.list(self.context(suffix), path))))

    def op_DIRECTORY_EXISTS(self, number: int, suffix: str) -> None:
        path = self.optional_path()
        self.push(number, 1 if self.entry.exists(self.context(suffix), path) else 0)

    def op_DIRECTORY_PACK_KEY(self, number: int, suffix: str) -> None:
        items = self.pop_tuple()
        self.push(number, self.entry.pack(items))

    def op_DIRECTORY_UNPACK_KEY(self, number: int, suffix: str) -> None:
        key = self.pop()
        for element in self.entry.unpack(key):
            self.push(number, element)

    def op_DIRECTORY_RANGE(self, number: int, suffix: str) -> None:
        items = self.pop_tuple()
        span = self.entry.range(items)
        self.push(number, span.start)
        self.push(number, span.stop)

    def op_DIRECTORY_CONTAINS(self, number: int, suffix: str) -> None:
        key = self.pop()
        self.push(number, 1 if self.entry.contains(key) else 0)

    def op_DIRECTORY_OPEN_SUBSPACE(self, number: int, suffix: str) -> None:
        items = self.pop_tuple()
        self.directories.append(self.entry.subspace(items))

    def op_DIRECTORY_LOG_SUBSPACE(self, number: int, suffix: str) -> None:
        prefix = self.pop()
        self.tr[prefix + fdb.tuple.pack((self.directory_index,))] = self.entry.key()

    def op_DIRECTORY_LOG_DIRECTORY(self, number: int, suffix: str) -> None:
        log = fdb.Subspace((self.directory_index,), self.pop())
        entry, tr = self.entry, self.tr
        exists = entry.exists(tr)
        children = tuple(entry.list(tr)) if exists else ()
        tr[log.pack(("path",))] = fdb.tuple.pack(entry.get_path())
        tr[log.pack(("layer",))] = fdb.tuple.pack((entry.get_layer(),))
        tr[log.pack(("exists",))] = fdb.tuple.pack((1 if exists else 0,))
        tr[log.pack(("children",))] = fdb.tuple.pack(children)

    def op_DIRECTORY_STRIP_PREFIX(self, number: int, suffix: str) -> None:
        data, prefix = self.pop(), self.entry.key()
        if not data.startswith(prefix):
            raise ValueError(f"{data!r} does not start with {prefix!r}")
        self.push(number, data[len(prefix) :])


def run(db: Any, prefix: bytes) -> None:
    """Runs the program under ``prefix`` and the threads it starts; raises their failures."""
    shared = Shared(db)
    DirectoryMachine(shared, prefix).run()
    while shared.threads:
        shared.threads.pop(0).join()
    if shared.failures:
        raise shared.failures[0]


def main(argv: list[str]) -> int:
    """Runs one program on the embedded engine (or the cluster file given)."""
    import ctypes

    import found._native

    ctypes.CDLL(found._native.embedded_library_path())
    fdb.api_version(int(argv[1]))
    run(fdb.open(argv[2] if len(argv) > 2 else None), argv[0].encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
