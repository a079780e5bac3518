"""The checkpoint thread: it gives way to commits (nice 19 under SCHED_BATCH, so on a
machine with few CPUs a running checkpoint does not delay commits by scheduler slices),
and the snapshot it writes holds exactly the keys present at its version."""

from __future__ import annotations

import json
import re

from helpers import run_python

# Writes enough that a checkpoint takes a while, then samples the threads while one runs.
PROGRAM = r"""
import asyncio, json, os, sys
import found

def checkpoint_thread():
    # the nice value and policy of the running checkpoint thread, or None
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                name = comm.read().strip()
            with open(f"/proc/self/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        if name == "found-ckpt":
            # stat's fields after the name start at its 3rd: nice is the 19th, policy the 41st
            return {"nice": int(fields[16]), "policy": int(fields[38])}
    return None

async def put(tx, keys, value):
    found.set_many(tx, keys, value)

async def main(directory):
    db = await found.open(directory)
    value = os.urandom(100)
    seen = None
    for batch in range(400):
        keys = [b"%08d" % (batch * 1000 + index) for index in range(1000)]
        await found.transactional(db, put, keys, value)
        for _ in range(50):
            seen = seen or checkpoint_thread()
        if seen:
            break
    async with found.transaction(db) as tx:
        status = json.loads(await found.get(tx, b"\xff\xff/status/json"))["found"]
    db.close()
    print(json.dumps({"seen": seen, "checkpoints": status["checkpoints"]}))

asyncio.run(main(sys.argv[1]))
"""

SCHED_BATCH = 3


def test_the_checkpoint_thread_runs_at_the_lowest_priority(tmp_path):
    result = run_python(
        "-c", PROGRAM, str(tmp_path), env={"FOUND_CHECKPOINT_BYTES": "1000000"}, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["seen"] == {"nice": 19, "policy": SCHED_BATCH}, report


# Writes 3,000 keys, clears every third one and a range (so the store's tree holds many
# cleared entries, kept for the MVCC window, between present ones and across the
# checkpoint's 256-row chunks), then starts a checkpoint at once and waits for its end.
CLEARED_THEN_CHECKPOINTED = r"""
import asyncio, json, sys
import found
from found import _native

async def write(tx, low, high):
    for number in range(low, high):
        found.set(tx, b"k%05d" % number, b"v%d" % number)

async def clear(tx, low, high):
    for number in range(low, high, 3):
        found.clear(tx, b"k%05d" % number)
    found.clear(tx, b"k01000", b"k01500")

async def main(directory):
    db = await found.open(directory)
    for low in range(0, 3000, 500):
        await found.transactional(db, write, low, low + 500)
    await found.transactional(db, clear, 0, 3000)
    _native.set_knob("found_checkpoint_bytes", 0)
    await found.transactional(db, write, 3000, 3001)  # the commit that starts it
    while True:
        async with found.transaction(db) as tx:
            status = json.loads(await found.get(tx, b"\xff\xff/status/json"))["found"]
        if status["checkpoints"] > 0 and not status["checkpoint_running"]:
            break
        await asyncio.sleep(0.01)
    db.close()
    print(json.dumps(status))

asyncio.run(main(sys.argv[1]))
"""

READ_ALL = r"""
import asyncio, json, sys
import found

async def main(directory):
    db = await found.open(directory)
    async with found.transaction(db) as tx:
        rows = [[k.decode(), v.decode()] async for k, v in found.query(tx, b"k", b"l")]
    db.close()
    print(json.dumps(rows))

asyncio.run(main(sys.argv[1]))
"""


def test_a_snapshot_holds_exactly_the_keys_present_at_its_version(tmp_path):
    big = {"FOUND_CHECKPOINT_BYTES": str(1 << 40)}  # no checkpoint but the one asked for
    result = run_python("-c", CLEARED_THEN_CHECKPOINTED, str(tmp_path), env=big, timeout=120)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout.strip().splitlines()[-1])
    assert status["checkpoint_error"] == "", status

    expected = {
        f"k{n:05d}": f"v{n}"
        for n in range(3001)
        if (n >= 3000 or n % 3 != 0) and not 1000 <= n < 1500
    }
    # The snapshot alone holds them: the log was cut to the one record after it, at most.
    verified = run_python("-m", "found", "verify", str(tmp_path), timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    snapshot_keys = re.search(r"snapshot\.dat: ok, .* ([\d,]+) keys", verified.stdout)
    assert snapshot_keys, verified.stdout
    # the data keys and \xff/coordinators; the last write may be after the snapshot
    assert int(snapshot_keys.group(1).replace(",", "")) in (len(expected), len(expected) + 1)

    read = run_python("-c", READ_ALL, str(tmp_path), env=big, timeout=60)
    assert read.returncode == 0, read.stderr
    assert dict(json.loads(read.stdout.strip().splitlines()[-1])) == expected
