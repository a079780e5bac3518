"""nstore: a set of n-column tuples, queried by patterns that chain into joins.

One tuple is written once per index; each index stores the columns in another order so
that any pattern — any subset of bound columns — is one prefix scan of one index:

| key                                                   | value                          |
|-------------------------------------------------------|--------------------------------|
| `prefix, 0, x0, x1, …, x(n-1)`                        | the tuple's value (b"" default)|
| `prefix, i, x[π_i(0)], …, x[π_i(n-1)]`, 0 < i < C(n,⌊n/2⌋) | b""                       |

`prefix` is spliced flat into the key (``P(prefix + (i, …))``), index 0 is the identity
permutation and the index list is generated in a fixed order, so the bytes are those of
asyncio-foundationdb's nstore. The value is stored in index 0 only (the other indices
hold b""): readers only ever read index 0, and a triple costs one value, not three.

The design choice: the permutations are a symmetric chain decomposition of the subsets
of {0 … n-1}, the smallest set (C(n, ⌊n/2⌋), by Sperner's theorem) such that every set of
bound columns is a prefix of some permutation. n=3 needs 3 indices, n=4 six.

    store = nstore.make("triples", ("app", "triples"), 3)
    await nstore.add(tx, store, "alice", "knows", "bob")
    async for binding in nstore.query(tx, store, (var("x"), "knows", var("y")),
                                      (var("y"), "name", var("name"))):
        ...
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import found
from found.errors import InvalidType, LayerError

__all__ = [
    "Binding",
    "NStore",
    "NStoreException",
    "Plan",
    "Variable",
    "add",
    "ask",
    "compute_indices",
    "count",
    "get",
    "make",
    "plan",
    "query",
    "remove",
    "select",
    "var",
    "where",
]

MAX_KEY_SIZE = 10_000
MAX_VALUE_SIZE = 100_000


class NStoreException(LayerError):
    """Bad input to an nstore call (wrong arity, unpackable item, key too large…)."""


# --- values: variables and bindings ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    """A named hole in a pattern; `select` binds it to the column's value."""

    name: str


def var(name: str) -> Variable:
    """Return the variable called `name`."""
    if not isinstance(name, str):
        raise InvalidType(f"variable name must be a str, got {type(name).__name__}")
    return Variable(name)


class Binding(dict):
    """An immutable mapping from variable names to values, as yielded by `select`.

    It is a dict for speed (construction and lookups stay in C) with every mutating
    method disabled; it hashes, so bindings can be collected in a set.
    """

    __slots__ = ()

    def _immutable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Binding is immutable")

    __setitem__ = __delitem__ = __ior__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"Binding({dict.__repr__(self)})"

    def __reduce__(self) -> tuple:
        return (Binding, (dict(self),))


_EMPTY = Binding()


def _extend(seed: Mapping[str, Any], names: tuple[str, ...], values: Iterable[Any]) -> Binding:
    binding = Binding(seed)
    dict.update(binding, zip(names, values, strict=True))
    return binding


# --- indices ---------------------------------------------------------------------------


