"""Crash safety: a child process commits as fast as it can (with checkpoints running) and
reports every acknowledged commit; it is killed with SIGKILL at random moments. After each
kill every acknowledged commit must be there, no transaction may be half visible, and the
files must verify."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import found
from found import datafiles

STORM = textwrap.dedent(
    """
    import asyncio, sys, found
    run = int(sys.argv[2])
    async def main():
        db = await found.open(sys.argv[1])
        counter = iter(range(10**9))
        async def commit_one(tx, index):
            value = b"%d-%d" % (run, index) * 20
            found.set(tx, found.pack(("a", run, index)), value)
            found.set(tx, found.pack(("b", run, index)), value)
            found.add(tx, b"count", (1).to_bytes(8, "little"))
        async def writer():
            while True:
                index = next(counter)
                await found.transactional(db, commit_one, index)
                sys.stdout.write(f"{run} {index}\\n")
                sys.stdout.flush()
        print("started", flush=True)
        await asyncio.gather(*[writer() for _ in range(8)])
    asyncio.run(main())
    """
)


def read_lines(stream, into: list[str]) -> None:
    for line in stream:
        into.append(line.strip())


async def check_database(directory: Path, acknowledged: set[tuple[int, int]]) -> int:
    db = await found.open(str(directory))
    try:

        async def everything(tx):
            return await found.all(found.query(tx, b"", b"\xff"))

        rows = dict(await found.transactional(db, everything))
    finally:
        db.close()
    stored = {
        found.unpack(key)[1:] for key in rows if key != b"count" and found.unpack(key)[0] == "a"
    }
    halves = {
        found.unpack(key)[1:] for key in rows if key != b"count" and found.unpack(key)[0] == "b"
    }
    missing = acknowledged - stored
    assert not missing, f"acknowledged commits lost: {sorted(missing)[:5]}"
    assert stored == halves, "a transaction is half visible"
    count = int.from_bytes(rows.get(b"count", b"\0" * 8), "little")
    assert count == len(stored), f"counter {count} != {len(stored)} committed transactions"
    return len(stored)


async def test_sigkill_never_loses_an_acknowledged_commit(tmp_path):
    rng = random.Random(os.getpid())
    acknowledged: set[tuple[int, int]] = set()
    environment = dict(os.environ, FOUND_CHECKPOINT_BYTES="40000")
    kills = 0
    for run in range(22):
        child = subprocess.Popen(
            [sys.executable, "-c", STORM, str(tmp_path), str(run)],
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        lines: list[str] = []
        reader = threading.Thread(target=read_lines, args=(child.stdout, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while "started" not in lines and time.monotonic() < deadline:
            time.sleep(0.005)
        assert "started" in lines, f"the storm did not start (exit {child.poll()})"
        time.sleep(rng.uniform(0.02, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join(timeout=10)
        kills += 1
        for line in lines:
            if line != "started":
                run_id, index = line.split()
                acknowledged.add((int(run_id), int(index)))
        reports = datafiles.verify_directory(tmp_path)
        assert all(report.ok for report in reports), [r.errors for r in reports]
        committed = await check_database(tmp_path, acknowledged)
        assert committed >= len(acknowledged)
    assert kills >= 20
    assert len(acknowledged) > 100  # the storm really committed between kills
