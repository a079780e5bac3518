#!/usr/bin/env python3
"""found's durability figures against this disk's raw fdatasync rate, LMDB, RocksDB, SQLite.

Durable and relaxed commits, commit latency while checkpoints run, bulk load, disk footprint
and open time, every ratio taken within one run.

    python benchmarks/bench_durability.py [--quick] [--keys N] [--reps N] [--load-reps N]
                                          [--duration S] [--workdir DIR] [--json FILE]

Data: the shared harness's dataset (../shared/bench): N keys (1,000,000; 200,000 with
--quick) of 16 bytes (the record number as 16 ASCII digits) with 100-byte incompressible
values, loaded in random order in batches of 1000, one durable commit per batch (W4;
found writes each batch with one `set_many`).
W2 is one writer running transactions that read 10 random keys and write 10; W5 is 8
such writers at once. Both run on the database W4 loaded.

Every rate is compared with a baseline measured in the same run, interleaved with it:
each repetition runs every system once, for --duration seconds each (loads: once each),
rotating which goes first; a ratio is taken per repetition and the median is shown. The
disk's speed drifts over seconds, so the raw sync rate is measured in short slices between
the steps, and a step is compared with the slices just before and after it. The
engine reads its FOUND_* knobs once per process, so what needs other knobs runs in a
child process (this script with --child): checkpoints forced at open, a database loaded
with checkpoints off (log replay at open), and the commit latency with a checkpoint
threshold of 64 KiB so that checkpoints keep running while it is measured.

    1  W2, one durable writer              vs  Python os.write + os.fdatasync loop   txn/s
    2  W5, 8 durable writers (tasks)       vs  the same raw loop; found's W2          txn/s
    3  16 / 64 committers, one write each  vs  the same raw loop                      commits/s
    4  W2, relaxed (durability_risky)      vs  LMDB sync=False                        txn/s
    5  W2 durable latency p99 while checkpoints run      (raw fdatasync p99 alongside)  ms
    6  W4 bulk load                        vs  LMDB sync=True, RocksDB sync=True     keys/s
    7  disk bytes per key after a checkpoint  vs  SQLite (WAL, synchronous=FULL)      B/key
    8  open the loaded database, after a checkpoint, by log replay, and from its snapshot
       plus a log one batch short of the checkpoint size (the worst case after a crash)
                                           (reading the same files once alongside)   s
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import RunBookends, cell, log  # noqa: E402

import found  # noqa: E402
import found._native as native  # noqa: E402

perf_ns = time.perf_counter_ns
STATUS_KEY = b"\xff\xff/status/json"
KV = tuple[bytes, bytes]

# Knobs for child processes: a threshold no log reaches (checkpoints off), and a small one
# under which a checkpoint starts again as soon as the previous one ends.
CHECKPOINTS_OFF = 1 << 62
CHECKPOINT_BYTES_SMALL = 64 << 10
# One W2 commit's log record as found writes it (10 pairs of 16 + 100 bytes, framing).
RAW_RECORD = b"\x5a" * 1270
LATENCY_CHUNK = 5  # commits (then as many raw syncs) per turn in the latency child

# ==================================================================== data


class Dataset:
    """The shared harness's dataset: keys b"%016d" % i, 100-byte values cut from a fixed
    random pool, every random sequence derived from one seed (same keys, same order)."""

    def __init__(self, count: int, seed: int = 20261123) -> None:
        self.count = count
        self.seed = seed
        self._pool = random.Random(seed).randbytes((1 << 20) + 100)

    @staticmethod
    def key(index: int) -> bytes:
        return b"%016d" % index

    def value(self, index: int, generation: int = 0) -> bytes:
        offset = (index * 7919 + generation * 104729) % (1 << 20)
        return self._pool[offset:offset + 100]

    def stream(self, number: int) -> random.Random:
        return random.Random(self.seed * 1000 + number)

    def load_batches(self, size: int = 1000) -> list[list[KV]]:
        """Every key once, in a fixed random order, cut into batches (W4)."""
        order = list(range(self.count))
        random.Random(self.seed + 1).shuffle(order)
        return [
            [(self.key(i), self.value(i)) for i in order[start:start + size]]
            for start in range(0, self.count, size)
        ]

    def small_transactions(self, count: int = 8192) -> list[tuple[list[bytes], list[KV]]]:
        """W2's pool: (10 random keys to read, 10 random pairs to write), cycled through."""
        rng = self.stream(5)
        pool = []
        for number in range(count):
            reads = [self.key(rng.randrange(self.count)) for _ in range(10)]
            writes = []
            for _ in range(10):
                index = rng.randrange(self.count)
                writes.append((self.key(index), self.value(index, 1 + number % 7)))
            pool.append((reads, writes))
        return pool


def directory_bytes(path: str | Path) -> int:
    """Bytes allocated on disk under path (st_blocks, as the shared harness counts)."""
    total = 0
    for root, _directories, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def read_every_file(path: str | Path) -> float:
    """Seconds to read every file under path once: what opening costs if nothing but I/O."""
    start = perf_ns()
    for root, _directories, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as file:
                while file.read(1 << 22):
                    pass
    return (perf_ns() - start) / 1e9


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest rank, as the shared harness computes it."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# ==================================================================== found

