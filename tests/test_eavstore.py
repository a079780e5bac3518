"""eavstore: entities, exact index maintenance, value encodings, bad input, a model test."""

from __future__ import annotations

import random
import uuid

import pytest
from helpers import everything, run

import found
from found.errors import FoundException, InvalidType
from found.ext import eavstore
from found.ext.eavstore import EAVStoreException


@pytest.fixture
def store():
    return eavstore.make("people", ("test", "eav"))


async def lookup(db, store, attribute, value):
    async def do(tx):
        return await found.all(eavstore.query(tx, store, attribute, value))

    return await run(db, do)


async def test_create_get_query_update_remove(db, store):
    async def create(tx):
        alice = await eavstore.create(tx, store, {"name": "alice", "age": 30})
        bob = await eavstore.create(tx, store, {"name": "bob", "age": 30}, uid="bob")
        return alice, bob

    alice, bob = await run(db, create)
    assert isinstance(alice, uuid.UUID) and bob == "bob"

    async def get(tx, uid):
        return await eavstore.get(tx, store, uid)

    assert await run(db, get, alice) == {"name": "alice", "age": 30}
    assert await run(db, get, "nobody") == {}
    assert sorted(map(str, await lookup(db, store, "age", 30))) == sorted([str(alice), "bob"])

    async def update(tx):
        await eavstore.update(tx, store, alice, {"name": "alice", "city": "Paris"})

    await run(db, update)
    assert await run(db, get, alice) == {"name": "alice", "city": "Paris"}
    assert await lookup(db, store, "age", 30) == ["bob"]  # the stale entry is gone
    assert await lookup(db, store, "city", "Paris") == [alice]

    async def remove(tx):
        return await eavstore.remove(tx, store, alice), await eavstore.remove(tx, store, alice)

    assert await run(db, remove) == (True, False)
    assert await lookup(db, store, "name", "alice") == []
    assert await lookup(db, store, "city", "Paris") == []


async def test_set_attr_and_del_attr_keep_the_index_exact(db, store):
    async def steps(tx):
        uid = await eavstore.create(tx, store, {"color": "red"}, uid=1)
        await eavstore.set_attr(tx, store, uid, "color", "blue")
        await eavstore.set_attr(tx, store, uid, "size", 3)
        await eavstore.set_attr(tx, store, uid, "size", 3)  # unchanged
        gone = await eavstore.del_attr(tx, store, uid, "size")
        again = await eavstore.del_attr(tx, store, uid, "size")
        return gone, again

    assert await run(db, steps) == (True, False)
    assert await lookup(db, store, "color", "red") == []
    assert await lookup(db, store, "color", "blue") == [1]
    assert await lookup(db, store, "size", 3) == []
    assert len(await everything(db)) == 2  # one EAV and one AVE key


async def test_values_are_compared_by_encoding(db, store):
    async def create(tx):
        await eavstore.create(tx, store, {"v": 1}, uid="int")
        await eavstore.create(tx, store, {"v": 1.0}, uid="float")
        await eavstore.create(tx, store, {"v": True}, uid="bool")
        await eavstore.create(tx, store, {"v": b"1"}, uid="bytes")
        await eavstore.create(tx, store, {"v": "1"}, uid="str")
        await eavstore.create(tx, store, {"v": -0.0}, uid="negative zero")
        await eavstore.create(tx, store, {"v": 0.0}, uid="zero")

    await run(db, create)
    for value, uid in [
        (1, "int"),
        (1.0, "float"),
        (True, "bool"),
        (b"1", "bytes"),
        ("1", "str"),
        (-0.0, "negative zero"),
        (0.0, "zero"),
    ]:
        assert await lookup(db, store, "v", value) == [uid]

    async def change(tx):
        # 1 == True in Python, but the stored value changes: the index must follow
        await eavstore.set_attr(tx, store, "int", "v", True)

    await run(db, change)
    assert await lookup(db, store, "v", 1) == []
    assert sorted(await lookup(db, store, "v", True)) == ["bool", "int"]


async def test_query_range_scans_values_in_tuple_order(db, store):
    async def create(tx):
        for age in [5, 17, 18, 40, 65, 90]:
            await eavstore.create(tx, store, {"age": age}, uid=f"person{age}")
        await eavstore.create(tx, store, {"age": "unknown"}, uid="mystery")
        return await found.all(eavstore.query_range(tx, store, "age", 18, 65))

    assert await run(db, create) == [("person18", 18), ("person40", 40)]


async def test_edge_values_round_trip(db, store):
    values = {
        "none": None,
        "empty bytes": b"",
        "empty str": "",
        "big": 2**70,
        "negative": -(2**70),
        "nul": "a\x00b",
        "bytes nul": b"\x00\xff",
        "nested": (1, (None, "x")),
        "uuid": uuid.UUID(int=7),
        "nfd": "e\u0301",
        "near key limit": "x" * 9_900,
    }

    async def create(tx):
        uid = await eavstore.create(tx, store, values)
        return uid, await eavstore.get(tx, store, uid)

    uid, stored = await run(db, create)
    assert stored == values
    for attribute, value in values.items():
        assert await lookup(db, store, attribute, value) == [uid]


