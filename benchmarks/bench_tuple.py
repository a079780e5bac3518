"""Tuple layer: found's native and pure-Python codecs against fdb.tuple, in one run.

    python benchmarks/bench_tuple.py [--quick]

Workload: pack and unpack of typical 3–5 element keys (strings, ints, bytes, a bool, a
UUID, a double, a nested pair). Each figure is the best of several timed loops of calls
through the public function (loop overhead included, as a caller would see it);
implementations take turns within each repetition so that machine noise hits them alike.
Read the ratios against fdb.tuple, not the absolute figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import uuid
from collections.abc import Callable
from itertools import repeat
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fdb.tuple as fdb_tuple  # noqa: E402

from found import tuple as found_tuple  # noqa: E402

TUPLES: list[tuple[str, tuple]] = [
    ("str, int, str", ("users", 12345, "alice")),
    ("bytes, str, str, int", (b"idx", "email", "alice@example.com", 42)),
    ("str, str, int, str, bool", ("app", "users", 42, "alice@example.com", True)),
    ("uuid, int, float", (uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0), 1 << 40, 3.14)),
    ("str, (str, str), str", ("spo", ("person:1", "follows"), "person:2")),
    ("int, int, int", (7, -3, 1_000_000)),
]


def implementations() -> list[tuple[str, Callable, Callable]]:
    """(name, pack, unpack) for fdb.tuple first (the baseline), then found's codecs."""
    found = [found_tuple.PYTHON_CODEC] + [c for c in [found_tuple.NATIVE_CODEC] if c]
    return [("fdb.tuple", fdb_tuple.pack, fdb_tuple.unpack)] + [
        (f"found {codec.name}", codec.pack, codec.unpack) for codec in found
    ]


def timed(function: Callable, argument: object, count: int) -> float:
    """Seconds for `count` calls of function(argument)."""
    start = time.perf_counter()
    for _ in repeat(None, count):
        function(argument)
    return time.perf_counter() - start


def calibrate(function: Callable, argument: object, seconds: float) -> int:
    """A call count that takes about `seconds`."""
    count = 100
    while True:
        elapsed = timed(function, argument, count)
        if elapsed >= seconds / 4:
            return max(int(count * seconds / elapsed), 1)
        count *= 4


def measure(seconds: float, repetitions: int) -> dict[tuple[str, str, str], float]:
    """Best ops/s for each (tuple label, operation, implementation)."""
    impls = implementations()
    best: dict[tuple[str, str, str], float] = {}
    for label, items in TUPLES:
        packed = fdb_tuple.pack(items)
        for name, pack, unpack in impls:
            assert pack(items) == packed, f"{name} packs {items!r} differently"
            assert unpack(packed) == items, f"{name} unpacks {packed!r} differently"
        work = [
            (name, operation, function, argument)
            for name, pack, unpack in impls
            for operation, function, argument in (("pack", pack, items), ("unpack", unpack, packed))
        ]
        counts = {(name, op): calibrate(f, a, seconds) for name, op, f, a in work}
        for _ in range(repetitions):
            for name, operation, function, argument in work:
                count = counts[(name, operation)]
                rate = count / timed(function, argument, count)
                key = (label, operation, name)
                best[key] = max(best.get(key, 0.0), rate)
    return best


def print_table(best: dict[tuple[str, str, str], float]) -> None:
    names = [name for name, _, _ in implementations()]
    baseline = names[0]
    header = f"{'tuple':<26} {'op':<7}" + "".join(f"{name:>24}" for name in names)
    print(header)
    print("-" * len(header))
    ratios: dict[tuple[str, str], list[float]] = {}
    for label, _ in TUPLES:
        for operation in ("pack", "unpack"):
            cells = []
            for name in names:
                rate = best[(label, operation, name)]
                if name == baseline:
                    cells.append(f"{rate:>24,.0f}")
                    continue
                ratio = rate / best[(label, operation, baseline)]
                ratios.setdefault((name, operation), []).append(ratio)
                cells.append(f"{rate:>15,.0f} ({ratio:4.1f}x)")
            print(f"{label:<26} {operation:<7}" + "".join(cells))
    print("-" * len(header))
    for operation in ("pack", "unpack"):
        cells = [f"{'1.0x':>24}"]
        for name in names[1:]:
            values = ratios[(name, operation)]
            geometric_mean = math.exp(sum(math.log(v) for v in values) / len(values))
            cells.append(f"{geometric_mean:>23.1f}x")
        print(f"{'geometric mean vs fdb':<26} {operation:<7}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run, not for reporting")
    arguments = parser.parse_args()
    seconds, repetitions = (0.02, 2) if arguments.quick else (0.05, 5)
    native = "built" if found_tuple.NATIVE_CODEC else "NOT BUILT (pure Python only)"
    print(
        f"tuple layer: ops/s, best of {repetitions}; Python {platform.python_version()}, "
        f"found native codec {native}"
    )
    print()
    print_table(measure(seconds, repetitions))


if __name__ == "__main__":
    main()