# Transaction bodies (module level, so no closure is built per call).


async def _write_all(tx: found.Transaction, items: Sequence[KV]) -> None:
    # a bulk load's batch: one found.set_many call (the keys and values split here, timed)
    found.set_many(tx, [key for key, _ in items], [value for _, value in items])


async def _read_write(tx: found.Transaction, reads: Sequence[bytes], writes: Sequence[KV]) -> list:
    # Sequential awaits: the engine answers reads from memory without suspending.
    get = found.get
    values = [await get(tx, key) for key in reads]
    for key, value in writes:
        found.set(tx, key, value)
    return values


async def _write_one(tx: found.Transaction, key: bytes, value: bytes) -> None:
    found.set(tx, key, value)


async def engine_status(db: found.Database) -> dict:
    """The engine's own section of the status JSON (log_bytes, checkpoints, ...)."""
    async with found.transaction(db) as tx:
        return json.loads(await found.get(tx, STATUS_KEY))["found"]


async def settle_and_close(db: found.Database) -> dict:
    """Waits for a running checkpoint to end (so that what is measured next finds its
    files settled), then closes."""
    while True:
        status = await engine_status(db)
        if not status["checkpoint_running"]:
            break
        await asyncio.sleep(0.02)
    db.close()
    return status


async def found_load(db: found.Database, batches: Sequence[Sequence[KV]]) -> float:
    """W4: one durable commit per batch; returns keys/s."""
    start = perf_ns()
    for batch in batches:
        await found.transactional(db, _write_all, batch)
    return sum(map(len, batches)) / ((perf_ns() - start) / 1e9)


async def found_w2(db: found.Database, pool: Sequence, duration: float, relaxed: bool) -> dict:
    """W2, one writer: durable through found.transactional, relaxed through
    found.transaction(db, durability_risky=True) (one writer: nothing to retry)."""
    latencies = []
    number = 0
    start = perf_ns()
    deadline = start + int(duration * 1e9)
    while True:
        reads, writes = pool[number % len(pool)]
        begin = perf_ns()
        if relaxed:
            async with found.transaction(db, durability_risky=True) as tx:
                await _read_write(tx, reads, writes)
        else:
            await found.transactional(db, _read_write, reads, writes)
        end = perf_ns()
        latencies.append(end - begin)
        number += 1
        if end > deadline:
            break
    latencies.sort()
    return {
        "rate": number / ((perf_ns() - start) / 1e9),
        "p50_ms": percentile(latencies, 0.50) / 1e6,
        "p99_ms": percentile(latencies, 0.99) / 1e6,
    }


async def found_concurrent(db: found.Database, duration: float, writers: int,
                           body: Callable[[int, int], Awaitable[object]]) -> float:
    """`writers` asyncio tasks, each awaiting body(writer, n) for n = 0, 1, ... until the
    deadline; returns completed calls per second."""
    deadline = perf_ns() + int(duration * 1e9)

    async def writer(number: int) -> int:
        count = 0
        while perf_ns() < deadline:
            await body(number, count)
            count += 1
        return count

    start = perf_ns()
    counts = await asyncio.gather(*(writer(number) for number in range(writers)))
    return sum(counts) / ((perf_ns() - start) / 1e9)


# ==================================================================== raw fdatasync


