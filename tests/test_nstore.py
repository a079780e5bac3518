"""nstore: index construction, pattern scans, joins, bad input, and a model test."""

from __future__ import annotations

import itertools
import math
import random
import uuid

import pytest
from helpers import everything

import found
from found.errors import FoundException, InvalidType, LayerError
from found.ext import nstore
from found.ext.nstore import NStoreException, var
from found.tuple import Versionstamp

# --- index construction (pure) ---------------------------------------------------------


def test_indices_for_three_and_four_columns_are_the_anchors():
    assert nstore.compute_indices(3) == [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
    assert nstore.compute_indices(4) == [
        (0, 1, 2, 3),
        (2, 0, 3, 1),
        (3, 0, 1, 2),
        (1, 2, 3, 0),
        (1, 3, 0, 2),
        (2, 3, 1, 0),
    ]


def test_index_order_is_frozen_for_five_and_six_columns():
    # the index number is in every key: this order is part of the on-disk format
    assert nstore.compute_indices(5) == [
        (0, 1, 2, 3, 4),
        (2, 0, 3, 4, 1),
        (3, 0, 1, 4, 2),
        (4, 0, 1, 2, 3),
        (1, 2, 3, 4, 0),
        (1, 3, 4, 0, 2),
        (1, 4, 2, 0, 3),
        (2, 3, 4, 1, 0),
        (2, 4, 0, 1, 3),
        (3, 4, 0, 2, 1),
    ]
    # {2, 3, 5} is "(()))(" …: pairs are taken leftmost first, restarting after each
    assert nstore.compute_indices(6)[17] == (2, 3, 5, 1, 0, 4)


@pytest.mark.parametrize("n", range(1, 11))
def test_indices_are_minimal_and_cover_every_pattern(n):
    indices = nstore.compute_indices(n)
    assert len(indices) == math.comb(n, n // 2)  # Sperner's bound, reached
    assert indices[0] == tuple(range(n))
    assert all(sorted(index) == list(range(n)) for index in indices)
    assert len(set(indices)) == len(indices)
    for size in range(n + 1):
        for bound in itertools.combinations(range(n), size):
            assert any(set(index[:size]) == set(bound) for index in indices), bound


@pytest.mark.parametrize("n", range(1, 11))
def test_each_of_the_2_to_the_n_patterns_picks_the_first_index_with_that_prefix(n):
    indices = nstore.compute_indices(n)
    choice = nstore._choose_indices(indices, n)
    assert len(choice) == 2**n
    for mask in range(2**n):
        bound = {column for column in range(n) if mask >> column & 1}
        serving = [i for i, index in enumerate(indices) if set(index[: len(bound)]) == bound]
        assert choice[mask] == serving[0]


def test_compute_indices_rejects_bad_n():
    with pytest.raises(NStoreException, match="at least 1"):
        nstore.compute_indices(0)
    with pytest.raises(InvalidType):
        nstore.compute_indices("3")


def test_bindings_are_immutable_and_hashable():
    binding = nstore.Binding({"x": 1})
    with pytest.raises(TypeError):
        binding["y"] = 2
    with pytest.raises(TypeError):
        binding.update(y=2)
    with pytest.raises(TypeError):
        del binding["x"]
    assert {binding, nstore.Binding({"x": 1})} == {binding}
    assert binding == {"x": 1}


# --- against the engine ----------------------------------------------------------------


def matches(pattern, items) -> dict | None:
    """Brute-force matcher: the meaning of a pattern, comparing items by encoding."""
    binding = {}
    for expected, item in zip(pattern, items, strict=True):
        if isinstance(expected, nstore.Variable):
            if expected.name in binding:
                if found.pack((binding[expected.name],)) != found.pack((item,)):
                    return None
            else:
                binding[expected.name] = item
        elif found.pack((expected,)) != found.pack((item,)):
            return None
    return binding


def key_of(binding) -> bytes:
    items = sorted((name, found.pack((value,))) for name, value in binding.items())
    return found.pack(tuple(items))


async def test_add_get_ask_remove(db):
    store = nstore.make("triples", ("test", "triples"), 3)

    async def write(tx):
        await nstore.add(tx, store, "alice", "knows", "bob", value=b"since 2019")
        await nstore.add(tx, store, "bob", "knows", "carol")

    await found.transactional(db, write)

    async def read(tx):
        return (
            await nstore.get(tx, store, "alice", "knows", "bob"),
            await nstore.get(tx, store, "bob", "knows", "carol"),
            await nstore.get(tx, store, "carol", "knows", "alice"),
            await nstore.ask(tx, store, "bob", "knows", "carol"),
        )

    assert await found.transactional(db, read) == (b"since 2019", b"", None, True)

    async def delete(tx):
        await nstore.remove(tx, store, "alice", "knows", "bob")
        await nstore.remove(tx, store, "nobody", "knows", "anybody")  # absent: no-op

    await found.transactional(db, delete)
    assert await found.transactional(db, read) == (None, b"", None, True)
    # one key per index, nothing else
    assert len(await everything(db)) == 3


async def test_keys_are_the_anchor_layout_with_the_value_in_index_zero_only(db):
    import fdb.tuple  # the official binding's tuple layer, as the reference encoding

    store = nstore.make("triples", ("app", 7), 3)

    async def write(tx):
        await nstore.add(tx, store, "s", "p", "o", value=b"v")

    await found.transactional(db, write)
    expected = {
        fdb.tuple.pack(("app", 7, 0, "s", "p", "o")): b"v",
        fdb.tuple.pack(("app", 7, 1, "p", "o", "s")): b"",
        fdb.tuple.pack(("app", 7, 2, "o", "s", "p")): b"",
    }
    assert dict(await everything(db)) == expected


async def test_adding_twice_is_idempotent_and_replaces_the_value(db):
    store = nstore.make("pairs", ("pairs",), 2)

    async def write(tx, value):
        await nstore.add(tx, store, 1, 2, value=value)
        await nstore.add(tx, store, 1, 2, value=value)  # same transaction, twice

    await found.transactional(db, write, b"a")
    await found.transactional(db, write, b"b")
    assert dict(await everything(db)) == {
        found.pack(("pairs", 0, 1, 2)): b"b",
        found.pack(("pairs", 1, 2, 1)): b"",
    }


async def test_add_many_writes_the_keys_of_one_add_per_tuple(db):
    rng = random.Random(5)
    tuples = [
        (rng.randrange(30), rng.choice("pq"), rng.choice(["x", b"y", 2.5])) for _ in range(200)
    ]
    one_by_one = nstore.make("triples", ("one",), 3)
    at_once = nstore.make("triples", ("many",), 3)

    async def write(tx):
        for items in tuples:
            await nstore.add(tx, one_by_one, *items, value=b"v")
        await nstore.add_many(tx, at_once, tuples, value=b"v")
        await nstore.add_many(tx, at_once, [])

    await found.transactional(db, write)
    rows = await everything(db)
    ones = [
        (key[len(one_by_one.prefix) :], value)
        for key, value in rows
        if key.startswith(one_by_one.prefix)
    ]
    manys = [
        (key[len(at_once.prefix) :], value) for key, value in rows if key.startswith(at_once.prefix)
    ]
    assert ones == manys and len(ones) == 3 * len(set(tuples))


@pytest.mark.parametrize(
    ("tuples", "error", "words"),
    [
        ([("a", "b", "c"), ("a", "b")], NStoreException, "2 items"),
        ([("a", "b", "c"), ("a", var("x"), "c")], NStoreException, "variable"),
        ([("a", "b", "c"), ("a", object(), "c")], NStoreException, "cannot be packed"),
        ([("a", "b", "c"), ("x" * 10_001, "b", "c")], NStoreException, "10000"),
        ([("a", "b", "c"), "abc"], InvalidType, "tuple"),
        ("abc", InvalidType, "iterable"),
    ],
)
async def test_add_many_checks_every_tuple_before_writing_any(db, tuples, error, words):
    store = nstore.make("triples", ("bad",), 3)

    async def run(tx):
        with pytest.raises(error, match=words):
            await nstore.add_many(tx, store, tuples)

    await found.transactional(db, run)
    assert await everything(db) == []


async def test_long_scans_and_windows_cross_read_chunks(db):
    """Scans read growing chunks of rows; offsets, limits, reverse order and joins must not
    notice where one chunk ends and the next begins."""
    store = nstore.make("numbers", ("chunks",), 3)
    count = 3_000

    async def write(tx):
        await nstore.add_many(tx, store, [("n", number, number % 7) for number in range(count)])
        await nstore.add_many(
            tx, store, [(number % 7, "name", f"r{number % 7}") for number in range(7)]
        )

    await found.transactional(db, write)
    x, r = var("x"), var("r")

    async def read(tx):
        every = await found.all(nstore.select(tx, store, "n", x, r))
        backwards = await found.all(nstore.select(tx, store, "n", x, r, reverse=True))
        window = await found.all(nstore.select(tx, store, "n", x, r, offset=1_000, limit=1_500))
        joined = await found.all(nstore.query(tx, store, ("n", x, r), (r, "name", var("name"))))
        paged = await found.all(
            nstore.query(tx, store, ("n", x, r), (r, "name", var("name")), offset=17, limit=2_000)
        )
        counted = await nstore.count(tx, store, ("n", x, r))
        return every, backwards, window, joined, paged, counted

    every, backwards, window, joined, paged, counted = await found.transactional(db, read)
    assert [b["x"] for b in every] == list(range(count))
    assert backwards == every[::-1]
    assert window == every[1_000:2_500]
    assert joined == [{"x": n, "r": n % 7, "name": f"r{n % 7}"} for n in range(count)]
    assert paged == joined[17:2_017]
    assert counted == count


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
async def test_every_pattern_is_answered_by_one_prefix_scan(db, n):
    rng = random.Random(n)
    store = nstore.make("wide", ("wide", n), n)
    tuples = {tuple(rng.randrange(3) for _ in range(n)) for _ in range(40)}

    async def write(tx):
        for items in tuples:
            await nstore.add(tx, store, *items)

    await found.transactional(db, write)
    sample = sorted(tuples)[len(tuples) // 2]
    for mask in range(2**n):
        pattern = tuple(
            sample[column] if mask >> column & 1 else var(f"v{column}") for column in range(n)
        )
        plan = nstore.plan(store, pattern)
        bound = {column for column in range(n) if mask >> column & 1}
        assert set(plan.permutation[: len(bound)]) == bound
        assert plan.permutation == store.indices[plan.index]
        assert plan.end == found.next_prefix(plan.begin)

        async def scan(tx, plan=plan, pattern=pattern):
            keys = await found.all(found.query(tx, plan.begin, plan.end))
            bindings = await found.all(nstore.select(tx, store, *pattern))
            return keys, bindings

        keys, bindings = await found.transactional(db, scan)
        expected = [b for items in tuples if (b := matches(pattern, items)) is not None]
        # every key in the scanned range is a result: no filtering, no wasted reads
        assert len(keys) == len(expected) == len(bindings)
        assert sorted(map(key_of, bindings)) == sorted(map(key_of, expected))


async def test_query_joins_patterns_left_to_right_like_nested_loops(db):
    store = nstore.make("graph", ("graph",), 3)
    facts = [
        ("alice", "knows", "bob"),
        ("alice", "knows", "carol"),
        ("bob", "knows", "dave"),
        ("bob", "name", "Bob"),
        ("carol", "name", "Carol"),
        ("dave", "name", "Dave"),
        ("erin", "knows", "alice"),
    ]

    async def write(tx):
        for fact in facts:
            await nstore.add(tx, store, *fact)

    await found.transactional(db, write)
    patterns = [
        (var("who"), "knows", var("friend")),
        (var("friend"), "name", var("name")),
    ]

    async def run(tx):
        return await found.all(nstore.query(tx, store, *patterns))

    result = await found.transactional(db, run)
    expected = [
        {"who": a, "friend": b, "name": n}
        for (a, p, b) in facts
        if p == "knows"
        for (c, q, n) in facts
        if c == b and q == "name"
    ]
    assert sorted(map(key_of, result)) == sorted(map(key_of, expected))
    assert all(isinstance(binding, nstore.Binding) for binding in result)

    async def friends_of_friends(tx):
        return await found.all(
            nstore.query(
                tx,
                store,
                ("alice", "knows", var("x")),
                (var("x"), "knows", var("y")),
                (var("y"), "name", var("name")),
            )
        )

    assert await found.transactional(db, friends_of_friends) == [
        {"x": "bob", "y": "dave", "name": "Dave"}
    ]


async def test_where_takes_any_stream_of_bindings(db):
    store = nstore.make("graph", ("graph",), 3)

    async def run(tx):
        await nstore.add(tx, store, "a", "likes", "tea")
        await nstore.add(tx, store, "b", "likes", "coffee")

        async def seeds():
            yield {"who": "a"}
            yield {"who": "nobody"}
            yield {"who": "b", "extra": 1}

        return await found.all(nstore.where(tx, store, seeds(), var("who"), "likes", var("what")))

    assert await found.transactional(db, run) == [
        {"who": "a", "what": "tea"},
        {"who": "b", "extra": 1, "what": "coffee"},
    ]


async def test_a_variable_used_twice_is_an_equality_filter(db):
    store = nstore.make("graph", ("graph",), 3)

    async def run(tx):
        await nstore.add(tx, store, "narcissus", "loves", "narcissus")
        await nstore.add(tx, store, "echo", "loves", "narcissus")
        await nstore.add(tx, store, 1, "is", True)  # 1 == True in Python, not in keys
        await nstore.add(tx, store, 1, "is", 1)
        loves = await found.all(nstore.select(tx, store, var("x"), "loves", var("x")))
        same = await found.all(nstore.select(tx, store, var("x"), "is", var("x")))
        counted = await nstore.count(tx, store, (var("x"), "is", var("x")))
        return loves, same, counted

    loves, same, counted = await found.transactional(db, run)
    assert loves == [{"x": "narcissus"}]
    assert len(same) == 1 and type(same[0]["x"]) is int
    assert counted == 1


async def test_limit_offset_reverse_and_count(db):
    store = nstore.make("numbers", ("numbers",), 2)

    async def run(tx):
        for number in range(20):
            await nstore.add(tx, store, "n", number)
            await nstore.add(tx, store, "parity", number % 2)
        pattern = ("n", var("x"))
        everything_ = [b["x"] for b in await found.all(nstore.select(tx, store, *pattern))]
        page = [
            b["x"] for b in await found.all(nstore.select(tx, store, *pattern, offset=5, limit=3))
        ]
        backwards = [
            b["x"]
            for b in await found.all(nstore.select(tx, store, *pattern, reverse=True, limit=2))
        ]
        joined = await found.all(
            nstore.query(tx, store, ("n", var("x")), ("parity", var("x")), limit=1, offset=1)
        )
        none = await found.all(nstore.query(tx, store, ("n", var("x")), limit=0))
        return (
            everything_,
            page,
            backwards,
            joined,
            none,
            await nstore.count(tx, store, ("n", var("x"))),
            await nstore.count(tx, store, (var("k"), var("v"))),
            await nstore.count(tx, store, ("n", 3)),
            await nstore.count(tx, store, ("n", 99)),
        )

    (
        everything_,
        page,
        backwards,
        joined,
        none,
        n_count,
        total,
        one,
        zero,
    ) = await found.transactional(db, run)
    assert everything_ == list(range(20))
    assert page == [5, 6, 7]
    assert backwards == [19, 18]
    assert joined == [{"x": 1}]
    assert none == []
    assert (n_count, total, one, zero) == (20, 22, 1, 0)


EDGE_VALUES = [
    None,
    b"",
    "",
    0,
    -1,
    2**70,
    -(2**70),
    0.0,
    -0.0,
    float("nan"),
    float("inf"),
    True,
    False,
    1,
    1.0,
    "x",
    b"x",
    "a\x00b",
    b"a\x00\xffb",
    ("nested", (1, None)),
    uuid.UUID(int=12345),
    "e\u0301",
    "\u00e9",
    "日本",
    Versionstamp(b"\x01" * 10, 7),
]


async def test_edge_values_round_trip_and_stay_distinct(db):
    store = nstore.make("edge", ("edge",), 3)

    async def write(tx):
        for position, value in enumerate(EDGE_VALUES):
            await nstore.add(tx, store, "forward", position, value)
            await nstore.add(tx, store, "backward", value, position)

    await found.transactional(db, write)

    async def read(tx):
        forward = await found.all(nstore.select(tx, store, "forward", var("p"), var("v")))
        backward = [
            await found.all(nstore.select(tx, store, "backward", value, var("p")))
            for value in EDGE_VALUES
        ]
        return forward, backward

    forward, backward = await found.transactional(db, read)
    assert [b["p"] for b in forward] == list(range(len(EDGE_VALUES)))
    for binding, value in zip(forward, EDGE_VALUES, strict=True):
        assert found.pack((binding["v"],)) == found.pack((value,))
    # True/1/1.0, -0.0/0.0, str/bytes, NFC/NFD are distinct: each finds only itself
    assert backward == [[{"p": position}] for position in range(len(EDGE_VALUES))]


async def test_key_and_value_limits_raise_typed_errors_before_writing(db):
    store = nstore.make("big", ("big",), 2)
    fits = "x" * 9_950

    async def ok(tx):
        await nstore.add(tx, store, fits, 1, value=b"v" * 100_000)

    await found.transactional(db, ok)
    before = await everything(db)

    async def too_big_key(tx):
        await nstore.add(tx, store, "x" * 10_001, 1)

    async def too_big_value(tx):
        await nstore.add(tx, store, "a", 1, value=b"v" * 100_001)

    with pytest.raises(NStoreException, match="10000"):
        await found.transactional(db, too_big_key)
    with pytest.raises(NStoreException, match="100000"):
        await found.transactional(db, too_big_value)
    assert await everything(db) == before


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda tx, s: nstore.add(tx, s, "a", "b"), NStoreException, "2 items"),
        (lambda tx, s: nstore.add(tx, s, "a", "b", "c", "d"), NStoreException, "4 items"),
        (lambda tx, s: nstore.add(tx, s, "a", object(), "c"), NStoreException, "cannot be packed"),
        (lambda tx, s: nstore.add(tx, s, "a", var("x"), "c"), NStoreException, "variable"),
        (lambda tx, s: nstore.add(tx, s, "a", "b", "c", value="text"), InvalidType, "bytes"),
        (
            lambda tx, s: nstore.add(tx, s, "a", Versionstamp(), "c"),
            NStoreException,
            "incomplete Versionstamp",
        ),
        (lambda tx, s: nstore.remove(tx, s, "a"), NStoreException, "1 items"),
        (lambda tx, s: nstore.remove(tx, s, "a", var("x"), "c"), NStoreException, "variable"),
        (lambda tx, s: nstore.get(tx, s, "a", "b"), NStoreException, "2 items"),
        (lambda tx, s: nstore.get(tx, s, "a", var("b"), "c"), NStoreException, "variable"),
        (lambda tx, s: nstore.count(tx, s, ("a", var("b"))), NStoreException, "2 items"),
    ],
)
async def test_bad_writes_raise_a_typed_error_and_write_nothing(db, call, error, words):
    store = nstore.make("triples", ("bad",), 3)

    async def run(tx):
        with pytest.raises(error, match=words) as raised:
            await call(tx, store)
        assert isinstance(raised.value, FoundException)
        # the transaction commits: the failed call must not have buffered any write

    await found.transactional(db, run)
    assert await everything(db) == []


