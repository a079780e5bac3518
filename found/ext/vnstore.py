"""vnstore: a versioned tuple store whose history is built from applied changes.

Modifications are grouped into changes (like pull requests). A change is invisible
until it is applied; applying gives it a significance — a uuid7 — that places it in
history. Present-time reads scan a plain nstore of the current state; time travel scans
history indices whose keys end with the significance, so every version of a tuple is
adjacent and the newest one at or before a point in history is found in the same pass.

| key (under prefix `V`)                         | value                                      |
|------------------------------------------------|--------------------------------------------|
| `V, "change", cid`                             | `P((state, message, created_us))`          |
| `V, "op", cid, *items`                         | `P((alive, base))` — a pending add/remove  |
| `V, "applied", cid`                            | `P((significance, commit versionstamp))`   |
| `V, "log", significance`                       | `P((cid,))` — history in commit order      |
| `V, "h", i, *perm_i(items), significance`      | `b"\\x01"` alive / `b"\\x00"` removed        |
| `V, "cur", i, *perm_i(items)`                  | `P((significance,))` in index 0, else b""  |
| `V, "last"`                                    | `P((greatest significance applied,))`      |

`i` ranges over the C(k, ⌊k/2⌋) nstore permutations of the k columns; `state` is
"open" or "applied"; `base` is the newest history significance the author saw for the
tuple (None if it had none).

The design choice that shapes apply: `change_apply` reads `V/"last"` and every touched
`cur` key with serializable reads, then writes `last`. Any two applies therefore
conflict, FDB commits one and retries the other, and the retry sees the first one's
effects: the significance it picks, max(uuid7 now, last + 1), is strictly above every
earlier one, so significance order is commit order even when clients' clocks disagree,
and a change whose preconditions no longer hold (adding a tuple already alive, removing
one already gone, or — with strict=True — a tuple whose history moved since the author
read it) fails with VNStoreConflict and stays open.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import uuid_utils.compat

import found
from found.errors import InvalidType, LayerError
from found.ext import nstore
from found.ext._prefix import prefix_bytes
from found.ext.nstore import Binding, Variable, var

__all__ = [
    "Change",
    "ChangeTooLarge",
    "VNStore",
    "VNStoreConflict",
    "VNStoreException",
    "add",
    "ask",
    "change_apply",
    "change_changes",
    "change_continue",
    "change_create",
    "change_get",
    "change_list",
    "change_message",
    "make",
    "query",
    "remove",
    "select",
    "var",
    "where",
]

# An apply must fit one transaction (10 MB); keep a margin for conflict ranges.
MAX_APPLY_BYTES = 9_000_000
MAX_KEY_SIZE = 10_000

# The clock behind significances; tests replace it to simulate skewed clients.
_uuid7 = uuid_utils.compat.uuid7


class VNStoreException(LayerError):
    """Bad input to a vnstore call, or an operation on an unknown or applied change."""


class VNStoreConflict(VNStoreException):
    """A change cannot be applied: the current state contradicts one of its operations."""

    def __init__(self, change: uuid.UUID, items: tuple, reason: str) -> None:
        self.change = change
        self.items = items
        super().__init__(f"change {change} cannot apply {items!r}: {reason}")


class ChangeTooLarge(VNStoreException):
    """Applying the change would write more than one transaction can hold."""


@dataclass(frozen=True)
class VNStore:
    """Handle of a versioned store with named columns `items`."""

    name: str
    prefix: bytes
    items: tuple[str, ...]
    current: nstore.NStore
    history: nstore.NStore


@dataclass(frozen=True)
class Change:
    """A change as recorded: its id, state, message and, once applied, its place in history.

    `versionstamp` is the commit versionstamp of the apply transaction.
    """

    uid: uuid.UUID
    state: str
    message: str
    created_us: int
    significance: uuid.UUID | None
    versionstamp: Any = None


def make(name: str, prefix: Any, items: Sequence[str]) -> VNStore:
    """Return the handle of a versioned store under `prefix` with the given column names."""
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise InvalidType(f"items must be a sequence of column names, got {items!r}")
    items = tuple(items)
    if not items or not all(isinstance(item, str) for item in items):
        raise VNStoreException(f"items must be one or more str column names, got {items!r}")
    if len(set(items)) != len(items):
        raise VNStoreException(f"column names must be distinct, got {items!r}")
    raw = prefix_bytes(prefix, VNStoreException)
    return VNStore(
        name=name,
        prefix=raw,
        items=items,
        current=nstore.make(f"{name}/current", raw + found.pack(("cur",)), len(items)),
        history=nstore.make(f"{name}/history", raw + found.pack(("h",)), len(items)),
    )


# --- keys ------------------------------------------------------------------------------


def _change_key(vn: VNStore, cid: uuid.UUID) -> bytes:
    return vn.prefix + found.pack(("change", cid))


def _applied_key(vn: VNStore, cid: uuid.UUID) -> bytes:
    return vn.prefix + found.pack(("applied", cid))


def _op_prefix(vn: VNStore, cid: uuid.UUID) -> bytes:
    return vn.prefix + found.pack(("op", cid))


def _last_key(vn: VNStore) -> bytes:
    return vn.prefix + found.pack(("last",))


def _log_prefix(vn: VNStore) -> bytes:
    return vn.prefix + found.pack(("log",))


def _history_keys(vn: VNStore, packed: list[bytes]) -> list[bytes]:
    """History key prefixes of one tuple (one per index), to be followed by a significance."""
    store = vn.history
    return [
        index_prefix + b"".join([packed[column] for column in permutation])
        for index_prefix, permutation in zip(store.index_prefixes, store.indices, strict=True)
    ]


def _current_keys(vn: VNStore, packed: list[bytes]) -> list[bytes]:
    store = vn.current
    return [
        index_prefix + b"".join([packed[column] for column in permutation])
        for index_prefix, permutation in zip(store.index_prefixes, store.indices, strict=True)
    ]


_SIGNIFICANCE_SIZE = len(b"\x30") + 16  # a packed UUID


def _pack_items(vn: VNStore, items: tuple, what: str) -> list[bytes]:
    """Validate a fully bound tuple and return each item packed; raise before any write."""
    if len(items) != len(vn.items):
        raise VNStoreException(
            f"{what} has {len(items)} items, store {vn.name!r} has columns {vn.items!r}"
        )
    packed = []
    for position, item in enumerate(items):
        if isinstance(item, Variable):
            raise VNStoreException(
                f"{what}: item {position} is the variable {item.name!r}; {what} needs values"
            )
        try:
            packed.append(found.pack((item,)))
        except (TypeError, ValueError) as error:
            raise VNStoreException(
                f"{what}: item {position} ({item!r}) cannot be packed: {error}"
            ) from None
    size = len(vn.history.index_prefixes[-1]) + sum(map(len, packed)) + _SIGNIFICANCE_SIZE
    if size > MAX_KEY_SIZE:
        raise VNStoreException(
            f"{what}: the tuple makes a key of {size} bytes, the limit is {MAX_KEY_SIZE}"
        )
    return packed


# --- the active change -----------------------------------------------------------------


def _scratch(tx: Any) -> dict:
    """The transaction's per-attempt scratch dict (`tx.vars`, cleared on each retry)."""
    scratch = getattr(tx, "vars", None)
    if not isinstance(scratch, dict):
        raise InvalidType(f"expected a found transaction with .vars, got {type(tx).__name__}")
    return scratch