def raw_sync_loop(path: Path, duration: float, latencies: list[int] | None = None) -> float:
    """A Python loop of os.write (one W2-sized record) + os.fdatasync on a growing file:
    the ceiling of one writer that waits for its own sync; returns syncs/s."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        count = 0
        start = perf_ns()
        deadline = start + int(duration * 1e9)
        while True:
            begin = perf_ns()
            os.write(descriptor, RAW_RECORD)
            os.fdatasync(descriptor)
            end = perf_ns()
            if latencies is not None:
                latencies.append(end - begin)
            count += 1
            if end > deadline:
                return count / ((end - start) / 1e9)
    finally:
        os.close(descriptor)


def raw_sync_threads(directory: Path, duration: float, threads: int) -> float:
    """`threads` raw loops at once, each on its own file: what the device gives parallel
    syncs (fdatasync releases the GIL)."""
    rates = [0.0] * threads

    def run(number: int) -> None:
        rates[number] = raw_sync_loop(directory / f"raw-{number}.log", duration)

    workers = [threading.Thread(target=run, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(rates)


# ==================================================================== baselines


class LmdbStore:
    """py-lmdb tuned as the shared harness tunes it (8 GiB map, metasync)."""

    def __init__(self, path: Path, durable: bool) -> None:
        import lmdb

        path.mkdir(parents=True, exist_ok=True)
        self.environment = lmdb.open(str(path), map_size=8 << 30, sync=durable, metasync=True,
                                     max_readers=512, lock=True)

    def load(self, batches: Sequence[Sequence[KV]]) -> float:
        start = perf_ns()
        for batch in batches:
            with self.environment.begin(write=True) as txn:
                txn.cursor().putmulti(batch)
        return sum(map(len, batches)) / ((perf_ns() - start) / 1e9)

    def w2(self, pool: Sequence, duration: float) -> float:
        """W2, one writer: read 10 keys and write 10 in one write transaction."""
        environment = self.environment
        number = 0
        start = perf_ns()
        deadline = start + int(duration * 1e9)
        while True:
            reads, writes = pool[number % len(pool)]
            with environment.begin(write=True) as txn:
                get, put = txn.get, txn.put
                for key in reads:
                    get(key)
                for key, value in writes:
                    put(key, value)
            number += 1
            now = perf_ns()
            if now > deadline:
                return number / ((now - start) / 1e9)

    def close(self) -> None:
        self.environment.close()


class RocksStore:
    """RocksDB through rocksdict (raw mode, defaults), each batch a synced WriteBatch."""

    def __init__(self, path: Path) -> None:
        from rocksdict import Options, Rdict, WriteOptions

        options = Options(raw_mode=True)
        options.create_if_missing(True)
        self.db = Rdict(str(path), options=options)
        self.synced = WriteOptions()
        self.synced.sync = True

    def load(self, batches: Sequence[Sequence[KV]]) -> float:
        from rocksdict import WriteBatch

        start = perf_ns()
        for items in batches:
            batch = WriteBatch(raw_mode=True)
            for key, value in items:
                batch.put(key, value)
            self.db.write(batch, write_opt=self.synced)
        return sum(map(len, batches)) / ((perf_ns() - start) / 1e9)

    def close(self) -> None:
        self.db.close()


class SqliteStore:
    """stdlib sqlite3 tuned as the shared harness tunes it: WAL, synchronous=FULL, 64 MiB
    cache, mmap, one WITHOUT ROWID table."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(str(path / "kv.sqlite"), isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL", "PRAGMA cache_size=-65536",
            "PRAGMA mmap_size=1073741824", "PRAGMA temp_store=MEMORY", "PRAGMA synchronous=FULL",
        ):
            self.connection.execute(pragma)
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
        )

    def load(self, batches: Sequence[Sequence[KV]]) -> float:
        connection = self.connection
        start = perf_ns()
        for batch in batches:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", batch)
            connection.execute("COMMIT")
        return sum(map(len, batches)) / ((perf_ns() - start) / 1e9)

    def close(self) -> None:
        self.connection.close()  # the last connection checkpoints and removes the WAL


def missing_module(name: str) -> str | None:
    """None when the module imports, else why not (its baseline rows then say n/a)."""
    try:
        __import__(name)
    except ImportError as error:
        return str(error)
    return None


# ==================================================================== child processes


def child_environment(**knobs: int) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update({name: str(value) for name, value in knobs.items()})
    return environment


