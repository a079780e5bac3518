#!/usr/bin/env python3
"""Several processes on one data directory: durable commit throughput with 1, 2 and 4
processes, and a reader's throughput while another process writes.

    python benchmarks/bench_multiprocess.py [--quick] [--reps N] [--duration S]
                                            [--tasks N] [--workdir DIR]

Every process is a child running this script with --child; they open the directory, say
"ready", and start together on "go" for --duration seconds each. Each repetition runs
every configuration once, rotating which goes first, in a fresh data directory each;
ratios are taken per repetition and the median is shown.

    1  durable commits, one 16-byte write per transaction, T asyncio committers per
       process (--tasks, 16), 1 / 2 / 4 processes     vs  one process with as many
                                                          committers in all; vs 1 process
    2  point gets/s of a reader process (snapshot transactions of 100 random gets over
       10,000 keys) while a second process commits 10 of those keys per transaction
       with 8 committers                                  vs  the same reader alone; vs
                                                          the writer on another directory

Reference: a Python loop of os.write + os.fdatasync in the same directory (one writer
waiting for its own sync), measured in the same repetition.
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
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _report import RunBookends, cell, log  # noqa: E402

import found  # noqa: E402
import found._native as native  # noqa: E402

perf_ns = time.perf_counter_ns
READ_KEYS = 10_000
GETS_PER_TRANSACTION = 100
WRITER_TASKS = 8

# ==================================================================== children


def key(index: int) -> bytes:
    return b"%016d" % index


def value(index: int, generation: int = 0) -> bytes:
    return (b"%016d" % (index * 31 + generation)) * 6  # 96 bytes


async def wait_for_go() -> None:
    """Says ready, then waits for the parent's "go" line (all children start together)."""
    print("ready", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit("the parent went away")


async def _write_one(tx: found.Transaction, name: bytes) -> None:
    found.set(tx, name, b"0123456789abcdef")


async def child_commit(parameters: dict) -> dict:
    """T committers, each a loop of durable one-write transactions on its own key."""
    db = await found.open(parameters["directory"])
    names = [b"c/%d/%d" % (os.getpid(), task) for task in range(parameters["tasks"])]
    await wait_for_go()
    deadline = perf_ns() + int(parameters["duration"] * 1e9)

    async def committer(name: bytes) -> int:
        count = 0
        while perf_ns() < deadline:
            await found.transactional(db, _write_one, name)
            count += 1
        return count

    start = perf_ns()
    counts = await asyncio.gather(*(committer(name) for name in names))
    seconds = (perf_ns() - start) / 1e9
    db.close()
    return {"rate": sum(counts) / seconds}


async def _gets(tx: found.Transaction, keys: list[bytes]) -> int:
    get = found.get
    for name in keys:
        if await get(tx, name) is None:
            raise RuntimeError(f"{name!r} missing")
    return len(keys)


async def child_read(parameters: dict) -> dict:
    """Snapshot read transactions of 100 random point gets, one after the other."""
    db = await found.open(parameters["directory"])
    rng = random.Random(parameters["seed"])
    batches = [
        [key(rng.randrange(READ_KEYS)) for _ in range(GETS_PER_TRANSACTION)] for _ in range(64)
    ]
    await wait_for_go()
    deadline = perf_ns() + int(parameters["duration"] * 1e9)
    gets = 0
    start = perf_ns()
    number = 0
    while perf_ns() < deadline:
        gets += await found.transactional(db, _gets, batches[number % 64], snapshot=True)
        number += 1
    seconds = (perf_ns() - start) / 1e9
    db.close()
    return {"rate": gets / seconds}


async def _write_ten(tx: found.Transaction, items: list[tuple[bytes, bytes]]) -> None:
    for name, data in items:
        found.set(tx, name, data)


async def child_write(parameters: dict) -> dict:
    """8 committers rewriting 10 random keys of the reader's set per durable transaction."""
    db = await found.open(parameters["directory"])
    await wait_for_go()
    deadline = perf_ns() + int(parameters["duration"] * 1e9)

    async def committer(number: int) -> int:
        rng = random.Random(number)
        count = 0
        while perf_ns() < deadline:
            picks = [rng.randrange(READ_KEYS) for _ in range(10)]
            items = [(key(index), value(index, count + 1)) for index in picks]
            await found.transactional(db, _write_ten, items)
            count += 1
        return count

    start = perf_ns()
    counts = await asyncio.gather(*(committer(number) for number in range(WRITER_TASKS)))
    seconds = (perf_ns() - start) / 1e9
    db.close()
    return {"rate": sum(counts) / seconds}


CHILDREN = {"commit": child_commit, "read": child_read, "write": child_write}


def child_main(mode: str, parameters_json: str) -> int:
    result = asyncio.run(CHILDREN[mode](json.loads(parameters_json)))
    print(json.dumps(result), flush=True)
    return 0


# ==================================================================== the parent's side


def start_child(mode: str, parameters: dict) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
               json.dumps(parameters)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_together(children: list[tuple[str, dict]]) -> list[dict]:
    """Starts the children, waits until every one has the database open, says go to all,
    and returns their results in order."""
    processes = [start_child(mode, parameters) for mode, parameters in children]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if line != "ready":
                process.wait(timeout=30)
                raise RuntimeError(f"a child did not start: {line!r}\n{process.stderr.read()}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            if process.returncode != 0:
                raise RuntimeError(f"a child failed ({process.returncode}):\n{err}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def raw_sync_rate(directory: Path, duration: float) -> float:
    """os.write (40 bytes, about one small commit's record) + os.fdatasync, one writer."""
    path = directory / "raw.bin"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        count = 0
        start = perf_ns()
        deadline = start + int(duration * 1e9)
        while perf_ns() < deadline:
            os.write(descriptor, b"\x5a" * 40)
            os.fdatasync(descriptor)
            count += 1
        return count / ((perf_ns() - start) / 1e9)
    finally:
        os.close(descriptor)
        path.unlink()


async def load_read_set(directory: str) -> None:
    db = await found.open(directory)
    try:
        for start in range(0, READ_KEYS, 1000):
            async with found.transaction(db) as tx:
                for index in range(start, start + 1000):
                    found.set(tx, key(index), value(index))
    finally:
        db.close()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.reps: list[dict[str, float]] = []

    def fresh_directory(self) -> str:
        return tempfile.mkdtemp(prefix="found-bench-mp-", dir=self.args.workdir)

    def commits(self, processes: int, tasks: int) -> float:
        directory = self.fresh_directory()
        try:
            parameters = {"directory": directory, "tasks": tasks,
                          "duration": self.args.duration}
            results = run_together([("commit", parameters)] * processes)
            return sum(result["rate"] for result in results)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def reads(self, writer: str) -> tuple[float, float]:
        """The reader's gets/s and the writer's txn/s; writer is "none", "same" (writing
        the reader's directory) or "other" (writing another directory: the same load on
        the CPUs and the disk, nothing for the reader to follow)."""
        directory = self.fresh_directory()
        elsewhere = self.fresh_directory()
        try:
            asyncio.run(load_read_set(directory))
            duration = self.args.duration
            children = [("read", {"directory": directory, "duration": duration, "seed": 7})]
            if writer != "none":
                target = directory if writer == "same" else elsewhere
                children.append(("write", {"directory": target, "duration": duration}))
            results = run_together(children)
            return results[0]["rate"], results[1]["rate"] if writer != "none" else 0.0
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            shutil.rmtree(elsewhere, ignore_errors=True)

    def repetition(self, number: int) -> dict[str, float]:
        tasks = self.args.tasks
        steps = {
            "p1": lambda: self.commits(1, tasks),
            "p2": lambda: self.commits(2, tasks),
            "p4": lambda: self.commits(4, tasks),
            "s2": lambda: self.commits(1, 2 * tasks),
            "s4": lambda: self.commits(1, 4 * tasks),
            "read.alone": lambda: self.reads("none")[0],
            "read.same": lambda: self.reads("same"),
            "read.other": lambda: self.reads("other"),
        }
        names = list(steps)
        shift = number % len(names)
        figures: dict[str, float] = {}
        workdir = Path(self.args.workdir)
        figures["raw.before"] = raw_sync_rate(workdir, min(0.5, self.args.duration))
        for name in names[shift:] + names[:shift]:
            outcome = steps[name]()
            if isinstance(outcome, tuple):
                figures[name], figures[f"{name}.writer"] = outcome
            else:
                figures[name] = outcome
            log(f"  rep {number + 1} {name}: {outcome}")
        figures["raw.after"] = raw_sync_rate(workdir, min(0.5, self.args.duration))
        figures["raw"] = (figures["raw.before"] + figures["raw.after"]) / 2
        return figures

    def run(self) -> None:
        for number in range(self.args.reps):
            self.reps.append(self.repetition(number))


# ==================================================================== the table


@dataclass(frozen=True)
class Row:
    """found's figure against a baseline from the same repetition; ratio = found/baseline
    per repetition, median shown."""

    label: str
    unit: str
    found: str
    baseline: str
    baseline_label: str


def rows(tasks: int) -> list[Row]:
    return [
        Row(f"1 process x {tasks} committers", "txn/s", "p1", "raw", "append+fdatasync"),
        Row(f"2 processes x {tasks} committers", "txn/s", "p2", "s2",
            f"1 process x {2 * tasks}"),
        Row(f"4 processes x {tasks} committers", "txn/s", "p4", "s4",
            f"1 process x {4 * tasks}"),
        Row(f"2 processes x {tasks} committers", "txn/s", "p2", "p1",
            f"1 process x {tasks}"),
        Row(f"4 processes x {tasks} committers", "txn/s", "p4", "p1",
            f"1 process x {tasks}"),
        Row("reader, a writer on its directory", "gets/s", "read.same", "read.alone",
            "the reader alone"),
        Row("reader, a writer on its directory", "gets/s", "read.same", "read.other",
            "writer on another dir"),
    ]



def render(bench: Bench) -> str:
    lines = []
    header = (f"  {'measure':<38}{'unit':<8}{'found':>9}   {'baseline':<24}{'value':>9}"
              f"{'ratio':>8}")
    lines.append(header)
    lines.append("  " + "-" * (len(header) - 2))
    for row in rows(bench.args.tasks):
        value_ = statistics.median(rep[row.found] for rep in bench.reps)
        baseline = statistics.median(rep[row.baseline] for rep in bench.reps)
        ratio = statistics.median(rep[row.found] / rep[row.baseline] for rep in bench.reps)
        lines.append(f"  {row.label:<38}{row.unit:<8}{cell(value_):>9}   "
                     f"{row.baseline_label:<24}{cell(baseline):>9}{ratio:>7.2f}x")
    same = statistics.median(rep["read.same.writer"] for rep in bench.reps)
    other = statistics.median(rep["read.other.writer"] for rep in bench.reps)
    lines.append("")
    lines.append("  durable commits, one 16-byte write each; each process has its own")
    lines.append("  committers (asyncio tasks). The writer beside the reader (10 keys per")
    lines.append(f"  txn, {WRITER_TASKS} committers) committed {cell(same)} txn/s on the "
                 f"reader's directory, {cell(other)} on another;")
    lines.append("  the second reader row isolates following another process's log from the")
    lines.append("  load on the CPUs and the disk.")
    lines.append("  ratio: per-repetition found / baseline, median of the repetitions.")
    return "\n".join(line.rstrip() for line in lines)


# ==================================================================== main



def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 short repetitions: a smoke test")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per measurement (default 2.0; 0.5 with --quick)")
    parser.add_argument("--tasks", type=int, default=16,
                        help="committers per process in figure 1 (default 16)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="where the data directories go: the disk under test")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.reps = args.reps or (2 if args.quick else 3)
    args.duration = args.duration or (0.5 if args.quick else 2.0)
    return args



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        return child_main(*args.child)
    bookends = RunBookends("benchmarks/bench_multiprocess.py", argv)
    bench = Bench(args)
    bench.run()
    print(
        f"bench_multiprocess  {datetime.date.today().isoformat()}  python "
        f"{platform.python_version()}  cpus {os.cpu_count()}  reps {args.reps}  "
        f"{args.duration:g} s each  engine {native.library_path()}  workdir {args.workdir}"
    )
    print(render(bench))
    print(bookends.closing_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
