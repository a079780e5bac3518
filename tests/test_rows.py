"""found._rows: the native per-row loops behind range reads and layer queries.

Each function is checked against a plain-Python statement of what it computes, and for
what it tells the garbage collector: objects holding only atomic values are left
untracked (as CPython itself ends up doing), anything else stays tracked.
"""

from __future__ import annotations

import gc
import random

import pytest
from found._rows import bindings, hash_join

import found
from found.ext.nstore import Binding


def encoded(item: object) -> bytes:
    return found.pack((item,))


def reference_hash_join(table: dict, rows: list[tuple], position: int) -> list[tuple]:
    out = []
    for row in rows:
        item = row[position]
        bucket = table.get(item if type(item) is str else encoded(item))
        if bucket is None:
            continue
        for free in [bucket] if type(bucket) is tuple else bucket:
            out.append(row + free)
    return out


def test_hash_join_matches_the_python_statement_of_it() -> None:
    rng = random.Random(7)
    values = ["a", "b", "\x15\x01", b"a", 1, True, 1.0, None, ("t", 1), -5, "zz"]
    table: dict = {}
    for value in values[::2]:
        key = value if type(value) is str else encoded(value)
        table[key] = ("one", value) if rng.random() < 0.5 else [("x",), ("y", 2), ()]
    rows = [(rng.choice(values), rng.randrange(5)) for _ in range(500)]
    assert hash_join(table, rows, 0, encoded) == reference_hash_join(table, rows, 0)
    # str keys never meet the encoding of a non-str: "\x15\x01" is not 1's encoding
    assert hash_join({encoded(1): ("int",)}, [("\x15\x01",)], 0, encoded) == []
    assert hash_join({"\x15\x01": ("str",)}, [(1,)], 0, encoded) == []


def test_hash_join_refuses_malformed_input() -> None:
    with pytest.raises(ValueError, match="row 1 has no item 1"):
        hash_join({}, [("a", "b"), ("a",)], 1, encoded)
    with pytest.raises(TypeError, match="tuples or lists of tuples"):
        hash_join({"a": "not a tuple"}, [("a",)], 0, encoded)
    with pytest.raises(TypeError, match="tuples or lists of tuples"):
        hash_join({"a": [("ok",), "bad"]}, [("a",)], 0, encoded)
    with pytest.raises(ZeroDivisionError):  # key_of's own error comes through
        hash_join({}, [(1,)], 0, lambda item: 1 / 0)


def test_hash_join_tracks_exactly_the_rows_holding_containers() -> None:
    out = hash_join({"k": [("v", 1), ([],)]}, [("k",)], 0, encoded)
    assert out == [("k", "v", 1), ("k", [])]
    assert not gc.is_tracked(out[0])
    assert gc.is_tracked(out[1])


def test_bindings_map_names_to_row_items() -> None:
    rows = [("a", 1, None), ("b", 2.5, b"x")]
    made = bindings(Binding, ("s", "n", "v"), rows)
    assert made == [dict(zip(("s", "n", "v"), row, strict=True)) for row in rows]
    assert all(type(b) is Binding for b in made)
    assert bindings(Binding, (), [(), ()]) == [{}, {}]


def test_bindings_refuse_malformed_input() -> None:
    with pytest.raises(ValueError, match="row 1 is not a tuple of 2 items"):
        bindings(Binding, ("a", "b"), [(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="dict subclass"):
        bindings(list, ("a",), [(1,)])
    with pytest.raises(TypeError, match="str names"):
        bindings(Binding, ("a", 2), [(1, 2)])


def test_bindings_of_atomic_values_are_untracked_until_a_container_goes_in() -> None:
    atomic, holding = bindings(Binding, ("x",), [("text",), (["a list"],)])
    assert not gc.is_tracked(atomic)
    assert gc.is_tracked(holding)
    # a container stored later (bypassing Binding's read-only methods) re-tracks it
    dict.__setitem__(atomic, "y", [atomic])
    assert gc.is_tracked(atomic)
    dict.__delitem__(atomic, "y")  # break the cycle


async def test_range_rows_are_untracked_bytes_pairs(db: found.Database) -> None:
    async def write_and_read(tx):
        for i in range(10):
            found.set(tx, b"row%d" % i, b"v")
        return await found.all(found.query(tx, b"row", b"rox"))

    rows = await found.transactional(db, write_and_read)
    assert rows == [(b"row%d" % i, b"v") for i in range(10)]
    assert not any(gc.is_tracked(row) for row in rows)