def compute_indices(n: int) -> list[tuple[int, ...]]:
    """Return the C(n, ⌊n/2⌋) column permutations that cover every pattern of n columns.

    For each combination c of ⌊n/2⌋ columns (itertools order), write the columns as a
    word where members of c are ")" and the others "("; repeatedly take the leftmost
    adjacent "(" ")" pair out of the word, collecting the ")" in `closers` and the "(" in
    `openers`. The permutation is closers + what is left + openers. The order of the list
    is part of the on-disk format (the index number is in every key).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidType(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise NStoreException(f"n must be at least 1, got {n}")
    indices = []
    for combination in itertools.combinations(range(n), n // 2):
        closing = set(combination)
        word = list(range(n))
        closers: list[int] = []
        openers: list[int] = []
        while True:
            for position in range(len(word) - 1):
                left, right = word[position], word[position + 1]
                if left not in closing and right in closing:
                    closers.append(right)
                    openers.append(left)
                    del word[position : position + 2]
                    break
            else:
                break
        indices.append(tuple(closers + word + openers))
    return indices


def _choose_indices(indices: list[tuple[int, ...]], n: int) -> tuple[int, ...]:
    """Map each bitmask of bound columns to the first index whose prefix is that set."""
    choice = [-1] * (1 << n)
    for number, permutation in enumerate(indices):
        mask = 0
        for length in range(n + 1):
            if choice[mask] == -1:
                choice[mask] = number
            if length < n:
                mask |= 1 << permutation[length]
    missing = [mask for mask, number in enumerate(choice) if number == -1]
    if missing:  # an invariant of the construction, checked once per make()
        raise AssertionError(f"indices do not cover bound-column masks {missing}")
    return tuple(choice)


# --- the handle ------------------------------------------------------------------------


def _prefix_bytes(prefix: Any) -> bytes:
    """Raw key prefix of a tuple prefix (packed), raw bytes, or a Subspace-like object."""
    if isinstance(prefix, bytes):
        return prefix
    if isinstance(prefix, (tuple, list)):
        try:
            return found.pack(tuple(prefix))
        except (TypeError, ValueError) as error:
            raise NStoreException(f"prefix {prefix!r} cannot be packed: {error}") from None
    key = getattr(prefix, "key", None)
    if callable(key):
        raw = key()
        if isinstance(raw, bytes):
            return raw
    raise InvalidType(
        f"prefix must be a tuple, bytes or a Subspace, got {type(prefix).__name__}"
    )


@dataclass(frozen=True)
class NStore:
    """An n-column tuple store: a name (for debugging), a raw key prefix and its indices."""

    name: str
    prefix: bytes
    n: int
    indices: tuple[tuple[int, ...], ...]
    # index number serving each bitmask of bound columns, and each index's key prefix
    choice: tuple[int, ...] = field(repr=False)
    index_prefixes: tuple[bytes, ...] = field(repr=False)


def make(name: str, prefix: Any, n: int) -> NStore:
    """Return the handle of an n-column store under `prefix` (tuple, bytes or Subspace)."""
    raw = _prefix_bytes(prefix)
    indices = compute_indices(n)
    return NStore(
        name=name,
        prefix=raw,
        n=n,
        indices=tuple(indices),
        choice=_choose_indices(indices, n),
        index_prefixes=tuple(raw + found.pack((number,)) for number in range(len(indices))),
    )


# --- validation ------------------------------------------------------------------------


def _check_arity(store: NStore, items: tuple, what: str) -> None:
    if len(items) != store.n:
        raise NStoreException(
            f"{what} has {len(items)} items, store {store.name!r} has {store.n} columns"
        )


def _pack_item(store: NStore, position: int, item: Any) -> bytes:
    try:
        return found.pack((item,))
    except (TypeError, ValueError) as error:
        raise NStoreException(
            f"item {position} ({item!r}) of store {store.name!r} cannot be packed: {error}"
        ) from None


def _is_incomplete_versionstamp(item: Any) -> bool:
    versionstamp = getattr(getattr(found, "tuple", None), "Versionstamp", None)
    return (
        versionstamp is not None
        and isinstance(item, versionstamp)
        and not item.is_complete()
    )


def _tuple_keys(store: NStore, items: tuple, what: str) -> list[bytes]:
    """Return one key per index for a fully bound tuple, or raise before anything is written."""
    _check_arity(store, items, what)
    packed = []
    for position, item in enumerate(items):
        if isinstance(item, Variable):
            raise NStoreException(
                f"{what}: item {position} is the variable {item.name!r}; {what} needs values"
            )
        if _is_incomplete_versionstamp(item):
            raise NStoreException(
                f"{what}: item {position} is an incomplete Versionstamp; nstore keys are"
                " written once per index, so only complete versionstamps are accepted"
            )
        packed.append(_pack_item(store, position, item))
    keys = [
        index_prefix + b"".join([packed[column] for column in permutation])
        for index_prefix, permutation in zip(store.index_prefixes, store.indices, strict=True)
    ]
    size = max(len(key) for key in keys)
    if size > MAX_KEY_SIZE:
        raise NStoreException(
            f"{what}: the tuple makes a key of {size} bytes, the limit is {MAX_KEY_SIZE}"
        )
    return keys


# --- writes and point reads ------------------------------------------------------------


async def add(tx: Any, store: NStore, *items: Any, value: bytes = b"") -> None:
    """Add the tuple `items` with `value` (replacing the value if it is already there).

    Raises NStoreException (nothing written) on wrong arity, a variable, an unpackable
    item, a key over 10,000 bytes or a value over 100,000 bytes.
    """
    if not isinstance(value, bytes):
        raise InvalidType(f"value must be bytes, got {type(value).__name__}")
    if len(value) > MAX_VALUE_SIZE:
        raise NStoreException(
            f"add: value of {len(value)} bytes, the limit is {MAX_VALUE_SIZE}"
        )
    keys = _tuple_keys(store, items, "add")
    found.set(tx, keys[0], value)
    for key in keys[1:]:
        found.set(tx, key, b"")


async def remove(tx: Any, store: NStore, *items: Any) -> None:
    """Remove the tuple `items` from every index; removing an absent tuple does nothing."""
    for key in _tuple_keys(store, items, "remove"):
        found.clear(tx, key)


async def get(tx: Any, store: NStore, *items: Any) -> bytes | None:
    """Return the value stored with the tuple `items`, or None if it is not in the store."""
    _check_arity(store, items, "get")
    if any(isinstance(item, Variable) for item in items):
        raise NStoreException("get: items must be values, not variables (use select)")
    key = store.index_prefixes[0] + b"".join(
        [_pack_item(store, position, item) for position, item in enumerate(items)]
    )
    return await found.get(tx, key)


async def ask(tx: Any, store: NStore, *items: Any) -> bool:
    """Return True if the tuple `items` is in the store."""
    return await get(tx, store, *items) is not None


# --- patterns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How a pattern is answered: one prefix scan of one index, plus equality filters.

    `index` is the index number and `permutation` its column order; the scan covers
    [`begin`, `end`). Each key's suffix after `begin` unpacks to the unbound columns in
    permutation order; `names[k]` is the variable bound by suffix item k, and `equal`
    lists suffix positions (k, j) that must hold equal items (a variable used twice).
    """

    index: int
    permutation: tuple[int, ...]
    begin: bytes
    end: bytes
    names: tuple[str, ...]
    equal: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class _Shape:
    """The part of a plan that depends only on which columns are bound."""

    index: int
    permutation: tuple[int, ...]
    bound: int
    names: tuple[str, ...]
    equal: tuple[tuple[int, int], ...]