def change_continue(tx: Any, vn: VNStore, cid: uuid.UUID) -> None:
    """Make `cid` the change that `add` and `remove` record into for the rest of `tx`."""
    if not isinstance(cid, uuid.UUID):
        raise InvalidType(f"a change id is a uuid.UUID, got {type(cid).__name__}")
    _scratch(tx)[("vnstore", vn.prefix)] = cid


def _active(tx: Any, vn: VNStore, change: uuid.UUID | None) -> uuid.UUID:
    if change is not None:
        if not isinstance(change, uuid.UUID):
            raise InvalidType(f"a change id is a uuid.UUID, got {type(change).__name__}")
        return change
    cid = _scratch(tx).get(("vnstore", vn.prefix))
    if cid is None:
        raise VNStoreException(
            "no active change: call change_create or change_continue first, or pass change="
        )
    return cid


# --- changes ---------------------------------------------------------------------------


async def change_create(tx: Any, vn: VNStore, message: str = "") -> uuid.UUID:
    """Record a new open change, make it the active one and return its id."""
    if not isinstance(message, str):
        raise InvalidType(f"message must be a str, got {type(message).__name__}")
    cid = uuid.uuid4()
    created_us = time.time_ns() // 1000
    found.set(tx, _change_key(vn, cid), found.pack(("open", message, created_us)))
    change_continue(tx, vn, cid)
    return cid


