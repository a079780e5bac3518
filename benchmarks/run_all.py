#!/usr/bin/env python3
"""Runs every benchmarks/bench_*.py in turn, each in its own process, with the same
arguments; exits 1 if any of them failed (after running the rest).

    python benchmarks/run_all.py [--quick]      # `make bench` runs it without arguments

Each benchmark prints its own table with its baseline measured in the same run; this
script only adds a header per benchmark and a summary of exit codes and times.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print(f"no bench_*.py in {HERE}", file=sys.stderr)
        return 1
    outcomes: list[tuple[str, int, float]] = []
    for script in scripts:
        command = [sys.executable, str(script.relative_to(REPO)), *argv]
        print(f"\n=== {script.name}: {shlex.join(command)}", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.call(command, cwd=REPO)
        except KeyboardInterrupt:
            print(f"\ninterrupted during {script.name}", file=sys.stderr)
            return 130
        outcomes.append((script.name, code, time.monotonic() - started))
    print("\n=== summary")
    for name, code, seconds in outcomes:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"  {name:<24} {seconds:7.1f} s  {status}")
    failed = [name for name, code, _ in outcomes if code != 0]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"all {len(outcomes)} benchmarks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
