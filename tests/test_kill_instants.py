"""Processes killed at the exact instants the multi-process protocol must survive:

* in the middle of a log rotation, just before and just after renaming the new log over
  wal.log (before publishing the rotation): the process that stays keeps every
  acknowledged commit, a new process can join, and after everyone closed the data is
  all there;
* between appending a batch and publishing it (inside its fdatasync): the others' read
  versions must not stay stuck below that batch — some process syncs and publishes it;
* while a batch is appended but its sync is slow, a process that joins then must read
  below that batch (it loads the log, which already holds the batch).

The kills are exact: an LD_PRELOAD shim (built here with the C compiler the engine's
build needs anyway) wraps rename() / fdatasync() and raises SIGKILL there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import build_preload_shim, run_python

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int rename(const char *from, const char *to) {
    int (*real)(const char *, const char *) =
        (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    const char *when = getenv("KILL_AT_RENAME");
    size_t n = strlen(to);
    int of_log = n >= 8 && strcmp(to + n - 8, "/wal.log") == 0;
    if (of_log && when && strcmp(when, "before") == 0) raise(SIGKILL);
    int rc = real(from, to);
    if (of_log && rc == 0 && when && strcmp(when, "after") == 0) raise(SIGKILL);
    return rc;
}
int fdatasync(int fd) {
    static int calls = 0;
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (getenv("KILL_AT_FDATASYNC")) raise(SIGKILL);
    const char *slow = getenv("SLOW_FDATASYNC_CALL");
    if (slow && ++calls == atoi(slow)) sleep(3);
    return real(fd);
}
"""

SURVIVOR = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])
        async def put(key):
            async with found.transaction(db) as tx:
                found.set(tx, key, b"acknowledged")
        await put(b"before")
        print("ready", flush=True)
        sys.stdin.readline()  # the rotating process has died meanwhile
        await put(b"after")
        print("committed", flush=True)
        sys.stdin.readline()
        db.close()
    asyncio.run(main())
    """
)

ROTATOR = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])
        for i in range(20000):  # past FOUND_CHECKPOINT_BYTES: a checkpoint, then a rotation
            async with found.transaction(db) as tx:
                found.set(tx, b"fill%05d" % i, b"x" * 500)
            await asyncio.sleep(0)
    asyncio.run(main())
    """
)

READER = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])
        async with found.transaction(db) as tx:
            rows = await found.all(found.query(tx, b"", b"\\xff"))
        print(len([k for k, v in rows if k.startswith(b"fill")]), dict(rows).get(b"before"),
              dict(rows).get(b"after"))
        db.close()
    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_preload_shim(SHIM, tmp_path_factory.mktemp("shim"))


def start(script: str, directory: Path) -> subprocess.Popen[str]:
    """A child running `script` on `directory`, talking over stdin/stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", script, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_killed(script: str, directory: Path, shim: Path, **environment: str) -> None:
    """Runs `script` with the shim preloaded; it must die of the SIGKILL the shim raises."""
    done = run_python(
        "-c", script, str(directory), env=dict(LD_PRELOAD=str(shim), **environment), timeout=120
    )
    assert done.returncode == -9, f"not killed where the shim should have: {done.stderr[-500:]!r}"


def assert_verifies(directory: Path) -> None:
    verified = run_python("-m", "found", "verify", str(directory))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def read(directory: Path) -> tuple[int, str, str]:
    done = run_python("-c", READER, str(directory))
    assert done.returncode == 0, done.stderr
    count, before, after = done.stdout.split()
    return int(count), before, after


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_process_killed_while_rotating_the_log_loses_nothing(
    tmp_path: Path, shim: Path, when: str
) -> None:
    directory = tmp_path / "db"
    survivor = start(SURVIVOR, directory)
    try:
        assert survivor.stdout.readline().strip() == "ready"
        run_killed(ROTATOR, directory, shim, KILL_AT_RENAME=when, FOUND_CHECKPOINT_BYTES="65536")
        survivor.stdin.write("\n")
        survivor.stdin.flush()
        assert survivor.stdout.readline().strip() == "committed"
        # A new process joins while the survivor keeps the directory open.
        joined = read(directory)
        assert joined[1:] == ("b'acknowledged'", "b'acknowledged'")
        survivor.stdin.write("\n")
        survivor.stdin.flush()
        assert survivor.wait(timeout=60) == 0
    finally:
        if survivor.poll() is None:
            survivor.kill()
    alone = read(directory)
    assert alone == joined, "what a process saw beside the survivor differs from what stayed"
    assert_verifies(directory)


APPEND_THEN_DIE = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])  # joins: no sync at open
        async with found.transaction(db) as tx:
            found.set(tx, b"unacknowledged", b"appended, never published by its writer")
    asyncio.run(main())
    """
)

READ_VERSIONS = textwrap.dedent(
    """
    import asyncio, sys, time, found
    async def main():
        db = await found.open(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()  # the other process has died inside its sync
        async def version():
            tx = found.create_transaction(db)
            try:
                return await found.read_version(tx)
            finally:
                tx.close()
        first = await version()
        await asyncio.sleep(0.5)
        second = await version()
        print(first, second, flush=True)
        db.close()
    asyncio.run(main())
    """
)


def test_a_batch_whose_writer_died_before_publishing_it_does_not_hold_read_versions_back(
    tmp_path: Path, shim: Path
) -> None:
    directory = tmp_path / "db"
    reader = start(READ_VERSIONS, directory)
    try:
        assert reader.stdout.readline().strip() == "ready"
        run_killed(APPEND_THEN_DIE, directory, shim, KILL_AT_FDATASYNC="1")
        reader.stdin.write("\n")
        reader.stdin.flush()
        first, second = map(int, reader.stdout.readline().split())
        # Versions advance about a million a second: half a second later the read version
        # must have moved on, not stayed below the dead writer's batch.
        assert second - first > 200_000, (first, second)
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
    assert_verifies(directory)


SLOW_WRITER = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])  # the first: its open syncs the new log and the seed
        async with found.transaction(db) as tx:
            found.set(tx, b"k", b"old")
        print("old", flush=True)
        async with found.transaction(db) as tx:  # its sync (the 4th) takes 3 s
            found.set(tx, b"k", b"new")
        print("new", flush=True)
        db.close()
    asyncio.run(main())
    """
)

JOIN_AND_READ = textwrap.dedent(
    """
    import asyncio, sys, found
    async def main():
        db = await found.open(sys.argv[1])
        print(await db.get(b"k"), flush=True)
        db.close()
    asyncio.run(main())
    """
)


def test_a_process_joining_while_a_batch_syncs_reads_below_it(tmp_path: Path, shim: Path) -> None:
    directory = tmp_path / "db"
    writer = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(directory)],
        env=dict(os.environ, LD_PRELOAD=str(shim), SLOW_FDATASYNC_CALL="4"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "old"
        time.sleep(0.3)  # the second commit is appended now, inside its slow sync
        joined = run_python("-c", JOIN_AND_READ, str(directory))
        assert joined.returncode == 0, joined.stderr
        # Not None (the joiner's copy lost the old version) and not "new" (not durable yet).
        assert joined.stdout.strip() == "b'old'", joined.stdout
        assert writer.stdout.readline().strip() == "new"
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