async def _meta(tx: Any, vn: VNStore, cid: uuid.UUID) -> tuple[str, str, int]:
    value = await found.get(tx, _change_key(vn, cid))
    if value is None:
        raise VNStoreException(f"unknown change {cid}")
    state, message, created_us = found.unpack(value)
    return state, message, created_us


async def _require_open(tx: Any, vn: VNStore, cid: uuid.UUID) -> tuple[str, str, int]:
    meta = await _meta(tx, vn, cid)
    if meta[0] != "open":
        raise VNStoreException(f"change {cid} is {meta[0]}, it can no longer be modified")
    return meta


async def change_message(tx: Any, vn: VNStore, cid: uuid.UUID, message: str) -> None:
    """Set the message of the open change `cid`."""
    if not isinstance(message, str):
        raise InvalidType(f"message must be a str, got {type(message).__name__}")
    _state, _message, created_us = await _require_open(tx, vn, cid)
    found.set(tx, _change_key(vn, cid), found.pack(("open", message, created_us)))


async def change_get(tx: Any, vn: VNStore, cid: uuid.UUID) -> Change | None:
    """Return the record of change `cid`, or None if there is no such change."""
    try:
        state, message, created_us = await _meta(tx, vn, cid)
    except VNStoreException:
        return None
    significance = versionstamp = None
    if state == "applied":
        significance, versionstamp = found.unpack(await found.get(tx, _applied_key(vn, cid)))
    return Change(cid, state, message, created_us, significance, versionstamp)


async def change_list(tx: Any, vn: VNStore) -> list[Change]:
    """Return every change: the applied ones in history order, then the open ones by age."""
    begin = vn.prefix + found.pack(("change",))
    cids = []
    async for key, _ in found.query(tx, begin, found.next_prefix(begin)):
        cids.append(found.unpack(key[len(begin) :])[0])
    changes = await asyncio.gather(*(change_get(tx, vn, cid) for cid in cids))
    applied = sorted(
        (c for c in changes if c.significance is not None), key=lambda c: c.significance.int
    )
    open_ = sorted(
        (c for c in changes if c.significance is None), key=lambda c: (c.created_us, c.uid.int)
    )
    return applied + open_


async def _ops(tx: Any, vn: VNStore, cid: uuid.UUID) -> dict[bytes, tuple[tuple, bool, Any]]:
    """The pending operations of a change: packed items → (items, alive, base)."""
    begin = _op_prefix(vn, cid)
    ops = {}
    async for key, value in found.query(tx, begin, found.next_prefix(begin)):
        packed = key[len(begin) :]
        alive, base = found.unpack(value)
        ops[packed] = (found.unpack(packed), alive, base)
    return ops


async def change_changes(tx: Any, vn: VNStore, cid: uuid.UUID) -> list[tuple[tuple, bool]]:
    """Return what change `cid` does: (items, alive) per tuple, alive=False for a removal."""
    await _meta(tx, vn, cid)
    return [(items, alive) for items, alive, _base in (await _ops(tx, vn, cid)).values()]


def _after(significance: uuid.UUID) -> uuid.UUID:
    """Return the smallest uuid7 greater than `significance` (carrying into the timestamp)."""
    value = significance.int
    milliseconds = value >> 80
    random_a = (value >> 64) & 0xFFF
    random_b = value & ((1 << 62) - 1)
    if random_b < (1 << 62) - 1:
        random_b += 1
    elif random_a < 0xFFF:
        random_a, random_b = random_a + 1, 0
    else:
        milliseconds, random_a, random_b = milliseconds + 1, 0, 0
    return uuid.UUID(int=(milliseconds << 80) | (7 << 76) | (random_a << 64) | (2 << 62) | random_b)


async def _newest(tx: Any, vn: VNStore, packed: list[bytes]) -> uuid.UUID | None:
    """Significance of the newest history row of a tuple, or None if it has no history."""
    begin = _history_keys(vn, packed)[0]
    async for key, _ in found.query(tx, begin, found.next_prefix(begin), limit=1, reverse=True):
        return found.unpack(key[len(begin) :])[0]
    return None


