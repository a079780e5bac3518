"""Interval tree clock throughput: fork, event, join, compare, serialise, deserialise.

Prints ops/s for a small stamp (two replicas) and a fragmented one (a replica among twelve
after a random history), next to two baselines measured in the same run: an empty Python
method call and a copy of a 10-item dict. The last column is the cost of one operation in
empty method calls, which stays comparable across machines.

    python benchmarks/bench_itc.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from found.ext.itc import Stamp  # noqa: E402


class _Empty:
    def method(self) -> None:
        pass


def _best_seconds_per_op(run: Callable[[int], None], count: int, repeats: int) -> float:
    """Fastest of ``repeats`` timed runs of ``run(count)``, per operation."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(count)
        best = min(best, time.perf_counter() - start)
    return best / count


def _small_pair() -> tuple[Stamp, Stamp]:
    """Two replicas of one seed, each with its own events."""
    left = Stamp()
    right = left.fork()
    left.event(3)
    right.event(2)
    return left, right


def _fragmented_pair(seed: int = 7, replicas: int = 12, steps: int = 200) -> tuple[Stamp, Stamp]:
    """Two replicas after a random fork/event/join history that keeps ``replicas`` alive."""
    rng = random.Random(seed)
    alive = [Stamp()]
    for _ in range(steps):
        stamp = rng.choice(alive)
        choice = rng.random()
        if choice < 0.3 and len(alive) < replicas:
            alive.append(stamp.fork())
        elif choice < 0.85 or len(alive) < replicas:
            stamp.event()
        else:
            other = rng.choice([i for i, s in enumerate(alive) if s is not stamp])
            stamp.join(alive.pop(other))
    alive.sort(key=lambda s: len(s.serialise()))
    return alive[-1], alive[-2]


def _measure(pair: tuple[Stamp, Stamp], count: int, repeats: int) -> dict[str, float]:
    """Seconds per operation for each ITC operation on copies of ``pair``."""
    left, right = pair
    data = left.serialise()
    results = {}

    def fork(n: int) -> None:
        for stamp in fresh[:n]:
            stamp.fork()

    def event(n: int) -> None:
        for stamp in fresh[:n]:
            stamp.event()

    def join(n: int) -> None:
        for stamp, other in zip(fresh[:n], others[:n], strict=True):
            stamp.join(other)

    # Mutating operations get a fresh clone per call, made outside the timed region.
    for name, run in (("fork", fork), ("event", event), ("join", join)):
        best = float("inf")
        for _ in range(repeats):
            fresh = [left.clone() for _ in range(count)]
            others = [right.clone() for _ in range(count)]
            best = min(best, _best_seconds_per_op(run, count, 1))
        results[name] = best

    def compare(n: int) -> None:
        for _ in range(n):
            left.compare_to(right)

    def serialise(n: int) -> None:
        for _ in range(n):
            left.serialise()

    def deserialise(n: int) -> None:
        for _ in range(n):
            Stamp.deserialise(data)

    for name, run in (("compare_to", compare), ("serialise", serialise)):
        results[name] = _best_seconds_per_op(run, count, repeats)
    results["deserialise"] = _best_seconds_per_op(deserialise, count, repeats)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    arguments = parser.parse_args()
    count, repeats = (2_000, 2) if arguments.quick else (20_000, 5)

    empty = _Empty()
    table = {f"k{i}": i for i in range(10)}

    def method_calls(n: int) -> None:
        for _ in range(n):
            empty.method()

    def dict_copies(n: int) -> None:
        for _ in range(n):
            table.copy()

    call = _best_seconds_per_op(method_calls, count * 10, repeats)
    copy = _best_seconds_per_op(dict_copies, count * 10, repeats)

    shapes = {"small": _small_pair(), "fragmented": _fragmented_pair()}
    print(f"python {sys.version.split()[0]}, {count} ops per run, best of {repeats}")
    for name, (left, _) in shapes.items():
        printed = str(left) if len(str(left)) <= 60 else str(left)[:57] + "..."
        print(f"  {name:<11}{len(left.serialise()):>4} bytes  {printed}")
    print()
    print(f"{'operation':<14}{'stamp':<12}{'ops/s':>12}{'µs/op':>10}{'× method call':>16}")
    print("-" * 64)
    for name, seconds in (("method call", call), ("dict copy", copy)):
        print(
            f"{name:<14}{'(baseline)':<12}{1 / seconds:>12,.0f}{seconds * 1e6:>10.3f}"
            f"{seconds / call:>16.1f}"
        )
    for shape, pair in shapes.items():
        for operation, seconds in _measure(pair, count, repeats).items():
            print(
                f"{operation:<14}{shape:<12}{1 / seconds:>12,.0f}{seconds * 1e6:>10.3f}"
                f"{seconds / call:>16.1f}"
            )


if __name__ == "__main__":
    main()
