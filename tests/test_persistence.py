"""Data directories: committed data survives closing and reopening, a second process
opens a directory another one holds open (and sees its data), a foreign exclusive lock
is a clear error, and `found` runs on its own (its own network thread) in a fresh
process."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import textwrap

import pytest
from helpers import run_python

import found
from found import errors

HOLDER = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])
        async with found.transaction(db) as tx:
            found.set(tx, b"from-child", b"yes")
        print("ready", flush=True)
        sys.stdin.readline()
        db.close()
    asyncio.run(main())
    """
)


async def test_committed_data_survives_reopen(tmp_path):
    db = await found.open(str(tmp_path))
    async with found.transaction(db) as tx:
        for index in range(100):
            found.set(tx, b"key%03d" % index, b"value%d" % index)
    async with found.transaction(db) as tx:
        found.clear(tx, b"key050", b"key060")
    db.close()
    db = await found.open(str(tmp_path))
    rows = await found.transactional(db, lambda tx: found.all(found.query(tx, b"key", b"kez")))
    assert len(rows) == 90
    assert rows[0] == (b"key000", b"value0") and (b"key055", b"value55") not in rows
    db.close()


async def test_a_second_process_shares_the_directory(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        db = await found.open(str(tmp_path))  # while the child holds it open
        assert await found.transactional(db, lambda tx: found.get(tx, b"from-child")) == b"yes"
        async with found.transaction(db) as tx:
            found.set(tx, b"from-parent", b"too")
        db.close()
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=30)
    db = await found.open(str(tmp_path))
    assert await found.transactional(db, lambda tx: found.get(tx, b"from-parent")) == b"too"
    db.close()


async def test_a_foreign_exclusive_lock_is_a_clear_error(tmp_path):
    db = await found.open(str(tmp_path))
    db.close()
    with open(tmp_path / "LOCK", "r+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        with pytest.raises(errors.DatabaseLocked, match="not a found engine"):
            await found.open(str(tmp_path))
    db = await found.open(str(tmp_path))  # free again once released
    db.close()


async def test_missing_cluster_file_is_a_typed_error(tmp_path):
    with pytest.raises(errors.NoClusterFileFound, match="no-such.cluster"):
        await found.open(str(tmp_path / "no-such.cluster"))


async def test_a_new_path_becomes_a_data_directory(tmp_path):
    db = await found.open(str(tmp_path / "new" / "nested"))
    assert (tmp_path / "new" / "nested" / "wal.log").exists()
    db.close()


def test_found_alone_in_a_fresh_process(tmp_path):
    script = textwrap.dedent(
        """
        import asyncio, sys, found
        async def main():
            db = await found.open(sys.argv[1])
            async def bump(tx):
                value = await found.get(tx, b"n")
                found.set(tx, b"n", str(int(value or b"0") + 1).encode())
            await asyncio.gather(*[found.transactional(db, bump) for _ in range(50)])
            print((await found.transactional(db, lambda tx: found.get(tx, b"n"))).decode())
            db.close()
        asyncio.run(main())
        """
    )
    for expected in ("50", "100"):
        result = run_python("-c", script, str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
