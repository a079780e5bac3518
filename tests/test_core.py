"""The async core on the embedded engine: reads, writes, transactions, retries, errors."""

from __future__ import annotations

import asyncio
import random

import pytest

import found
from found import errors


async def put(db: found.Database, items: dict[bytes, bytes]) -> None:
    async def write(tx: found.Transaction) -> None:
        for key, value in items.items():
            found.set(tx, key, value)

    await found.transactional(db, write)


async def read_all(db: found.Database, begin: bytes = b"", end: bytes = b"\xff") -> list:
    return await found.transactional(db, lambda tx: found.all(found.query(tx, begin, end)))


async def test_set_get_clear_round_trip(db):
    await put(db, {b"a": b"1", b"b": b"2", b"c": b"3"})

    async def change(tx):
        found.clear(tx, b"b")
        found.set(tx, b"d", b"4")

    await found.transactional(db, change)
    assert await read_all(db) == [(b"a", b"1"), (b"c", b"3"), (b"d", b"4")]
    assert await found.transactional(db, lambda tx: found.get(tx, b"b")) is None


async def test_read_your_writes_inside_a_transaction(db):
    await put(db, {b"k1": b"old", b"k2": b"kept"})

    async def body(tx):
        found.set(tx, b"k1", b"new")
        found.set(tx, b"k3", b"added")
        found.clear(tx, b"k2")
        found.add(tx, b"counter", (5).to_bytes(8, "little"))
        found.add(tx, b"counter", (7).to_bytes(8, "little"))
        rows = await found.all(found.query(tx, b"", b"\xff"))
        counter = await found.get(tx, b"counter")
        return rows, counter

    rows, counter = await found.transactional(db, body)
    assert rows == [(b"counter", (12).to_bytes(8, "little")), (b"k1", b"new"), (b"k3", b"added")]
    assert int.from_bytes(counter, "little") == 12


async def test_clear_range_and_inverted_range_is_a_typed_error(db):
    await put(db, {bytes([c]): b"v" for c in b"abcdef"})

    async def body(tx):
        found.clear(tx, b"b", b"e")

    await found.transactional(db, body)
    assert [k for k, _ in await read_all(db)] == [b"a", b"e", b"f"]
    async with found.transaction(db) as tx:
        with pytest.raises(errors.InvertedRange):
            found.clear(tx, b"z", b"a")
        with pytest.raises(errors.InvertedRange):
            await found.all(found.query(tx, b"z", b"a"))


async def test_query_limit_reverse_and_batches_agree_with_a_model(db):
    rng = random.Random(7)
    model = {
        bytes(rng.randrange(255) for _ in range(rng.randint(1, 6))): rng.randbytes(
            rng.randint(0, 300)
        )
        for _ in range(800)
    }
    await put(db, model)
    keys = sorted(model)
    for _ in range(60):
        begin, end = sorted(rng.sample(keys, 2))
        limit = rng.choice([0, 1, 3, 50, 1000])
        reverse = rng.random() < 0.5
        mode = rng.choice(
            [
                found.StreamingMode.ITERATOR,
                found.StreamingMode.SMALL,
                found.StreamingMode.WANT_ALL,
                found.StreamingMode.SERIAL,
            ]
        )
        expected = [(k, model[k]) for k in keys if begin <= k < end]
        if reverse:
            expected.reverse()
        if limit:
            expected = expected[:limit]
        rows = await found.transactional(
            db,
            lambda tx, b=begin, e=end, li=limit, r=reverse, m=mode: found.all(
                found.query(tx, b, e, limit=li, reverse=r, mode=m)
            ),
        )
        assert rows == expected


async def test_key_selectors_at_the_edges(db):
    await put(db, {b"a": b"", b"bar": b"", b"baz": b""})

    async def resolve(tx, selector):
        return await found.get_key(tx, selector)

    cases = [
        (found.gt(b"a"), b"bar"),
        (found.gte(b"b"), b"bar"),
        (found.lt(b"bar"), b"a"),
        (found.lte(b"bar"), b"bar"),
        (found.gte(b"a") + 2, b"baz"),
        (found.gte(b"a") + 10, b"\xff"),  # past the last key: the end of the key space
        (found.lt(b"a"), b""),  # before the first key
        (found.lt(b"baz", -5), b""),
        (found.lt(b""), b""),
    ]
    for selector, expected in cases:
        assert await found.transactional(db, resolve, selector) == expected, selector


