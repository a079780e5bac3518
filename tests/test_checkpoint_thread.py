"""The checkpoint thread gives way to commits: it runs at nice 19 under SCHED_BATCH, so on
a machine with few CPUs a running checkpoint does not delay commits by scheduler slices."""

from __future__ import annotations

import json

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