async def change_apply(tx: Any, vn: VNStore, cid: uuid.UUID, *, strict: bool = False) -> uuid.UUID:
    """Apply change `cid` and return its significance; applying it again returns the same.

    Raises VNStoreConflict (nothing written, the change stays open) when an operation no
    longer holds: adding a tuple that is alive, removing one that is not, or, with
    `strict`, touching a tuple whose history moved since the author recorded the change.
    Run it under `found.transactional`: a concurrent apply makes this one retry.
    """
    state, message, created_us = await _meta(tx, vn, cid)
    if state == "applied":
        value = await found.get(tx, _applied_key(vn, cid))
        return found.unpack(value)[0]
    ops = list((await _ops(tx, vn, cid)).values())
    size = sum(
        (len(vn.history.index_prefixes[0]) + len(found.pack(items)) + _SIGNIFICANCE_SIZE + 2)
        * 2
        * len(vn.history.indices)
        for items, _alive, _base in ops
    )
    if size > MAX_APPLY_BYTES:
        raise ChangeTooLarge(
            f"change {cid} writes about {size} bytes, more than one transaction holds"
            f" ({MAX_APPLY_BYTES}); split it into smaller changes"
        )
    # serializable reads: every concurrent apply conflicts on `last`, and one that
    # touches the same tuples conflicts on their current keys as well
    last_value = await found.get(tx, _last_key(vn))
    packed_ops = [
        ([found.pack((item,)) for item in items], items, alive, base) for items, alive, base in ops
    ]
    currents = await asyncio.gather(
        *(found.get(tx, _current_keys(vn, packed)[0]) for packed, *_ in packed_ops)
    )
    newest = []
    if strict:
        newest = await asyncio.gather(*(_newest(tx, vn, packed) for packed, *_ in packed_ops))
    for position, (_packed, items, alive, base) in enumerate(packed_ops):
        is_alive = currents[position] is not None
        if alive and is_alive:
            raise VNStoreConflict(cid, items, "it is already alive")
        if not alive and not is_alive:
            raise VNStoreConflict(cid, items, "it is not alive")
        if strict and newest[position] != base:
            raise VNStoreConflict(
                cid, items, f"its history moved from {base} to {newest[position]}"
            )

    significance = _uuid7()
    if last_value is not None:
        floor = _after(found.unpack(last_value)[0])
        if significance.int < floor.int:
            significance = floor
    packed_significance = found.pack((significance,))
    for packed, _items, alive, _base in packed_ops:
        for key in _history_keys(vn, packed):
            found.set(tx, key + packed_significance, b"\x01" if alive else b"\x00")
        current = _current_keys(vn, packed)
        if alive:
            found.set(tx, current[0], packed_significance)
            for key in current[1:]:
                found.set(tx, key, b"")
        else:
            for key in current:
                found.clear(tx, key)
    found.set(tx, _log_prefix(vn) + packed_significance, found.pack((cid,)))
    found.set(tx, _last_key(vn), packed_significance)
    found.set_versionstamped_value(
        tx,
        _applied_key(vn, cid),
        found.pack_with_versionstamp((significance, found.tuple.Versionstamp())),
    )
    found.set(tx, _change_key(vn, cid), found.pack(("applied", message, created_us)))
    return significance


# --- building a change -----------------------------------------------------------------


async def _alive_now(tx: Any, vn: VNStore, packed: list[bytes]) -> bool:
    return await found.get(tx, _current_keys(vn, packed)[0]) is not None


async def add(tx: Any, vn: VNStore, *items: Any, change: uuid.UUID | None = None) -> bool:
    """Record in the change (default: the active one) that `items` becomes alive.

    Returns False when there is nothing to record: the tuple is already alive, or the
    change already adds it. Adding a tuple the change removes cancels that removal.
    """
    packed = _pack_items(vn, items, "add")
    cid = _active(tx, vn, change)
    await _require_open(tx, vn, cid)
    op_key = _op_prefix(vn, cid) + b"".join(packed)
    pending = await found.get(tx, op_key)
    if pending is not None:
        if found.unpack(pending)[0]:
            return False
        found.clear(tx, op_key)
        return True
    if await _alive_now(tx, vn, packed):
        return False
    found.set(tx, op_key, found.pack((True, await _newest(tx, vn, packed))))
    return True