def test_bad_patterns_raise_when_the_query_is_built():
    store = nstore.make("triples", ("bad",), 3)
    tx = None  # validation happens before any read
    with pytest.raises(NStoreException, match="at least one pattern"):
        nstore.query(tx, store)
    with pytest.raises(NStoreException, match="0 items"):
        nstore.query(tx, store, ())
    with pytest.raises(NStoreException, match="2 items"):
        nstore.query(tx, store, (var("a"), "b", "c"), (var("a"), "b"))
    with pytest.raises(NStoreException, match="cannot be packed"):
        nstore.select(tx, store, var("a"), {1: 2}, "c")
    with pytest.raises(InvalidType):
        nstore.query(tx, store, [var("a"), "b", "c"])
    with pytest.raises(NStoreException, match=">= 0"):
        nstore.select(tx, store, var("a"), "b", "c", limit=-1)
    with pytest.raises(InvalidType):
        nstore.make("x", 42, 3)
    assert issubclass(NStoreException, LayerError)


async def test_prefixes_isolate_stores(db):
    one = nstore.make("one", ("shared", 1), 2)
    two = nstore.make("two", ("shared", 2), 2)
    raw = nstore.make("raw", b"\x01raw", 2)

    async def run(tx):
        await nstore.add(tx, one, "a", 1)
        await nstore.add(tx, two, "a", 2)
        await nstore.add(tx, raw, "a", 3)
        return [await found.all(nstore.select(tx, s, "a", var("x"))) for s in (one, two, raw)]

    assert await found.transactional(db, run) == [[{"x": 1}], [{"x": 2}], [{"x": 3}]]
    for key, _ in await everything(db):
        assert key.startswith((one.prefix, two.prefix, raw.prefix))


