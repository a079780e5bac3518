"""itc persistence: a stamp saved in one transaction loads back in another, bytes unchanged."""

from __future__ import annotations

import pytest

import found
from found.ext.itc import CorruptStampError, InactiveStampError, Stamp, load_stamp, save_stamp


async def test_a_saved_stamp_loads_back_equal_and_byte_identical(db):
    replica = Stamp()
    other = replica.fork()
    replica.event(3)
    other.event()

    async def save(tx):
        save_stamp(tx, b"itc/replica", replica)
        save_stamp(tx, b"itc/other", other)

    await found.transactional(db, save)

    async def load(tx):
        return await load_stamp(tx, b"itc/replica"), await load_stamp(tx, b"itc/other")

    loaded, loaded_other = await found.transactional(db, load)
    assert loaded.serialise() == replica.serialise()
    assert str(loaded) == "{(1, 0); (0, 3, 0)}"
    assert loaded == replica
    assert loaded.compare_to(loaded_other) == replica.compare_to(other)

    # The loaded stamp is a working replica: it can record events and join.
    loaded.event()
    loaded.join(loaded_other)
    assert str(loaded) == "{1; (1, 3, 0)}"


async def test_saving_again_overwrites_and_a_missing_key_loads_none(db):
    stamp = Stamp()

    async def save(tx):
        save_stamp(tx, b"itc/stamp", stamp)

    await found.transactional(db, save)
    stamp.event()
    await found.transactional(db, save)

    async def load(tx):
        return await load_stamp(tx, b"itc/stamp"), await load_stamp(tx, b"itc/missing")

    loaded, missing = await found.transactional(db, load)
    assert str(loaded) == "{1; 1}"
    assert missing is None


async def test_a_corrupt_value_surfaces_as_a_typed_error(db):
    async def write_garbage(tx):
        found.set(tx, b"itc/bad", bytes.fromhex("01090102010000"))

    await found.transactional(db, write_garbage)

    async def load(tx):
        return await load_stamp(tx, b"itc/bad")

    with pytest.raises(CorruptStampError, match="offset 6"):
        await found.transactional(db, load)


async def test_a_consumed_stamp_is_not_saved(db):
    stamp = Stamp()
    other = stamp.fork()
    stamp.join(other)

    async def save(tx):
        save_stamp(tx, b"itc/consumed", other)

    with pytest.raises(InactiveStampError):
        await found.transactional(db, save)

    async def load(tx):
        return await load_stamp(tx, b"itc/consumed")

    assert await found.transactional(db, load) is None