async def remove(tx: Any, vn: VNStore, *items: Any, change: uuid.UUID | None = None) -> bool:
    """Record in the change (default: the active one) that `items` stops being alive.

    Returns False when there is nothing to record: the tuple is not alive, or the change
    already removes it. Removing a tuple the change adds cancels that addition.
    """
    packed = _pack_items(vn, items, "remove")
    cid = _active(tx, vn, change)
    await _require_open(tx, vn, cid)
    op_key = _op_prefix(vn, cid) + b"".join(packed)
    pending = await found.get(tx, op_key)
    if pending is not None:
        if not found.unpack(pending)[0]:
            return False
        found.clear(tx, op_key)
        return True
    if not await _alive_now(tx, vn, packed):
        return False
    found.set(tx, op_key, found.pack((False, await _newest(tx, vn, packed))))
    return True


# --- reading ---------------------------------------------------------------------------


def _significance(as_of: Any) -> uuid.UUID:
    if isinstance(as_of, Change):
        if as_of.significance is None:
            raise VNStoreException(f"change {as_of.uid} is not applied, it has no place in history")
        return as_of.significance
    if isinstance(as_of, uuid.UUID):
        return as_of
    raise InvalidType(f"as_of must be a significance (uuid.UUID) or a Change, got {as_of!r}")


async def ask(
    tx: Any,
    vn: VNStore,
    *items: Any,
    as_of: Any = None,
    change: uuid.UUID | None = None,
) -> bool:
    """Return True if `items` is alive now, as of a significance, or with a change's ops."""
    packed = _pack_items(vn, items, "ask")
    if as_of is not None:
        if change is not None:
            raise VNStoreException("ask takes as_of or change, not both")
        begin = _history_keys(vn, packed)[0]
        end = begin + found.pack((_significance(as_of),)) + b"\x00"
        async for _key, value in found.query(tx, begin, end, limit=1, reverse=True):
            return value == b"\x01"
        return False
    if change is not None:
        pending = await found.get(tx, _op_prefix(vn, change) + b"".join(packed))
        if pending is not None:
            return bool(found.unpack(pending)[0])
    return await _alive_now(tx, vn, packed)


def _match(pattern: tuple, items: tuple, seed: Mapping[str, Any]) -> Binding | None:
    """Bind `pattern` against a full tuple, comparing items by their encoding."""
    bound: dict[str, Any] = {}
    for expected, item in zip(pattern, items, strict=True):
        if isinstance(expected, Variable):
            if expected.name in bound:
                if found.pack((bound[expected.name],)) != found.pack((item,)):
                    return None
            else:
                bound[expected.name] = item
        elif found.pack((expected,)) != found.pack((item,)):
            return None
    binding = Binding(seed)
    dict.update(binding, bound)
    return binding


def _check_pattern(vn: VNStore, pattern: tuple, what: str) -> None:
    if not isinstance(pattern, tuple):
        raise InvalidType(f"{what}: a pattern must be a tuple, got {type(pattern).__name__}")
    if len(pattern) != len(vn.items):
        raise VNStoreException(
            f"{what} pattern {pattern!r} has {len(pattern)} items,"
            f" store {vn.name!r} has columns {vn.items!r}"
        )
    for position, item in enumerate(pattern):
        if not isinstance(item, Variable):
            try:
                found.pack((item,))
            except (TypeError, ValueError) as error:
                raise VNStoreException(
                    f"{what}: item {position} ({item!r}) cannot be packed: {error}"
                ) from None


async def _select_as_of(
    tx: Any, vn: VNStore, pattern: tuple, significance: uuid.UUID, seed: Mapping[str, Any]
) -> AsyncIterator[Binding]:
    """Scan the history index serving `pattern`; per tuple keep its newest row ≤ significance."""
    scan = nstore.plan(vn.history, pattern)
    begin_length = len(scan.begin)
    limit = significance.int
    group: bytes | None = None
    alive = False
    values: tuple = ()

    def emit() -> Binding | None:
        if not alive:
            return None
        for k, j in scan.equal:
            if found.pack((values[k],)) != found.pack((values[j],)):
                return None
        binding = Binding(seed)
        dict.update(binding, zip(scan.names, values, strict=True))
        return binding

    async for key, value in found.query(tx, scan.begin, scan.end):
        suffix = key[begin_length:]
        tuple_part = suffix[:-_SIGNIFICANCE_SIZE]
        if tuple_part != group:
            if group is not None and (binding := emit()) is not None:
                yield binding
            group, alive, values = tuple_part, False, found.unpack(tuple_part)
        if int.from_bytes(suffix[-16:], "big") <= limit:
            alive = value == b"\x01"
    if group is not None and (binding := emit()) is not None:
        yield binding