def _check_pattern(store: NStore, pattern: tuple, what: str) -> list[bytes | None]:
    """Validate a pattern; return the packed item of each bound column (None for variables)."""
    if not isinstance(pattern, tuple):
        raise InvalidType(f"{what}: a pattern must be a tuple, got {type(pattern).__name__}")
    _check_arity(store, pattern, f"{what} pattern {pattern!r}")
    return [
        None if isinstance(item, Variable) else _pack_item(store, position, item)
        for position, item in enumerate(pattern)
    ]


def _mask(packed: list[bytes | None]) -> int:
    mask = 0
    for position, item in enumerate(packed):
        if item is not None:
            mask |= 1 << position
    return mask


def _shape(store: NStore, pattern: tuple, mask: int) -> _Shape:
    """Pick the index serving the bound columns of `mask`; name the unbound suffix items."""
    number = store.choice[mask]
    permutation = store.indices[number]
    bound = mask.bit_count()
    names: list[str] = []
    equal: list[tuple[int, int]] = []
    for k, column in enumerate(permutation[bound:]):
        name = pattern[column].name
        if name in names:
            equal.append((names.index(name), k))
        names.append(name)
    return _Shape(number, permutation, bound, tuple(names), tuple(equal))


def _begin(store: NStore, shape: _Shape, packed: list[bytes | None]) -> bytes:
    return store.index_prefixes[shape.index] + b"".join(
        [packed[column] for column in shape.permutation[: shape.bound]]  # type: ignore[misc]
    )


def plan(store: NStore, pattern: tuple) -> Plan:
    """Return the scan that answers `pattern` (validated as in `select`)."""
    packed = _check_pattern(store, pattern, "plan")
    shape = _shape(store, pattern, _mask(packed))
    begin = _begin(store, shape, packed)
    return Plan(
        shape.index, shape.permutation, begin, found.next_prefix(begin), shape.names, shape.equal
    )