def run_child(mode: str, parameters: dict, **knobs: int) -> dict:
    """Runs this script with --child in a fresh process (fresh engine, the given FOUND_*
    knobs) and returns the JSON it prints last."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
               json.dumps(parameters)]
    completed = subprocess.run(command, env=child_environment(**knobs), capture_output=True,
                               text=True, timeout=900)
    if completed.returncode != 0:
        raise RuntimeError(f"child {mode} failed ({completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


async def child_load(parameters: dict) -> dict:
    """Loads the dataset into a directory (run with checkpoints off: all of it in the log)."""
    data = Dataset(parameters["keys"])
    db = await found.open(parameters["directory"])
    rate = await found_load(db, data.load_batches())
    status = await settle_and_close(db)
    return {"keys_per_s": rate, "status": status}


async def child_open(parameters: dict) -> dict:
    """Times found.open + the first get, as the shared harness times W4's reopen; checks
    that every key came back."""
    data = Dataset(parameters["keys"])
    probe = data.key(parameters["keys"] // 2)
    start = perf_ns()
    db = await found.open(parameters["directory"])
    async with found.transaction(db) as tx:
        value = await found.get(tx, probe)
    seconds = (perf_ns() - start) / 1e9
    if value is None:
        raise RuntimeError(f"{probe!r} missing after open")
    status = await engine_status(db)
    if status["keys"] < parameters["keys"]:
        raise RuntimeError(f"open found {status['keys']} keys, expected {parameters['keys']}")
    await settle_and_close(db)
    return {"open_s": seconds, "status": status}


async def child_fill(parameters: dict) -> dict:
    """Run with checkpoints off: rewrites random keys in durable batches of 1000 until the
    log is one batch short of `below` bytes (the size at which a checkpoint would start) —
    the longest log an open can find after a crash."""
    data = Dataset(parameters["keys"])
    rng = data.stream(11)
    db = await found.open(parameters["directory"])
    status = await engine_status(db)
    batch_bytes = 0
    while status["log_bytes"] + 2 * batch_bytes < parameters["below"]:
        before = status["log_bytes"]
        batch = []
        for _ in range(1000):
            index = rng.randrange(data.count)
            batch.append((data.key(index), data.value(index, 9)))
        await found.transactional(db, _write_all, batch)
        status = await engine_status(db)
        batch_bytes = status["log_bytes"] - before
    await settle_and_close(db)
    return {"status": status}


async def child_checkpoint(parameters: dict) -> dict:
    """Run with FOUND_CHECKPOINT_BYTES=0: opening starts a checkpoint; times it to its end."""
    start = perf_ns()
    db = await found.open(parameters["directory"])
    opened = perf_ns()
    while True:
        status = await engine_status(db)
        if status["checkpoint_error"]:
            raise RuntimeError(f"checkpoint failed: {status['checkpoint_error']}")
        if status["checkpoints"] > 0 and not status["checkpoint_running"]:
            break
        await asyncio.sleep(0.01)
    done = perf_ns()
    db.close()
    return {"open_s": (opened - start) / 1e9, "checkpoint_s": (done - opened) / 1e9,
            "status": status}


async def child_latency(parameters: dict) -> dict:
    """Run with a small FOUND_CHECKPOINT_BYTES: W2 durable commits of one writer, in turns
    with raw append+fdatasync calls on a file beside the database, while checkpoints run.
    A turn's samples count as "during a checkpoint" when one ran at both ends of it."""
    data = Dataset(parameters["keys"])
    pool = data.small_transactions()
    raw_path = Path(parameters["raw_file"])
    db = await found.open(parameters["directory"])
    first = await engine_status(db)
    waited = perf_ns()
    while not first["checkpoint_running"] and perf_ns() - waited < 2e9:
        await asyncio.sleep(0.01)  # the log may be under the threshold for a moment
        first = await engine_status(db)
    samples: dict[str, list[int]] = {"found": [], "found.during": [], "raw": [], "raw.during": []}
    turns = turns_during = 0
    number = 0
    descriptor = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    start = perf_ns()
    deadline = start + int(parameters["duration"] * 1e9)
    running_before = first["checkpoint_running"]
    try:
        while perf_ns() < deadline:
            found_turn, raw_turn = [], []
            for _ in range(LATENCY_CHUNK):
                reads, writes = pool[number % len(pool)]
                number += 1
                begin = perf_ns()
                await found.transactional(db, _read_write, reads, writes)
                found_turn.append(perf_ns() - begin)
            for _ in range(LATENCY_CHUNK):
                begin = perf_ns()
                os.write(descriptor, RAW_RECORD)
                os.fdatasync(descriptor)
                raw_turn.append(perf_ns() - begin)
            running_after = (await engine_status(db))["checkpoint_running"]
            samples["found"] += found_turn
            samples["raw"] += raw_turn
            turns += 1
            if running_before and running_after:
                samples["found.during"] += found_turn
                samples["raw.during"] += raw_turn
                turns_during += 1
            running_before = running_after
    finally:
        os.close(descriptor)
    elapsed = (perf_ns() - start) / 1e9
    last = await settle_and_close(db)
    result = {
        "seconds": elapsed,
        "commits": len(samples["found"]),
        "turns": turns,
        "turns_during": turns_during,
        # checkpoints that ran at some point of the measurement: those completed in it,
        # plus the one still running at its end
        "checkpoints": last["checkpoints"] - first["checkpoints"]
        + (1 if last["checkpoint_running"] else 0),
        "checkpoints_completed": last["checkpoints"] - first["checkpoints"],
    }
    for name, values in samples.items():
        values.sort()
        result[f"{name}.p50_ms"] = percentile(values, 0.50) / 1e6
        result[f"{name}.p99_ms"] = percentile(values, 0.99) / 1e6
        result[f"{name}.count"] = len(values)
    return result


CHILDREN = {"load": child_load, "open": child_open, "checkpoint": child_checkpoint,
            "latency": child_latency, "fill": child_fill}


def child_main(mode: str, text: str) -> int:
    result = asyncio.run(CHILDREN[mode](json.loads(text)))
    print(json.dumps(result), flush=True)
    return 0


