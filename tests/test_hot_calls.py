"""found.get and found.set go through found._hot_calls (one call each, GIL held): every
way a get can end — a value, absent, an error answered at once, a future that is still
pending — and the module's own argument checks."""

from __future__ import annotations

import asyncio

import pytest

import found
from found import _hot_calls, errors


async def test_a_get_answered_at_once_gives_the_value_or_none(db):
    async def write(tx: found.Transaction) -> None:
        found.set(tx, b"present", b"v" * 1000)
        found.set(tx, b"empty", b"")

    await found.transactional(db, write)
    async with found.transaction(db) as tx:
        assert await found.get(tx, b"present") == b"v" * 1000
        assert await found.get(tx, b"empty") == b""
        assert await found.get(tx, b"absent") is None
        assert await found.get(tx.snapshot, b"present") == b"v" * 1000


async def test_a_get_at_a_future_read_version_is_pending_then_fails(db):
    """A read at a version the engine has not reached waits for it (its future is
    pending), and after about a second fails with 1009, as FDB's does."""
    async with found.transaction(db) as tx:
        version = await found.read_version(tx)
    reader = found.create_transaction(db)
    found.set_read_version(reader, version + 10**12)
    pending = asyncio.ensure_future(found.get(reader, b"k"))
    await asyncio.sleep(0.1)
    assert not pending.done()
    with pytest.raises(errors.FutureVersion):
        await asyncio.wait_for(pending, 10)
    reader.close()


async def test_a_get_answered_with_an_error_raises_it_typed(db):
    tx = found.create_transaction(db)
    found.set_read_version(tx, 1)  # long gone from the MVCC window
    with pytest.raises(errors.TransactionTooOld):
        await found.get(tx, b"k")
    tx.close()


async def test_get_and_set_on_a_closed_transaction_raise_cancelled(db):
    tx = found.create_transaction(db)
    snapshot = tx.snapshot
    tx.close()
    with pytest.raises(errors.TransactionCancelled):
        await found.get(tx, b"k")
    with pytest.raises(errors.TransactionCancelled):
        await found.get(snapshot, b"k")
    with pytest.raises(errors.TransactionCancelled):  # a view made after the close
        await found.get(tx.snapshot, b"k")
    with pytest.raises(errors.TransactionCancelled):
        found.set(tx, b"k", b"v")


async def test_the_module_checks_its_arguments(db):
    tx = found.create_transaction(db)
    address = tx._address
    assert address > 0
    with pytest.raises(OverflowError):
        _hot_calls.get(-address, b"k", 0)
    with pytest.raises(TypeError, match="address must be an int"):
        _hot_calls.get(str(address), b"k", 0)
    with pytest.raises(TypeError, match="expected bytes, got str"):
        _hot_calls.get(address, "k", 0)
    with pytest.raises(TypeError, match="expected bytes, got bytearray"):
        _hot_calls.set(address, b"k", bytearray(b"v"))
    with pytest.raises(TypeError, match="takes 3 arguments"):
        _hot_calls.get(address, b"k")
    with pytest.raises(TypeError, match=r"set\(transaction, key, value\) takes 3 .* \(4 given\)"):
        _hot_calls.set(address, b"k", b"v", b"extra")
    with pytest.raises(ValueError, match="null transaction"):
        _hot_calls.set(0, b"k", b"v")
    _hot_calls.set(address, b"k", b"v")  # the module's set is the transaction's
    assert await found.get(tx, b"k") == b"v"
    tx.close()