async def test_randomized_against_a_python_set(db):
    """A long random sequence of adds and removes; after every step the store must equal a
    plain Python set, for random patterns, joins, and counts."""
    rng = random.Random(20240607)
    store = nstore.make("model", ("model",), 3)
    alphabet = ["a", "b", "c", 0, 1, b"a", None]
    model: dict[bytes, tuple] = {}

    def random_item():
        return rng.choice(alphabet)

    def random_pattern():
        names = ["x", "y", "z"]
        return tuple(
            var(rng.choice(names)) if rng.random() < 0.5 else random_item() for _ in range(3)
        )

    for step in range(300):
        operations = []
        for _ in range(rng.randrange(1, 6)):
            items = (random_item(), random_item(), random_item())
            operations.append((rng.random() < 0.65, items))

        async def apply(tx, operations=operations):
            for is_add, items in operations:
                if is_add:
                    await nstore.add(tx, store, *items)
                else:
                    await nstore.remove(tx, store, *items)

        await found.transactional(db, apply)
        for is_add, items in operations:
            if is_add:
                model[found.pack(items)] = items
            else:
                model.pop(found.pack(items), None)

        if step % 10 == 0 or step == 299:
            patterns = [random_pattern() for _ in range(4)]

            async def read(tx, patterns=patterns):
                selected = [await found.all(nstore.select(tx, store, *p)) for p in patterns]
                counts = [await nstore.count(tx, store, p) for p in patterns]
                joined = await found.all(nstore.query(tx, store, patterns[0], patterns[1]))
                return selected, counts, joined

            selected, counts, joined = await found.transactional(db, read)
            for pattern, bindings, counted in zip(patterns, selected, counts, strict=True):
                expected = [
                    b for items in model.values() if (b := matches(pattern, items)) is not None
                ]
                assert sorted(map(key_of, bindings)) == sorted(map(key_of, expected))
                assert counted == len(expected)
            expected_join = []
            for first in model.values():
                left = matches(patterns[0], first)
                if left is None:
                    continue
                substituted = tuple(
                    left.get(item.name, item) if isinstance(item, nstore.Variable) else item
                    for item in patterns[1]
                )
                for second in model.values():
                    right = matches(substituted, second)
                    if right is not None:
                        expected_join.append({**left, **right})
            assert sorted(map(key_of, joined)) == sorted(map(key_of, expected_join))
    # the invariant behind it all: each tuple is in every index or in none
    keys = await everything(db)
    assert len(keys) == len(model) * len(store.indices)
    assert all(key.startswith(store.prefix) for key, _ in keys)