async def test_query_with_selectors(db):
    await put(db, {bytes([c]): bytes([c]) for c in b"abcdefg"})
    rows = await found.transactional(
        db, lambda tx: found.all(found.query(tx, found.gt(b"b"), found.gte(b"f")))
    )
    assert [k for k, _ in rows] == [b"c", b"d", b"e"]


async def test_conflicting_transactions_one_commits_the_other_retries(db):
    await put(db, {b"x": b"0"})
    attempts = []
    first_read = asyncio.Event()
    let_second_commit = asyncio.Event()

    async def slow(tx):
        attempts.append("slow")
        value = await found.get(tx, b"x")
        first_read.set()
        await let_second_commit.wait()
        found.set(tx, b"x", value + b"s")

    async def fast(tx):
        value = await found.get(tx, b"x")
        found.set(tx, b"x", value + b"f")

    task = asyncio.create_task(found.transactional(db, slow))
    await first_read.wait()
    await found.transactional(db, fast)
    let_second_commit.set()
    await task
    assert attempts == ["slow", "slow"]  # the first attempt got 1020 and was retried
    assert await found.transactional(db, lambda tx: found.get(tx, b"x")) == b"0fs"


async def test_conflict_surfaces_as_not_committed_without_retry(db):
    await put(db, {b"x": b"0"})
    tx1 = found.create_transaction(db)
    tx2 = found.create_transaction(db)
    await found.get(tx1, b"x")
    await found.get(tx2, b"x")
    found.set(tx1, b"x", b"1")
    found.set(tx2, b"x", b"2")
    await found.commit(tx1)
    with pytest.raises(errors.NotCommitted) as caught:
        await found.commit(tx2)
    assert caught.value.code == 1020 and caught.value.retryable
    tx1.close()
    tx2.close()


async def test_snapshot_reads_do_not_conflict(db):
    await put(db, {b"x": b"0"})
    tx1 = found.create_transaction(db)
    await found.get(tx1.snapshot, b"x")
    found.set(tx1, b"y", b"1")
    await put(db, {b"x": b"changed"})
    await found.commit(tx1)  # no conflict: x was read at snapshot isolation
    tx1.close()


async def test_many_tasks_increment_and_nothing_is_lost(db):
    async def increment(tx, key):
        value = await found.get(tx, key)
        found.set(tx, key, str(int(value or b"0") + 1).encode())

    keys = [b"k0", b"k1", b"k2"]
    await asyncio.gather(*[found.transactional(db, increment, keys[i % 3]) for i in range(300)])
    values = await found.transactional(db, lambda tx: found.all(found.query(tx, b"k", b"l")))
    assert sum(int(v) for _, v in values) == 300


async def test_size_limits_raise_typed_errors_and_write_nothing(db):
    async def oversized_key(tx):
        found.set(tx, b"ok", b"1")
        found.set(tx, b"k" * 10_001, b"v")

    with pytest.raises(errors.KeyTooLarge, match="10001 bytes"):
        await found.transactional(db, oversized_key)

    async def oversized_value(tx):
        found.set(tx, b"ok", b"1")
        found.set(tx, b"k", b"v" * 100_001)

    with pytest.raises(errors.ValueTooLarge):
        await found.transactional(db, oversized_value)

    async def too_big_transaction(tx):
        for index in range(120):
            found.set(tx, b"big%d" % index, b"v" * 90_000)

    with pytest.raises(errors.TransactionTooLarge):
        await found.transactional(db, too_big_transaction)
    assert await read_all(db) == []


async def test_non_bytes_keys_are_rejected_with_the_type_named(db):
    async with found.transaction(db) as tx:
        with pytest.raises(errors.InvalidType, match="str"):
            found.set(tx, "text", b"v")
        with pytest.raises(errors.InvalidType, match="int"):
            await found.get(tx, 42)
        with pytest.raises(errors.InvalidType):
            found.set(tx, b"k", None)


async def test_use_after_close_is_a_typed_error(store_name):
    database = await found.open(store_name)
    database.close()
    with pytest.raises(errors.DatabaseClosed):
        await found.transactional(database, lambda tx: found.get(tx, b"k"))


async def test_transaction_context_manager_discards_on_exception(db):
    with pytest.raises(RuntimeError):
        async with found.transaction(db) as tx:
            found.set(tx, b"k", b"v")
            raise RuntimeError("abort")
    assert await read_all(db) == []