async def test_anchor_layout_reads_the_anchors_bytes(db):
    import fdb.tuple  # the official binding, as the reference encoding

    store = eavstore.make("anchor", ("app",), anchor_layout=True)
    uid = uuid.UUID(int=42)

    async def create(tx):
        await eavstore.create(tx, store, {"name": "x"}, uid=uid)

    await run(db, create)
    assert dict(await everything(db)) == {
        fdb.tuple.pack((("app", b"\x01"), uid, "name")): fdb.tuple.pack(("x",)),
        fdb.tuple.pack((("app", b"\x02"), "name", "x", uid)): b"",
    }


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda tx, s: eavstore.create(tx, s, {"a": object()}), EAVStoreException, "packed"),
        (lambda tx, s: eavstore.create(tx, s, {"ok": 1, "bad": {1}}), EAVStoreException, "'bad'"),
        (lambda tx, s: eavstore.create(tx, s, {1: "x"}), InvalidType, "str"),
        (lambda tx, s: eavstore.create(tx, s, [("a", 1)]), InvalidType, "mapping"),
        (lambda tx, s: eavstore.create(tx, s, {"a": 1}, uid=object()), EAVStoreException, "uid"),
        (lambda tx, s: eavstore.create(tx, s, {"a": "x" * 10_000}), EAVStoreException, "10000"),
        (lambda tx, s: eavstore.create(tx, s, {"a": 1}, uid="exists"), EAVStoreException, "exists"),
        (
            lambda tx, s: eavstore.update(tx, s, "exists", {"a": object()}),
            EAVStoreException,
            "packed",
        ),
        (
            lambda tx, s: eavstore.set_attr(tx, s, "exists", "a", object()),
            EAVStoreException,
            "packed",
        ),
        (lambda tx, s: eavstore.set_attr(tx, s, "exists", 3, 1), InvalidType, "str"),
    ],
)
async def test_bad_input_raises_a_typed_error_and_writes_nothing(db, store, call, error, words):
    async def create(tx):
        await eavstore.create(tx, store, {"kept": True}, uid="exists")

    await run(db, create)
    before = await everything(db)

    async def attempt(tx):
        with pytest.raises(error, match=words) as raised:
            await call(tx, store)
        assert isinstance(raised.value, FoundException)

    await run(db, attempt)
    assert await everything(db) == before


def test_bad_queries_raise_when_built(store):
    with pytest.raises(EAVStoreException, match="packed"):
        eavstore.query(None, store, "a", object())
    with pytest.raises(InvalidType):
        eavstore.query(None, store, 1, "x")


async def test_randomized_no_stale_index_entry_survives(db, store):
    """Random creates, updates, set/del of attributes and removes; after each step every
    (attribute, value) query must equal a filter over the model's dicts, and the store
    must hold exactly one EAV and one AVE key per attribute."""
    rng = random.Random(4242)
    attributes = ["a", "b", "c"]
    values = [0, 1, True, 1.0, "1", b"1", None, "x", (1, 2)]
    model: dict[int, dict] = {}

    def random_dict():
        return {a: rng.choice(values) for a in attributes if rng.random() < 0.6}

    for step in range(400):
        uid = rng.randrange(12)
        roll = rng.random()
        if roll < 0.45:
            operation = ("update" if uid in model or roll >= 0.25 else "create", random_dict())
        elif roll < 0.7:
            operation = ("set", rng.choice(attributes), rng.choice(values))
        elif roll < 0.85:
            operation = ("del", rng.choice(attributes))
        else:
            operation = ("remove",)

        async def act(tx, uid=uid, operation=operation):
            kind, *arguments = operation
            if kind == "create":
                await eavstore.create(tx, store, arguments[0], uid=uid)
            elif kind == "update":
                await eavstore.update(tx, store, uid, arguments[0])
            elif kind == "set":
                await eavstore.set_attr(tx, store, uid, *arguments)
            elif kind == "del":
                await eavstore.del_attr(tx, store, uid, *arguments)
            else:
                await eavstore.remove(tx, store, uid)

        await run(db, act)
        kind, *arguments = operation
        if kind in ("create", "update"):
            model[uid] = dict(arguments[0])
        elif kind == "set":
            model.setdefault(uid, {})[arguments[0]] = arguments[1]
        elif kind == "del":
            model.get(uid, {}).pop(arguments[0], None)
        else:
            model.pop(uid, None)
        model = {u: d for u, d in model.items() if d}  # an entity without attributes is gone

        if step % 20 == 0 or step == 399:
            for attribute in attributes:
                for value in values:
                    expected = sorted(
                        u
                        for u, d in model.items()
                        if attribute in d and found.pack((d[attribute],)) == found.pack((value,))
                    )
                    assert sorted(await lookup(db, store, attribute, value)) == expected
            total = sum(len(d) for d in model.values())
            keys = await everything(db)
            assert len(keys) == 2 * total
            prefixes = (store.entities, store.attributes)
            assert all(key.startswith(prefixes) for key, _ in keys)