def _substitute(pattern: tuple, binding: Mapping[str, Any]) -> tuple:
    return tuple(
        binding.get(item.name, item) if isinstance(item, Variable) else item for item in pattern
    )


async def _select_with_change(
    tx: Any, vn: VNStore, pattern: tuple, cid: uuid.UUID, seed: Mapping[str, Any]
) -> AsyncIterator[Binding]:
    """The present state with the pending operations of change `cid` laid over it."""
    ops = await _ops(tx, vn, cid)
    async for binding in nstore.select(tx, vn.current, *pattern, seed=seed):
        items = _substitute(pattern, binding)
        op = ops.get(found.pack(items))
        if op is None or op[1]:
            yield binding
    for items, alive, _base in ops.values():
        if not alive:
            continue
        binding = _match(pattern, items, seed)
        if binding is not None and not await _alive_now(
            tx, vn, [found.pack((item,)) for item in items]
        ):
            yield binding


def _select(
    tx: Any,
    vn: VNStore,
    pattern: tuple,
    seed: Mapping[str, Any],
    as_of: Any,
    change: uuid.UUID | None,
) -> AsyncIterator[Binding]:
    if as_of is not None:
        if change is not None:
            raise VNStoreException("select takes as_of or change, not both")
        return _select_as_of(tx, vn, pattern, _significance(as_of), seed)
    if change is not None:
        if not isinstance(change, uuid.UUID):
            raise InvalidType(f"a change id is a uuid.UUID, got {type(change).__name__}")
        return _select_with_change(tx, vn, pattern, change, seed)
    return nstore.select(tx, vn.current, *pattern, seed=seed)


def select(
    tx: Any,
    vn: VNStore,
    *pattern: Any,
    seed: Mapping[str, Any] | None = None,
    as_of: Any = None,
    change: uuid.UUID | None = None,
) -> AsyncIterator[Binding]:
    """Return an async iterator of the bindings of `pattern` in the chosen state.

    The state is the present (default), history as of a significance or applied Change
    (`as_of`, inclusive), or the present with change `change`'s pending operations.
    """
    _check_pattern(vn, pattern, "select")
    return _select(tx, vn, pattern, seed or Binding(), as_of, change)


async def _where(
    tx: Any,
    vn: VNStore,
    bindings: AsyncIterable[Mapping[str, Any]],
    pattern: tuple,
    as_of: Any,
    change: uuid.UUID | None,
) -> AsyncIterator[Binding]:
    async for binding in bindings:
        async for extended in _select(
            tx, vn, _substitute(pattern, binding), binding, as_of, change
        ):
            yield extended


def where(
    tx: Any,
    vn: VNStore,
    bindings: AsyncIterable[Mapping[str, Any]],
    *pattern: Any,
    as_of: Any = None,
    change: uuid.UUID | None = None,
) -> AsyncIterator[Binding]:
    """For each incoming binding, select `pattern` with its variables substituted."""
    _check_pattern(vn, pattern, "where")
    return _where(tx, vn, bindings, pattern, as_of, change)


def query(
    tx: Any,
    vn: VNStore,
    *patterns: tuple,
    as_of: Any = None,
    change: uuid.UUID | None = None,
) -> AsyncIterator[Binding]:
    """Return an async iterator of the bindings satisfying every pattern (joined in order)."""
    if not patterns:
        raise VNStoreException("query needs at least one pattern, got none")
    for pattern in patterns:
        _check_pattern(vn, pattern, "query")
    if as_of is not None:
        _significance(as_of)
    bindings = _select(tx, vn, patterns[0], Binding(), as_of, change)
    for pattern in patterns[1:]:
        bindings = _where(tx, vn, bindings, pattern, as_of, change)
    return bindings
