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
import operator
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import found
from found._rows import bindings as _bindings
from found._rows import hash_join as _native_hash_join
from found.errors import InvalidType, LayerError
from found.ext._prefix import prefix_bytes
from found.tuple import Versionstamp, unpack_keys

__all__ = [
    "Binding",
    "NStore",
    "NStoreException",
    "Plan",
    "Variable",
    "add",
    "add_many",
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
    # hot path: names and values have equal lengths by construction (strict costs ~40%)
    dict.update(binding, zip(names, values, strict=False))
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
    # (index prefix, function putting a tuple's items in index order), for writes
    key_builders: tuple[tuple[bytes, Callable[[tuple], tuple]], ...] = field(repr=False)
    longest_prefix: int = field(repr=False)


def make(name: str, prefix: Any, n: int) -> NStore:
    """Return the handle of an n-column store under `prefix` (tuple, bytes or Subspace)."""
    raw = prefix_bytes(prefix, NStoreException)
    indices = compute_indices(n)
    index_prefixes = tuple(raw + found.pack((number,)) for number in range(len(indices)))
    return NStore(
        name=name,
        prefix=raw,
        n=n,
        indices=tuple(indices),
        choice=_choose_indices(indices, n),
        index_prefixes=index_prefixes,
        key_builders=tuple(
            (index_prefix, _columns_getter(permutation))
            for index_prefix, permutation in zip(index_prefixes, indices, strict=True)
        ),
        longest_prefix=max(map(len, index_prefixes)),
    )


def _columns_getter(permutation: tuple[int, ...]) -> Callable[[tuple], tuple]:
    if len(permutation) == 1:
        return lambda items: (items[0],)
    return operator.itemgetter(*permutation)


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


# Item types that are always packable and never a variable or an incomplete versionstamp.
_PLAIN_TYPES = frozenset({str, bytes, int, float, bool, type(None), uuid.UUID})


def _check_item(store: NStore, position: int, item: Any, what: str) -> None:
    """Refuse what cannot be stored in a tuple: variables and incomplete versionstamps."""
    if isinstance(item, Variable):
        raise NStoreException(
            f"{what}: item {position} is the variable {item.name!r}; {what} needs values"
        )
    if isinstance(item, Versionstamp) and not item.is_complete():
        raise NStoreException(
            f"{what}: item {position} is an incomplete Versionstamp; nstore keys are"
            " written once per index, so only complete versionstamps are accepted"
        )


def _tuple_keys(store: NStore, items: tuple, what: str) -> list[bytes]:
    """Return one key per index for a fully bound tuple, or raise before anything is written."""
    if len(items) != store.n:
        _check_arity(store, items, what)
    # Fast path: one native pack per index, straight after the index's prefix. It succeeds
    # only on items nstore accepts (variables and incomplete versionstamps do not pack);
    # on failure the slow path below finds the bad item and names it.
    pack = found.pack
    try:
        keys = [pack(columns(items), index_prefix) for index_prefix, columns in store.key_builders]
    except (TypeError, ValueError):
        keys = None
    if keys is not None:
        # every key holds the same items; the longest index prefix makes the longest key
        size = store.longest_prefix + len(keys[0]) - len(store.index_prefixes[0])
        if size <= MAX_KEY_SIZE:
            return keys
        raise NStoreException(
            f"{what}: the tuple makes a key of {size} bytes, the limit is {MAX_KEY_SIZE}"
        )
    packed = []
    for position, item in enumerate(items):
        if type(item) not in _PLAIN_TYPES:
            _check_item(store, position, item, what)
        packed.append(_pack_item(store, position, item))
    # not reached: a tuple packs exactly when each of its items does
    raise NStoreException(f"{what}: items {items!r} cannot be packed")  # pragma: no cover


# --- writes and point reads ------------------------------------------------------------


async def add(tx: Any, store: NStore, *items: Any, value: bytes = b"") -> None:
    """Add the tuple `items` with `value` (replacing the value if it is already there).

    Raises NStoreException (nothing written) on wrong arity, a variable, an unpackable
    item, a key over 10,000 bytes or a value over 100,000 bytes.
    """
    if type(value) is not bytes or len(value) > MAX_VALUE_SIZE:
        _check_value(value, "add")
    keys = _tuple_keys(store, items, "add")
    set_ = found.set
    set_(tx, keys[0], value)
    for key in keys[1:]:
        set_(tx, key, b"")


async def add_many(tx: Any, store: NStore, tuples: Iterable[tuple], value: bytes = b"") -> None:
    """Add every tuple of `tuples` with `value`: the same keys as one `add` per tuple.

    Every tuple is checked before anything is written (NStoreException as in `add`).
    The keys are written in key order, which the embedded engine commits about twice as
    fast as the interleaved order of successive `add` calls (one key per index each).
    """
    _check_value(value, "add_many")
    if isinstance(tuples, (str, bytes)) or not isinstance(tuples, Iterable):
        raise InvalidType(f"tuples must be an iterable of tuples, got {type(tuples).__name__}")
    first_index: list[bytes] = []
    other_indices: list[bytes] = []
    for items in tuples:
        if not isinstance(items, (tuple, list)):
            raise InvalidType(f"add_many: each item must be a tuple, got {items!r}")
        keys = _tuple_keys(store, tuple(items), "add_many")
        first_index.append(keys[0])
        other_indices.extend(keys[1:])
    # index 0's prefix sorts before every other index's, so this is one ascending pass
    first_index.sort()
    other_indices.sort()
    found.set_many(tx, first_index, value)
    found.set_many(tx, other_indices)


def _check_value(value: Any, what: str) -> None:
    if not isinstance(value, bytes):
        raise InvalidType(f"value must be bytes, got {type(value).__name__}")
    if len(value) > MAX_VALUE_SIZE:
        raise NStoreException(f"{what}: value of {len(value)} bytes, the limit is {MAX_VALUE_SIZE}")


async def remove(tx: Any, store: NStore, *items: Any) -> None:
    """Remove the tuple `items` from every index; removing an absent tuple does nothing."""
    for key in _tuple_keys(store, items, "remove"):
        found.clear(tx, key)


async def get(tx: Any, store: NStore, *items: Any) -> bytes | None:
    """Return the value stored with the tuple `items`, or None if it is not in the store."""
    _check_arity(store, items, "get")
    try:  # variables and unpackable items fail to pack; the slow path names them
        key = found.pack(items, store.index_prefixes[0])
    except (TypeError, ValueError):
        if any(isinstance(item, Variable) for item in items):
            raise NStoreException("get: items must be values, not variables (use select)") from None
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


# Ranges are read in chunks through `found.all`: a few rows first, so that a reader who
# stops early (a limit, a break) made the database read little more than it used, then
# four times more each time, so that a long scan costs a few reads of thousands of rows
# each instead of a step of Python per row. Each stage of a query works on a whole chunk
# at a time.
_FIRST_CHUNK = 16
_LARGEST_CHUNK = 4096


async def _chunks(
    tx: Any, begin: bytes, end: bytes, limit: int | None = None, reverse: bool = False
) -> AsyncIterator[list[tuple[bytes, bytes]]]:
    """Yield the rows of [begin, end) in key order (or reversed), in non-empty lists; at
    most `limit` rows in all when it is given. The reads cover exactly the rows yielded
    and what lies between them, as one read of the whole range would."""
    size = _FIRST_CHUNK
    while True:
        wanted = size if limit is None else min(size, limit)
        rows = await found.all(found.query(tx, begin, end, limit=wanted, reverse=reverse))
        if rows:
            yield rows
        if len(rows) < wanted:
            return
        if limit is not None:
            limit -= wanted
            if limit == 0:
                return
        if reverse:
            end = rows[-1][0]
        else:
            begin = rows[-1][0] + b"\x00"
        size = min(4 * size, _LARGEST_CHUNK)


def _binder(names: tuple[str, ...], seed: Mapping[str, Any]) -> Callable[[list], list[Binding]]:
    """Return a function turning rows of values (in `names` order) into Bindings that
    extend `seed` (built natively when there is no seed: a Binding made in Python costs
    twice a plain dict, the subclass missing dict's fast constructor path)."""
    if seed:
        return lambda rows: [_extend(seed, names, row) for row in rows]
    return lambda rows: _bindings(Binding, names, rows)


def _scan(
    tx: Any,
    begin: bytes,
    shape: _Shape,
    seed: Mapping[str, Any],
    limit: int | None = None,
    offset: int = 0,
    reverse: bool = False,
) -> AsyncIterator[Binding]:
    """The bindings of the keys under `begin`, extending `seed`."""
    # without an equality filter every row is a binding: read no more than the window
    read_limit = None if shape.equal or limit is None else limit + offset
    values = _scan_values(tx, begin, shape.equal, read_limit, reverse)
    return _window(values, _binder(shape.names, seed), limit, offset)


async def _scan_values(
    tx: Any, begin: bytes, equal: tuple, read_limit: int | None, reverse: bool
) -> AsyncIterator[list[tuple]]:
    """The unbound items of the keys under `begin`, a chunk of rows at a time."""
    begin_length = len(begin)
    async for rows in _chunks(tx, begin, found.next_prefix(begin), read_limit, reverse):
        values = unpack_keys(rows, begin_length)
        if equal:
            values = [row for row in values if _same_items(row, equal)]
        yield values


async def _window(
    chunks: AsyncIterator[list[tuple]],
    bind: Callable[[list], list[Binding]],
    limit: int | None,
    offset: int,
) -> AsyncIterator[Binding]:
    """Skip `offset` rows of `chunks`, then yield at most `limit` of them as Bindings (all
    when `limit` is None); nothing is read when `limit` is 0."""
    if limit == 0:
        return
    async for rows in chunks:
        if offset:
            skipped = min(offset, len(rows))
            rows = rows[skipped:]
            offset -= skipped
        if limit is not None:
            rows = rows[:limit]
            limit -= len(rows)
        for binding in bind(rows):
            yield binding
        if limit == 0:
            return


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


# Joining by probing costs one range read per incoming binding (about 15 µs on the
# embedded engine) while reading one more row of a range in bulk and putting it in a hash
# table costs about 1 µs. So once k bindings are known to need a probe (seen by `where`;
# seen or already read by `query`), reading the whole range of the pattern's constants —
# if it holds at most k · HASH_JOIN_ROWS_PER_PROBE rows — and joining in memory is cheaper.
HASH_JOIN_ROWS_PER_PROBE = 16
_HASH_JOIN_FIRST_BUDGET = 256


class _HashJoin:
    """The build side of a hash join for one pattern and one set of join variables: the
    rows matching the pattern's constants, as tuples of the `free` variables' values keyed
    by the encoding of the `joined` variables' values.

    Until the table is built, each incoming binding is still joined by probing (see
    `probe` for when the range gets read).
    """

    __slots__ = (
        "shape",
        "begin",
        "end",
        "key_positions",
        "free_positions",
        "probes",
        "rows",
        "table",
    )

    def __init__(
        self, store: NStore, pattern: tuple, constants: list, joined: tuple, free: tuple
    ) -> None:
        self.shape = _shape(store, pattern, _mask(constants))
        self.begin = _begin(store, self.shape, constants)
        self.end = found.next_prefix(self.begin)
        names = self.shape.names
        self.key_positions = [names.index(name) for name in joined]
        self.free_positions = [names.index(name) for name in free]
        self.probes = 0
        self.rows: list[tuple[bytes, bytes]] = []  # the range read so far, in budgeted steps
        # join key -> the free items of its one match (a tuple), or of each (a list of
        # tuples): a list per key would be a container per row for the garbage collector
        self.table: dict[Any, tuple | list[tuple]] | None = None

    async def probe(self, tx: Any, coming: int = 0) -> dict[Any, tuple | list[tuple]] | None:
        """Count one probe, with `coming` more already in hand; return the table if it is
        (or now gets) built.

        The range is read in steps, each up to the budget earned by the probes so far
        and those in hand, resuming where the previous one stopped, so no row is read
        twice and the rows read stay within HASH_JOIN_ROWS_PER_PROBE per probe counted.
        """
        self.probes += 1
        # capped: a range read's limit is a 32-bit int
        budget = min((self.probes + coming) * HASH_JOIN_ROWS_PER_PROBE, 1 << 30)
        read = self.rows
        if budget < max(_HASH_JOIN_FIRST_BUDGET, 2 * len(read)):
            return None
        begin = read[-1][0] + b"\x00" if read else self.begin
        read.extend(await found.all(found.query(tx, begin, self.end, limit=budget - len(read) + 1)))
        if len(read) > budget:
            return None
        self._build()
        return self.table

    def _build(self) -> None:
        equal, key_positions, free_positions = (
            self.shape.equal,
            self.key_positions,
            self.free_positions,
        )
        join_items, free_items = _items_getter(key_positions), _items_getter(free_positions)
        single = key_positions[0] if len(key_positions) == 1 else None
        pack = found.pack
        table: dict[Any, tuple | list[tuple]] = {}
        for values in unpack_keys(self.rows, len(self.begin)):
            if equal and not _same_items(values, equal):
                continue
            if single is not None:  # _join_key, inlined
                item = values[single]
                join_key = item if type(item) is str else pack((item,))
            else:
                join_key = _join_key(join_items(values))
            free = free_items(values)
            bucket = table.get(join_key)
            if bucket is None:
                table[join_key] = free
            elif type(bucket) is list:
                bucket.append(free)
            else:
                table[join_key] = [bucket, free]
        self.rows = []
        self.table = table


def _encoded(item: Any) -> bytes:
    return found.pack((item,))


def _join_key(items: tuple) -> Any:
    """The hash-join key of the join variables' values `items`: the same key exactly when
    the items encode the same (1, 1.0 and True join nothing with each other).

    One str is its own key (a str equals another exactly when their encodings do, and no
    key made here is a str otherwise); anything else is keyed by its encoding.
    """
    if len(items) == 1 and type(items[0]) is str:
        return items[0]
    return found.pack(items)


def _items_getter(positions: Sequence[int]) -> Callable[[tuple], tuple]:
    """Return a function picking the items at `positions` of a tuple, as a tuple."""
    if not positions:
        return lambda items: ()
    first = positions[0]
    if list(positions) == list(range(first, first + len(positions))):
        return operator.itemgetter(slice(first, first + len(positions)))
    return operator.itemgetter(*positions)


def _names(pattern: tuple) -> tuple[str, ...]:
    """The pattern's variable names, each once, in column order."""
    return tuple(dict.fromkeys(item.name for item in pattern if isinstance(item, Variable)))


async def _where(
    tx: Any, store: NStore, bindings: AsyncIterable[Mapping[str, Any]], pattern: tuple
) -> AsyncIterator[Binding]:
    constants = _check_pattern(store, pattern, "where")
    # (position, name) of each variable; the bound ones are substituted per binding
    variables = [
        (position, item.name) for position, item in enumerate(pattern) if isinstance(item, Variable)
    ]
    names = _names(pattern)
    shapes: dict[int, _Shape] = {}
    joins: dict[tuple[str, ...], tuple[_HashJoin, tuple[str, ...]]] = {}
    pack = found.pack
    async for binding in bindings:
        joined = tuple([name for name in names if name in binding])
        if joined:
            entry = joins.get(joined)
            if entry is None:
                free = tuple(name for name in names if name not in joined)
                entry = joins[joined] = (_HashJoin(store, pattern, constants, joined, free), free)
            join, free = entry
            table = join.table if join.table is not None else await join.probe(tx)
            if table is not None:
                key = _join_key(tuple([binding[name] for name in joined]))
                for values in _matches(table.get(key)):
                    yield _extend(binding, free, values)
                continue
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

    Incoming bindings without a match are dropped (an inner join). Joins by probing, or
    by hashing once enough bindings came in (see `query`).
    """
    _check_pattern(store, pattern, "where")
    return _where(tx, store, bindings, pattern)


# --- query: a pipeline of value tuples -------------------------------------------------
#
# Inside a query every binding of a stage holds the same variables, so the stages pass
# plain tuples of values in a fixed order (the stage's schema) and a Binding is built
# once per result.


@dataclass(frozen=True)
class _Stage:
    """One joined pattern: which row items it reads, which variables it adds."""

    pattern: tuple
    constants: list
    substitutions: tuple[tuple[int, int], ...]  # (column, row position) of joined variables
    joined: tuple[str, ...]
    join_positions: tuple[int, ...]  # row positions of the joined variables
    free: tuple[str, ...]  # variables this stage adds to the row, in this order
    shape: _Shape  # the scan of one probe: constants and joined columns bound
    free_positions: tuple[int, ...]  # positions in a probe's key suffix of the free items


def _compile(store: NStore, patterns: tuple) -> tuple[_Shape, list, list[_Stage], tuple]:
    """Plan a query: the first scan, its row positions, the join stages and the schema."""
    first = patterns[0]
    first_constants = _check_pattern(store, first, "query")
    first_shape = _shape(store, first, _mask(first_constants))
    schema = tuple(dict.fromkeys(first_shape.names))
    stages = []
    for pattern in patterns[1:]:
        constants = _check_pattern(store, pattern, "query")
        names = _names(pattern)
        joined = tuple(name for name in names if name in schema)
        substitutions = tuple(
            (column, schema.index(item.name))
            for column, item in enumerate(pattern)
            if isinstance(item, Variable) and item.name in schema
        )
        mask = _mask(constants)
        for column, _ in substitutions:
            mask |= 1 << column
        shape = _shape(store, pattern, mask)
        free = tuple(dict.fromkeys(shape.names))
        stages.append(
            _Stage(
                pattern=pattern,
                constants=constants,
                substitutions=substitutions,
                joined=joined,
                join_positions=tuple(schema.index(name) for name in joined),
                free=free,
                shape=shape,
                free_positions=tuple(shape.names.index(name) for name in free),
            )
        )
        schema = schema + free
    return first_shape, first_constants, stages, schema


async def _first_chunks(
    tx: Any, store: NStore, shape: _Shape, constants: list
) -> AsyncIterator[list[tuple]]:
    begin = _begin(store, shape, constants)
    begin_length = len(begin)
    equal = shape.equal
    distinct = _items_getter([shape.names.index(name) for name in dict.fromkeys(shape.names)])
    async for rows in _chunks(tx, begin, found.next_prefix(begin)):
        values = unpack_keys(rows, begin_length)
        if equal:
            values = [distinct(row) for row in values if _same_items(row, equal)]
            if not values:
                continue
        yield values


async def _join_chunks(
    tx: Any, store: NStore, stage: _Stage, chunks: AsyncIterator[list[tuple]]
) -> AsyncIterator[list[tuple]]:
    """Join each incoming row with the stage's pattern; yield the extended rows in
    incoming order, in lists of about _LARGEST_CHUNK rows."""
    pack, unpack = found.pack, found.unpack
    shape, free_positions = stage.shape, stage.free_positions
    equal = shape.equal
    reorder = free_positions != tuple(range(len(shape.names)))
    free_items = _items_getter(free_positions)
    join = _HashJoin(store, stage.pattern, stage.constants, stage.joined, stage.free)
    join_positions = stage.join_positions
    single = join_positions[0] if len(join_positions) == 1 else None
    join_items = _items_getter(join_positions)
    out: list[tuple] = []
    async for chunk in chunks:
        last = len(chunk) - 1
        for number, row in enumerate(chunk):
            if len(out) >= _LARGEST_CHUNK:
                yield out
                out = []
            if join_positions:
                table = join.table
                if table is None:
                    table = await join.probe(tx, last - number)
                if table is not None:
                    # the rest of the chunk joins in memory, a slice at a time so that
                    # what waits in `out` stays small
                    for start in range(number, last + 1, _HASH_JOIN_SLICE):
                        rows = chunk[start : start + _HASH_JOIN_SLICE]
                        out.extend(_hash_join(table, rows, single, join_items))
                        if len(out) >= _LARGEST_CHUNK:
                            yield out
                            out = []
                    break
            packed = list(stage.constants)
            for column, position in stage.substitutions:
                packed[column] = pack((row[position],))
            begin = _begin(store, shape, packed)
            begin_length = len(begin)
            end = found.next_prefix(begin)
            # most probes find a few rows: one read, without the machinery of _chunks
            rows = await found.all(found.query(tx, begin, end, limit=_LARGEST_CHUNK))
            while True:
                for key, _ in rows:
                    values = unpack(key, begin_length)
                    if equal and not _same_items(values, equal):
                        continue
                    if reorder:
                        values = free_items(values)
                    out.append(row + values)
                if len(rows) < _LARGEST_CHUNK:
                    break
                yield out
                out = []
                begin = rows[-1][0] + b"\x00"
                rows = await found.all(found.query(tx, begin, end, limit=_LARGEST_CHUNK))
        if out:
            yield out
            out = []


_HASH_JOIN_SLICE = 256


def _matches(bucket: tuple | list[tuple] | None) -> Sequence[tuple]:
    """The rows of a hash-join table entry (see _HashJoin.table)."""
    if bucket is None:
        return ()
    return (bucket,) if type(bucket) is tuple else bucket


def _hash_join(
    table: dict[Any, tuple | list[tuple]],
    rows: list[tuple],
    single: int | None,
    join_items: Callable[[tuple], tuple],
) -> list[tuple]:
    """Each row extended by every match in `table`, in order; the join key is
    `_join_key(join_items(row))` (the same rule, natively, for item `single` when it is
    the only one)."""
    if single is not None:
        return _native_hash_join(table, rows, single, _encoded)
    get = table.get
    out: list[tuple] = []
    append = out.append
    for row in rows:
        for free in _matches(get(_join_key(join_items(row)))):
            append(row + free)
    return out


def _query(
    tx: Any, store: NStore, patterns: tuple, limit: int | None, offset: int
) -> AsyncIterator[Binding]:
    first_shape, first_constants, stages, schema = _compile(store, patterns)
    chunks = _first_chunks(tx, store, first_shape, first_constants)
    for stage in stages:
        chunks = _join_chunks(tx, store, stage, chunks)
    return _window(chunks, _binder(schema, _EMPTY), limit, offset)


def query(
    tx: Any,
    store: NStore,
    *patterns: tuple,
    limit: int | None = None,
    offset: int = 0,
) -> AsyncIterator[Binding]:
    """Return an async iterator of the bindings that satisfy every pattern, in order.

    Patterns are joined left to right: each is matched against every binding of the ones
    before it, so put the most selective pattern first. A pattern is first joined by one
    prefix scan per incoming binding (an index nested-loop join); once enough bindings
    came in that reading all rows of the pattern's constants is cheaper, those rows are
    read once and joined in memory (a hash join). Either way the bindings come grouped
    by incoming binding, in its order; within a group the order is the index order of the
    scan used, deterministic for given data. A hash join reads, and so takes a read
    conflict on, the whole range of the pattern's constants. `offset`/`limit` window the
    final stream. All patterns are validated now.
    """
    if not patterns:
        raise NStoreException("query needs at least one pattern, got none")
    for pattern in patterns:
        _check_pattern(store, pattern, "query")
    _check_window(limit, offset)
    if len(patterns) == 1:
        return select(tx, store, *patterns[0], limit=limit, offset=offset)
    return _query(tx, store, patterns, limit, offset)


async def count(tx: Any, store: NStore, pattern: tuple) -> int:
    """Return the number of tuples matching `pattern` (one prefix scan)."""
    packed = _check_pattern(store, pattern, "count")
    shape = _shape(store, pattern, _mask(packed))
    begin = _begin(store, shape, packed)
    total = 0
    if shape.equal:
        unpack, begin_length = found.unpack, len(begin)
        async for rows in _chunks(tx, begin, found.next_prefix(begin)):
            for key, _ in rows:
                total += _same_items(unpack(key, begin_length), shape.equal)
        return total
    async for rows in _chunks(tx, begin, found.next_prefix(begin)):
        total += len(rows)
    return total