# ==================================================================== the run


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Dataset(args.keys)
        self.root = Path(tempfile.mkdtemp(prefix="found-bench-durability-", dir=args.workdir))
        self.results: dict[str, list[dict[str, float]]] = {}
        self.notes: dict[str, list] = {}
        self.missing = {name: reason for name in ("lmdb", "rocksdict")
                        if (reason := missing_module(name))}
        self.found_directory: Path | None = None
        self.lmdb_directory: Path | None = None
        self.replay_directory = self.root / "replay"
        self.sqlite_bytes: float | None = None
        self.error: str | None = None

    def record(self, figure: str, values: dict[str, float]) -> None:
        self.results.setdefault(figure, []).append(values)

    def note(self, name: str, value: object) -> None:
        self.notes.setdefault(name, []).append(value)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------------- W4, bytes, open

    async def loads(self, rep: int, batches: list[list[KV]]) -> None:
        """W4 into fresh directories (found, LMDB, RocksDB and, the first time, SQLite, in
        rotating order); then found's checkpoint, bytes per key and open times."""
        directory = self.root / f"load-{rep}"
        keys = self.data.count
        result: dict[str, float] = {}

        async def load_found() -> None:
            path = directory / "found"
            db = await found.open(str(path))
            result["found.load"] = await found_load(db, batches)
            status = await settle_and_close(db)
            result["found.bytes_before_checkpoint"] = directory_bytes(path) / keys
            self.note("found log/snapshot after load", (status["log_bytes"],
                                                        status["snapshot_bytes"]))

        def load_lmdb() -> None:
            store = LmdbStore(directory / "lmdb", durable=True)
            result["lmdb.load"] = store.load(batches)
            store.close()

        def load_rocksdb() -> None:
            store = RocksStore(directory / "rocksdb")
            result["rocksdb.load"] = store.load(batches)
            store.close()

        def load_sqlite() -> None:
            # Loaded in the first repetition only: its size is the same every time (same
            # keys, same order), and it is the slowest load here.
            store = SqliteStore(directory / "sqlite")
            self.note("sqlite load keys/s", store.load(batches))
            store.close()
            self.sqlite_bytes = directory_bytes(directory / "sqlite") / keys

        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [("found", load_found)]
        if self.sqlite_bytes is None:
            steps.append(("sqlite", _as_async(load_sqlite)))
        if "lmdb" not in self.missing:
            steps.append(("lmdb", _as_async(load_lmdb)))
        if "rocksdict" not in self.missing:
            steps.append(("rocksdb", _as_async(load_rocksdb)))
        shift = rep % len(steps)
        for name, step in steps[shift:] + steps[:shift]:
            log(f"rep {rep + 1}: W4 load {name}")
            await step()

        result["sqlite.bytes"] = self.sqlite_bytes
        found_path = str(directory / "found")
        checkpoint = run_child("checkpoint", {"directory": found_path}, FOUND_CHECKPOINT_BYTES=0)
        self.note("checkpoint seconds", checkpoint["checkpoint_s"])
        result["found.bytes"] = directory_bytes(found_path) / keys
        opened = run_child("open", {"directory": found_path, "keys": keys})
        result["found.open_s"] = opened["open_s"]
        result["read.open_s"] = read_every_file(found_path)

        # The worst open: the snapshot plus as much log as can pile up before a checkpoint
        # starts (what a crash just before one leaves). Made on a copy, so that the commit
        # figures below start from a checkpointed database.
        full_log = directory / "found-full-log"
        shutil.copytree(found_path, full_log)
        # A checkpoint syncs its snapshot: so is the copy, else its writeback would run
        # during the open that is timed.
        os.sync()
        filled = run_child("fill", {"directory": str(full_log), "keys": keys,
                                    "below": opened["status"]["checkpoint_bytes"]},
                           FOUND_CHECKPOINT_BYTES=CHECKPOINTS_OFF)
        self.note("full log bytes", filled["status"]["log_bytes"])
        worst = run_child("open", {"directory": str(full_log), "keys": keys})
        if worst["status"]["snapshot_version"] != filled["status"]["snapshot_version"]:
            raise RuntimeError("the full-log database was checkpointed before its open was timed")
        result["found.full_log_open_s"] = worst["open_s"]
        result["read.full_log_open_s"] = read_every_file(full_log)
        shutil.rmtree(full_log)

        if not self.replay_directory.exists():
            log("loading the log-only database (checkpoints off)")
            loaded = run_child("load", {"directory": str(self.replay_directory), "keys": keys},
                               FOUND_CHECKPOINT_BYTES=CHECKPOINTS_OFF)
            self.note("log-only load keys/s", loaded["keys_per_s"])
            self.note("log-only log bytes", loaded["status"]["log_bytes"])
        replay = run_child("open", {"directory": str(self.replay_directory), "keys": keys},
                           FOUND_CHECKPOINT_BYTES=CHECKPOINTS_OFF)
        if replay["status"]["snapshot_bytes"]:
            raise RuntimeError("the log-only database has a snapshot: it was checkpointed")
        result["found.replay_s"] = replay["open_s"]
        result["read.replay_s"] = read_every_file(self.replay_directory)
        self.record("load", result)

        # Later repetitions' commit figures use the newest loaded databases.
        for old in (self.found_directory, self.lmdb_directory):
            if old is not None:
                shutil.rmtree(old.parent, ignore_errors=True)
        self.found_directory = directory / "found"
        self.lmdb_directory = directory / "lmdb"
        for name in ("rocksdb", "sqlite"):
            shutil.rmtree(directory / name, ignore_errors=True)

    # ---------------------------------------------------------------- commit rates

    async def commits(self, rep: int, pool: list) -> None:
        duration = self.args.duration
        data = self.data
        directory = self.root / f"commits-{rep}"
        directory.mkdir()
        db = await found.open(str(self.found_directory))
        # The first commit after reopening a directory in this process can stall (see
        # docs/benchmarks.md, Durability): it is timed and shown apart, then a few more
        # warm the commit path before anything is measured.
        reads, writes = pool[-1]
        begin = perf_ns()
        await found.transactional(db, _read_write, reads, writes)
        self.note("first commit after reopening", (perf_ns() - begin) / 1e9)
        for reads, writes in pool[-21:-1]:
            await found.transactional(db, _read_write, reads, writes)
        result: dict[str, float] = {}
        raw_latencies: list[int] = []
        raw_slices: list[tuple[float, float]] = []  # (syncs/s, seconds)

        def raw_slice() -> float:
            """A short raw loop between two steps: each step's baseline is the mean of
            the slices on either side of it, so a slow spell of the disk hits both."""
            seconds = max(0.1, duration / 4)
            rate = raw_sync_loop(directory / "raw.log", seconds, raw_latencies)
            raw_slices.append((rate, seconds))
            return rate

        def raw_eight() -> None:
            result["raw8"] = raw_sync_threads(directory, duration, 8)

        async def found_w2_durable() -> None:
            figures = await found_w2(db, pool, duration, relaxed=False)
            result["found.w2"] = figures["rate"]
            result["found.w2.p50_ms"] = figures["p50_ms"]
            result["found.w2.p99_ms"] = figures["p99_ms"]

        async def found_w2_relaxed() -> None:
            result["found.relaxed"] = (await found_w2(db, pool, duration, relaxed=True))["rate"]

        async def found_w5() -> None:
            async def body(writer: int, count: int) -> None:
                reads, writes = pool[(writer * 997 + count) % len(pool)]
                await found.transactional(db, _read_write, reads, writes)

            result["found.w5"] = await found_concurrent(db, duration, 8, body)

        def committers(writers: int) -> Callable[[], Awaitable[None]]:
            rng = data.stream(100 + rep)
            keys = [data.key(rng.randrange(data.count)) for _ in range(4096)]

            async def body(writer: int, count: int) -> None:
                index = (writer * 61 + count) % len(keys)
                await found.transactional(db, _write_one, keys[index], data.value(index, 2))

            async def run() -> None:
                result[f"found.c{writers}"] = await found_concurrent(db, duration, writers, body)

            return run

        def lmdb_relaxed() -> None:
            store = LmdbStore(self.lmdb_directory, durable=False)
            try:
                result["lmdb.relaxed"] = store.w2(pool, duration)
            finally:
                store.close()

        # (name, the result it fills, the step)
        steps: list[tuple[str, str, Callable[[], Awaitable[None]]]] = [
            ("found W2 durable", "found.w2", found_w2_durable),
            ("found W5", "found.w5", found_w5),
            ("found 16 committers", "found.c16", committers(16)),
            ("raw fdatasync x8 files", "raw8", _as_async(raw_eight)),
            ("found 64 committers", "found.c64", committers(64)),
            ("found W2 relaxed", "found.relaxed", found_w2_relaxed),
        ]
        if "lmdb" not in self.missing:
            steps.append(("lmdb W2 sync=False", "lmdb.relaxed", _as_async(lmdb_relaxed)))
        shift = rep % len(steps)
        try:
            before = raw_slice()
            for name, key, step in steps[shift:] + steps[:shift]:
                log(f"rep {rep + 1}: {name}")
                await step()
                after = raw_slice()
                result[f"raw@{key}"] = (before + after) / 2
                before = after
        finally:
            await settle_and_close(db)
        result["raw"] = (sum(rate * seconds for rate, seconds in raw_slices)
                         / sum(seconds for _, seconds in raw_slices))
        raw_latencies.sort()
        result["raw.p99_ms"] = percentile(raw_latencies, 0.99) / 1e6
        self.record("commits", result)
        shutil.rmtree(directory, ignore_errors=True)

    # ---------------------------------------------------------------- latency, checkpoints

    def latency(self, rep: int) -> None:
        log(f"rep {rep + 1}: W2 durable latency while checkpoints run (child)")
        result = run_child(
            "latency",
            {"directory": str(self.found_directory), "keys": self.data.count,
             "duration": self.args.latency_duration,
             "raw_file": str(self.root / f"latency-raw-{rep}.log")},
            FOUND_CHECKPOINT_BYTES=CHECKPOINT_BYTES_SMALL,
        )
        os.unlink(self.root / f"latency-raw-{rep}.log")
        self.record("latency", result)