def brute_force_query(model_tuples, patterns) -> list[dict]:
    """Nested loops in Python: the meaning of a query."""
    results = [{}]
    for pattern in patterns:
        extended = []
        for binding in results:
            substituted = tuple(
                binding.get(item.name, item) if isinstance(item, nstore.Variable) else item
                for item in pattern
            )
            for items in model_tuples:
                match = matches(substituted, items)
                if match is not None:
                    extended.append({**binding, **match})
        results = extended
    return results


@pytest.mark.parametrize("rows_per_probe", [0, nstore.HASH_JOIN_ROWS_PER_PROBE, 10**9])
async def test_joins_give_the_same_bindings_by_probing_or_hashing(db, monkeypatch, rows_per_probe):
    """0 never hashes, the default switches midway, 10**9 hashes from the first binding."""
    monkeypatch.setattr(nstore, "HASH_JOIN_ROWS_PER_PROBE", rows_per_probe)
    rng = random.Random(rows_per_probe)
    store = nstore.make("join", ("join",), 3)
    nodes = list(range(25)) + ["a", "b", b"a", "\x15\x01", True, 1.0]
    tuples = {
        (rng.choice(nodes), rng.choice(["p", "q", "r"]), rng.choice(nodes)) for _ in range(450)
    }
    tuples |= {(node, "r", node) for node in nodes[::3]}

    async def write(tx):
        for items in tuples:
            await nstore.add(tx, store, *items)

    await found.transactional(db, write)
    x, y, z = var("x"), var("y"), var("z")
    queries = [
        [(x, "p", y), (y, "q", z)],
        [(x, "p", y), (y, "q", x)],  # joined on two variables
        [(x, "p", y), (y, "r", y)],  # the joined variable twice
        [(x, "p", y), (y, var("w"), var("w"))],  # a free variable twice
        [(x, "q", y), (y, "p", z), (z, "r", var("end"))],
        [(x, "p", 1.0), (x, "q", y)],  # 1.0 is not 1 nor True
    ]
    for patterns in queries:

        async def run(tx, patterns=patterns):
            joined = await found.all(nstore.query(tx, store, *patterns))
            upstream = await found.all(nstore.select(tx, store, *patterns[0]))
            streamed = await found.all(
                nstore.where(tx, store, nstore.select(tx, store, *patterns[0]), *patterns[1])
            )
            return joined, upstream, streamed

        joined, upstream, streamed = await found.transactional(db, run)
        expected = brute_force_query(tuples, patterns)
        assert sorted(map(key_of, joined)) == sorted(map(key_of, expected)), patterns
        assert sorted(map(key_of, streamed)) == sorted(
            map(key_of, brute_force_query(tuples, patterns[:2]))
        )
        # results come grouped by incoming binding, in the incoming order
        first_names = [name.name for name in patterns[0] if isinstance(name, nstore.Variable)]
        heads = [key_of({n: b[n] for n in first_names}) for b in joined]
        order = [key_of(b) for b in upstream]
        assert [h for i, h in enumerate(heads) if i == 0 or heads[i - 1] != h] == [
            h for h in order if h in set(heads)
        ]
