"""vnstore: changes, visibility, history, serializable apply, bad input, a model test."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from helpers import everything, run

import found
from found.errors import FoundException, InvalidType
from found.ext import vnstore
from found.ext.nstore import var
from found.ext.vnstore import VNStoreConflict, VNStoreException


@pytest.fixture
def store():
    return vnstore.make("people", ("test", "vn"), ("subject", "predicate", "object"))


async def new_change(db, store, *ops, message=""):
    """Create a change holding `ops` — ("add"|"remove", items) — and return its id."""

    async def build(tx):
        cid = await vnstore.change_create(tx, store, message)
        for kind, items in ops:
            await (vnstore.add if kind == "add" else vnstore.remove)(tx, store, *items)
        return cid

    return await run(db, build)


async def apply(db, store, cid, **kwargs):
    async def do(tx):
        return await vnstore.change_apply(tx, store, cid, **kwargs)

    return await run(db, do)


async def present(db, store, **kwargs):
    async def read(tx):
        bindings = await found.all(
            vnstore.select(tx, store, var("s"), var("p"), var("o"), **kwargs)
        )
        return sorted(((b["s"], b["p"], b["o"]) for b in bindings), key=found.pack)

    return await run(db, read)


# --- pure ------------------------------------------------------------------------------


def test_the_significance_after_another_is_the_next_uuid7():
    first = uuid.UUID("01890000-0000-7000-8000-000000000000")
    after = vnstore._after(first)
    assert after.int == first.int + 1 and after.version == 7
    full = uuid.UUID(int=(first.int | ((1 << 62) - 1)))
    carried = vnstore._after(full)
    assert carried.int > full.int and carried.version == 7 and carried.variant == uuid.RFC_4122
    everything_full = uuid.UUID("01890000-0000-7fff-bfff-ffffffffffff")
    next_ms = vnstore._after(everything_full)
    assert next_ms.version == 7 and (next_ms.int >> 80) == (everything_full.int >> 80) + 1


def test_make_validates_columns():
    with pytest.raises(VNStoreException, match="distinct"):
        vnstore.make("x", ("x",), ("a", "a"))
    with pytest.raises(InvalidType):
        vnstore.make("x", ("x",), "abc")
    with pytest.raises(VNStoreException):
        vnstore.make("x", ("x",), ())


# --- changes and visibility ------------------------------------------------------------


async def test_a_change_is_invisible_until_applied(db, store):
    cid = await new_change(db, store, ("add", ("alice", "knows", "bob")), message="first")

    async def look(tx):
        return (
            await vnstore.ask(tx, store, "alice", "knows", "bob"),
            await vnstore.ask(tx, store, "alice", "knows", "bob", change=cid),
            await found.all(vnstore.select(tx, store, "alice", var("p"), var("o"), change=cid)),
        )

    assert await run(db, look) == (False, True, [{"p": "knows", "o": "bob"}])
    assert await present(db, store) == []
    significance = await apply(db, store, cid)
    assert significance.version == 7
    assert await present(db, store) == [("alice", "knows", "bob")]
    # applying again is a no-op returning the same place in history
    assert await apply(db, store, cid) == significance

    async def info(tx):
        return await vnstore.change_get(tx, store, cid)

    change = await run(db, info)
    assert (change.state, change.message, change.significance) == ("applied", "first", significance)


async def test_add_and_remove_inside_a_change_cancel_out(db, store):
    await apply(db, store, await new_change(db, store, ("add", ("a", "b", "c"))))

    async def build(tx):
        cid = await vnstore.change_create(tx, store)
        results = [
            await vnstore.add(tx, store, "a", "b", "c"),  # already alive
            await vnstore.remove(tx, store, "a", "b", "c"),
            await vnstore.remove(tx, store, "a", "b", "c"),  # already removed here
            await vnstore.add(tx, store, "a", "b", "c"),  # cancels the removal
            await vnstore.add(tx, store, "x", "y", "z"),
            await vnstore.remove(tx, store, "x", "y", "z"),  # cancels the addition
            await vnstore.remove(tx, store, "never", "was", "here"),
        ]
        return cid, results

    cid, results = await run(db, build)
    assert results == [False, True, False, True, True, True, False]

    async def ops(tx):
        return await vnstore.change_changes(tx, store, cid)

    assert await run(db, ops) == []


async def test_change_continue_spans_transactions(db, store):
    cid = await new_change(db, store)

    async def more(tx, items):
        vnstore.change_continue(tx, store, cid)
        await vnstore.add(tx, store, *items)

    await run(db, more, ("a", "b", 1))
    await run(db, more, ("a", "b", 2))

    async def message(tx):
        await vnstore.change_message(tx, store, cid, "two facts")

    await run(db, message)
    await apply(db, store, cid)
    assert await present(db, store) == [("a", "b", 1), ("a", "b", 2)]
    with pytest.raises(VNStoreException, match="applied"):
        await run(db, more, ("a", "b", 3))
    with pytest.raises(VNStoreException, match="applied"):
        await run(db, message)


async def test_history_as_of_every_change_and_what_each_change_did(db, store):
    first = await new_change(
        db, store, ("add", ("a", "is", 1)), ("add", ("b", "is", 2)), message="one"
    )
    s1 = await apply(db, store, first)
    second = await new_change(
        db, store, ("remove", ("a", "is", 1)), ("add", ("c", "is", 3)), message="two"
    )
    s2 = await apply(db, store, second)
    third = await new_change(db, store, ("add", ("a", "is", 1)), message="three")
    s3 = await apply(db, store, third)
    pending = await new_change(db, store, ("remove", ("b", "is", 2)), message="open")
    assert s1.int < s2.int < s3.int

    assert await present(db, store, as_of=s1) == [("a", "is", 1), ("b", "is", 2)]
    assert await present(db, store, as_of=s2) == [("b", "is", 2), ("c", "is", 3)]
    assert await present(db, store, as_of=s3) == await present(db, store)
    assert await present(db, store) == [("a", "is", 1), ("b", "is", 2), ("c", "is", 3)]
    before = uuid.UUID(int=s1.int - 1)
    assert await present(db, store, as_of=before) == []

    async def read(tx):
        return (
            await vnstore.change_list(tx, store),
            await vnstore.change_changes(tx, store, second),
            await vnstore.ask(tx, store, "a", "is", 1, as_of=s2),
            await vnstore.ask(tx, store, "a", "is", 1, as_of=s3),
            await found.all(
                vnstore.query(
                    tx, store, (var("x"), "is", var("n")), ("b", "is", var("n")), as_of=s1
                )
            ),
        )

    changes, did, at_two, at_three, joined = await run(db, read)
    assert [(c.uid, c.message, c.state, c.significance) for c in changes] == [
        (first, "one", "applied", s1),
        (second, "two", "applied", s2),
        (third, "three", "applied", s3),
        (pending, "open", "open", None),
    ]
    assert sorted(did) == [(("a", "is", 1), False), (("c", "is", 3), True)]
    assert (at_two, at_three) == (False, True)
    assert joined == [{"x": "b", "n": 2}]
    # an applied Change record works as a point in history too
    assert await present(db, store, as_of=changes[1]) == await present(db, store, as_of=s2)


async def test_re_added_tuples_appear_once(db, store):
    for kind in ["add", "remove", "add", "remove", "add"]:
        await apply(db, store, await new_change(db, store, (kind, ("x", "y", "z"))))

    async def read(tx):
        changes = await vnstore.change_list(tx, store)
        return [
            await found.all(vnstore.select(tx, store, var("s"), "y", var("o"), as_of=c))
            for c in changes
        ]

    assert await present(db, store) == [("x", "y", "z")]
    assert [len(bindings) for bindings in await run(db, read)] == [1, 0, 1, 0, 1]


async def test_a_variable_used_twice_filters_in_history_too(db, store):
    cid = await new_change(db, store, ("add", ("n", "loves", "n")), ("add", ("e", "loves", "n")))
    significance = await apply(db, store, cid)

    async def read(tx):
        return (
            await found.all(vnstore.select(tx, store, var("x"), "loves", var("x"))),
            await found.all(
                vnstore.select(tx, store, var("x"), "loves", var("x"), as_of=significance)
            ),
        )

    assert await run(db, read) == ([{"x": "n"}], [{"x": "n"}])


# --- serializable apply ----------------------------------------------------------------


async def test_concurrent_conflicting_changes_cannot_both_apply(db, store):
    one = await new_change(db, store, ("add", ("shared", "fact", 1)), ("add", ("only", "one", 1)))
    two = await new_change(db, store, ("add", ("shared", "fact", 1)), ("add", ("only", "two", 2)))
    attempts = {one: 0, two: 0}
    both_read = asyncio.Event()
    readers = []

    async def apply_after_both_read(tx, cid):
        attempts[cid] += 1
        significance = await vnstore.change_apply(tx, store, cid)
        if attempts[cid] == 1:  # first attempts: make them overlap
            readers.append(cid)
            if len(readers) == 2:
                both_read.set()
            await both_read.wait()
        return significance

    results = await asyncio.gather(
        run(db, apply_after_both_read, one),
        run(db, apply_after_both_read, two),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, VNStoreConflict)]
    assert len(conflicts) == 1, results
    loser = conflicts[0].change
    winner = two if loser == one else one
    assert attempts[loser] == 2  # it read stale state, failed to commit, retried, refused
    assert conflicts[0].items == ("shared", "fact", 1)
    expected = {("shared", "fact", 1), ("only", "one", 1) if winner == one else ("only", "two", 2)}
    assert set(await present(db, store)) == expected

    async def states(tx):
        return {c.uid: c.state for c in await vnstore.change_list(tx, store)}

    assert await run(db, states) == {winner: "applied", loser: "open"}


async def test_significance_order_is_commit_order_even_with_skewed_clocks(db, store, monkeypatch):
    rng = random.Random(7)
    base = vnstore._uuid7()

    def skewed_clock():
        # clients whose clocks are up to a minute apart, in either direction
        skew = rng.randrange(-60_000, 60_000)
        return uuid.UUID(int=base.int + (skew << 80))

    monkeypatch.setattr(vnstore, "_uuid7", skewed_clock)
    cids = [await new_change(db, store, ("add", ("task", "number", n))) for n in range(12)]
    significances = await asyncio.gather(*(apply(db, store, cid) for cid in cids))
    assert len(set(significances)) == len(cids)

    async def read(tx):
        log = vnstore._log_prefix(store)
        logged = [
            found.unpack(value)[0]
            for _, value in await found.all(found.query(tx, log, found.next_prefix(log)))
        ]
        return await vnstore.change_list(tx, store), logged

    changes, logged = await run(db, read)
    by_significance = [c.uid for c in changes]
    by_commit = [c.uid for c in sorted(changes, key=lambda c: c.versionstamp)]
    assert by_significance == by_commit == logged
    assert all(c.versionstamp.is_complete() for c in changes)


async def test_strict_apply_refuses_a_change_whose_tuple_history_moved(db, store):
    stale = await new_change(db, store, ("add", ("k", "v", 1)))
    # meanwhile someone adds and removes the same tuple
    await apply(db, store, await new_change(db, store, ("add", ("k", "v", 1))))
    await apply(db, store, await new_change(db, store, ("remove", ("k", "v", 1))))
    with pytest.raises(VNStoreConflict, match="history moved"):
        await apply(db, store, stale, strict=True)
    await apply(db, store, stale)  # the default checks only that the add still makes sense
    assert await present(db, store) == [("k", "v", 1)]


async def test_a_removal_of_a_tuple_already_gone_conflicts(db, store):
    await apply(db, store, await new_change(db, store, ("add", ("k", "v", 1))))
    one = await new_change(db, store, ("remove", ("k", "v", 1)))
    two = await new_change(db, store, ("remove", ("k", "v", 1)))
    await apply(db, store, one)
    with pytest.raises(VNStoreConflict, match="not alive"):
        await apply(db, store, two)


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda tx, s, c: vnstore.add(tx, s, "a", "b"), VNStoreException, "2 items"),
        (lambda tx, s, c: vnstore.add(tx, s, "a", var("x"), "c"), VNStoreException, "variable"),
        (lambda tx, s, c: vnstore.add(tx, s, "a", object(), "c"), VNStoreException, "packed"),
        (lambda tx, s, c: vnstore.add(tx, s, "a", "b", "c", change="nope"), InvalidType, "UUID"),
        (lambda tx, s, c: vnstore.remove(tx, s, "a"), VNStoreException, "1 items"),
        (lambda tx, s, c: vnstore.ask(tx, s, "a", "b", "c", as_of=3), InvalidType, "as_of"),
        (lambda tx, s, c: vnstore.change_apply(tx, s, uuid.uuid4()), VNStoreException, "unknown"),
        (lambda tx, s, c: vnstore.change_message(tx, s, c, 42), InvalidType, "str"),
        (lambda tx, s, c: vnstore.add(tx, s, "x" * 10_000, "b", "c"), VNStoreException, "10000"),
    ],
)
async def test_bad_input_raises_a_typed_error_and_writes_nothing(db, store, call, error, words):
    cid = await new_change(db, store)
    before = await everything(db)

    async def attempt(tx):
        vnstore.change_continue(tx, store, cid)
        with pytest.raises(error, match=words) as raised:
            await call(tx, store, cid)
        assert isinstance(raised.value, FoundException)

    await run(db, attempt)
    assert await everything(db) == before


async def test_add_without_an_active_change_is_refused(db, store):
    async def attempt(tx):
        await vnstore.add(tx, store, "a", "b", "c")

    with pytest.raises(VNStoreException, match="no active change"):
        await run(db, attempt)


def test_bad_queries_raise_when_built(store):
    with pytest.raises(VNStoreException, match="at least one pattern"):
        vnstore.query(None, store)
    with pytest.raises(VNStoreException, match="2 items"):
        vnstore.query(None, store, (var("a"), "b"))
    with pytest.raises(VNStoreException, match="not both"):
        vnstore.select(None, store, var("a"), "b", "c", as_of=uuid.uuid4(), change=uuid.uuid4())


async def test_a_change_too_large_for_one_transaction_is_refused(db, store, monkeypatch):
    cid = await new_change(db, store, *[("add", ("many", "facts", n)) for n in range(50)])
    monkeypatch.setattr(vnstore, "MAX_APPLY_BYTES", 2_000)
    with pytest.raises(vnstore.ChangeTooLarge, match="split"):
        await apply(db, store, cid)

    async def state(tx):
        return (await vnstore.change_get(tx, store, cid)).state

    assert await run(db, state) == "open"
    assert await present(db, store) == []


async def test_writes_stay_inside_the_prefix(db, store):
    await apply(db, store, await new_change(db, store, ("add", ("a", "b", "c"))))
    assert all(key.startswith(store.prefix) for key, _ in await everything(db))


# --- model -----------------------------------------------------------------------------


async def test_randomized_against_a_python_model(db, store):
    """Random changes built, abandoned and applied; the store must match a model of the
    present, of every past state, and of each open change's view."""
    rng = random.Random(1337)
    alphabet = ["a", "b", 1, 2, None]
    now: dict[bytes, tuple] = {}
    open_changes: dict[uuid.UUID, dict[bytes, tuple[tuple, bool]]] = {}
    history: list[tuple[uuid.UUID, dict[bytes, tuple]]] = []

    def random_items():
        return (rng.choice(alphabet), rng.choice(["p", "q"]), rng.choice(alphabet))

    for step in range(400):
        roll = rng.random()
        if roll < 0.1 or not open_changes:
            cid = await new_change(db, store)
            open_changes[cid] = {}
        elif roll < 0.8:
            cid = rng.choice(list(open_changes))
            ops = open_changes[cid]
            items = random_items()
            key = found.pack(items)
            is_add = rng.random() < 0.6

            async def record(tx, cid=cid, items=items, is_add=is_add):
                call = vnstore.add if is_add else vnstore.remove
                return await call(tx, store, *items, change=cid)

            result = await run(db, record)
            if key in ops:
                expected = ops[key][1] != is_add
                if expected:
                    del ops[key]
            else:
                expected = (key in now) != is_add
                if expected:
                    ops[key] = (items, is_add)
            assert result == expected, (step, items, is_add)
        else:
            cid = rng.choice(list(open_changes))
            ops = open_changes[cid]
            conflict = any((key in now) == alive for key, (_, alive) in ops.items())
            try:
                significance = await apply(db, store, cid)
            except VNStoreConflict:
                assert conflict
            else:
                assert not conflict
                for key, (items, alive) in ops.items():
                    if alive:
                        now[key] = items
                    else:
                        now.pop(key)
                del open_changes[cid]
                history.append((significance, dict(now)))

        if step % 20 == 0 or step == 399:
            assert await present(db, store) == sorted(now.values(), key=found.pack)
            for significance, state in rng.sample(history, min(3, len(history))):
                assert await present(db, store, as_of=significance) == sorted(
                    state.values(), key=found.pack
                )
            for cid, ops in list(open_changes.items())[:2]:
                view = dict(now)
                for key, (items, alive) in ops.items():
                    if alive:
                        view[key] = items
                    else:
                        view.pop(key, None)
                assert await present(db, store, change=cid) == sorted(view.values(), key=found.pack)
    assert len(history) > 10