def _as_async(function: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        function()

    return run


async def run(args: argparse.Namespace) -> Bench:
    bench = Bench(args)
    try:
        started = time.perf_counter()
        batches = bench.data.load_batches()
        pool = bench.data.small_transactions()
        log(f"dataset of {args.keys:,} keys built in {time.perf_counter() - started:.1f} s")
        for rep in range(args.reps):
            try:
                if rep < args.load_reps:
                    await bench.loads(rep, batches)
                await bench.commits(rep, pool)
                bench.latency(rep)
            except Exception as error:  # show what was measured, then fail the run
                bench.error = f"repetition {rep + 1} failed: {error!r}"
                log(bench.error)
                break
    finally:
        bench.close()
    return bench


# ==================================================================== the table


@dataclass(frozen=True)
class Row:
    """One line of the table. found/baseline are columns of a figure's repetitions; the
    ratio is found / baseline per repetition, then the median. The target is a bound on
    that ratio (`absolute` False) or on found's figure itself (`absolute` True)."""

    figure: str
    label: str
    unit: str
    found: str
    baseline: str
    baseline_label: str
    target: float | None = None
    at_least: bool = True
    absolute: bool = False
    scale: float = 1.0  # found's figure and the baseline are shown times this

    def verdict(self, value: float, ratio: float) -> tuple[str, str]:
        if self.target is None:
            return "", ""
        if value != value or ratio != ratio:  # NaN: no sample to judge
            return "", "n/a"
        subject = value if self.absolute else ratio
        met = subject >= self.target if self.at_least else subject <= self.target
        bound = f"{'>=' if self.at_least else '<='} {self.target:g}"
        text = f"{bound} {self.unit}" if self.absolute else f"{bound}x"
        return text, "met" if met else "MISSED"


ROWS = [
    Row("1", "W2 1 durable writer (10r+10w)", "txn/s", "found.w2", "raw@found.w2",
        "append+fdatasync", 0.6),
    Row("2", "W5 8 durable writers", "txn/s", "found.w5", "raw@found.w5", "append+fdatasync",
        2.5),
    Row("2", "W5 8 durable writers", "txn/s", "found.w5", "found.w2", "found W2 1 writer", 3.0),
    Row("3", "16 committers, 1 write each", "txn/s", "found.c16", "raw@found.c16",
        "append+fdatasync", 5.0),
    Row("3", "64 committers, 1 write each", "txn/s", "found.c64", "raw@found.c64",
        "append+fdatasync", 8.0),
    Row("4", "W2 relaxed (durability_risky)", "txn/s", "found.relaxed", "lmdb.relaxed",
        "LMDB sync=False", 2.0),
    Row("5", "W2 durable p99, checkpoints on", "ms", "found.during.p99_ms", "raw.during.p99_ms",
        "fdatasync p99 same time", 1.5, at_least=False, absolute=True),
    Row("6", "W4 bulk load, batches of 1000", "keys/s", "found.load", "lmdb.load",
        "LMDB sync=True", 3.0),
    Row("6", "W4 bulk load, batches of 1000", "keys/s", "found.load", "rocksdb.load",
        "RocksDB sync=True", 0.5),
    Row("7", "disk bytes/key after checkpoint", "B/key", "found.bytes", "sqlite.bytes",
        "SQLite (WAL, FULL)", 1.2, at_least=False),
    Row("8", "open, after a checkpoint", "s", "found.open_s", "read.open_s",
        "read its files once", 1.0, at_least=False, absolute=True),
    Row("8", "open, log replay (no checkpoint)", "s", "found.replay_s", "read.replay_s",
        "read its files once", 1.0, at_least=False, absolute=True),
    Row("8", "open, snapshot + a full log", "s", "found.full_log_open_s",
        "read.full_log_open_s", "read its files once", 1.0, at_least=False, absolute=True),
    # references (no target)
    Row("", "raw fdatasync, 8 threads x 8 files", "syncs/s", "raw8", "raw@raw8",
        "append+fdatasync"),
    Row("", "W2 durable p99, no checkpoint", "ms", "found.w2.p99_ms", "raw.p99_ms",
        "fdatasync p99"),
    Row("", "W2 durable p99, whole measurement", "ms", "found.p99_ms", "raw.p99_ms",
        "fdatasync p99 same time"),
    Row("", "W2 relaxed vs durable", "txn/s", "found.relaxed", "found.w2", "found W2 durable"),
    Row("", "disk bytes/key right after load", "B/key", "found.bytes_before_checkpoint",
        "sqlite.bytes", "SQLite (WAL, FULL)"),
]

def figure_reps(results: dict, row: Row) -> list[dict[str, float]]:
    for figure in ("commits", "latency", "load"):
        reps = results.get(figure, [])
        if reps and row.found in reps[0] and row.baseline in reps[0]:
            return reps
    return []



def render(bench: Bench) -> str:
    results = bench.results
    lines = []
    header = (f"  {'#':<2}{'measure':<36}{'unit':<8}{'found':>9}   {'baseline':<24}"
              f"{'value':>9}{'ratio':>8}   {'target':<12}")
    lines.append(header)
    lines.append("  " + "-" * (len(header) - 2))
    for row in ROWS:
        reps = figure_reps(results, row)
        if not reps:
            lines.append(f"  {row.figure:<2}{row.label:<36}{row.unit:<8}{'n/a':>9}   "
                         f"{row.baseline_label:<24}{'n/a':>9}{'':>8}   "
                         "(not measured: " + missing_reason(bench, row) + ")")
            continue
        value = statistics.median(rep[row.found] for rep in reps)
        baseline = statistics.median(rep[row.baseline] for rep in reps)
        ratio = statistics.median(rep[row.found] / rep[row.baseline] for rep in reps)
        target, verdict = row.verdict(value, ratio)
        lines.append(
            f"  {row.figure:<2}{row.label:<36}{row.unit:<8}{cell(value):>9}   "
            f"{row.baseline_label:<24}{cell(baseline):>9}{ratio:>7.2f}x   {target:<12}{verdict}"
        )
    lines.append("")
    lines.append("  ratio: per-repetition found / baseline, median of the repetitions; each target")
    lines.append("  bounds the ratio (x) or found's own figure (ms, s).")
    lines.append(f"  append+fdatasync: a Python loop of os.write ({len(RAW_RECORD)} B) + "
                 "os.fdatasync in the same directory,")
    lines.append("  run just before and just after the step it is compared with (the mean of "
                 "the two).")
    lines.append("")
    lines.extend(render_notes(bench))
    return "\n".join(line.rstrip() for line in lines)


def missing_reason(bench: Bench, row: Row) -> str:
    if row.baseline.startswith("lmdb") and "lmdb" in bench.missing:
        return "pip install lmdb"
    if row.baseline.startswith("rocksdb") and "rocksdict" in bench.missing:
        return "pip install rocksdict"
    return "no sample"


def render_notes(bench: Bench) -> list[str]:
    lines = []
    if "first commit after reopening" in bench.notes:
        stalls = ", ".join(f"{value * 1e3:.1f}" for value in bench.notes[
            "first commit after reopening"])
        lines.append(f"  1-4: first W2 commit after the main process reopened the database "
                     f"(not in any figure): {stalls} ms")
    latency = bench.results.get("latency", [])
    if latency:
        ran = [rep["checkpoints"] for rep in latency]
        completed = [rep["checkpoints_completed"] for rep in latency]
        share = [f"{rep['turns_during'] / max(1, rep['turns']):.0%}" for rep in latency]
        rates = [round(rep["commits"] / rep["seconds"]) for rep in latency]
        found_p50 = statistics.median(rep["found.during.p50_ms"] for rep in latency)
        raw_p50 = statistics.median(rep["raw.during.p50_ms"] for rep in latency)
        lines.append(
            f"  5: per repetition ({bench.args.latency_duration:g} s, FOUND_CHECKPOINT_BYTES="
            f"{CHECKPOINT_BYTES_SMALL}): checkpoints that ran {ran}, completed {completed};"
        )
        lines.append(
            f"     turns with a checkpoint running throughout {share}; W2 commits/s {rates};"
        )
        lines.append(
            f"     p50 during checkpoints {cell(found_p50)} ms "
            f"(raw fdatasync {cell(raw_p50)} ms)"
        )
    if "found log/snapshot after load" in bench.notes:
        sizes = ", ".join(f"{log_bytes / 2**20:.0f}/{snapshot / 2**20:.0f}"
                          for log_bytes, snapshot in bench.notes["found log/snapshot after load"])
        lines.append(f"  6: found's log/snapshot MiB at the end of each load: {sizes} (at the "
                     "default checkpoint threshold)")
    if "checkpoint seconds" in bench.notes:
        durations = ", ".join(f"{value:.2f}" for value in bench.notes["checkpoint seconds"])
        lines.append(f"  7: a checkpoint of the {bench.data.count:,}-key database (forced at "
                     f"open, FOUND_CHECKPOINT_BYTES=0) took {durations} s")
    if "sqlite load keys/s" in bench.notes:
        lines.append(f"  7: SQLite's W4 load (first repetition only, synchronous=FULL): "
                     f"{bench.notes['sqlite load keys/s'][0]:,.0f} keys/s")
    if "log-only log bytes" in bench.notes:
        lines.append(
            f"  8: log-only database: {bench.notes['log-only log bytes'][0] / 2**20:.0f} MiB of "
            f"log, loaded at {bench.notes['log-only load keys/s'][0]:,.0f} keys/s with "
            "checkpoints off; open = found.open + first get in a fresh process"
        )
    if "full log bytes" in bench.notes:
        sizes = ", ".join(f"{value / 2**20:.1f}" for value in bench.notes["full log bytes"])
        lines.append(f"  8: snapshot + a full log: the checkpointed database, then random keys "
                     f"rewritten with checkpoints off up to {sizes} MiB of log")
    return lines


# ==================================================================== main



def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="200,000 keys, fewer and shorter repetitions: a smoke test")
    parser.add_argument("--keys", type=int, default=None, help="dataset size (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions of the commit and latency figures (default 5)")
    parser.add_argument("--load-reps", type=int, default=None,
                        help="repetitions of W4, bytes and open (default 3)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per commit-rate measurement (default 1.0)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="where the data directories go: the disk under test")
    parser.add_argument("--json", metavar="FILE",
                        help="also write every repetition's raw figures to FILE")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.keys = args.keys or (200_000 if quick else 1_000_000)
    args.reps = args.reps or (3 if quick else 5)
    args.load_reps = min(args.reps, args.load_reps or (2 if quick else 3))
    args.duration = args.duration or (0.4 if quick else 1.0)
    args.latency_duration = 1.0 if quick else 3.0
    return args



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        return child_main(*args.child)
    bookends = RunBookends("benchmarks/bench_durability.py", argv)
    bench = asyncio.run(run(args))
    versions = []
    for package in ("lmdb", "rocksdict"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} missing")
    print(
        f"bench_durability  {datetime.date.today().isoformat()}  python "
        f"{platform.python_version()}  cpus {os.cpu_count()}  keys {args.keys:,}  reps "
        f"{args.reps} (loads {args.load_reps})  sqlite {sqlite3.sqlite_version}  "
        f"{'  '.join(versions)}  engine {native.library_path()}  workdir {args.workdir}"
    )
    print(render(bench))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"args": {name: value for name, value in vars(args).items()
                                if name != "child"},
                       "results": bench.results, "notes": bench.notes}, file, indent=1)
    print(bookends.closing_line())
    if bench.error:
        print(f"INCOMPLETE: {bench.error} (the table shows the repetitions before it)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