def _check_window(limit: int | None, offset: int) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidType(f"limit must be an int or None, got {type(limit).__name__}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise InvalidType(f"offset must be an int, got {type(offset).__name__}")
    if (limit is not None and limit < 0) or offset < 0:
        raise NStoreException(f"limit and offset must be >= 0, got {limit} and {offset}")


def _same_items(values: tuple, equal: tuple[tuple[int, int], ...]) -> bool:
    # compare encodings, not Python equality: 1, 1.0 and True are different items
    pack = found.pack
    return all(pack((values[k],)) == pack((values[j],)) for k, j in equal)


async def _scan(
    tx: Any,
    begin: bytes,
    shape: _Shape,
    seed: Mapping[str, Any],
    limit: int | None = None,
    offset: int = 0,
    reverse: bool = False,
) -> AsyncIterator[Binding]:
    """Yield the bindings of the keys under `begin`, extending `seed`."""
    if limit == 0:
        return
    unpack = found.unpack
    begin_length = len(begin)
    names = shape.names
    end = found.next_prefix(begin)
    if shape.equal:
        skipped = produced = 0
        async for key, _ in found.query(tx, begin, end, reverse=reverse):
            values = unpack(key[begin_length:])
            if not _same_items(values, shape.equal):
                continue
            if skipped < offset:
                skipped += 1
                continue
            yield _extend(seed, names, values)
            produced += 1
            if limit is not None and produced >= limit:
                return
        return
    rows = found.query(
        tx, begin, end, limit=0 if limit is None else limit + offset, reverse=reverse
    )
    if offset:
        skipped = 0
        async for key, _ in rows:
            if skipped < offset:
                skipped += 1
                continue
            yield _extend(seed, names, unpack(key[begin_length:]))
        return
    if not seed:
        # the common case, kept tight: the binding is built straight from the key suffix
        async for key, _ in rows:
            yield Binding(zip(names, unpack(key[begin_length:]), strict=True))
        return
    async for key, _ in rows:
        yield _extend(seed, names, unpack(key[begin_length:]))


def select(
    tx: Any,
    store: NStore,
    *pattern: Any,
    seed: Mapping[str, Any] | None = None,
    limit: int | None = None,
    offset: int = 0,
    reverse: bool = False,
) -> AsyncIterator[Binding]:
    """Return an async iterator of the bindings of `pattern`'s variables, merged into `seed`.

    The bindings come in the key order of the index serving the pattern (stable between
    calls), so `offset`/`limit` paginate. A variable used twice must match equal items.
    The pattern is validated now, before iteration starts.
    """
    packed = _check_pattern(store, pattern, "select")
    _check_window(limit, offset)
    shape = _shape(store, pattern, _mask(packed))
    begin = _begin(store, shape, packed)
    return _scan(tx, begin, shape, seed or _EMPTY, limit, offset, reverse)


async def _where(
    tx: Any, store: NStore, bindings: AsyncIterable[Mapping[str, Any]], pattern: tuple
) -> AsyncIterator[Binding]:
    constants = _check_pattern(store, pattern, "where")
    # (position, name) of each variable; the bound ones are substituted per binding
    variables = [
        (position, item.name) for position, item in enumerate(pattern)
        if isinstance(item, Variable)
    ]
    shapes: dict[int, _Shape] = {}
    pack = found.pack
    async for binding in bindings:
        packed = list(constants)
        for position, name in variables:
            if name in binding:
                packed[position] = pack((binding[name],))
        mask = _mask(packed)
        shape = shapes.get(mask)
        if shape is None:
            shape = shapes[mask] = _shape(store, pattern, mask)
        async for extended in _scan(tx, _begin(store, shape, packed), shape, binding):
            yield extended


def where(
    tx: Any, store: NStore, bindings: AsyncIterable[Mapping[str, Any]], *pattern: Any
) -> AsyncIterator[Binding]:
    """For each incoming binding, select `pattern` with its variables substituted.

    Incoming bindings without a match are dropped (an inner join).
    """
    _check_pattern(store, pattern, "where")
    return _where(tx, store, bindings, pattern)


async def _window(
    bindings: AsyncIterator[Binding], limit: int | None, offset: int
) -> AsyncIterator[Binding]:
    if limit == 0:
        return
    position = produced = 0
    async for binding in bindings:
        position += 1
        if position <= offset:
            continue
        yield binding
        produced += 1
        if limit is not None and produced >= limit:
            return


def query(
    tx: Any,
    store: NStore,
    *patterns: tuple,
    limit: int | None = None,
    offset: int = 0,
) -> AsyncIterator[Binding]:
    """Return an async iterator of the bindings that satisfy every pattern, in order.

    Patterns are joined left to right: each is selected once per binding of the ones
    before it (an index nested-loop join), so put the most selective pattern first.
    `offset`/`limit` window the final stream. All patterns are validated now.
    """
    if not patterns:
        raise NStoreException("query needs at least one pattern, got none")
    for pattern in patterns:
        _check_pattern(store, pattern, "query")
    _check_window(limit, offset)
    first, rest = patterns[0], patterns[1:]
    if not rest:
        return select(tx, store, *first, limit=limit, offset=offset)
    bindings = select(tx, store, *first)
    for pattern in rest:
        bindings = _where(tx, store, bindings, pattern)
    if limit is None and offset == 0:
        return bindings
    return _window(bindings, limit, offset)


async def count(tx: Any, store: NStore, pattern: tuple) -> int:
    """Return the number of tuples matching `pattern` (one prefix scan)."""
    packed = _check_pattern(store, pattern, "count")
    shape = _shape(store, pattern, _mask(packed))
    begin = _begin(store, shape, packed)
    total = 0
    if shape.equal:
        async for _ in _scan(tx, begin, shape, _EMPTY):
            total += 1
        return total
    async for _ in found.query(tx, begin, found.next_prefix(begin)):
        total += 1
    return total
