#!/usr/bin/env python3
"""found's awaited core against the official ``fdb`` binding on the same engine, stdlib
sqlite3 and this disk's raw fdatasync rate — every ratio taken within one run.

    python benchmarks/bench_core.py [--quick] [--keys N] [--reps N] [--workdir DIR]

Data: N keys (100,000; 20,000 with --quick) of 16 bytes (the record number as 16 ASCII
digits) with 100-byte incompressible values, loaded once into one data directory that
`found` and `fdb` share (same process, same engine) and into a sqlite3 file (WAL,
synchronous=FULL, WITHOUT ROWID — the tuning of ../shared/bench's `sqlite` adapter).

The machine is shared and noisy, so systems are never measured far apart: each figure
runs its systems alternately, a chunk of operations each, rotating which goes first, and
repeats that --reps times. A ratio is taken per repetition, then the median is shown.
The figures (see docs/benchmarks.md for what each one means):

    a  awaited found.get in one transaction vs fdb's tr.get(key).wait()   ops/s
    b  await overhead: awaited found.get minus the same code called as a plain def   µs
    c  W1: one get per read transaction vs sqlite3 point select            ops/s, p50, p99
    d  W1t: 100 gets per read transaction vs sqlite3 (IN list)              keys/s
    e  range read of 1000 keys: found.query vs sqlite3 and fdb             keys/s
    f  an empty found.transactional vs an empty @fdb.transactional        µs
    g  durable commits of 10 keys: one writer vs append+fdatasync in Python, 8 writers vs 1
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import cell, log, reproduce_command  # noqa: E402
from found._capi import lib  # noqa: E402

import found  # noqa: E402
import found._native as native  # noqa: E402
from found import _hot_calls  # noqa: E402

# The official binding runs on found's engine: load that library before `fdb` looks for
# one, and let `fdb` select the API version and start the network before the first
# found.open (found then shares them; the other order makes fdb refuse).
ctypes.CDLL(native.embedded_library_path())
import fdb  # noqa: E402

fdb.api_version(730)

perf_ns = time.perf_counter_ns
KEY_SPACE_END = b"\xff"
NETWORK_OPTION_KNOB = 40

# ==================================================================== data


class Dataset:
    """Keys b"%016d" % i for i < count, 100-byte values cut from a fixed random pool."""

    def __init__(self, count: int, seed: int = 20261123) -> None:
        self.count = count
        self.random = random.Random(seed)
        self._pool = self.random.randbytes((1 << 20) + 100)

    @staticmethod
    def key(index: int) -> bytes:
        return b"%016d" % index

    def value(self, index: int, generation: int = 0) -> bytes:
        offset = (index * 7919 + generation * 104729) % (1 << 20)
        return self._pool[offset:offset + 100]

    def random_indices(self, count: int) -> list[int]:
        return [self.random.randrange(self.count) for _ in range(count)]

    def random_keys(self, count: int) -> list[bytes]:
        return [self.key(index) for index in self.random_indices(count)]

    def batches(self, size: int) -> list[list[tuple[bytes, bytes]]]:
        order = list(range(self.count))
        self.random.shuffle(order)
        return [
            [(self.key(i), self.value(i)) for i in order[start:start + size]]
            for start in range(0, self.count, size)
        ]


def chunked(items: Sequence, size: int) -> list[Sequence]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    return sorted_values[int(fraction * (len(sorted_values) - 1))]


# ==================================================================== measuring

# A variant runs one chunk of inputs and returns the nanoseconds it took (it times only
# the work, so per-chunk setup such as creating a transaction can stay outside).
Variant = Callable[[Sequence], Awaitable[int]]


async def alternate(variants: dict[str, Variant], chunks: list[Sequence], rep: int) -> dict:
    """Runs every variant over every chunk, switching variant after each chunk and
    rotating which starts; returns the total seconds per variant."""
    names = list(variants)
    shift = rep % len(names)
    names = names[shift:] + names[:shift]
    totals = dict.fromkeys(names, 0)
    for chunk in chunks:
        for name in names:
            totals[name] += await variants[name](chunk)
    return {name: total / 1e9 for name, total in totals.items()}


class Knob:
    """The engine's process-wide `found_sync` knob (FOUND_SYNC), set at run time through
    the `knob` network option; the commit pipeline reads it once per batch."""

    @staticmethod
    def from_environment() -> bool:
        """Whether commits sync by default in this process (FOUND_SYNC unset or nonzero)."""
        text = os.environ.get("FOUND_SYNC", "").strip()
        try:
            return not text or int(text) != 0
        except ValueError:
            return True

    @staticmethod
    def set_sync(durable: bool) -> None:
        text = b"found_sync=%d" % int(durable)
        native.check(lib.fdb_network_set_option_w(NETWORK_OPTION_KNOB, text, len(text)))


# ==================================================================== the figures


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Dataset(args.keys)
        self.root = Path(tempfile.mkdtemp(prefix="found-bench-core-", dir=args.workdir))
        self.data_directory = str(self.root / "data")
        self.write_directory = str(self.root / "writes")
        self.results: dict[str, list[dict[str, float]]] = {}
        scale = args.keys / 100_000
        self.ops = max(5_000, int(100_000 * scale))  # (a) and (b)
        self.chunk = 5_000

    # ---------------------------------------------------------------- setup

    async def setup(self) -> None:
        os.makedirs(self.data_directory)
        os.makedirs(self.write_directory)
        self.fdb_db = fdb.open(self.data_directory)
        self.fdb_writes = fdb.open(self.write_directory)
        self.db = await found.open(self.data_directory)
        self.writes = await found.open(self.write_directory)
        batches = self.data.batches(1000)
        for batch in batches:
            await found.transactional(self.db, _write_all, batch)
        self.sqlite = sqlite3.connect(str(self.root / "kv.sqlite"), isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL", "PRAGMA cache_size=-65536",
            "PRAGMA mmap_size=1073741824", "PRAGMA temp_store=MEMORY", "PRAGMA synchronous=FULL",
        ):
            self.sqlite.execute(pragma)
        self.sqlite.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        self.sqlite.execute("BEGIN")
        for batch in batches:
            self.sqlite.executemany("INSERT INTO kv (k, v) VALUES (?, ?)", batch)
        self.sqlite.execute("COMMIT")
        probe = self.data.key(self.data.count // 2)
        expected = self.sqlite.execute("SELECT v FROM kv WHERE k = ?", (probe,)).fetchone()[0]
        async with found.transaction(self.db) as tx:
            assert await found.get(tx, probe) == expected
        assert self.fdb_db[probe] == expected

    def close(self) -> None:
        self.sqlite.close()
        self.db.close()
        self.writes.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def record(self, figure: str, rep_result: dict[str, float]) -> None:
        self.results.setdefault(figure, []).append(rep_result)

    # ---------------------------------------------------------------- (a) gets in one txn

    async def gets_in_one_transaction(self, rep: int) -> None:
        keys = self.data.random_keys(self.ops)
        db, fdb_db = self.db, self.fdb_db

        async def found_get(chunk: Sequence[bytes]) -> int:
            tx = found.create_transaction(db)
            get = found.get
            start = perf_ns()
            for key in chunk:
                await get(tx, key)
            elapsed = perf_ns() - start
            tx.close()
            return elapsed

        async def fdb_get(chunk: Sequence[bytes]) -> int:
            tr = fdb_db.create_transaction()
            start = perf_ns()
            for key in chunk:
                tr.get(key).wait()
            return perf_ns() - start

        seconds = await alternate(
            {"found": found_get, "fdb": fdb_get}, chunked(keys, self.chunk), rep
        )
        self.record("a", {name: len(keys) / s for name, s in seconds.items()})

    # ---------------------------------------------------------------- (b) await overhead

    async def await_overhead(self, rep: int) -> None:
        keys = self.data.random_keys(self.ops)
        db = self.db

        async def awaited(chunk: Sequence[bytes]) -> int:
            tx = found.create_transaction(db)
            get = found.get
            start = perf_ns()
            for key in chunk:
                await get(tx, key)
            elapsed = perf_ns() - start
            tx.close()
            return elapsed

        async def plain_def(chunk: Sequence[bytes]) -> int:
            tx = found.create_transaction(db)
            get = sync_get
            start = perf_ns()
            for key in chunk:
                get(tx, key)
            elapsed = perf_ns() - start
            tx.close()
            return elapsed

        async def driven(chunk: Sequence[bytes]) -> int:
            tx = found.create_transaction(db)
            get = found.get
            start = perf_ns()
            for key in chunk:
                try:
                    get(tx, key).send(None)
                except StopIteration:
                    pass
                else:
                    raise AssertionError("found.get suspended: the engine did not answer at once")
            elapsed = perf_ns() - start
            tx.close()
            return elapsed

        async def raw_native(chunk: Sequence[bytes]) -> int:
            tx = found.create_transaction(db)
            address, native_get = tx._address, _hot_calls.get
            start = perf_ns()
            for key in chunk:
                native_get(address, key, 0)
            elapsed = perf_ns() - start
            tx.close()
            return elapsed

        variants = {"awaited": awaited, "def": plain_def, "send": driven, "native": raw_native}
        seconds = await alternate(variants, chunked(keys, self.chunk), rep)
        self.record("b", {name: s / len(keys) * 1e6 for name, s in seconds.items()})

    # ---------------------------------------------------------------- (c) W1, own read txn

    async def point_reads(self, rep: int) -> None:
        keys = self.data.random_keys(max(5_000, self.ops // 2))
        db, fdb_db, conn = self.db, self.fdb_db, self.sqlite
        latencies: dict[str, list[int]] = {}

        def timed(name: str, body: Callable[[bytes], Awaitable[object]]) -> Variant:
            samples = latencies.setdefault(name, [])

            async def run(chunk: Sequence[bytes]) -> int:
                begin = perf_ns()
                for key in chunk:
                    start = perf_ns()
                    await body(key)
                    samples.append(perf_ns() - start)
                return perf_ns() - begin

            return run

        def timed_sync(name: str, body: Callable[[bytes], object]) -> Variant:
            samples = latencies.setdefault(name, [])

            async def run(chunk: Sequence[bytes]) -> int:
                begin = perf_ns()
                for key in chunk:
                    start = perf_ns()
                    body(key)
                    samples.append(perf_ns() - start)
                return perf_ns() - begin

            return run

        async def found_transactional(key: bytes) -> bytes | None:
            return await found.transactional(db, _read_one, key, snapshot=True)

        async def found_bare(key: bytes) -> bytes | None:
            tx = found.create_transaction(db)
            try:
                return await found.get(tx.snapshot, key)
            finally:
                tx.close()

        def fdb_read(key: bytes) -> bytes | None:
            return fdb_db[key]

        def sqlite_read(key: bytes) -> bytes | None:
            row = conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
            return row[0] if row else None

        variants = {
            "found": timed("found", found_transactional),
            "found-bare": timed("found-bare", found_bare),
            "fdb": timed_sync("fdb", fdb_read),
            "sqlite": timed_sync("sqlite", sqlite_read),
        }
        seconds = await alternate(variants, chunked(keys, 1000), rep)
        result = {}
        for name, elapsed in seconds.items():
            samples = sorted(latencies[name])
            result[f"{name}.ops"] = len(keys) / elapsed
            result[f"{name}.p50"] = percentile(samples, 0.50) / 1e3
            result[f"{name}.p99"] = percentile(samples, 0.99) / 1e3
        self.record("c", result)

    # ---------------------------------------------------------------- (d) W1t

    async def read_transactions(self, rep: int) -> None:
        size = 100
        keys = self.data.random_keys(max(10_000, self.ops))
        transactions = chunked(keys, size)
        db, fdb_db, conn = self.db, self.fdb_db, self.sqlite
        in_list = f"SELECT v FROM kv WHERE k IN ({','.join('?' * size)})"

        async def found_run(chunk: Sequence[Sequence[bytes]]) -> int:
            start = perf_ns()
            for read_keys in chunk:
                await found.transactional(db, _read_many, read_keys, snapshot=True)
            return perf_ns() - start

        async def fdb_run(chunk: Sequence[Sequence[bytes]]) -> int:
            start = perf_ns()
            for read_keys in chunk:
                _fdb_read_many(fdb_db, read_keys)
            return perf_ns() - start

        async def sqlite_run(chunk: Sequence[Sequence[bytes]]) -> int:
            start = perf_ns()
            for read_keys in chunk:
                conn.execute("BEGIN")
                conn.execute(in_list, read_keys).fetchall()
                conn.execute("COMMIT")
            return perf_ns() - start

        seconds = await alternate(
            {"found": found_run, "fdb": fdb_run, "sqlite": sqlite_run},
            chunked(transactions, 20), rep,
        )
        self.record("d", {name: len(keys) / s for name, s in seconds.items()})

    # ---------------------------------------------------------------- (e) range of 1000

    async def range_reads(self, rep: int) -> None:
        length = 1000
        top = max(1, self.data.count - length)
        scans = max(60, self.ops // 1000)
        starts = [self.data.key(self.data.random.randrange(top)) for _ in range(scans)]
        db, fdb_db, conn = self.db, self.fdb_db, self.sqlite
        sql = "SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?"

        def make(scan: Callable[[bytes], Awaitable[list]]) -> Variant:
            async def run(chunk: Sequence[bytes]) -> int:
                start = perf_ns()
                for begin in chunk:
                    rows = await scan(begin)
                    if len(rows) != length:
                        raise AssertionError(f"range read returned {len(rows)} rows")
                return perf_ns() - start

            return run

        async def found_scan(begin: bytes) -> list:
            return await found.transactional(db, _scan, begin, length, snapshot=True)

        async def found_want_all(begin: bytes) -> list:
            return await found.transactional(db, _scan_want_all, begin, length, snapshot=True)

        async def fdb_scan(begin: bytes) -> list:
            return _fdb_scan(fdb_db, begin, length)

        async def sqlite_scan(begin: bytes) -> list:
            return conn.execute(sql, (begin, length)).fetchall()

        variants = {
            "found": make(found_scan), "found-want-all": make(found_want_all),
            "fdb": make(fdb_scan), "sqlite": make(sqlite_scan),
        }
        seconds = await alternate(variants, chunked(starts, 5), rep)
        self.record("e", {name: len(starts) * length / s for name, s in seconds.items()})

    # ---------------------------------------------------------------- (f) empty txn

    async def empty_transactions(self, rep: int) -> None:
        count = max(5_000, self.ops // 4)
        db, fdb_db = self.db, self.fdb_db

        async def found_run(chunk: Sequence[int]) -> int:
            start = perf_ns()
            for _ in chunk:
                await found.transactional(db, _nothing)
            return perf_ns() - start

        async def fdb_run(chunk: Sequence[int]) -> int:
            start = perf_ns()
            for _ in chunk:
                _fdb_nothing(fdb_db)
            return perf_ns() - start

        seconds = await alternate(
            {"found": found_run, "fdb": fdb_run}, chunked(range(count), 1000), rep
        )
        self.record("f", {name: s / count * 1e6 for name, s in seconds.items()})

    # ---------------------------------------------------------------- (g) durable commits

    async def commits(self, rep: int) -> None:
        duration = self.args.duration
        data = self.data
        writes = [
            [(data.key(i), data.value(i, 1 + t % 7)) for i in data.random_indices(10)]
            for t in range(4096)
        ]
        log_path = self.root / "raw.log"
        record = b"".join(k + v for k, v in writes[0])

        def raw_fdatasync() -> float:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                count = 0
                start = perf_ns()
                deadline = start + int(duration * 1e9)
                while True:
                    os.write(fd, record)
                    os.fdatasync(fd)
                    count += 1
                    now = perf_ns()
                    if now > deadline:
                        return count / ((now - start) / 1e9)
            finally:
                os.close(fd)

        async def found_writers(writers: int) -> float:
            deadline = perf_ns() + int(duration * 1e9)

            async def writer(number: int) -> int:
                index, count = number * 509, 0
                while perf_ns() < deadline:
                    await found.transactional(self.writes, _write_all, writes[index % 4096])
                    index += 1
                    count += 1
                return count

            start = perf_ns()
            counts = await asyncio.gather(*(writer(number) for number in range(writers)))
            return sum(counts) / ((perf_ns() - start) / 1e9)

        async def found_relaxed() -> float:
            Knob.set_sync(False)
            try:
                return await found_writers(1)
            finally:
                Knob.set_sync(Knob.from_environment())

        def fdb_writer() -> float:
            index, count = 0, 0
            start = perf_ns()
            deadline = start + int(duration * 1e9)
            while True:
                _fdb_write_all(self.fdb_writes, writes[index % 4096])
                index += 1
                count += 1
                now = perf_ns()
                if now > deadline:
                    return count / ((now - start) / 1e9)

        steps: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("fdatasync", _as_async(raw_fdatasync)),
            ("found-1", lambda: found_writers(1)),
            ("found-8", lambda: found_writers(8)),
            ("fdb-1", _as_async(fdb_writer)),
            ("found-relaxed", found_relaxed),
        ]
        shift = rep % len(steps)
        result = {}
        for name, step in steps[shift:] + steps[:shift]:
            result[name] = await step()
        self.record("g", result)


# Transaction bodies (module level, so no closure is built per call).


async def _write_all(tx: found.Transaction, items: Sequence[tuple[bytes, bytes]]) -> None:
    for key, value in items:
        found.set(tx, key, value)


async def _read_one(tx: found.Transaction, key: bytes) -> bytes | None:
    return await found.get(tx, key)


async def _read_many(tx: found.Transaction, keys: Sequence[bytes]) -> list:
    get = found.get
    return [await get(tx, key) for key in keys]


async def _scan(tx: found.Transaction, begin: bytes, length: int) -> list:
    return [row async for row in found.query(tx, begin, KEY_SPACE_END, limit=length)]


async def _scan_want_all(tx: found.Transaction, begin: bytes, length: int) -> list:
    mode = found.StreamingMode.WANT_ALL
    return [row async for row in found.query(tx, begin, KEY_SPACE_END, limit=length, mode=mode)]


async def _nothing(tx: found.Transaction) -> None:
    return None


@fdb.transactional
def _fdb_read_many(tr, keys):
    futures = [tr.get(key) for key in keys]  # all issued first: the FDB idiom
    return [future.value for future in futures]


@fdb.transactional
def _fdb_scan(tr, begin, length):
    return list(tr.get_range(begin, KEY_SPACE_END, limit=length))


@fdb.transactional
def _fdb_nothing(tr):
    return None


@fdb.transactional
def _fdb_write_all(tr, items):
    for key, value in items:
        tr[key] = value


def sync_get(tx: found.Transaction, key: bytes) -> bytes | None:
    """found.reads.get's answered-at-once path as a plain def: what the await costs on
    top is figure (b)."""
    if type(key) is not bytes:
        key = found.reads.as_key(key)
    address = tx._owner._address
    if not address:
        raise found.errors.TransactionCancelled("the transaction was closed")
    result = _hot_calls.get(address, key, tx._snapshot_flag)
    if type(result) is not int:
        return result
    raise AssertionError("the engine did not answer the get at once")


def _as_async(function: Callable[[], float]) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        return function()

    return run

# ==================================================================== the table

# (figure, label, unit, found column, baseline column, baseline label, higher is better,
#  target ratio or None)
ROWS = [
    ("a", "get in one txn (awaited)", "ops/s", "found", "fdb", "fdb tr.get(k).wait()", True, 2.0),
    ("c", "W1 get, own read txn", "ops/s", "found.ops", "sqlite.ops", "sqlite3 select", True, None),
    ("c", "W1 get latency p50", "µs", "found.p50", "sqlite.p50", "sqlite3 select", False, None),
    ("c", "W1 get latency p99", "µs", "found.p99", "sqlite.p99", "sqlite3 select", False, None),
    ("c", "W1 get, create_transaction+get+close", "ops/s", "found-bare.ops", "sqlite.ops",
     "sqlite3 select", True, None),
    ("c", "W1 get, own read txn", "ops/s", "found.ops", "fdb.ops", "fdb db[key]", True, None),
    ("d", "W1t 100 gets per read txn", "keys/s", "found", "sqlite", "sqlite3 IN (100)", True, None),
    ("d", "W1t 100 gets per read txn", "keys/s", "found", "fdb", "@fdb.transactional", True, None),
    ("e", "range read of 1000 keys", "keys/s", "found", "sqlite", "sqlite3 LIMIT 1000", True, None),
    ("e", "range read of 1000 keys", "keys/s", "found", "fdb", "fdb tr.get_range", True, None),
    ("e", "range read, mode=WANT_ALL", "keys/s", "found-want-all", "sqlite", "sqlite3 LIMIT 1000",
     True, None),
    ("f", "empty transactional call", "µs", "found", "fdb", "@fdb.transactional", False, None),
    ("g", "durable commit, 1 writer", "txn/s", "found-1", "fdatasync", "append+fdatasync",
     True, None),
    ("g", "durable commit, 8 async writers", "txn/s", "found-8", "found-1", "found, 1 writer",
     True, None),
    ("g", "durable commit, 1 writer", "txn/s", "found-1", "fdb-1", "fdb, 1 writer", True, None),
    ("g", "relaxed commit (found_sync=0), 1 writer", "txn/s", "found-relaxed", "found-1",
     "found durable", True, None),
]


def median_of(reps: list[dict[str, float]], column: str) -> float:
    return statistics.median(rep[column] for rep in reps)


def ratio_of(reps: list[dict[str, float]], column: str, baseline: str, higher: bool) -> float:
    """Per-repetition ratio, then the median; > 1 always means found does better."""
    ratios = [
        rep[column] / rep[baseline] if higher else rep[baseline] / rep[column] for rep in reps
    ]
    return statistics.median(ratios)



def render(bench: Bench) -> str:
    results = bench.results
    lines = []
    header = f"  {'':<2} {'figure':<40} {'unit':<6} {'found':>9}   {'baseline':<22} {'value':>9}"
    header += f" {'ratio':>7}  target"
    lines.append(header)
    lines.append("  " + "-" * (len(header) - 2))
    for figure, label, unit, column, baseline, baseline_label, higher, target in ROWS:
        reps = results.get(figure)
        if not reps:
            continue
        ratio = ratio_of(reps, column, baseline, higher)
        verdict = ""
        if target is not None:
            verdict = f">= {target:g}x " + ("met" if ratio >= target else "MISSED")
        lines.append(
            f"  {figure:<2} {label:<40} {unit:<6} {cell(median_of(reps, column)):>9}   "
            f"{baseline_label:<22} {cell(median_of(reps, baseline)):>9} {ratio:>6.2f}x  {verdict}"
        )
    if "b" in results:
        reps = results["b"]
        overhead = statistics.median(rep["awaited"] - rep["def"] for rep in reps)
        over_native = statistics.median(rep["awaited"] - rep["native"] for rep in reps)
        over_send = statistics.median(rep["awaited"] - rep["send"] for rep in reps)
        verdict = "<= 0.5 µs " + ("met" if overhead <= 0.5 else "MISSED")
        lines.append("")
        lines.append(
            "  b  await overhead (µs per get, median of reps): awaited found.get "
            f"{median_of(reps, 'awaited'):.3f}, same code as a def {median_of(reps, 'def'):.3f}, "
            f"driven by .send(None) {median_of(reps, 'send'):.3f}, raw native get "
            f"{median_of(reps, 'native'):.3f}"
        )
        lines.append(f"     awaited - def       {overhead:+.3f} µs   target {verdict}")
        lines.append(f"     awaited - send      {over_send:+.3f} µs")
        lines.append(
            f"     awaited - native    {over_native:+.3f} µs   (all of found's Python layer)"
        )
    lines.append("")
    lines.append(
        "  ratio: per-repetition found/baseline (baseline/found for µs), median; "
        "> 1 means found does better."
    )
    return "\n".join(lines)


# ==================================================================== main



def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 keys, 3 repetitions, short commit runs: a smoke test")
    parser.add_argument("--keys", type=int, default=None, help="dataset size (default 100,000)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per commit-rate measurement (default 1.0)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="where the data directories go: the disk under test")
    args = parser.parse_args(argv)
    quick = args.quick
    args.keys = args.keys or (20_000 if quick else 100_000)
    args.reps = args.reps or (3 if quick else 5)
    args.duration = args.duration or (0.3 if quick else 1.0)
    return args


async def run(args: argparse.Namespace) -> Bench:
    bench = Bench(args)
    try:
        started = time.perf_counter()
        await bench.setup()
        log(f"loaded {args.keys:,} keys in {time.perf_counter() - started:.1f} s")
        figures = [
            ("a", bench.gets_in_one_transaction), ("b", bench.await_overhead),
            ("c", bench.point_reads), ("d", bench.read_transactions), ("e", bench.range_reads),
            ("f", bench.empty_transactions), ("g", bench.commits),
        ]
        for rep in range(args.reps):
            for figure, measure in figures:
                log(f"rep {rep + 1}/{args.reps}: {figure}")
                await measure(rep)
    finally:
        bench.close()
    return bench



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    print(f"reproduce: {reproduce_command('benchmarks/bench_core.py', argv)}", flush=True)
    if not Knob.from_environment():
        print("warning: FOUND_SYNC=0 disables fsync: figure g's durable rows are not durable")
    started = time.time()
    load_at_start = " ".join(f"{value:.2f}" for value in os.getloadavg())
    bench = asyncio.run(run(args))
    print(
        f"bench_core  {datetime.date.today().isoformat()}  python {platform.python_version()}  "
        f"cpus {os.cpu_count()}  keys {args.keys:,}  reps {args.reps}  "
        f"sqlite {sqlite3.sqlite_version}  fdb binding {metadata.version('foundationdb')}  "
        f"engine {native.library_path()}  workdir {args.workdir}"
    )
    print(render(bench))
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    elapsed = time.time() - started
    print(f"\n({elapsed:.0f} s; load average at the start {load_at_start}, at the end {load})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