async def test_versionstamped_key_orders_commits(db):
    stamps = []
    for index in range(3):
        async with found.transaction(db) as tx:
            key = found.pack_with_versionstamp((b"log", found.Versionstamp(), index))
            found.set_versionstamped_key(tx, key, b"entry%d" % index)
            stamp = found.get_versionstamp(tx)
        stamps.append(await stamp)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    rows = await read_all(db, found.pack((b"log",)), found.next_prefix(found.pack((b"log",))))
    assert [v for _, v in rows] == [b"entry0", b"entry1", b"entry2"]
    assert [found.unpack(k)[1].tr_version for k, _ in rows] == stamps


async def test_watch_fires_on_another_transactions_write(db):
    await put(db, {b"w": b"0"})
    async with found.transaction(db) as tx:
        await found.get(tx, b"w")
        watch = found.watch(tx, b"w")
    waiter = asyncio.ensure_future(watch)
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await put(db, {b"w": b"1"})
    await asyncio.wait_for(waiter, 5)


async def test_cancelling_a_watch_task_cancels_the_watch(db):
    async with found.transaction(db) as tx:
        watch = found.watch(tx, b"never")
    task = asyncio.ensure_future(watch)
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_read_version_grows_and_transactions_see_earlier_commits(db):
    async def version(tx):
        return await found.read_version(tx)

    first = await found.transactional(db, version)
    await put(db, {b"v": b"1"})
    second = await found.transactional(db, version)
    assert second > first


async def test_next_prefix():
    assert found.next_prefix(b"ab") == b"ac"
    assert found.next_prefix(b"a\xff\xff") == b"b"
    with pytest.raises(errors.InvalidArgument):
        found.next_prefix(b"\xff")


async def test_named_options_and_their_errors(db):
    async with found.transaction(db, timeout=5000, retry_limit=3, durability_risky=True) as tx:
        found.set(tx, b"relaxed", b"1")
    assert await found.transactional(db, lambda tx: found.get(tx, b"relaxed")) == b"1"
    with pytest.raises(errors.InvalidArgument, match="unknown option 'timeoutt'"):
        found.create_transaction(db, timeoutt=5)
    with pytest.raises(errors.InvalidType, match="takes an int"):
        found.create_transaction(db, timeout="5")
    # Encodings are remembered per (name, type, value): a valid one must not vouch for an
    # equal value of another type, nor a failure be forgotten on the second try.
    found.create_transaction(db, timeout=1).close()
    for _ in range(2):
        with pytest.raises(errors.InvalidArgument, match="takes no value"):
            found.create_transaction(db, durability_risky="yes")
        with pytest.raises(errors.InvalidType, match="takes an int"):
            found.create_transaction(db, timeout=True)
        with pytest.raises(errors.InvalidType, match="takes an int"):
            found.create_transaction(db, timeout=[5])
    async with found.transaction(db) as tx:
        found.set_option(tx, "read_system_keys")
        assert await found.get(tx, b"\xff/coordinators") is not None
    found.set_option(db, "transaction_timeout", 1)
    with pytest.raises(errors.TransactionTimedOut):
        async with found.transaction(db) as tx:
            await asyncio.sleep(0.01)
            await found.get(tx, b"k")


async def test_a_transaction_block_is_entered_once(db):
    block = found.transaction(db)
    async with block as tx:
        found.set(tx, b"once", b"1")
    with pytest.raises(errors.InvalidArgument, match="entered only once"):
        async with block:
            pass
    assert await found.transactional(db, lambda tx: found.get(tx, b"once")) == b"1"


async def test_tenants_are_a_clear_error_on_the_embedded_engine(db):
    tenant = db.open_tenant(b"team-a")
    with pytest.raises(errors.TenantsDisabled):
        await found.transactional(tenant, lambda tx: found.get(tx, b"k"))
    with pytest.raises(errors.InvalidType):
        db.open_tenant("team-a")
    tenant.close()


async def test_on_error_reports_what_the_c_api_says(db):
    tx = found.create_transaction(db)
    with pytest.raises(errors.ClientInvalidOperation):  # 2000: on_error(0) is a misuse
        await found.on_error(tx, errors.from_code(0))
    tx = found.create_transaction(db)
    found.cancel(tx)
    with pytest.raises(errors.TransactionCancelled):
        await found.on_error(tx, errors.FutureVersion())
    tx = found.create_transaction(db)
    with pytest.raises(errors.KeyTooLarge) as caught:  # not retryable: the same object back
        original = errors.KeyTooLarge("mine")
        await found.on_error(tx, original)
    assert caught.value is original
